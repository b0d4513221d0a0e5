"""Joining and recovering an account: request access, invitations, forgotten passwords.

Views only: the rules live in access_requests.py, invitations.py and password_resets.py.
Routes are added to the auth blueprint; their endpoint names are throttled by name.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms import SelectChoice

from portal.access import AccessDenied, invitable_roles
from portal.auth import access_requests, invitations, password_resets
from portal.auth.forms import (
    AcceptInvitationForm,
    ForgotPasswordForm,
    InviteForm,
    RequestAccessForm,
    ResetPasswordForm,
)
from portal.auth.services import AccountError, find_user_by_email
from portal.auth.sessions import start_session
from portal.auth.tokens import InvalidToken
from portal.auth.views import bp
from portal.errors import render_error
from portal.extensions import db
from portal.models import Invitation, Role, State

#: One sentence for every unusable link, so a link's fate is not revealed.
BAD_LINK = (
    "This link cannot be used. It may have expired, been used already or been withdrawn, "
    "or it was not copied in full. Ask for a new one."
)


def _bad_link() -> ResponseReturnValue:
    current_app.logger.info("refused a link on %s", request.endpoint)
    return render_error(404, BAD_LINK)


# -- Requesting access ---------------------------------------------------------------------


@bp.route("/request-access", methods=["GET", "POST"])
def request_access() -> ResponseReturnValue:
    """Industry and civil society ask for an account; the answer never says if one exists."""
    form = RequestAccessForm()
    if form.validate_on_submit():
        try:
            access_requests.request_access(
                email=form.email.data or "",
                name=form.name.data or "",
                organisation=form.organisation.data or "",
                role=Role(form.role.data),
                reason=form.reason.data or "",
                password=form.password.data or "",
            )
            db.session.commit()
        except AccountError as error:
            db.session.rollback()
            form.email.errors.append(str(error))
        except IntegrityError:
            # Someone asked for the same email a moment earlier: answer as for an existing one.
            db.session.rollback()
            return _request_received()
        else:
            return _request_received()
    status = 400 if request.method == "POST" else 200
    return render_template("auth/request_access.html", form=form), status


def _request_received() -> ResponseReturnValue:
    return render_template(
        "auth/notice.html",
        title=_("Thank you: we received your request"),
        paragraphs=[
            _(
                "We have sent a message to the address you gave. If it does not arrive in a few "
                "minutes, check your spam folder."
            ),
            _(
                "The plenary secretariat reviews every request and will write to you once it "
                "has decided. Until then, everything public on the portal is open to you."
            ),
        ],
    )


# -- Forgotten passwords -------------------------------------------------------------------


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password() -> ResponseReturnValue:
    """Ask for a reset link; the answer is the same whether or not the account exists."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        password_resets.request_password_reset(form.email.data or "")
        db.session.commit()
        return render_template(
            "auth/notice.html",
            title=_("Check your email"),
            paragraphs=[
                _(
                    "If an account exists for that address, we have sent a link to choose a new "
                    "password. The link works once and expires in %(minutes)s minutes.",
                    minutes=current_app.config["PASSWORD_RESET_VALID_MINUTES"],
                ),
                _(
                    "If no message arrives in a few minutes, check your spam folder, and check "
                    "that you typed the address you registered with."
                ),
            ],
        )
    status = 400 if request.method == "POST" else 200
    return render_template("auth/forgot_password.html", form=form), status


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> ResponseReturnValue:
    """Choose a new password with a link from a reset mail."""
    try:
        reset = password_resets.find_open_reset(token)
    except InvalidToken:
        return _bad_link()
    form = ResetPasswordForm()
    form.account_email, form.account_name = reset.user.email, reset.user.name
    if form.validate_on_submit():
        try:
            password_resets.reset_password(reset, form.password.data or "")
        except InvalidToken:
            db.session.rollback()
            return _bad_link()
        except AccountError as error:
            db.session.rollback()
            form.password.errors.append(str(error))
        else:
            db.session.commit()
            flash(
                _(
                    "Your password is changed and every session of your account was signed out. "
                    "Sign in with your new password.",
                ),
                "success",
            )
            return redirect(url_for("auth.sign_in"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/reset_password.html", form=form), status


# -- Invitations ---------------------------------------------------------------------------


def _require_inviter() -> None:
    if not invitable_roles(current_user):
        raise AccessDenied("may not invite")


@bp.route("/invitations", endpoint="invitations")
@login_required
def list_invitations() -> ResponseReturnValue:
    """The invitations the user issued (all of them, for the secretariat)."""
    _require_inviter()
    listed = db.session.scalars(invitations.invitations_for(current_user).limit(500)).all()
    return render_template(
        "auth/invitations.html",
        invitations=[
            (invitation, invitations.invitation_status(invitation)) for invitation in listed
        ],
    )


@bp.route("/invitations/new", methods=["GET", "POST"])
@login_required
def invite() -> ResponseReturnValue:
    """Invite someone by email, bound to a role and (for governments) a state."""
    _require_inviter()
    form = InviteForm()
    roles = invitable_roles(current_user)
    states = invitations.invitable_states(current_user)
    form.role.choices = [SelectChoice(role.value, role.label) for role in roles]
    form.state.choices = [SelectChoice(state.code, state.name) for state in states]
    if any(role is not Role.GOVERNMENT for role in roles):
        form.state.choices.insert(0, SelectChoice("", "None (not a government invitation)"))
    if form.validate_on_submit():
        state = (
            db.session.scalar(select(State).where(State.code == form.state.data))
            if form.state.data
            else None
        )
        try:
            invitation, _token = invitations.create_invitation(
                current_user, form.email.data or "", Role(form.role.data), state
            )
        except AccountError as error:
            db.session.rollback()
            form.state.errors.append(str(error))
        else:
            db.session.commit()
            flash(_("Invitation sent to %(email)s.", email=invitation.email), "success")
            return redirect(url_for("auth.invitations"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/invite.html", form=form), status


@bp.route("/invitations/<int:invitation_id>/revoke", methods=["POST"])
@login_required
def revoke_invitation(invitation_id: int) -> ResponseReturnValue:
    """Withdraw an open invitation so its link stops working."""
    invitation = db.get_or_404(Invitation, invitation_id)
    try:
        invitations.revoke_invitation(current_user, invitation)
    except AccountError as error:
        db.session.rollback()
        flash(str(error), "warning")
    else:
        db.session.commit()
        flash(_("The invitation for %(email)s is revoked.", email=invitation.email), "success")
    return redirect(url_for("auth.invitations"))


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> ResponseReturnValue:
    """Accept an invitation: choose a password, and be signed in to the new account."""
    try:
        invitation = invitations.find_open_invitation(token)
    except InvalidToken:
        return _bad_link()
    existing = find_user_by_email(invitation.email)
    if existing is not None and not existing.pending_approval:
        return render_error(409, invitations.ACCOUNT_EXISTS)
    form = AcceptInvitationForm()
    form.account_email = invitation.email
    if form.validate_on_submit():
        try:
            user = invitations.accept_invitation(
                invitation,
                name=form.name.data or "",
                organisation=form.organisation.data,
                password=form.password.data or "",
            )
            db.session.commit()
        except (InvalidToken, IntegrityError):
            db.session.rollback()
            return _bad_link()
        except AccountError as error:
            db.session.rollback()
            form.password.errors.append(str(error))
        else:
            start_session(user)
            flash(_("Welcome, %(name)s: your account is ready.", name=user.name), "success")
            return redirect(url_for("auth.account"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/accept_invitation.html", form=form, invitation=invitation), status
