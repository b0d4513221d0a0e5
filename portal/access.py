"""THE access policy: who may read and write what. Nothing else compares roles.

Refusal by default: an action is allowed only where a rule below says so. The
two tables are BRIEF.md's role table; `can` answers for one object,
`visible_documents` gives the same answer as an SQL condition for lists and
`search_filter` as a Whoosh query for search.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, and_, false, or_, select, true
from whoosh import query as whoosh_query

from portal.clock import as_utc
from portal.models import (
    Attribution,
    AuditEvent,
    Comment,
    Document,
    DocumentStatus,
    DocumentType,
    Invitation,
    Role,
    State,
    User,
    Visibility,
)
from portal.models.documents import STATE_TYPES
from portal.models.plenaries import (
    ActionItem,
    ActionStatus,
    MinutesComment,
    MinutesStatus,
    Plenary,
)

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


#: Roles that must enrol two-factor sign-in: the secretariat before it can do anything
#: beyond what a visitor does, governments before they read `government` documents.
SECOND_FACTOR_ROLES = frozenset({Role.GOVERNMENT, Role.SECRETARIAT})


def effective_role(user: Any) -> Role | None:
    """The user's role, or None for visitors, unapproved and deactivated accounts.

    A secretariat account acts as a visitor until it has two-factor sign-in: its reach
    (every draft, every account, administration, invitations) is too wide for a password.
    """
    if isinstance(user, SystemActor):
        return Role.SECRETARIAT
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if not (user.active and user.approved):
        return None
    if user.role is Role.SECRETARIAT and not has_second_factor(user):
        return None
    return user.role


def has_second_factor(user: Any) -> bool:
    """Has the user enrolled two-factor sign-in (and so passed it to be signed in)?"""
    return isinstance(user, SystemActor) or bool(getattr(user, "two_factor_enabled", False))


def needs_second_factor(user: Any) -> bool:
    """An approved, active account whose role needs two-factor sign-in it has not enrolled."""
    return (
        getattr(user, "is_authenticated", False)
        and not isinstance(user, SystemActor)
        and user.active
        and user.approved
        and user.role in SECOND_FACTOR_ROLES
        and not has_second_factor(user)
    )


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


_CURRENT: Any = object()


def author_label(viewer: Any, author: Any, signed_as: str | None = _CURRENT) -> str:
    """How `author` is named to `viewer`: a civil-society author who signs as their
    organisation or a pseudonym is named by their own name only to the secretariat.

    `signed_as` is the signature stored with the work when it was written (documents,
    revisions, comments): pass it, so a later change to the account (a new signature, a
    new role) never unmasks earlier work. Without it, the account's current signature.
    Every page, history, comment, trail, feed and export that names a person uses this.
    """
    if author is None:
        return _("ECHRI secretariat")
    signed = signature(author) if signed_as is _CURRENT else signed_as
    if signed is None:
        return author.name
    if effective_role(viewer) is Role.SECRETARIAT:
        return f"{author.name} (published as {signed})"
    return signed


def signature(author: Any) -> str | None:
    """The organisation or pseudonym a civil-society author signs with now, if not their name
    (stored with each thing they write)."""
    if author is None or not hasattr(author, "attribution"):
        return None
    if author.role is not Role.CIVIL_SOCIETY or author.attribution is Attribution.NAME:
        return None
    if author.attribution is Attribution.ORGANISATION:
        return author.organisation or "A civil-society organisation"
    return author.pseudonym or "A civil-society author"


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
    if role.has_state != (state is not None):
        return False
    if effective_role(user) is Role.SECRETARIAT:
        return True
    return (
        is_focal_point(user)
        and role is Role.GOVERNMENT
        and state is not None
        and state.id == user.state_id
    )


#: Roles people may ask for themselves; the others join only by invitation.
REQUESTABLE_ROLES = (Role.INDUSTRY, Role.CIVIL_SOCIETY)


def invitable_state_ids(user: Any) -> frozenset[int] | None:
    """States `user` may bind a government invitation to; None means any state."""
    if effective_role(user) is Role.SECRETARIAT:
        return None
    return frozenset({user.state_id}) if is_focal_point(user) else frozenset()


def visible_invitations(user: Any) -> ColumnElement[bool]:
    """SQL condition: every invitation for the secretariat, otherwise those the user issued."""
    if effective_role(user) is Role.SECRETARIAT:
        return true()
    user_id = getattr(user, "id", None)
    return Invitation.invited_by_id == user_id if isinstance(user_id, int) else false()


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


# -- Comments ----------------------------------------------------------------------------
# A comment has no visibility of its own: it is read exactly when its document is.

#: How long after writing a comment its author may still edit it.
COMMENT_EDIT_MINUTES = 15


def can_read_comment(user: Any, comment: Comment) -> bool:
    """May the user read this comment (or know it exists)? Exactly when its document."""
    return can(user, Action.READ, comment.document)


def visible_comments(user: Any) -> ColumnElement[bool]:
    """SQL condition selecting exactly the comments `can_read_comment` allows."""
    return Comment.document_id.in_(select(Document.id).where(visible_documents(user)))


def can_comment(user: Any, document: Document) -> bool:
    """Signed-in, approved people comment on what they may read; processes never do."""
    return (
        not isinstance(user, SystemActor)
        and effective_role(user) is not None
        and can(user, Action.READ, document)
    )


def can_read_hidden_comment(user: Any) -> bool:
    """May the user read the text of a comment the secretariat hid? Only moderators."""
    return can_moderate_comments(user)


def can_edit_comment(user: Any, comment: Comment, now: dt.datetime) -> bool:
    """Its author, within COMMENT_EDIT_MINUTES of writing it, while it is not hidden."""
    if comment.is_hidden or comment.author_id != getattr(user, "id", None):
        return False
    created = as_utc(comment.created_at)
    window = dt.timedelta(minutes=COMMENT_EDIT_MINUTES)
    return now - created <= window and can_comment(user, comment.document)


def has_flagged_comment(user: Any, comment: Comment) -> bool:
    """Has the user already flagged this comment?"""
    user_id = getattr(user, "id", None)
    return user_id is not None and any(flag.user_id == user_id for flag in comment.flags)


def can_flag_comment(user: Any, comment: Comment) -> bool:
    """Any participant who may comment on the document flags someone else's shown comment, once."""
    return (
        can_comment(user, comment.document)
        and comment.author_id != user.id
        and not comment.is_hidden
        and not has_flagged_comment(user, comment)
    )


def can_moderate_comments(user: Any) -> bool:
    """Hide and restore comments, read the moderation queue: the secretariat (with 2FA)."""
    return can_administer(user)


# -- Plenaries and action items ----------------------------------------------------------


def can_read_plenary(user: Any, plenary: Plenary) -> bool:
    """May the user read a plenary's record (agenda, decisions, adopted minutes, action items)?"""
    return plenary.visibility in readable_visibilities(user)


def visible_plenaries(user: Any) -> ColumnElement[bool]:
    """SQL condition selecting exactly the plenaries `can_read_plenary` allows."""
    readable = readable_visibilities(user)
    return Plenary.visibility.in_(sorted(readable)) if readable else false()


def can_manage_plenaries(user: Any) -> bool:
    """Record plenaries, write and move minutes through their life cycle, set action items."""
    return can_administer(user)


def is_participating_delegation(user: Any, plenary: Plenary) -> bool:
    """A government user of a state that took part in the plenary, signed in with two factors
    (drafts are shared between governments, like `government` documents).
    """
    if effective_role(user) is not Role.GOVERNMENT or user.state_id is None:
        return False
    if not has_second_factor(user):
        return False
    return any(state.id == user.state_id for state in plenary.participants)


def can_read_draft_minutes(user: Any, plenary: Plenary) -> bool:
    """Unadopted minutes and the delegations' comments: the secretariat always; delegations of
    participating states once the draft was circulated to them; nobody else, ever.
    """
    if not can_read_plenary(user, plenary):
        return False
    if can_manage_plenaries(user):
        return True
    return plenary.circulated_at is not None and is_participating_delegation(user, plenary)


def can_comment_on_minutes(user: Any, plenary: Plenary, now: dt.datetime) -> bool:
    """A participating delegation, while the draft is circulated and before its deadline."""
    deadline = as_utc(plenary.comment_deadline)
    if deadline is None or plenary.minutes_status is not MinutesStatus.CIRCULATED:
        return False
    return (
        now < deadline
        and can_read_plenary(user, plenary)
        and is_participating_delegation(user, plenary)
    )


def can_withdraw_objection(user: Any, comment: MinutesComment) -> bool:
    """A delegation withdraws its own state's open objection, before adoption."""
    return (
        comment.is_open_objection
        and comment.state_id is not None
        and is_participating_delegation(user, comment.revision.plenary)
        and user.state_id == comment.state_id
    )


def can_update_action_item(user: Any, item: ActionItem) -> bool:
    """Change an action item's status: the secretariat, or a government user of an owner state."""
    if not can_read_plenary(user, item.plenary):
        return False
    if can_manage_plenaries(user):
        return True
    return (
        effective_role(user) is Role.GOVERNMENT
        and has_second_factor(user)
        and any(state.id == user.state_id for state in item.owners)
    )


def can_set_action_status(user: Any, item: ActionItem, status: ActionStatus) -> bool:
    """Owners report progress (open, in progress, done); only the secretariat drops an item
    the plenary decided."""
    if not can_update_action_item(user, item):
        return False
    return status is not ActionStatus.DROPPED or can_manage_plenaries(user)


# -- Assessments, responses and the matrix ------------------------------------------------


def can_respond_to(user: Any, review: Document) -> bool:
    """May `user` publish a response to `review`?

    Government users of the reviewed state and the secretariat, to a published review
    they may read.
    """
    if review.type is not DocumentType.REVIEW or review.status is not DocumentStatus.PUBLISHED:
        return False
    if not _can_read(user, review):
        return False
    role = effective_role(user)
    if role is Role.SECRETARIAT:
        return True
    return (
        role is Role.GOVERNMENT and review.state_id is not None and review.state_id == user.state_id
    )


def respondable_reviews(user: Any) -> ColumnElement[bool]:
    """SQL condition selecting exactly the reviews `can_respond_to(user, r)` allows."""
    role = effective_role(user)
    if role is Role.SECRETARIAT:
        own_state = true()
    elif role is Role.GOVERNMENT and user.state_id is not None:
        own_state = Document.state_id == user.state_id
    else:
        return false()
    return and_(
        Document.type == DocumentType.REVIEW,
        Document.status == DocumentStatus.PUBLISHED,
        visible_documents(user),
        own_state,
    )


def published_evidence(user: Any) -> ColumnElement[bool]:
    """SQL condition for what the matrix and side-by-side views count: published documents
    the user may read (never their own drafts, so every reader of a role sees the same)."""
    return and_(visible_documents(user), Document.status == DocumentStatus.PUBLISHED)


def evidence_audience(user: Any) -> frozenset[Visibility]:
    """What `published_evidence(user)` depends on: users with the same audience see the same
    matrix, so derived counts may be shared between them (and never across audiences)."""
    return readable_visibilities(user)


def can_choose_attribution(user: Any) -> bool:
    """May the user choose how their work is signed? Approved civil-society users."""
    return effective_role(user) is Role.CIVIL_SOCIETY


def default_organisation(user: Any) -> str | None:
    """The organisation a new document of `user` names by default: none for a pseudonym."""
    if getattr(user, "attribution", None) is Attribution.PSEUDONYM:
        return None
    return getattr(user, "organisation", None)


def actor_label(viewer: Any, event: AuditEvent, actor: Any) -> str:
    """How an audit event's actor is named to `viewer`: the stored label (an email) for the
    secretariat, `author_label` for everyone else; system actors keep their label."""
    if effective_role(viewer) is Role.SECRETARIAT or event.actor_id is None:
        return event.actor_label
    return author_label(viewer, actor) if actor is not None else "A former account"


def actor_searchable_events(viewer: Any) -> ColumnElement[bool]:
    """Events whose actor `viewer` may search for by name or email: all for the secretariat;
    for others, none acted by a civil-society author who signs as someone else."""
    if effective_role(viewer) is Role.SECRETARIAT:
        return true()
    signed = select(User.id).where(
        User.role == Role.CIVIL_SOCIETY, User.attribution != Attribution.NAME
    )
    return or_(AuditEvent.actor_id.is_(None), AuditEvent.actor_id.not_in(signed))


# -- Markdown preview (the editor) --------------------------------------------------------


def can_preview_markdown(user: Any) -> bool:
    """May `user` ask the server to render Markdown for a live preview? Any approved account
    (they write documents, comments or minutes); visitors may not, so the renderer is not an
    open service."""
    return effective_role(user) is not None


# -- Feeds and digests --------------------------------------------------------------------
# A feed or digest is evaluated for its owner at the moment it is read or sent, never when
# the change happened: a role changed since then reaches only what it may read now.


def syndicated_documents(user: Any) -> ColumnElement[bool]:
    """SQL condition for what feeds and digests carry to `user` (None: an anonymous feed):
    published documents they may read now; drafts, even their own, never."""
    return published_evidence(user)


def can_subscribe(user: Any) -> bool:
    """May `user` keep a private feed link and digest subscriptions? Approved, active accounts
    (whatever they may read); visitors, unapproved accounts and processes may not."""
    return not isinstance(user, SystemActor) and effective_role(user) is not None


# -- API tokens ----------------------------------------------------------------------------
# A token acts as its owner at the moment of each call: `effective_role` and
# `readable_visibilities` apply to the owner as for their session, so a government owner's
# token reaches `government` documents only while the owner has two-factor sign-in enabled.

#: Scopes a token may carry, as stored: reading only, or reading and writing.
API_SCOPES = ("read", "read write")


def can_hold_api_tokens(user: Any) -> bool:
    """May `user` make and use personal API tokens? Approved, active accounts."""
    return not isinstance(user, SystemActor) and effective_role(user) is not None


def grantable_api_scopes(user: Any) -> list[str]:
    """The scopes `user` may give a token: writing only for those who may create documents."""
    if not can_hold_api_tokens(user):
        return []
    return list(API_SCOPES) if creatable_types(user) else ["read"]


def token_permits(scopes: frozenset[str], *, write: bool) -> bool:
    """Does a token with `scopes` permit the call? Every token reads; `write` writes."""
    return "write" in scopes if write else "read" in scopes
