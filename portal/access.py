"""THE access policy: who may read and write what. Nothing else compares roles.

Refusal by default: an action is allowed only where a rule below says so. The
two tables are BRIEF.md's role table; `can` answers for one object,
`visible_documents` gives the same answer as an SQL condition for lists and
`search_filter` as a Whoosh query for search.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from whoosh import query as whoosh_query

from portal.models import (
    AuditEvent,
    Document,
    DocumentStatus,
    DocumentType,
    Invitation,
    Role,
    State,
    Visibility,
)
from portal.models.documents import STATE_TYPES

#: Published visibilities each role may read; `None` is a visitor.
READABLE: dict[Role | None, frozenset[Visibility]] = {
    None: frozenset({Visibility.PUBLIC}),
    Role.CIVIL_SOCIETY: frozenset({Visibility.PUBLIC, Visibility.PARTICIPANTS}),
    Role.INDUSTRY: frozenset({Visibility.PUBLIC, Visibility.PARTICIPANTS}),
    Role.GOVERNMENT: frozenset(Visibility),
    Role.SECRETARIAT: frozenset(Visibility),
}

#: Visibilities readable only after two-factor sign-in (government and secretariat).
NEEDS_SECOND_FACTOR = frozenset({Visibility.GOVERNMENT})

#: Document types each role may create.
CREATABLE: dict[Role | None, frozenset[DocumentType]] = {
    None: frozenset(),
    Role.CIVIL_SOCIETY: frozenset({DocumentType.REVIEW}),
    Role.INDUSTRY: frozenset({DocumentType.PRACTICE_NOTE}),
    Role.GOVERNMENT: STATE_TYPES,
    Role.SECRETARIAT: frozenset(DocumentType),
}


class Action(enum.StrEnum):
    """What a user may try to do with a document."""

    READ = "read"
    CREATE = "create"
    EDIT = "edit"
    WITHDRAW = "withdraw"
    RESTORE = "restore"


@dataclass(frozen=True)
class SystemActor:
    """A trusted process acting with the secretariat's authority (loading canonical content)."""

    label: str
    is_authenticated: bool = True
    id: None = None


CONTENT_LOADER = SystemActor("content-loader")


class AccessDenied(Exception):
    """Raised by `authorize` when the policy refuses an action; shown as a 403."""


def effective_role(user: Any) -> Role | None:
    """The user's role, or None for visitors, unapproved and deactivated accounts."""
    if isinstance(user, SystemActor):
        return Role.SECRETARIAT
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if not (user.active and user.approved):
        return None
    return user.role


def has_second_factor(user: Any) -> bool:
    """Has the user enrolled two-factor sign-in (and so passed it to be signed in)?"""
    return isinstance(user, SystemActor) or bool(getattr(user, "two_factor_enabled", False))


def readable_visibilities(user: Any) -> frozenset[Visibility]:
    """Visibilities of documents the user may read (published ones, for most roles).

    `government` needs two-factor sign-in as well as the role.
    """
    visibilities = READABLE[effective_role(user)]
    if not has_second_factor(user):
        visibilities = visibilities - NEEDS_SECOND_FACTOR
    return visibilities


def choosable_visibilities(user: Any) -> list[Visibility]:
    """Visibilities the user may give a document: never above what they may read."""
    if effective_role(user) is None:
        return []
    return [v for v in Visibility if v in readable_visibilities(user)]


def choosable_state_ids(user: Any) -> frozenset[int] | None:
    """States a user may attach to a document they write; None means any state."""
    role = effective_role(user)
    if role is Role.GOVERNMENT:
        return frozenset({user.state_id})
    return None if role is not None else frozenset()


def creatable_types(user: Any) -> list[DocumentType]:
    """Document types the user may create, in a stable order."""
    allowed = CREATABLE[effective_role(user)]
    return [t for t in DocumentType if t in allowed]


def _owns(user: Any, role: Role | None, document: Document) -> bool:
    """Own documents: authored (civil society, industry) or of the user's state (government)."""
    if role in (Role.CIVIL_SOCIETY, Role.INDUSTRY):
        return document.author_id is not None and document.author_id == user.id
    if role is Role.GOVERNMENT:
        return document.owning_state_id is not None and document.owning_state_id == user.state_id
    return False


def _can_read(user: Any, document: Document) -> bool:
    role = effective_role(user)
    if document.visibility not in readable_visibilities(user):
        return False
    if role is Role.SECRETARIAT:
        return True
    if document.status is DocumentStatus.PUBLISHED:
        return True
    return _owns(user, role, document)


def _can_author(user: Any, document: Document) -> bool:
    """May the user put their name to a document with these type, state and visibility?"""
    role = effective_role(user)
    if document.visibility not in readable_visibilities(user):
        return False
    if role is Role.SECRETARIAT:
        return True
    if document.type not in CREATABLE[role]:
        return False
    if role is Role.GOVERNMENT:
        return document.state_id is not None and document.state_id == user.state_id
    return True


def _can_change(user: Any, document: Document) -> bool:
    role = effective_role(user)
    if role is Role.SECRETARIAT:
        return _can_read(user, document)
    return _can_read(user, document) and _owns(user, role, document)


_RULES: dict[Action, Callable[[Any, Document], bool]] = {
    Action.READ: _can_read,
    Action.CREATE: _can_author,
    Action.EDIT: _can_change,
    Action.WITHDRAW: _can_change,
    Action.RESTORE: _can_change,
}


def can(user: Any, action: Action, document: Document) -> bool:
    """True if the policy allows `user` to do `action` to `document`.

    For CREATE, pass the unsaved document as it would be created; editing checks
    EDIT on the stored document and CREATE on the result, so nobody can move a
    document out of their reach (another state, a higher visibility).
    """
    rule = _RULES.get(action)
    return rule is not None and rule(user, document)


def authorize(user: Any, action: Action, document: Document) -> None:
    """Raise AccessDenied unless `can(user, action, document)`."""
    if not can(user, action, document):
        raise AccessDenied(f"{action} refused")


def visible_documents(user: Any) -> ColumnElement[bool]:
    """SQL condition selecting exactly the documents `can(user, READ, d)` allows."""
    role = effective_role(user)
    readable = readable_visibilities(user)
    everything = readable == frozenset(Visibility)
    visible = true() if everything else Document.visibility.in_(sorted(readable))
    if role is Role.SECRETARIAT:
        return visible
    published = Document.status == DocumentStatus.PUBLISHED
    return and_(visible, or_(published, _owned_documents(user, role)))


def _owned_documents(user: Any, role: Role | None) -> ColumnElement[bool]:
    if role in (Role.CIVIL_SOCIETY, Role.INDUSTRY):
        return Document.author_id == user.id
    if role is Role.GOVERNMENT and user.state_id is not None:
        return and_(Document.type.in_(sorted(STATE_TYPES)), Document.state_id == user.state_id)
    return false()


def can_administer(user: Any) -> bool:
    """May the user administer the portal (accounts, states, withdrawals)?

    The secretariat, signed in with two factors: administration reaches every account.
    """
    return effective_role(user) is Role.SECRETARIAT and has_second_factor(user)


def is_focal_point(user: Any) -> bool:
    """An approved, active government user the secretariat made their state's focal point."""
    return effective_role(user) is Role.GOVERNMENT and bool(getattr(user, "is_focal_point", False))


def can_invite(user: Any, role: Role, state: State | None) -> bool:
    """May `user` invite someone with this role (and state)?

    The secretariat may invite any role (a state for government, none otherwise); a
    state's focal point may invite government users of that state only; nobody else.
    """
    if (role is Role.GOVERNMENT) != (state is not None):
        return False
    if effective_role(user) is Role.SECRETARIAT:
        return True
    return (
        is_focal_point(user)
        and role is Role.GOVERNMENT
        and state is not None
        and state.id == user.state_id
    )


def invitable_roles(user: Any) -> list[Role]:
    """The roles `user` may invite, in a stable order (empty: may not invite)."""
    if effective_role(user) is Role.SECRETARIAT:
        return list(Role)
    return [Role.GOVERNMENT] if is_focal_point(user) else []


def can_revoke_invitation(user: Any, invitation: Invitation) -> bool:
    """The secretariat, or whoever issued the invitation while they may still invite so."""
    if effective_role(user) is Role.SECRETARIAT:
        return True
    return invitation.invited_by_id == getattr(user, "id", None) and can_invite(
        user, invitation.role, invitation.state
    )


# -- Issuing and revoking ----------------------------------------------------------------


def can_read_audit_trail(user: Any) -> bool:
    """May the user open the audit trail? What they see there is `visible_audit_events`."""
    return effective_role(user) in (Role.SECRETARIAT, Role.GOVERNMENT)


def visible_audit_events(user: Any) -> ColumnElement[bool]:
    """SQL condition selecting the audit events the user may read.

    The secretariat reads every event; a government user the events of their own state's
    documents that they may read; everyone else none.
    """
    role = effective_role(user)
    if role is Role.SECRETARIAT:
        return true()
    if role is Role.GOVERNMENT and user.state_id is not None:
        own_documents = select(Document.id).where(
            Document.type.in_(sorted(STATE_TYPES)),
            Document.state_id == user.state_id,
            visible_documents(user),
        )
        return and_(
            AuditEvent.object_type == Document.__name__, AuditEvent.object_id.in_(own_documents)
        )
    return false()


def search_filter(user: Any) -> whoosh_query.Query:
    """Whoosh condition selecting exactly the indexed documents `can(user, READ, d)` allows.

    Applied inside the search (as its filter), so hits, counts, facets, snippets and
    spelling suggestions never reflect anything else. Field names are the search schema's.
    """
    shared, own = search_scope(user)
    return shared if own is None else whoosh_query.Or([shared, own])


def search_scope(user: Any) -> tuple[whoosh_query.Query, whoosh_query.Query | None]:
    """`search_filter` in two parts: what everyone with this role may read (the same for
    all of them, so it can be cached) and the user's own unpublished documents, if any.
    """
    documents = whoosh_query.Term("kind", "document")
    role = effective_role(user)
    visibilities = readable_visibilities(user)
    readable = whoosh_query.Or(
        [whoosh_query.Term("visibility", v.value) for v in sorted(visibilities)]
    )
    if role is Role.SECRETARIAT:
        if visibilities == frozenset(Visibility):
            return documents, None
        return whoosh_query.And([documents, readable]), None
    published = whoosh_query.Term("status", DocumentStatus.PUBLISHED.value)
    shared = whoosh_query.And([documents, readable, published])
    owned = _owned_in_search(user, role)
    own = None if owned is None else whoosh_query.And([documents, readable, owned])
    return shared, own


def _owned_in_search(user: Any, role: Role | None) -> whoosh_query.Query | None:
    if role in (Role.CIVIL_SOCIETY, Role.INDUSTRY):
        return whoosh_query.Term("author", str(user.id))
    if role is Role.GOVERNMENT and user.state is not None:
        return whoosh_query.Term("owner_state", user.state.code.lower())
    return None
