"""Sign in and sign out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user

from portal.access import effective_role
from portal.auth.forms import SignInForm
from portal.auth.services import authenticate
from portal.demo import demo_accounts

bp = Blueprint("auth", __name__, url_prefix="/auth")


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a signed-in user to another host."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and "\\" not in target:
            return target
    return url_for("home.index")


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    """Show and process the sign-in form."""
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.email.data or "", form.password.data or "")
        if user is not None:
            login_user(user, remember=bool(form.remember.data))
            current_app.logger.info("sign-in %s", user.email)
            if effective_role(user) is None:
                flash(
                    "You are signed in, but your account is waiting for approval: "
                    "until then you see what visitors see.",
                    "warning",
                )
            else:
                flash(f"Signed in as {user.name}.", "success")
            return redirect(_safe_next(request.args.get("next")))
        current_app.logger.info("failed sign-in for %s", form.email.data)
        form.password.errors.append("The email or password is not right.")
        status = 400
    elif request.method == "POST":
        status = 400
    accounts = [] if current_app.config["PRODUCTION"] else demo_accounts(current_app)
    return render_template("auth/sign_in.html", form=form, demo_accounts=accounts), status


@bp.route("/sign-out", methods=["POST"])
@login_required
def sign_out() -> ResponseReturnValue:
    """Sign out (POST with a CSRF token, so another site cannot sign you out)."""
    logout_user()
    flash("You are signed out.", "success")
    return redirect(url_for("home.index"))


@bp.route("/account")
@login_required
def account() -> ResponseReturnValue:
    """The signed-in user's own account details."""
    return render_template("auth/account.html", user=current_user)
