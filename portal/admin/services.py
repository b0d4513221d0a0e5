"""Secretariat administration: accounts, states and withdrawals, each with its audit event.

Every function checks `can_administer(actor)` itself (refusal by default), so no view,
CLI command or API endpoint can change accounts or states without the secretariat's role.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, and_, func, or_, select

from portal.access import AccessDenied, can_administer
from portal.audit import record_event
from portal.auth.access_requests import approve_user, decline_user
from portal.auth.services import AccountError, end_sessions
from portal.documents import services as documents
from portal.extensions import db
from portal.models import Document, Role, State, User

STATE_CODE = re.compile(r"^[A-Z]{2}$")


class AdminError(ValueError):
    """An administrative change cannot be made as asked; the message says why."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AccountStatus:
    """Where an account stands; the values are the `status` filter's."""

    PENDING = "pending"
    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    DECLINED = "declined"
    ALL = (PENDING, ACTIVE, DEACTIVATED, DECLINED)


def account_status(user: User) -> str:
    """The account's status: declined, deactivated, pending or active (first that applies).

    Declining also deactivates an account, so `declined` comes first.
    """
    if user.declined:
        return AccountStatus.DECLINED
    if not user.active:
        return AccountStatus.DEACTIVATED
    return AccountStatus.ACTIVE if user.approved else AccountStatus.PENDING


def status_condition(status: str) -> ColumnElement[bool]:
    """`account_status(user) == status` as an SQL condition."""
    current = and_(User.declined.is_(False), User.active.is_(True))
    return {
        AccountStatus.DECLINED: User.declined.is_(True),
        AccountStatus.DEACTIVATED: and_(User.declined.is_(False), User.active.is_(False)),
        AccountStatus.ACTIVE: and_(current, User.approved.is_(True)),
        AccountStatus.PENDING: and_(current, User.approved.is_(False)),
    }[status]


def _require_administrator(actor: Any) -> None:
    if not can_administer(actor):
        raise AccessDenied("administration refused")


def _settings(user: User) -> dict[str, Any]:
    """An account's settings as audited (the event's `content`)."""
    return {
        "email": user.email,
        "role": str(user.role),
        "state": user.state.code if user.state else None,
        "approved": user.approved,
        "declined": user.declined,
        "active": user.active,
        "is_focal_point": user.is_focal_point,
    }


def _not_self(actor: Any, user: User, refusal: str) -> None:
    # The secretariat must not lock itself out by accident; another member can do it.
    if getattr(actor, "id", None) == user.id:
        raise AdminError(refusal)


def pending_requests() -> list[User]:
    """Access requests waiting for a decision, oldest first."""
    query = select(User).where(status_condition(AccountStatus.PENDING)).order_by(User.created_at)
    return list(db.session.scalars(query))


def find_users(
    *,
    text: str = "",
    role: Role | None = None,
    state_code: str = "",
    status: str = "",
) -> Select[tuple[User]]:
    """Accounts matching every filter given (name or email containing `text`), by name."""
    query = select(User).order_by(User.name, User.id)
    if text := text.strip():
        query = query.where(
            or_(
                User.name.icontains(text, autoescape=True),
                User.email.icontains(text, autoescape=True),
            )
        )
    if role is not None:
        query = query.where(User.role == role)
    if state_code:
        query = query.join(State, User.state_id == State.id).where(State.code == state_code)
    if status:
        query = query.where(status_condition(status))
    return query


def approve_account(actor: Any, user: User) -> None:
    """Approve a pending or declined request for access (onboarding mails the user)."""
    _require_administrator(actor)
    try:
        approve_user(actor, user)
    except AccountError as error:
        raise AdminError(str(error)) from error


def decline_account(actor: Any, user: User, reason: str) -> None:
    """Decline a pending request for access, with the reason the user is given."""
    _require_administrator(actor)
    if not reason.strip():
        raise AdminError(_("Give the reason for declining."), "reason")
    try:
        decline_user(actor, user, reason)
    except AccountError as error:
        raise AdminError(str(error)) from error


def change_role(actor: Any, user: User, role: Role, state: State | None) -> None:
    """Give the account another role (and state: government accounts have one, others none).

    Ends the account's sessions, so the new role applies from its next sign-in.
    """
    _require_administrator(actor)
    _not_self(actor, user, _("You cannot change the role of your own account."))
    if role.has_state and state is None:
        raise AdminError(_("A government account needs a state."), "state")
    if not role.has_state and state is not None:
        raise AdminError(_("Only government accounts belong to a state."), "state")
    if user.role is role and user.state_id == (state.id if state else None):
        raise AdminError(_("The account already has this role."), "role")
    previous = {"role": str(user.role), "state": user.state.code if user.state else None}
    user.role, user.state = role, state
    if not may_be_focal_point(user):
        user.is_focal_point = False
    end_sessions(user)
    record_event(actor, "user.role_change", user, content=_settings(user), previous=previous)


def may_be_focal_point(user: User) -> bool:
    """Only government users (who belong to a state) can be their state's focal point."""
    return user.role.has_state


def set_focal_point(actor: Any, user: User, focal_point: bool) -> None:
    """Make a government user their state's focal point (who may invite colleagues), or not."""
    _require_administrator(actor)
    if focal_point and not may_be_focal_point(user):
        raise AdminError(_("Only government users can be focal points."))
    if user.is_focal_point == focal_point:
        raise AdminError(_("Nothing to change."))
    user.is_focal_point = focal_point
    record_event(actor, "user.focal_point", user, content=_settings(user))


def deactivate_account(actor: Any, user: User) -> None:
    """Deactivate an account: it is signed out at once and can no longer sign in."""
    _require_administrator(actor)
    _not_self(actor, user, _("You cannot deactivate your own account."))
    if not user.active:
        raise AdminError(_("This account is already deactivated."))
    user.active = False
    end_sessions(user)
    record_event(actor, "user.deactivate", user, content=_settings(user))


def reactivate_account(actor: Any, user: User) -> None:
    """Let a deactivated account sign in again."""
    _require_administrator(actor)
    if user.declined:
        raise AdminError(_("This request for access was declined: approve it instead."))
    if user.active:
        raise AdminError(_("This account is active."))
    user.active = True
    record_event(actor, "user.reactivate", user, content=_settings(user))


@dataclass(frozen=True)
class NewState:
    """A state that joins the Code of Conduct."""

    code: str
    name: str
    joined_on: dt.date


def add_state(actor: Any, new: NewState) -> State:
    """Add a subscribing state; codes are two capital letters, codes and names unique."""
    _require_administrator(actor)
    code, name = new.code.strip(), " ".join(new.name.split())
    if not STATE_CODE.match(code):
        raise AdminError(_("The code is two capital letters (ISO 3166-1 alpha-2)."), "code")
    if not name:
        raise AdminError(_("Give the state's name."), "name")
    if db.session.scalar(select(State.id).where(State.code == code)) is not None:
        raise AdminError(_("There is already a state with the code %(code)s.", code=code), "code")
    taken = select(State.id).where(func.lower(State.name) == name.lower())
    if db.session.scalar(taken) is not None:
        raise AdminError(_("There is already a state called %(name)s.", name=name), "name")
    state = State(code=code, name=name, joined_on=new.joined_on)
    db.session.add(state)
    db.session.flush()
    content = {"code": code, "name": name, "joined_on": new.joined_on.isoformat()}
    record_event(actor, "state.add", state, content=content)
    return state


def withdraw(actor: Any, document: Document, reason: str) -> None:
    """Withdraw a document, with the reason recorded in the audit trail."""
    _require_administrator(actor)
    if not reason.strip():
        raise AdminError(_("Give the reason for withdrawing."), "reason")
    documents.withdraw_document(actor, document, reason.strip())


def restore(actor: Any, document: Document, reason: str) -> None:
    """Restore a withdrawn document, with the reason recorded in the audit trail."""
    _require_administrator(actor)
    if not reason.strip():
        raise AdminError(_("Give the reason for restoring."), "reason")
    documents.restore_document(actor, document, reason.strip())
