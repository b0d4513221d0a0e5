"""Forms of the auth area: sign-in, two-factor, passwords, onboarding."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional, Regexp

from portal.auth.passwords import PASSWORD_HINT, password_problem


class SignInForm(FlaskForm):
    """Email and password."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class CodeForm(FlaskForm):
    """A six-digit code from the authenticator app, or a recovery code."""

    code = StringField(
        _l("Code"),
        validators=[DataRequired(), Length(max=32)],
        description=_l(
            "The six digits your authenticator app shows, or one of your recovery codes.",
        ),
        render_kw={"autocomplete": "one-time-code", "inputmode": "text", "spellcheck": "false"},
    )


class ConfirmPasswordForm(FlaskForm):
    """Asks for the current password before a sensitive change."""

    password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=1024)])


class DisableTwoFactorForm(ConfirmPasswordForm):
    """The current password and a current code: a stolen session alone cannot turn 2FA off."""

    code = StringField(
        _l("Code from your authenticator app (or a recovery code)"),
        validators=[DataRequired(), Length(max=32)],
        render_kw={"autocomplete": "one-time-code", "spellcheck": "false"},
    )


class ChangePasswordForm(FlaskForm):
    """The current password and a new one, twice."""

    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=1024)])
    new = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(max=1024)],
        description=_l("At least 12 characters; not a common password."),
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


# -- Onboarding: requesting access, invitations, password reset ----------------------------

_EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_EMAIL_MESSAGE = _l("Enter an email address, like name@example.org.")
_EMAIL_SHAPE = Regexp(_EMAIL_PATTERN, message=_EMAIL_MESSAGE)


def _new_password_field(label: str = "Password") -> PasswordField:
    return PasswordField(
        label,
        validators=[DataRequired(), Length(max=1024)],
        description=PASSWORD_HINT,
        render_kw={"autocomplete": "new-password"},
    )


def _confirm_field(label: str = "Password again") -> PasswordField:
    return PasswordField(
        label,
        validators=[DataRequired(), EqualTo("password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


class NewPasswordForm(FlaskForm):
    """A new password, twice, checked against the rules for the account it is for.

    The view sets `account_email` and `account_name`, unless the form asks for them.
    """

    account_email = ""
    account_name = ""
    password = _new_password_field()
    confirm = _confirm_field()

    def account_identity(self) -> tuple[str, str]:
        """The email and name of the account the password is for."""
        return self.account_email, self.account_name

    def validate_password(self, field: PasswordField) -> None:
        """Apply the password rules (portal/auth/passwords.py) to this account."""
        email, name = self.account_identity()
        problem = password_problem(field.data or "", email=email or "", name=name or "")
        if problem:
            raise ValidationError(problem)


class RequestAccessForm(NewPasswordForm):
    """Industry and civil society ask for an account."""

    name = StringField(
        _l("Full name"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "name"},
    )
    organisation = StringField(
        _l("Organisation"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "organization"},
    )
    email = EmailField(
        _l("Email"),
        validators=[DataRequired(), Length(max=254), _EMAIL_SHAPE],
        render_kw={"autocomplete": "email"},
    )
    role = RadioField(
        _l("You are joining as"),
        choices=[
            SelectChoice("industry", _l("Industry: an exporter, a compliance officer")),
            SelectChoice("civil_society", _l("Civil society: an NGO, a researcher, a journalist")),
        ],
        validators=[InputRequired(message=_l("Choose one."))],
    )
    reason = TextAreaField(
        _l("Why you would like access"),
        validators=[DataRequired(), Length(max=2000)],
        description=_l("A few sentences for the secretariat, who review every request."),
    )
    # Declared again so the fields come after the others on the page.
    password = _new_password_field()
    confirm = _confirm_field()

    def account_identity(self) -> tuple[str, str]:
        """The email and name typed into this form."""
        return self.email.data or "", self.name.data or ""


class AcceptInvitationForm(NewPasswordForm):
    """The invited person's name, organisation and password (email, role, state are fixed)."""

    name = StringField(
        _l("Full name"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "name"},
    )
    organisation = StringField(
        _l("Organisation (optional)"),
        validators=[Optional(), Length(max=200)],
        description=_l("For government officials: your ministry or agency."),
        render_kw={"autocomplete": "organization"},
    )
    password = _new_password_field()
    confirm = _confirm_field()

    def account_identity(self) -> tuple[str, str]:
        """The invitation's email (set by the view) and the name typed here."""
        return self.account_email, self.name.data or ""


class ResetPasswordForm(NewPasswordForm):
    """A new password chosen with a reset link."""

    password = _new_password_field("New password")
    confirm = _confirm_field("New password again")


class ForgotPasswordForm(FlaskForm):
    """The email of the account whose password was forgotten."""

    email = EmailField(
        _l("Email"),
        validators=[DataRequired(), Length(max=254)],
        render_kw={"autocomplete": "email"},
    )


class InviteForm(FlaskForm):
    """Whom to invite; the view fills the choices from what the inviter may do."""

    email = EmailField(
        _l("Email of the person to invite"),
        validators=[DataRequired(), Length(max=254), _EMAIL_SHAPE],
    )
    role = SelectField(_l("Role"), validators=[InputRequired()])
    state = SelectField(
        _l("State"),
        validators=[Optional()],
        description=_l("Government invitations only: the state the official works for."),
    )
