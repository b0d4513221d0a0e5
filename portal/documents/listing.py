"""Which documents a list shows: the access policy's condition plus the user's filters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import request
from flask_babel import gettext as _
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, select

from portal.access import visible_documents
from portal.extensions import db
from portal.models import Commitment, Document, DocumentType, State
from portal.models.documents import document_commitments


def document_type_argument(args: Mapping[str, str]) -> tuple[DocumentType | None, str | None]:
    """The `type` query argument as a DocumentType, or an error message for a bad one."""
    value = args.get("type")
    if not value:
        return None, None
    try:
        return DocumentType(value), None
    except ValueError:
        return None, _("There is no document type called “%(value)s”.", value=value)


@dataclass
class DocumentFilters:
    """Filters from the query string; `error` explains a value that makes no sense."""

    type: DocumentType | None = None
    state: str | None = None
    commitment: int | None = None
    error: str | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> DocumentFilters:
        """Read `type`, `state` and `commitment` from request arguments."""
        filters = cls()
        filters.type, filters.error = document_type_argument(args)
        if args.get("state"):
            filters.state = args["state"].strip().upper()
        if args.get("commitment"):
            number = args["commitment"]
            if number not in {"1", "2", "3", "4", "5", "6"}:
                filters.error = "Commitments are numbered 1 to 6."
            else:
                filters.commitment = int(number)
        return filters

    def as_args(self) -> dict[str, Any]:
        """The filters as query-string arguments (for pagination links)."""
        return {
            k: v
            for k, v in (
                ("type", self.type and self.type.value),
                ("state", self.state),
                ("commitment", self.commitment),
            )
            if v
        }


PER_PAGE = 20
MAX_PAGE = 10_000


def paginate(query: Select[tuple[Document]]) -> Pagination:
    """One page of `query`, from the `page` argument (clamped, so no number is an error)."""
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)
    return db.paginate(query, page=page, per_page=PER_PAGE, max_per_page=PER_PAGE, error_out=False)


def filtered_documents(
    user: Any, filters: DocumentFilters | None = None
) -> Select[tuple[Document]]:
    """Documents `user` may read, narrowed by `filters`, newest first."""
    query = select(Document).where(visible_documents(user))
    if filters and filters.type:
        query = query.where(Document.type == filters.type)
    if filters and filters.state:
        query = query.join(State, Document.state_id == State.id).where(State.code == filters.state)
    if filters and filters.commitment:
        query = query.where(
            Document.id.in_(
                select(document_commitments.c.document_id)
                .join(Commitment, Commitment.id == document_commitments.c.commitment_id)
                .where(Commitment.number == filters.commitment)
            )
        )
    return query.order_by(Document.published_on.desc().nulls_last(), Document.id.desc())
