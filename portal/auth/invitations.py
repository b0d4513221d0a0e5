"""Invitations: how government officials (and anyone the secretariat asks) join.

An invitation is bound to one email, one role and, for governments, one state. Its link
carries a random token of which only the SHA-256 hash is stored; it expires after
INVITATION_VALID_DAYS, can be used once and can be revoked.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select

from portal.access import (
    AccessDenied,
    can_invite,
    can_revoke_invitation,
    invitable_state_ids,
    visible_invitations,
)
from portal.audit import record_event
from portal.auth.outgoing_mail import send_after_commit
from portal.auth.passwords import password_problem
from portal.auth.services import (
    AccountError,
    create_user,
    end_sessions,
    find_user_by_email,
    is_email_address,
    normalise_email,
)
from portal.auth.tokens import (
    InvalidToken,
    claim_once,
    describe_expiry,
    has_passed,
    new_token,
    plausible,
    token_hash,
)
from portal.clock import utcnow
from portal.extensions import db
from portal.mail import external_url
from portal.models import Invitation, Role, State, User

log = logging.getLogger("portal.auth")

ACCOUNT_EXISTS = (
    "An account with this email address exists already, so this invitation cannot be used. "
    "Sign in instead; if you have forgotten your password, you can choose a new one."
)


# -- Whom a user may invite (the rules are in portal/access.py) ----------------------------


def invitable_states(user: Any) -> list[State]:
    """The states `user` may bind a government invitation to, by name."""
    query = select(State).order_by(State.name)
    allowed = invitable_state_ids(user)
    if allowed is not None:
        query = query.where(State.id.in_(sorted(allowed)))
    return list(db.session.scalars(query))


def invitation_status(invitation: Invitation) -> str:
    """'accepted', 'revoked', 'expired' or 'open'."""
    if invitation.used_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    return "expired" if has_passed(invitation.expires_at) else "open"


def invitations_for(user: Any) -> Select[tuple[Invitation]]:
    """The invitations `user` may list: all for the secretariat, otherwise those they issued."""
    return (
        select(Invitation)
        .where(visible_invitations(user))
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
    )


def create_invitation(
    actor: Any, email: str, role: Role, state: State | None
) -> tuple[Invitation, str]:
    """Issue an invitation and mail its link; returns it and the raw token (never stored).

    Raises AccountError for a missing or needless state or a bad email, AccessDenied
    when `actor` may not invite this role and state. The caller commits.
    """
    email = normalise_email(email)
    if not is_email_address(email):
        raise AccountError(_("Enter an email address, like name@example.org."))
    if role.has_state != (state is not None):
        raise AccountError(_(
            "Government invitations need a state; other roles must not have one.",
        ))
    if not can_invite(actor, role, state):
        raise AccessDenied(f"may not invite {role} for {state}")
    raw, hashed = new_token()
    days = current_app.config["INVITATION_VALID_DAYS"]
    invitation = Invitation(
        token_hash=hashed,
        email=email,
        role=role,
        state=state,
        invited_by_id=getattr(actor, "id", None),
        expires_at=utcnow() + dt.timedelta(days=days),
    )
    db.session.add(invitation)
    db.session.flush()
    record_event(
        actor,
        "invitation.create",
        invitation,
        email=email,
        role=str(role),
        state=state.code if state else None,
    )
    send_after_commit(
        email,
        _l("You are invited to join the ECHRI Practice Portal"),
        "invitation",
        invitation=invitation,
        inviter=actor,
        link=external_url("auth.accept_invitation", token=raw),
        expires=describe_expiry(invitation.expires_at),
        days=days,
    )
    return invitation, raw


def revoke_invitation(actor: Any, invitation: Invitation) -> None:
    """Withdraw an open invitation so its link stops working.

    Raises AccessDenied unless `actor` may revoke it, AccountError if it was already
    accepted or revoked. The caller commits.
    """
    if not can_revoke_invitation(actor, invitation):
        raise AccessDenied("may not revoke this invitation")
    if invitation.used_at is not None:
        raise AccountError(_("This invitation was accepted already."))
    if invitation.revoked_at is not None:
        raise AccountError(_("This invitation was revoked already."))
    invitation.revoked_at = utcnow()
    record_event(actor, "invitation.revoke", invitation, email=invitation.email)


# -- Accepting ---------------------------------------------------------------------------


def find_open_invitation(raw_token: str) -> Invitation:
    """The open invitation a link's token belongs to.

    Raises InvalidToken for an unknown, tampered, expired, used or revoked token alike.
    """
    if not plausible(raw_token):
        raise InvalidToken
    invitation = db.session.scalar(
        select(Invitation).where(Invitation.token_hash == token_hash(raw_token))
    )
    if invitation is None or invitation_status(invitation) != "open":
        raise InvalidToken
    return invitation


def accept_invitation(
    invitation: Invitation, *, name: str, organisation: str | None, password: str
) -> User:
    """Create the invited, approved account and use the invitation up (once, even in a race).

    Raises AccountError if the email has an account already or the password is weak,
    InvalidToken if the invitation stopped being open. The caller commits and signs in.
    """
    existing = find_user_by_email(invitation.email)
    if existing is not None and not existing.pending_approval:
        raise AccountError(ACCOUNT_EXISTS)
    inviter = invitation.invited_by
    if inviter is not None and not can_invite(inviter, invitation.role, invitation.state):
        # The inviter lost the right to invite (deactivated, no longer focal point...).
        raise InvalidToken
    now = utcnow()
    if not claim_once(
        Invitation,
        invitation.id,
        Invitation.used_at.is_(None),
        Invitation.revoked_at.is_(None),
        Invitation.expires_at > now,
        used_at=now,
    ):
        raise InvalidToken
    db.session.refresh(invitation)
    if existing is not None:
        user = _take_over_request(existing, invitation, name, organisation, password)
    else:
        user = create_user(
            invitation.email,
            name=name,
            role=invitation.role,
            password=password,
            state=invitation.state,
            organisation=(organisation or "").strip() or None,
            approved=True,
        )
    invitation.user_id = user.id
    # Whoever invited vouched for the account: that is its review.
    user.reviewed_at, user.reviewed_by_id = now, invitation.invited_by_id
    record_event(user, "invitation.accept", invitation, user_id=user.id, role=str(user.role))
    log.info("invitation %s accepted by %s", invitation.id, user.email)
    return user


def _take_over_request(
    user: User, invitation: Invitation, name: str, organisation: str | None, password: str
) -> User:
    """The invitation proves the address: it replaces a pending request made with it.

    Anyone can ask for access with any address, so a pending request must not block the
    address's owner; whoever made the request loses it (their sessions end).
    """
    problem = password_problem(password, email=user.email, name=name)
    if problem:
        raise AccountError(problem)
    user.name = name.strip() or user.email
    user.organisation = (organisation or "").strip() or None
    user.role, user.state = invitation.role, invitation.state
    user.approved, user.declined, user.active = True, False, True
    user.set_password(password)
    end_sessions(user)
    log.warning("invitation %s replaced a pending request for %s", invitation.id, user.email)
    return user
