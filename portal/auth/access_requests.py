"""Requests for access from industry and civil society, and the secretariat's decision.

`request_access` never tells the caller whether the email already had an account; the
address's owner learns it by mail. `approve_user` and `decline_user` are what the admin
screens call.
"""

from __future__ import annotations

import logging

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.security import generate_password_hash

from portal.access import REQUESTABLE_ROLES, AccessDenied, can_administer
from portal.audit import record_event
from portal.auth.outgoing_mail import send_after_commit
from portal.auth.passwords import password_problem
from portal.auth.services import AccountError, create_user, end_sessions, find_user_by_email
from portal.clock import utcnow
from portal.mail import external_url
from portal.models import Role, User

log = logging.getLogger("portal.auth")

#: The roles anyone may ask for; governments and the secretariat join by invitation.


def request_access(
    *, email: str, name: str, organisation: str, role: Role, reason: str, password: str
) -> User | None:
    """Create an unapproved account, or mail the owner if the email already has one.

    Returns the new account, or None for an existing email: callers must answer both
    the same way. Raises AccountError for a role that cannot be requested, a weak password
    (both checked before the email is looked up) or an address that is not an email.
    """
    if role not in REQUESTABLE_ROLES:
        raise AccountError(_("Only industry and civil-society accounts can be requested."))
    problem = password_problem(password, email=email, name=name)
    if problem:
        raise AccountError(problem)
    existing = find_user_by_email(email)
    if existing is not None:
        # Costs what hashing a new account's password costs, so timing tells nothing.
        generate_password_hash(password, method="scrypt")
        log.info("access requested for an email that has an account: %s", existing.email)
        send_after_commit(
            existing.email,
            _l("Someone asked for an account with your email address"),
            "access_request_existing",
            user=existing,
            forgot_url=external_url("auth.forgot_password"),
        )
        return None
    user = create_user(
        email,
        name=name,
        role=role,
        password=password,
        organisation=organisation.strip() or None,
        approved=False,
    )
    user.access_reason = reason.strip()
    record_event(
        user, "user.request_access", user, content={"reason": user.access_reason}, role=str(role)
    )
    log.info("access requested by %s (%s): waiting for the secretariat", user.email, role)
    send_after_commit(
        user.email, _l("We received your request"), "access_request_received", user=user
    )
    return user


def _require_reviewer(actor: object) -> None:
    if not can_administer(actor):
        raise AccessDenied("only the secretariat approves or declines accounts")


def _mark_reviewed(actor: object, user: User) -> None:
    user.reviewed_at = utcnow()
    actor_id = getattr(actor, "id", None)
    user.reviewed_by_id = actor_id if isinstance(actor_id, int) else None


def approve_user(actor: object, user: User) -> None:
    """Approve a pending (or earlier declined) account and mail its owner a sign-in link.

    Raises AccessDenied unless `actor` is the secretariat, AccountError if already approved.
    The caller commits; the mail goes out after the commit.
    """
    _require_reviewer(actor)
    if user.approved:
        raise AccountError(_("This account is already approved."))
    if user.declined:
        user.active = True  # declining deactivated it
    user.approved, user.declined = True, False
    _mark_reviewed(actor, user)
    record_event(actor, "user.approve", user, role=str(user.role))
    send_after_commit(
        user.email,
        _l("Your access to the ECHRI Practice Portal is approved"),
        "access_approved",
        user=user,
        sign_in_url=external_url("auth.sign_in"),
    )


def decline_user(actor: object, user: User, reason: str) -> None:
    """Decline a pending account: it is deactivated (signed out at once) and its owner told why.

    Raises AccessDenied unless `actor` is the secretariat, AccountError unless the account
    is pending. `reason` (may be empty) goes into the mail and the audit trail.
    The caller commits; the mail goes out after the commit.
    """
    _require_reviewer(actor)
    if not user.pending_approval:
        raise AccountError(_("Only accounts waiting for approval can be declined."))
    user.declined, user.active = True, False
    end_sessions(user)
    _mark_reviewed(actor, user)
    record_event(actor, "user.decline", user, reason=reason.strip())
    send_after_commit(
        user.email,
        _l("Your request for access to the ECHRI Practice Portal"),
        "access_declined",
        user=user,
        reason=reason.strip(),
    )
