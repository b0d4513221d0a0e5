"""Sign in (password, then a code when two-factor is on), sign out, the account page."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.access import needs_second_factor
from portal.auth import two_factor
from portal.auth.forms import (
    ChangePasswordForm,
    CodeForm,
    ConfirmPasswordForm,
    DisableTwoFactorForm,
    SignInForm,
)
from portal.auth.services import AccountError, authenticate, change_password
from portal.auth.sessions import (
    await_second_factor,
    end_session,
    pending_user,
    start_session,
)
from portal.demo import demo_accounts
from portal.extensions import db
from portal.models import User
from portal.security import safe_local_url

#: Session key of a TOTP secret shown for enrolment and not yet confirmed.
ENROLMENT_KEY = "two_factor_enrolment"

bp = Blueprint("auth", __name__, url_prefix="/auth")


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    """Show and process the sign-in form (the first factor)."""
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.email.data or "", form.password.data or "")
        if user is not None:
            if user.two_factor_enabled:
                await_second_factor(user)
                return redirect(url_for(".two_factor_code", next=request.args.get("next")))
            return _signed_in(user)
        current_app.logger.info("failed sign-in for %s", form.email.data)
        form.password.errors.append(_("The email or password is not right."))
        status = 400
    elif request.method == "POST":
        status = 400
    accounts = [] if current_app.config["PRODUCTION"] else demo_accounts(current_app)
    return render_template("auth/sign_in.html", form=form, demo_accounts=accounts), status


@bp.route("/sign-in/code", methods=["GET", "POST"])
def two_factor_code() -> ResponseReturnValue:
    """The second factor: a code from the authenticator app or a recovery code."""
    user = pending_user()
    if user is None:
        flash(_("Please sign in again: the sign-in took too long or was not started."), "info")
        return redirect(url_for(".sign_in"))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        if two_factor.verify(user, form.code.data or ""):
            db.session.commit()
            return _signed_in(user)
        db.session.rollback()
        current_app.logger.info("wrong two-factor code for %s", user.email)
        form.code.errors.append(_("That code is not right, or it was used already."))
        status = 400
    elif request.method == "POST":
        status = 400
    return render_template("auth/two_factor.html", form=form), status


def _signed_in(user: User) -> ResponseReturnValue:
    start_session(user)
    current_app.logger.info("sign-in %s", user.email)
    if not user.approved:
        flash(
            _(
                "You are signed in, but your account is waiting for approval: until then you see "
                "what visitors see.",
            ),
            "warning",
        )
    else:
        flash(_("Signed in as %(name)s.", name=user.name), "success")
    if needs_second_factor(user):
        flash(
            _(
                "Set up two-factor sign-in: your account needs it to read documents shared among "
                "governments (and, for the secretariat, to do anything beyond what visitors do).",
            ),
            "warning",
        )
        return redirect(url_for(".two_factor_setup"))
    return redirect(safe_local_url(request.args.get("next")))


@bp.route("/sign-out", methods=["POST"])
@login_required
def sign_out() -> ResponseReturnValue:
    """Sign out (POST with a CSRF token, so another site cannot sign you out)."""
    end_session()
    flash(_("You are signed out."), "success")
    return redirect(url_for("home.index"))


@bp.route("/account")
@login_required
def account() -> ResponseReturnValue:
    """The signed-in user's own account details and security settings."""
    return render_template(
        "auth/account.html",
        user=current_user,
        needs_second_factor=needs_second_factor(current_user),
        recovery_codes_left=two_factor.recovery_codes_left(current_user),
    )


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password_page() -> ResponseReturnValue:
    """Change the password; every other session of the account ends."""
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            change_password(current_user, form.current.data or "", form.new.data or "")
        except AccountError as error:
            db.session.rollback()
            field = form.current if "current" in str(error) else form.new
            field.errors.append(str(error))
            status = 400
        else:
            user = current_user._get_current_object()
            db.session.commit()
            start_session(user)  # this browser stays signed in with the new version
            flash(_("Your password was changed. Other devices were signed out."), "success")
            return redirect(url_for(".account"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/change_password.html", form=form), status


@bp.route("/two-factor", methods=["GET", "POST"])
@login_required
def two_factor_setup() -> ResponseReturnValue:
    """Enrol an authenticator app: scan the QR code, then type a code to confirm."""
    user: User = current_user._get_current_object()
    if user.two_factor_enabled:
        return redirect(url_for(".account"))
    secret = session.get(ENROLMENT_KEY)
    if not isinstance(secret, str) or request.method == "GET":
        secret = session[ENROLMENT_KEY] = two_factor.new_secret()
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        codes = two_factor.enable(user, secret, form.code.data or "")
        if codes is not None:
            session.pop(ENROLMENT_KEY, None)
            db.session.commit()
            start_session(user)  # the session version changed: keep this browser signed in
            flash(_("Two-factor sign-in is on."), "success")
            return render_template("auth/recovery_codes.html", codes=codes)
        form.code.errors.append(_("That code is not right. Check the time on your phone."))
        status = 400
    elif request.method == "POST":
        status = 400
    uri = two_factor.provisioning_uri(user, secret)
    return (
        render_template(
            "auth/two_factor_setup.html",
            form=form,
            qr_code=two_factor.qr_code_svg(uri),
            secret=secret,
        ),
        status,
    )


@bp.route("/two-factor/recovery-codes", methods=["POST"])
@login_required
def regenerate_recovery_codes() -> ResponseReturnValue:
    """New recovery codes (after the password is confirmed); the old ones stop working."""
    form = ConfirmPasswordForm()
    user: User = current_user._get_current_object()
    if not user.two_factor_enabled:
        abort(400)
    if not form.validate_on_submit() or not user.check_password(form.password.data or ""):
        flash(_("The password is not right: your recovery codes were not changed."), "error")
        return redirect(url_for(".account")), 303
    codes = two_factor.regenerate_recovery_codes(user)
    db.session.commit()
    return render_template("auth/recovery_codes.html", codes=codes)


@bp.route("/two-factor/disable", methods=["POST"])
@login_required
def disable_two_factor() -> ResponseReturnValue:
    """Turn two-factor sign-in off (after the password and a current code are confirmed)."""
    form = DisableTwoFactorForm()
    user: User = current_user._get_current_object()
    if (
        not form.validate_on_submit()
        or not user.check_password(form.password.data or "")
        or not two_factor.verify(user, form.code.data or "")
    ):
        db.session.rollback()
        flash(_("The password or code is not right: two-factor sign-in is still on."), "error")
        return redirect(url_for(".account")), 303
    two_factor.disable(user)
    db.session.commit()
    start_session(user)
    flash(_("Two-factor sign-in is off."), "warning")
    return redirect(url_for(".account"))
