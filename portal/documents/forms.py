"""Forms for writing documents."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from portal.models import Assessment

MAX_SOURCE_LENGTH = 200_000


class MultiCheckboxField(SelectMultipleField):
    """A set of checkboxes, one per choice (usable without JavaScript)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class DocumentForm(FlaskForm):
    """Create or edit a document; choices are filled in by the view from the access policy."""

    title = StringField("Title", validators=[DataRequired(), Length(max=300)])
    state = SelectField("State", validators=[Optional()], validate_choice=True)
    organisation = StringField("Organisation", validators=[Optional(), Length(max=200)])
    commitments = MultiCheckboxField("Commitments", coerce=int)
    visibility = RadioField("Who may read it", validators=[InputRequired()])
    # Self-assessments and reviews only (the service requires it there, refuses it elsewhere).
    assessment = RadioField(
        "Assessment",
        choices=[SelectChoice(a.value, a.label) for a in Assessment],
        validators=[Optional()],
        description="Progress on the commitments, on the Open Government Partnership's scale.",
    )
    # Responses only: the review answered; choices are the reviews the user may respond to.
    responds_to = SelectField("In response to the review", validators=[Optional()])
    status = RadioField(
        "Status",
        choices=[
            SelectChoice("draft", "Draft: only you and your colleagues can see it"),
            SelectChoice("published", "Published"),
        ],
        default="draft",
        validators=[InputRequired()],
    )
    source = TextAreaField(
        "Text (Markdown)",
        validators=[DataRequired(), Length(max=MAX_SOURCE_LENGTH)],
        description="Markdown: # headings, **bold**, [links](https://…), tables, footnotes [^1].",
    )
    summary = StringField("Summary of this change", validators=[Optional(), Length(max=300)])
    # Attached files (portal/attachments): new ones, and current ones to remove; a current
    # file is replaced through an input named replace-<its id>.
    files = MultipleFileField(
        "Attach files",
        description="PDF, DOCX, XLSX, ODT, CSV, PNG or JPEG. Files are stored when you save.",
    )
    # Ids no longer attached are ignored (the version check reports the stale form).
    remove_files = MultiCheckboxField(
        "Remove", coerce=int, validate_choice=False, validators=[Optional()]
    )
    # The document version the edit started from (optimistic locking).
    version = HiddenField(validators=[Optional(), Regexp(r"^\d{1,9}$")])
    preview = SubmitField("Preview")
    save = SubmitField("Save")
    #: The status a refused save answers with (413 for a file too large).
    error_status = 400


class ConfirmForm(FlaskForm):
    """A button that only needs its CSRF token (withdraw, restore)."""

    reason = StringField("Reason", validators=[Optional(), Length(max=300)])


class DiffForm(FlaskForm):
    """Which two revisions to compare (GET, so no CSRF token)."""

    class Meta:
        csrf = False

    a = IntegerField("From revision", validators=[InputRequired()])
    b = IntegerField("To revision", validators=[InputRequired()])
