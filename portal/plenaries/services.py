"""Every change to a plenary happens here: permission, change, dated step and audit together.

The minutes' life cycle: the secretariat drafts; circulates the draft with a comment
deadline; delegations comment or object; the minutes are adopted by the secretariat or,
once the deadline passes with no open objection, by the silence procedure. Adopted
minutes are locked: a change is an amendment with a reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.access import (
    AccessDenied,
    SystemActor,
    can_comment_on_minutes,
    can_manage_plenaries,
    can_withdraw_objection,
    visible_plenaries,
)
from portal.audit import record_event
from portal.clock import as_utc, utcnow
from portal.extensions import db
from portal.markdown import render_markdown
from portal.models import (
    ActionItem,
    ActionStatusChange,
    AdoptionMethod,
    MinutesComment,
    MinutesRevision,
    MinutesRevisionKind,
    MinutesStatus,
    Plenary,
    State,
    Visibility,
)

#: The actor the silence procedure records its adoptions under.
SILENCE_PROCEDURE = SystemActor("silence-procedure")
MAX_TEXT_LENGTH = 200_000


class InvalidPlenary(ValueError):
    """Input that does not make a valid plenary, minutes or action item; `field` names it."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class StepRefused(Exception):
    """A life-cycle step that the minutes' current state does not allow (shown as 409)."""


@dataclass
class PlenaryFields:
    """What the secretariat supplies when recording or editing a plenary."""

    number: int
    title: str
    starts_on: dt.date
    ends_on: dt.date
    place: str
    host_state: State | None = None
    participants: Sequence[State] = field(default_factory=list)
    visibility: Visibility = Visibility.PARTICIPANTS
    agenda_source: str = ""
    decisions_source: str = ""




def require_manager(actor: Any) -> None:
    """Raise AccessDenied unless the actor may manage plenaries."""
    if not can_manage_plenaries(actor):
        raise AccessDenied("managing plenaries refused")


def get_plenary(number: int) -> Plenary | None:
    """The plenary with this number, if any, with what its page shows loaded up front."""
    return db.session.scalar(
        select(Plenary)
        .where(Plenary.number == number)
        .options(
            selectinload(Plenary.participants),
            selectinload(Plenary.minutes_revisions).selectinload(MinutesRevision.author),
            selectinload(Plenary.action_items).selectinload(ActionItem.owners),
            selectinload(Plenary.action_items)
            .selectinload(ActionItem.history)
            .selectinload(ActionStatusChange.changed_by),
        )
    )


def readable_plenaries(user: Any) -> list[Plenary]:
    """Plenaries the user may read, newest first."""
    query = select(Plenary).where(visible_plenaries(user))
    return list(db.session.scalars(query.order_by(Plenary.starts_on.desc(), Plenary.number.desc())))


def _validate(fields: PlenaryFields, plenary: Plenary | None) -> None:
    if fields.number < 1:
        raise InvalidPlenary(_("The plenary number must be 1 or more."), "number")
    other = get_plenary(fields.number)
    if other is not None and other is not plenary:
        raise InvalidPlenary(
            _("Plenary %(number)s already exists.", number=fields.number), "number"
        )
    if not fields.title.strip() or len(fields.title) > 300:
        raise InvalidPlenary(_("A title of at most 300 characters is required."), "title")
    if not fields.place.strip() or len(fields.place) > 200:
        raise InvalidPlenary(_("A place of at most 200 characters is required."), "place")
    if fields.ends_on < fields.starts_on:
        raise InvalidPlenary(_("The plenary cannot end before it starts."), "ends_on")
    if not fields.participants:
        raise InvalidPlenary(_("Choose the participating states."), "participants")
    if fields.host_state is not None and fields.host_state not in fields.participants:
        raise InvalidPlenary(_("The host state must be among the participants."), "host_state")
    for text, name in ((fields.agenda_source, "agenda"), (fields.decisions_source, "decisions")):
        if len(text) > MAX_TEXT_LENGTH:
            too_long = (
                _("The agenda is too long.")
                if name == "agenda"
                else _("The decisions are too long.")
            )
            raise InvalidPlenary(too_long, f"{name}_source")


def _apply(plenary: Plenary, fields: PlenaryFields) -> None:
    plenary.number, plenary.title = fields.number, fields.title.strip()
    plenary.starts_on, plenary.ends_on = fields.starts_on, fields.ends_on
    plenary.place, plenary.host_state = fields.place.strip(), fields.host_state
    plenary.participants = list(fields.participants)
    plenary.visibility = fields.visibility
    plenary.agenda_source = fields.agenda_source.strip()
    plenary.agenda_html = render_markdown(plenary.agenda_source)
    plenary.decisions_source = fields.decisions_source.strip()
    plenary.decisions_html = render_markdown(plenary.decisions_source)


def _record_content(plenary: Plenary) -> dict[str, Any]:
    return {
        "number": plenary.number,
        "title": plenary.title,
        "dates": [plenary.starts_on.isoformat(), plenary.ends_on.isoformat()],
        "place": plenary.place,
        "host": plenary.host_state.code if plenary.host_state else None,
        "participants": sorted(s.code for s in plenary.participants),
        "visibility": plenary.visibility.value,
        "agenda": plenary.agenda_source,
        "decisions": plenary.decisions_source,
    }


def create_plenary(actor: Any, fields: PlenaryFields) -> Plenary:
    """Record a new plenary (minutes start as an empty draft)."""
    require_manager(actor)
    _validate(fields, None)
    plenary = Plenary(minutes_status=MinutesStatus.DRAFT)
    _apply(plenary, fields)
    db.session.add(plenary)
    db.session.flush()
    record_event(actor, "plenary.create", plenary, content=_record_content(plenary))
    return plenary


def update_plenary(actor: Any, plenary: Plenary, fields: PlenaryFields) -> None:
    """Change a plenary's record (not its minutes, which have their own life cycle)."""
    require_manager(actor)
    _validate(fields, plenary)
    _apply(plenary, fields)
    db.session.flush()
    record_event(actor, "plenary.update", plenary, content=_record_content(plenary))


# -- Minutes ------------------------------------------------------------------------------


def _check_source(source: str, name: str = "source") -> str:
    source = source.strip()
    if not source:
        raise InvalidPlenary(_("The minutes have no text."), name)
    if len(source) > MAX_TEXT_LENGTH:
        raise InvalidPlenary(_("The minutes are too long."), name)
    return source


def _add_revision(
    actor: Any, plenary: Plenary, source: str, kind: MinutesRevisionKind, reason: str = ""
) -> MinutesRevision:
    last = plenary.minutes_revisions[-1].number if plenary.minutes_revisions else 0
    revision = MinutesRevision(
        plenary=plenary,
        number=last + 1,
        kind=kind,
        source=source,
        html=render_markdown(source),
        reason=reason,
        author_id=getattr(actor, "id", None),
        created_at=utcnow(),
    )
    db.session.add(revision)
    plenary.current_minutes = revision
    db.session.flush()
    return revision


def save_minutes(actor: Any, plenary: Plenary, source: str) -> MinutesRevision | None:
    """Save a new draft of the minutes; None if the text did not change.

    Saving circulated minutes takes them back to draft: the delegations commented on the
    text they were sent, so a changed text must be circulated again with a new deadline
    before silence can adopt it.
    """
    require_manager(actor)
    if plenary.minutes_status is MinutesStatus.ADOPTED:
        raise StepRefused(_("Adopted minutes are locked: amend them, giving a reason."))
    source = _check_source(source)
    if plenary.current_minutes is not None and plenary.current_minutes.source == source:
        return None
    revision = _add_revision(actor, plenary, source, MinutesRevisionKind.DRAFT)
    recalled = plenary.minutes_status is MinutesStatus.CIRCULATED
    if recalled:
        plenary.minutes_status = MinutesStatus.DRAFT
        plenary.comment_deadline = None
    record_event(
        actor,
        "minutes.save",
        plenary,
        content=source,
        revision=revision.number,
        recalled_from_circulation=recalled,
    )
    return revision


def circulate_minutes(
    actor: Any, plenary: Plenary, deadline: dt.datetime, now: dt.datetime | None = None
) -> None:
    """Send the draft to the participating delegations for comment until `deadline`."""
    require_manager(actor)
    now = now or utcnow()
    if plenary.minutes_status is not MinutesStatus.DRAFT:
        raise StepRefused(
            _("The minutes are already %(status)s.", status=plenary.minutes_status.label.lower())
        )
    if plenary.current_minutes is None:
        raise StepRefused(_("Write a draft of the minutes before circulating it."))
    deadline = as_utc(deadline)
    if deadline is None or deadline <= now:
        raise InvalidPlenary(_("The comment deadline must be in the future."), "deadline")
    plenary.minutes_status = MinutesStatus.CIRCULATED
    plenary.circulated_at, plenary.comment_deadline = now, deadline
    record_event(
        actor,
        "minutes.circulate",
        plenary,
        revision=plenary.current_minutes.number,
        deadline=deadline.isoformat(),
    )


def open_objections(plenary: Plenary) -> list[MinutesComment]:
    """Objections to the plenary's minutes not yet withdrawn or resolved."""
    return [c for c in minutes_comments(plenary) if c.is_open_objection]


def minutes_comments(plenary: Plenary) -> list[MinutesComment]:
    """The delegations' comments and objections, oldest first."""
    query = select(MinutesComment).where(MinutesComment.plenary_id == plenary.id)
    return list(db.session.scalars(query.order_by(MinutesComment.id)))


def _adopt(
    actor: Any, plenary: Plenary, method: AdoptionMethod, adopted_at: dt.datetime, **details: Any
) -> None:
    if plenary.current_minutes is None:
        raise StepRefused(_("There are no minutes to adopt."))
    if open_objections(plenary):
        raise StepRefused(_(
            "An objection is open: it must be withdrawn or resolved before adoption.",
        ))
    plenary.minutes_status = MinutesStatus.ADOPTED
    plenary.adopted_at, plenary.adoption_method = adopted_at, method
    record_event(
        actor,
        "minutes.adopt",
        plenary,
        content=plenary.current_minutes.source,
        method=method.value,
        revision=plenary.current_minutes.number,
        adopted_at=adopted_at.isoformat(),
        **details,
    )


def adopt_minutes(actor: Any, plenary: Plenary, now: dt.datetime | None = None) -> None:
    """The secretariat records the adoption of circulated minutes (refused on an open objection)."""
    require_manager(actor)
    if plenary.minutes_status is not MinutesStatus.CIRCULATED:
        raise StepRefused(_("Only circulated minutes can be adopted."))
    _adopt(actor, plenary, AdoptionMethod.SECRETARIAT, now or utcnow())


def record_past_adoption(actor: Any, plenary: Plenary, adopted_on: dt.date) -> None:
    """Record minutes adopted before they were on the portal (canonical content)."""
    require_manager(actor)
    if plenary.minutes_status is MinutesStatus.ADOPTED:
        raise StepRefused(_("The minutes are already adopted."))
    adopted_at = dt.datetime.combine(adopted_on, dt.time(), tzinfo=dt.UTC)
    # The text was drafted before it was adopted, not when it reached the portal.
    for revision in plenary.minutes_revisions:
        revision.created_at = min(as_utc(revision.created_at) or adopted_at, adopted_at)
    _adopt(actor, plenary, AdoptionMethod.SECRETARIAT, adopted_at, recorded="past adoption")


def apply_silence_procedure(plenary: Plenary, now: dt.datetime | None = None) -> bool:
    """Adopt circulated minutes whose deadline passed with no open objection; True if it did.

    The adoption is dated at the deadline, when silence became consent.
    """
    deadline = as_utc(plenary.comment_deadline)
    now = now or utcnow()
    if plenary.minutes_status is not MinutesStatus.CIRCULATED or deadline is None:
        return False
    if deadline > now or plenary.current_minutes is None:
        return False
    if objections_open_at(plenary, deadline):
        # Silence was broken: only an explicit adoption (or a new circulation) can follow.
        return False
    _adopt(SILENCE_PROCEDURE, plenary, AdoptionMethod.SILENCE, deadline)
    return True


def objections_open_at(plenary: Plenary, moment: dt.datetime) -> list[MinutesComment]:
    """Objections made before `moment` and not withdrawn or resolved by then."""
    return [
        c
        for c in minutes_comments(plenary)
        if c.is_objection
        and (as_utc(c.created_at) or moment) <= moment
        and (c.resolved_at is None or (as_utc(c.resolved_at) or moment) > moment)
    ]


def apply_silence_procedures(now: dt.datetime | None = None) -> list[Plenary]:
    """Run the silence procedure on every circulated plenary; the ones it adopted."""
    query = select(Plenary).where(Plenary.minutes_status == MinutesStatus.CIRCULATED)
    circulated = db.session.scalars(query.order_by(Plenary.number)).all()
    return [p for p in circulated if apply_silence_procedure(p, now)]


def current_plenary(number: int) -> Plenary | None:
    """`get_plenary`, for reading: minutes whose comment deadline passed in silence are
    adopted first, and committed, so every page, export and API answer shows them adopted
    whether or not the cron job (`flask plenaries silence`) has run yet."""
    plenary = get_plenary(number)
    if plenary is not None and apply_silence_procedure(plenary):
        db.session.commit()
    return plenary


def adopt_minutes_due() -> list[Plenary]:
    """Run the silence procedure on every circulated plenary and commit; the ones adopted."""
    adopted = apply_silence_procedures()
    db.session.commit()
    return adopted


def amend_minutes(actor: Any, plenary: Plenary, source: str, reason: str) -> MinutesRevision:
    """Change adopted minutes: a new revision with a required reason, shown on the page."""
    require_manager(actor)
    if plenary.minutes_status is not MinutesStatus.ADOPTED:
        raise StepRefused(_("Only adopted minutes are amended; edit the draft instead."))
    source, reason = _check_source(source), reason.strip()
    if not reason:
        raise InvalidPlenary(_("An amendment needs a reason."), "reason")
    if len(reason) > 1000:
        raise InvalidPlenary(_("The reason is longer than 1000 characters."), "reason")
    if plenary.current_minutes is not None and plenary.current_minutes.source == source:
        raise InvalidPlenary(_("The amended text is the same as the adopted text."), "source")
    revision = _add_revision(actor, plenary, source, MinutesRevisionKind.AMENDMENT, reason)
    record_event(
        actor, "minutes.amend", plenary, content=source, revision=revision.number, reason=reason
    )
    return revision


def comment_on_minutes(
    actor: Any, plenary: Plenary, source: str, *, objection: bool, now: dt.datetime | None = None
) -> MinutesComment:
    """A delegation comments on, or objects to, the circulated draft."""
    now = now or utcnow()
    if not can_comment_on_minutes(actor, plenary, now):
        raise AccessDenied("commenting on the minutes refused")
    source = source.strip()
    if not source:
        raise InvalidPlenary(_("The comment has no text."), "source")
    if len(source) > 20_000:
        raise InvalidPlenary(_("The comment is longer than 20,000 characters."), "source")
    comment = MinutesComment(
        plenary_id=plenary.id,
        revision=plenary.current_minutes,
        author_id=actor.id,
        state_id=actor.state_id,
        source=source,
        html=render_markdown(source),
        is_objection=objection,
        created_at=now,
    )
    db.session.add(comment)
    db.session.flush()
    action = "minutes.object" if objection else "minutes.comment"
    record_event(actor, action, plenary, content=source, comment=comment.id)
    return comment


def withdraw_objection(actor: Any, comment: MinutesComment, now: dt.datetime | None = None) -> None:
    """A delegation withdraws its own state's open objection."""
    if not can_withdraw_objection(actor, comment):
        raise AccessDenied("withdrawing the objection refused")
    comment.resolved_at, comment.resolved_by_id = now or utcnow(), actor.id
    comment.resolution = "Withdrawn by the delegation."
    record_event(actor, "minutes.withdraw", comment, plenary=comment.plenary_id)


def resolve_objection(
    actor: Any, comment: MinutesComment, note: str, now: dt.datetime | None = None
) -> None:
    """The secretariat resolves an open objection, saying how."""
    require_manager(actor)
    if not comment.is_open_objection:
        raise StepRefused(_("This is not an open objection."))
    note = note.strip()
    if not note or len(note) > 1000:
        raise InvalidPlenary(_("Say how the objection was resolved (at most 1000 characters)."))
    comment.resolved_at = now or utcnow()
    comment.resolved_by_id = getattr(actor, "id", None)
    comment.resolution = note
    record_event(actor, "minutes.resolve", comment, plenary=comment.plenary_id, note=note)
