"""Action items: what a plenary decided that states (or the secretariat) owe, with a dated
status history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from portal.access import AccessDenied, can_set_action_status, visible_plenaries
from portal.audit import record_event
from portal.clock import utcnow
from portal.extensions import db
from portal.models import ActionItem, ActionStatus, ActionStatusChange, Plenary, State
from portal.models.plenaries import action_item_owners
from portal.plenaries.services import InvalidPlenary, require_manager


def _check_item(text: str) -> str:
    text = text.strip()
    if not text or len(text) > 2000:
        raise InvalidPlenary(_("Describe the action in at most 2000 characters."), "text")
    return text


def create_action_item(
    actor: Any,
    plenary: Plenary,
    text: str,
    owners: Sequence[State] = (),
    due_on: dt.date | None = None,
    status: ActionStatus = ActionStatus.OPEN,
    now: dt.datetime | None = None,
) -> ActionItem:
    """A new action item; no owner states means the secretariat owes it."""
    require_manager(actor)
    item = ActionItem(
        plenary=plenary,
        text=_check_item(text),
        due_on=due_on,
        status=status,
        owners=list(owners),
        created_at=now or utcnow(),
    )
    db.session.add(item)
    item.history.append(
        ActionStatusChange(
            status=status,
            changed_at=item.created_at,
            changed_by_id=getattr(actor, "id", None),
            note="Recorded.",
        )
    )
    db.session.flush()
    record_event(
        actor,
        "action.create",
        item,
        content=item.text,
        plenary=plenary.number,
        owners=sorted(s.code for s in item.owners),
        due=due_on.isoformat() if due_on else None,
        status=status.value,
    )
    return item


def revise_action_item(
    actor: Any, item: ActionItem, text: str, owners: Sequence[State], due_on: dt.date | None
) -> bool:
    """Change an item's text, owners or due date (the secretariat); True if anything changed."""
    require_manager(actor)
    text = _check_item(text)
    if (item.text, set(item.owners), item.due_on) == (text, set(owners), due_on):
        return False
    item.text, item.owners, item.due_on = text, list(owners), due_on
    record_event(
        actor,
        "action.update",
        item,
        content=text,
        owners=sorted(s.code for s in owners),
        due=due_on.isoformat() if due_on else None,
    )
    return True


def change_action_status(
    actor: Any, item: ActionItem, status: ActionStatus, note: str, now: dt.datetime | None = None
) -> ActionStatusChange:
    """Move an item to a new status with a note; the step joins its dated history."""
    if not can_set_action_status(actor, item, status):
        raise AccessDenied("changing the action item refused")
    if status is item.status:
        raise InvalidPlenary(
            _("The item is already %(label)s.", label=status.label.lower()), "status"
        )
    note = note.strip()
    if len(note) > 1000:
        raise InvalidPlenary(_("The note is longer than 1000 characters."), "note")
    change = ActionStatusChange(
        status=status,
        changed_at=now or utcnow(),
        changed_by_id=getattr(actor, "id", None),
        note=note,
    )
    item.history.append(change)
    item.status = status
    db.session.flush()
    record_event(actor, "action.status", item, status=status.value, note=note)
    return change


def open_action_items(user: Any, state: State) -> list[ActionItem]:
    """A state's items not done or dropped, from plenaries the user may read; soonest due first."""
    query = (
        select(ActionItem)
        .join(Plenary, ActionItem.plenary_id == Plenary.id)
        .join(action_item_owners, action_item_owners.c.action_item_id == ActionItem.id)
        .where(
            visible_plenaries(user),
            action_item_owners.c.state_id == state.id,
            ActionItem.status.in_([ActionStatus.OPEN, ActionStatus.IN_PROGRESS]),
        )
        .order_by(ActionItem.due_on.is_(None), ActionItem.due_on, ActionItem.id)
    )
    return list(db.session.scalars(query))
