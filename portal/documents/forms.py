"""Forms for writing documents."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
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
from portal.models.documents import ASSESSMENT_LABELS

MAX_SOURCE_LENGTH = 200_000


class MultiCheckboxField(SelectMultipleField):
    """A set of checkboxes, one per choice (usable without JavaScript)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class DocumentForm(FlaskForm):
    """Create or edit a document; choices are filled in by the view from the access policy."""

    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=300)])
    state = SelectField(_l("State"), validators=[Optional()], validate_choice=True)
    organisation = StringField(_l("Organisation"), validators=[Optional(), Length(max=200)])
    commitments = MultiCheckboxField(_l("Commitments"), coerce=int)
    visibility = RadioField(_l("Who may read it"), validators=[InputRequired()])
    # Self-assessments and reviews only (the service requires it there, refuses it elsewhere).
    assessment = RadioField(
        _l("Assessment"),
        choices=[SelectChoice(a.value, ASSESSMENT_LABELS[a]) for a in Assessment],
        validators=[Optional()],
        description=_l("Progress on the commitments, on the Open Government Partnership's scale."),
    )
    # Responses only: the review answered; choices are the reviews the user may respond to.
    responds_to = SelectField(_l("In response to the review"), validators=[Optional()])
    status = RadioField(
        _l("Status"),
        choices=[
            SelectChoice("draft", _l("Draft: only you and your colleagues can see it")),
            SelectChoice("published", _l("Published")),
        ],
        default="draft",
        validators=[InputRequired()],
    )
    source = TextAreaField(
        _l("Text (Markdown)"),
        validators=[DataRequired(), Length(max=MAX_SOURCE_LENGTH)],
        description=_l(
            "Markdown: # headings, **bold**, [links](https://…), tables, footnotes [^1].",
        ),
    )
    summary = StringField(_l("Summary of this change"), validators=[Optional(), Length(max=300)])
    # Attached files (portal/attachments): new ones, and current ones to remove; a current
    # file is replaced through an input named replace-<its id>.
    files = MultipleFileField(
        _l("Attach files"),
        description=_l("PDF, DOCX, XLSX, ODT, CSV, PNG or JPEG. Files are stored when you save."),
    )
    # Ids no longer attached are ignored (the version check reports the stale form).
    remove_files = MultiCheckboxField(
        _l("Remove"), coerce=int, validate_choice=False, validators=[Optional()]
    )
    # The document version the edit started from (optimistic locking).
    version = HiddenField(validators=[Optional(), Regexp(r"^\d{1,9}$")])
    preview = SubmitField(_l("Preview"))
    save = SubmitField(_l("Save"))
    #: The status a refused save answers with (413 for a file too large).
    error_status = 400


class ConfirmForm(FlaskForm):
    """A button that only needs its CSRF token (withdraw, restore)."""

    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=300)])


class DiffForm(FlaskForm):
    """Which two revisions to compare (GET, so no CSRF token)."""

    class Meta:
        csrf = False

    a = IntegerField(_l("From revision"), validators=[InputRequired()])
    b = IntegerField(_l("To revision"), validators=[InputRequired()])
