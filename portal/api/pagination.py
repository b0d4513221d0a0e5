"""Opaque cursors for document lists: keyset pagination on (publication date, id).

The list is ordered newest first with undated documents last, as on the site. A cursor
names the last item of a page; the next page continues strictly after it, so documents
added meanwhile never shift or repeat items the way page numbers would.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, and_, or_

from portal.api.problems import ApiProblem
from portal.extensions import db
from portal.models import Document

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_CURSOR_LENGTH = 200


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last document's date (None: undated) and id."""

    published_on: dt.date | None
    id: int

    def encode(self) -> str:
        """The cursor as an opaque URL-safe string."""
        day = self.published_on.isoformat() if self.published_on else None
        raw = json.dumps([day, self.id], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Read a cursor made by `encode`; a 422 problem for anything else (well-formed as a
        string, but not a cursor this API made)."""
        bad = ApiProblem(
            422,
            _("The cursor is not one this API gave out. Start again from the first page."),
            kind="bad-cursor",
        )
        if not text or len(text) > MAX_CURSOR_LENGTH or not text.isascii():
            raise bad
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            day, number = json.loads(raw)
            published = dt.date.fromisoformat(day) if day is not None else None
        except (binascii.Error, ValueError, TypeError):
            raise bad from None
        if type(number) is not int or not 1 <= number <= 2**63 - 1:
            raise bad
        return cls(published, number)

    def after(self) -> ColumnElement[bool]:
        """SQL condition: documents that come after this cursor in list order."""
        if self.published_on is None:
            return and_(Document.published_on.is_(None), Document.id < self.id)
        return or_(
            Document.published_on < self.published_on,
            and_(Document.published_on == self.published_on, Document.id < self.id),
            Document.published_on.is_(None),
        )


def strict_integer(args: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    """An integer query argument within [low, high]; None if absent; 400 otherwise."""
    value = args.get(name)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit() and low <= int(value) <= high):
        raise ApiProblem(
            400,
            _(
                "“%(name)s” must be a whole number from %(low)s to %(high)s.",
                name=name,
                low=low,
                high=high,
            ),
            kind="invalid-parameter",
        )
    return int(value)


def page_of(
    query: Select[tuple[Document]], args: Mapping[str, str]
) -> tuple[list[Document], str | None]:
    """One page of `query` (already in list order) and the cursor of the next page, if any."""
    limit = strict_integer(args, "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
    cursor = args.get("cursor")
    if cursor is not None:
        query = query.where(Cursor.decode(cursor).after())
    rows = list(db.session.scalars(query.limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], Cursor(last.published_on, last.id).encode()
