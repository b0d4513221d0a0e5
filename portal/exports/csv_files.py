"""CSV downloads: one writer that keeps spreadsheet formulas out of every cell, and the
action items table.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.access import visible_plenaries
from portal.extensions import db
from portal.models import ActionItem, Plenary

#: A cell starting with one of these is read as a formula by spreadsheets (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """`value`, with a text cell that a spreadsheet would run as a formula made inert by a
    leading apostrophe; numbers and other values are left alone."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


class RowWriter(Protocol):
    """What `safe_csv_writer` gives: csv.writer's `writerow`."""

    def writerow(self, row: Iterable[Any]) -> Any: ...


class _SafeWriter:
    def __init__(self, out: io.StringIO) -> None:
        self._writer = csv.writer(out, lineterminator="\r\n")

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(value) for value in row])


def safe_csv_writer(out: io.StringIO) -> RowWriter:
    """A csv.writer (RFC 4180 line ends) whose every text cell goes through `safe_cell`.

    Every CSV the portal serves is written with it.
    """
    return _SafeWriter(out)


ACTION_ITEM_COLUMNS = (
    "plenary", "plenary_title", "action", "owners", "owner_names", "due", "status", "overdue",
    "link",
)  # fmt: skip


def readable_action_items(user: Any, plenary: Plenary | None = None) -> list[ActionItem]:
    """Action items of the plenaries `user` may read (or of one of them), in plenary order."""
    query = (
        select(ActionItem)
        .join(Plenary, ActionItem.plenary_id == Plenary.id)
        .where(visible_plenaries(user))
        .options(selectinload(ActionItem.owners), selectinload(ActionItem.plenary))
        .order_by(Plenary.number, ActionItem.id)
    )
    if plenary is not None:
        query = query.where(ActionItem.plenary_id == plenary.id)
    return list(db.session.scalars(query))


def action_items_csv(
    items: Sequence[ActionItem], today: dt.date, item_url: Callable[[ActionItem], str]
) -> str:
    """The items as CSV, one row each; owners by code (none: the secretariat)."""
    out = io.StringIO()
    writer = safe_csv_writer(out)
    writer.writerow(ACTION_ITEM_COLUMNS)
    for item in items:
        writer.writerow(
            [
                item.plenary.number,
                item.plenary.title,
                item.text,
                " ".join(state.code for state in item.owners) or "secretariat",
                "; ".join(state.name for state in item.owners) or "ECHRI secretariat",
                item.due_on.isoformat() if item.due_on else "",
                item.status.value,
                "yes" if item.is_overdue(today) else "no",
                item_url(item),
            ]
        )
    return out.getvalue()
