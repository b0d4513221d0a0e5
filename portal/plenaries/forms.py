"""Forms for plenaries, their minutes and action items. Every POST carries a CSRF token."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
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
from portal.models.documents import VISIBILITY_LABELS
from portal.models.plenaries import ACTION_STATUS_LABELS
from portal.plenaries.services import MAX_TEXT_LENGTH

MARKDOWN_HINT = "Markdown: # headings, **bold**, [links](https://…), lists, tables."


class MultiCheckboxField(SelectMultipleField):
    """A set of checkboxes, one per choice (usable without JavaScript)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class PlenaryForm(FlaskForm):
    """Record or edit a plenary; state choices are filled in by the view."""

    number = IntegerField(
        _l("Number"), validators=[InputRequired(), NumberRange(min=1, max=10_000)]
    )
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=300)])
    starts_on = DateField(_l("First day"), validators=[InputRequired(message=_l("Give a date."))])
    ends_on = DateField(_l("Last day"), validators=[InputRequired(message=_l("Give a date."))])
    place = StringField(_l("Place"), validators=[DataRequired(), Length(max=200)])
    host_state = SelectField(_l("Host state"), validators=[Optional()], validate_choice=True)
    participants = MultiCheckboxField(_l("Participating states"))
    visibility = RadioField(
        _l("Who may read the record"),
        choices=[SelectChoice(v.value, VISIBILITY_LABELS[v]) for v in Visibility],
        default=Visibility.PARTICIPANTS.value,
        validators=[InputRequired()],
    )
    agenda_source = TextAreaField(
        _l("Agenda (Markdown)"),
        validators=[Optional(), Length(max=MAX_TEXT_LENGTH)],
        description=MARKDOWN_HINT,
    )
    decisions_source = TextAreaField(
        _l("Decisions (Markdown)"),
        validators=[Optional(), Length(max=MAX_TEXT_LENGTH)],
        description=MARKDOWN_HINT,
    )


class MinutesForm(FlaskForm):
    """The secretariat's minutes editor (a draft, or an amendment with a reason once adopted)."""

    source = TextAreaField(
        _l("Minutes (Markdown)"),
        validators=[DataRequired(), Length(max=MAX_TEXT_LENGTH)],
        description=MARKDOWN_HINT,
    )
    reason = StringField(
        _l("Reason for the amendment"),
        validators=[Optional(), Length(max=1000)],
        description=_l("Required once the minutes are adopted; shown on the plenary page."),
    )


class CirculateForm(FlaskForm):
    """Circulate the draft to the delegations until a deadline (UTC)."""

    deadline = DateTimeLocalField(
        _l("Comment deadline (UTC)"),
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        validators=[InputRequired(message=_l("Give a date and time."))],
    )


class CommentForm(FlaskForm):
    """A delegation's comment on, or objection to, the circulated draft."""

    source = TextAreaField(
        _l("Comment (Markdown)"),
        validators=[DataRequired(), Length(max=20_000)],
        description=MARKDOWN_HINT,
    )
    objection = BooleanField(_l("This is an objection (it stops the silence procedure)"))


class ResolveForm(FlaskForm):
    """The secretariat's note resolving an objection."""

    note = StringField(_l("How it was resolved"), validators=[DataRequired(), Length(max=1000)])


class ConfirmForm(FlaskForm):
    """A button that only needs its CSRF token (adopt, withdraw)."""


class ActionItemForm(FlaskForm):
    """A new action item; owner choices are filled in by the view."""

    text = TextAreaField(_l("Action"), validators=[DataRequired(), Length(max=2000)])
    owners = MultiCheckboxField(
        _l("Owner states"), description=_l("Choose none if the secretariat owes it.")
    )
    due_on = DateField(_l("Due"), validators=[Optional()])


class ActionStatusForm(FlaskForm):
    """Move an action item to a new status, with a note."""

    status = SelectField(
        _l("New status"),
        choices=[SelectChoice(s.value, ACTION_STATUS_LABELS[s]) for s in ActionStatus],
        validators=[InputRequired()],
    )
    note = StringField(_l("Note"), validators=[Optional(), Length(max=1000)])
