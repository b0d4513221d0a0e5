"""Administration forms. Filter forms are GET forms without a CSRF token."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)

from portal.admin.services import AccountStatus
from portal.models import Role
from portal.models.users import ROLE_LABELS

ROLE_CHOICES = [SelectChoice(role.value, ROLE_LABELS[role]) for role in Role]
ACCOUNT_STATUS_LABELS = {
    AccountStatus.PENDING: _l("Pending"),
    AccountStatus.ACTIVE: _l("Active"),
    AccountStatus.DEACTIVATED: _l("Deactivated"),
    AccountStatus.DECLINED: _l("Declined"),
}
MAX_ID = 2**31 - 1


class ConfirmForm(FlaskForm):
    """A button that only needs its CSRF token (approve, deactivate, reactivate)."""


class ReasonForm(FlaskForm):
    """An action that needs a reason: decline, withdraw, restore."""

    reason = StringField(
        _l("Reason"), validators=[DataRequired(message=_l("Give a reason.")), Length(max=500)]
    )


class RoleForm(FlaskForm):
    """Change an account's role; government accounts need a state (choices set by the view)."""

    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validators=[DataRequired()])
    state = SelectField(_l("State (government accounts only)"), validators=[Optional()])


class FocalPointForm(FlaskForm):
    """Make a government user their state's focal point, or stop."""

    focal_point = HiddenField(validators=[AnyOf(["yes", "no"])])


class StateForm(FlaskForm):
    """A state that joins the Code of Conduct."""

    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Regexp(r"^[A-Z]{2}$", message=_l("Two capital letters (ISO 3166-1 alpha-2).")),
        ],
        description=_l("Two capital letters, as in ISO 3166-1 alpha-2 (XK for Kosovo)."),
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    joined_on = DateField(_l("Joined on"), validators=[InputRequired(message=_l("Give a date."))])


class UserFilterForm(FlaskForm):
    """Filters of the user list (choices of `state` set by the view)."""

    class Meta:
        csrf = False

    q = StringField(_l("Name or email"), validators=[Optional(), Length(max=254)])
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice("", _l("Any role")), *ROLE_CHOICES],
        validators=[Optional()],
    )
    state = SelectField(_l("State"), validators=[Optional()])
    status = SelectField(
        _l("Status"),
        choices=[SelectChoice("", _l("Any status"))]
        + [SelectChoice(s, ACCOUNT_STATUS_LABELS[s]) for s in AccountStatus.ALL],
        validators=[Optional()],
    )


class AuditFilterForm(FlaskForm):
    """Filters of the audit trail."""

    class Meta:
        csrf = False

    actor = StringField(_l("Actor (email)"), validators=[Optional(), Length(max=254)])
    action = StringField(
        _l("Action"),
        validators=[Optional(), Length(max=60)],
        description=_l("For example document.withdraw, or user for every account event."),
    )
    object_type = StringField(
        _l("Object type"),
        validators=[Optional(), Length(max=60)],
        description=_l("Document, User…"),
    )
    object_id = IntegerField(_l("Object id"), validators=[Optional(), NumberRange(1, MAX_ID)])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])

    def validate(self, extra_validators: dict | None = None) -> bool:  # type: ignore[override]
        """The fields; an object id needs its type; a date range must not end before it starts."""
        valid = super().validate(extra_validators)
        if self.object_id.data is not None and not self.object_type.data:
            self.object_type.errors = [*self.object_type.errors, "Give the type of the object."]
            valid = False
        start, end = self.date_from.data, self.date_to.data
        if start and end and end < start:
            self.date_to.errors = [*self.date_to.errors, "The range ends before it starts."]
            valid = False
        return valid
