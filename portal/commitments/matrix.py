"""The states x commitments matrix: what each state has shared on each commitment.

Every number comes from published documents the viewer may read (`published_evidence`), so
a cell never counts what its reader could not open. Two grouped queries build the whole
matrix: counts and latest dates per state, commitment and type; then the latest rating of
each assessment type per state and commitment.
"""

from __future__ import annotations

import calendar
import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, func, select

from portal.access import published_evidence
from portal.documents.listing import document_type_argument
from portal.exports.csv_files import safe_csv_writer
from portal.extensions import db
from portal.models import Assessment, Commitment, Document, DocumentType, State
from portal.models.documents import document_commitments

SORTS = ("state", "total")


@dataclass
class MatrixFilters:
    """Query-string filters; `error` explains a value that makes no sense."""

    type: DocumentType | None = None
    year: int | None = None
    sort: str = "state"
    error: str | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> MatrixFilters:
        """Read `type`, `year` and `sort` from request arguments."""
        filters = cls()
        filters.type, filters.error = document_type_argument(args)
        if args.get("year"):
            year = args["year"].strip()
            if not (year.isascii() and year.isdigit() and 1900 <= int(year) <= 9998):
                filters.error = _("A year is four digits, such as 2024.")
            else:
                filters.year = int(year)
        if args.get("sort"):
            if args["sort"] not in SORTS:
                filters.error = _("The matrix sorts by state or by total.")
            else:
                filters.sort = args["sort"]
        return filters

    def as_args(self) -> dict[str, Any]:
        """The filters as query-string arguments (links, the CSV download)."""
        args = {"type": self.type and self.type.value, "year": self.year}
        if self.sort != "state":
            args["sort"] = self.sort
        return {k: v for k, v in args.items() if v}


@dataclass
class Cell:
    """One state on one commitment."""

    state: State
    commitment: Commitment
    counts: dict[DocumentType, int] = field(default_factory=dict)
    latest: dt.date | None = None
    self_assessment: Assessment | None = None
    self_assessment_on: dt.date | None = None
    review: Assessment | None = None
    review_on: dt.date | None = None
    stale: bool = False
    # A rating older than the stale age is marked on its own: a recent note in the same
    # cell does not make an old rating current.
    self_assessment_stale: bool = False
    review_stale: bool = False

    @property
    def total(self) -> int:
        """Documents counted in this cell."""
        return sum(self.counts.values())


@dataclass
class Row:
    """A state and its six cells."""

    state: State
    cells: list[Cell]

    @property
    def total(self) -> int:
        """Documents counted in the whole row."""
        return sum(cell.total for cell in self.cells)


@dataclass
class Matrix:
    """The matrix as one viewer may see it."""

    filters: MatrixFilters
    commitments: list[Commitment]
    rows: list[Row]
    stale_before: dt.date
    stale_months: int
    years: list[int]


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` earlier (the month's last day if it is shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _in_year(year: int | None) -> list[ColumnElement[bool]]:
    if year is None:
        return []
    return [
        Document.published_on >= dt.date(year, 1, 1),
        Document.published_on < dt.date(year + 1, 1, 1),
    ]


def build_matrix(user: Any, filters: MatrixFilters, *, today: dt.date, stale_months: int) -> Matrix:
    """The matrix `user` may see, narrowed by `filters`."""
    link = document_commitments.c
    states = db.session.scalars(select(State).order_by(State.name)).all()
    commitments = list(db.session.scalars(select(Commitment).order_by(Commitment.number)))
    cells = {(s.id, c.id): Cell(s, c) for s in states for c in commitments}
    evidence = [published_evidence(user), Document.state_id.is_not(None), *_in_year(filters.year)]

    counted = select(
        Document.state_id, link.commitment_id, Document.type, func.count(),
        func.max(Document.published_on),
    ).join(document_commitments, link.document_id == Document.id).where(*evidence)  # fmt: skip
    if filters.type is not None:
        counted = counted.where(Document.type == filters.type)
    for state_id, commitment_id, doc_type, count, latest in db.session.execute(
        counted.group_by(Document.state_id, link.commitment_id, Document.type)
    ):
        cell = cells.get((state_id, commitment_id))
        if cell is None:
            continue
        cell.counts[DocumentType(doc_type)] = count
        if latest is not None and (cell.latest is None or latest > cell.latest):
            cell.latest = latest

    rank = func.row_number().over(
        partition_by=(Document.state_id, link.commitment_id, Document.type),
        order_by=(Document.published_on.desc(), Document.id.desc()),
    )
    ratings = (
        select(
            Document.state_id, link.commitment_id, Document.type, Document.assessment,
            Document.published_on, rank.label("rank"),
        )
        .join(document_commitments, link.document_id == Document.id)
        .where(*evidence, Document.type.in_([DocumentType.SELF_ASSESSMENT, DocumentType.REVIEW]))
        .subquery()
    )  # fmt: skip
    for state_id, commitment_id, doc_type, assessment, published_on in db.session.execute(
        select(
            ratings.c.state_id, ratings.c.commitment_id, ratings.c.type, ratings.c.assessment,
            ratings.c.published_on,
        ).where(ratings.c.rank == 1)
    ):  # fmt: skip
        cell = cells.get((state_id, commitment_id))
        if cell is None or assessment is None:
            continue
        if DocumentType(doc_type) is DocumentType.SELF_ASSESSMENT:
            cell.self_assessment, cell.self_assessment_on = Assessment(assessment), published_on
        else:
            cell.review, cell.review_on = Assessment(assessment), published_on

    stale_before = months_before(today, stale_months)

    def older(day: dt.date | None) -> bool:
        return day is not None and day < stale_before

    for cell in cells.values():
        cell.stale = older(cell.latest)
        cell.self_assessment_stale = older(cell.self_assessment_on)
        cell.review_stale = older(cell.review_on)
    rows = [Row(s, [cells[(s.id, c.id)] for c in commitments]) for s in states]
    if filters.sort == "total":
        rows.sort(key=lambda row: -row.total)  # stable: ties stay in name order
    return Matrix(filters, commitments, rows, stale_before, stale_months, _years(user))


def _years(user: Any) -> list[int]:
    """Years with published documents the user may read, newest first (the year filter)."""
    first, last = db.session.execute(
        select(func.min(Document.published_on), func.max(Document.published_on)).where(
            published_evidence(user)
        )
    ).one()
    if first is None or last is None:
        return []
    return list(range(last.year, first.year - 1, -1))


CSV_TYPES = list(DocumentType)


def matrix_csv(matrix: Matrix, documents_url: Any) -> str:
    """The matrix as CSV, one row per state and commitment, with the page's numbers.

    `documents_url(cell)` gives the link to the cell's filtered document list.
    """
    out = io.StringIO()
    writer = safe_csv_writer(out)
    writer.writerow(
        ["state_code", "state", "commitment", "total", *(f"count_{t.value}" for t in CSV_TYPES),
         "latest_published", "self_assessment_rating", "self_assessment_date",
         "self_assessment_stale", "review_rating", "review_date", "review_stale", "stale",
         "documents"]
    )  # fmt: skip
    for row in matrix.rows:
        for cell in row.cells:
            writer.writerow(
                [
                    cell.state.code,
                    cell.state.name,
                    cell.commitment.number,
                    cell.total,
                    *(cell.counts.get(t, 0) for t in CSV_TYPES),
                    cell.latest.isoformat() if cell.latest else "",
                    cell.self_assessment.value if cell.self_assessment else "",
                    cell.self_assessment_on.isoformat() if cell.self_assessment_on else "",
                    "yes" if cell.self_assessment_stale else "no",
                    cell.review.value if cell.review else "",
                    cell.review_on.isoformat() if cell.review_on else "",
                    "yes" if cell.review_stale else "no",
                    "yes" if cell.stale else "no",
                    documents_url(cell),
                ]
            )
    return out.getvalue()
