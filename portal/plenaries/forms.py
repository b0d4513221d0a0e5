"""Forms for plenaries, their minutes and action items. Every POST carries a CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.models import ActionStatus, Visibility
from portal.plenaries.services import MAX_TEXT_LENGTH

MARKDOWN_HINT = "Markdown: # headings, **bold**, [links](https://…), lists, tables."


class MultiCheckboxField(SelectMultipleField):
    """A set of checkboxes, one per choice (usable without JavaScript)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class PlenaryForm(FlaskForm):
    """Record or edit a plenary; state choices are filled in by the view."""

    number = IntegerField("Number", validators=[InputRequired(), NumberRange(min=1, max=10_000)])
    title = StringField("Title", validators=[DataRequired(), Length(max=300)])
    starts_on = DateField("First day", validators=[InputRequired(message="Give a date.")])
    ends_on = DateField("Last day", validators=[InputRequired(message="Give a date.")])
    place = StringField("Place", validators=[DataRequired(), Length(max=200)])
    host_state = SelectField("Host state", validators=[Optional()], validate_choice=True)
    participants = MultiCheckboxField("Participating states")
    visibility = RadioField(
        "Who may read the record",
        choices=[SelectChoice(v.value, v.label) for v in Visibility],
        default=Visibility.PARTICIPANTS.value,
        validators=[InputRequired()],
    )
    agenda_source = TextAreaField(
        "Agenda (Markdown)",
        validators=[Optional(), Length(max=MAX_TEXT_LENGTH)],
        description=MARKDOWN_HINT,
    )
    decisions_source = TextAreaField(
        "Decisions (Markdown)",
        validators=[Optional(), Length(max=MAX_TEXT_LENGTH)],
        description=MARKDOWN_HINT,
    )


class MinutesForm(FlaskForm):
    """The secretariat's minutes editor (a draft, or an amendment with a reason once adopted)."""

    source = TextAreaField(
        "Minutes (Markdown)",
        validators=[DataRequired(), Length(max=MAX_TEXT_LENGTH)],
        description=MARKDOWN_HINT,
    )
    reason = StringField(
        "Reason for the amendment",
        validators=[Optional(), Length(max=1000)],
        description="Required once the minutes are adopted; shown on the plenary page.",
    )


class CirculateForm(FlaskForm):
    """Circulate the draft to the delegations until a deadline (UTC)."""

    deadline = DateTimeLocalField(
        "Comment deadline (UTC)",
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        validators=[InputRequired(message="Give a date and time.")],
    )


class CommentForm(FlaskForm):
    """A delegation's comment on, or objection to, the circulated draft."""

    source = TextAreaField(
        "Comment (Markdown)",
        validators=[DataRequired(), Length(max=20_000)],
        description=MARKDOWN_HINT,
    )
    objection = BooleanField("This is an objection (it stops the silence procedure)")


class ResolveForm(FlaskForm):
    """The secretariat's note resolving an objection."""

    note = StringField("How it was resolved", validators=[DataRequired(), Length(max=1000)])


class ConfirmForm(FlaskForm):
    """A button that only needs its CSRF token (adopt, withdraw)."""


class ActionItemForm(FlaskForm):
    """A new action item; owner choices are filled in by the view."""

    text = TextAreaField("Action", validators=[DataRequired(), Length(max=2000)])
    owners = MultiCheckboxField(
        "Owner states", description="Choose none if the secretariat owes it."
    )
    due_on = DateField("Due", validators=[Optional()])


class ActionStatusForm(FlaskForm):
    """Move an action item to a new status, with a note."""

    status = SelectField(
        "New status",
        choices=[SelectChoice(s.value, s.label) for s in ActionStatus],
        validators=[InputRequired()],
    )
    note = StringField("Note", validators=[Optional(), Length(max=1000)])
