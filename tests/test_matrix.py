"""The states x commitments matrix: counts nothing its reader may not read, CSV equals page."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.access import CONTENT_LOADER
from portal.commitments.matrix import MatrixFilters, build_matrix, months_before
from portal.documents.services import DocumentFields, create_document
from portal.extensions import db
from portal.models import Assessment, Document, DocumentStatus, DocumentType, User, Visibility
from tests.conftest import commitments, sign_in, state

TODAY = dt.date.today()
RECENT = TODAY - dt.timedelta(days=30)
OLD = months_before(TODAY, 30)
NOTE, REVIEW, SELF = (
    DocumentType.IMPLEMENTATION_NOTE,
    DocumentType.REVIEW,
    DocumentType.SELF_ASSESSMENT,
)

#: Where documents go, of which types: rows, columns and types all vary; JP's are old.
PLACES = [
    ("FR", (1, 2), (NOTE, REVIEW)),
    ("DE", (3,), (DocumentType.PRACTICE_NOTE,)),
    ("JP", (6,), (NOTE,)),
]
Key = tuple[str, int, DocumentType]


def publish(
    doc_type: DocumentType,
    visibility: Visibility,
    status: DocumentStatus,
    code: str,
    numbers: tuple[int, ...],
    on: dt.date = RECENT,
    rating: Assessment | None = None,
    author: Any = CONTENT_LOADER,
    commit: bool = True,
) -> Document:
    """A document made through the service, dated `on`."""
    if rating is None and doc_type in (SELF, REVIEW):
        rating = Assessment.LIMITED
    fields = DocumentFields(
        title=f"{doc_type.label} {code} {numbers} {visibility} {status}",
        source="Evidence.",
        visibility=visibility,
        status=status,
        state=state(code),
        commitments=commitments(*numbers),
        published_on=on,
        assessment=rating,
    )
    document = create_document(author, doc_type, fields)
    if commit:
        db.session.commit()
    return document


@pytest.fixture
def world(app: Flask, make_user) -> dict[str, Any]:
    """Documents in every visibility and status, some old, plus readers' own drafts."""
    documents = []
    for code, numbers, kinds in PLACES:
        for doc_type, visibility, status in itertools.product(kinds, Visibility, DocumentStatus):
            on = OLD if code == "JP" else RECENT
            documents.append(publish(doc_type, visibility, status, code, numbers, on, commit=False))
    db.session.commit()
    french = make_user("government", "FR")
    reviewer = make_user("civil_society")
    # Their own unpublished documents are not evidence, not even in their own matrix.
    documents.append(publish(NOTE, Visibility.PUBLIC, DocumentStatus.DRAFT, "FR", (4,)))
    documents.append(
        publish(REVIEW, Visibility.PUBLIC, DocumentStatus.DRAFT, "DE", (4,), author=reviewer)
    )
    return {"documents": documents, "government": french, "civil_society": reviewer}


def expected_counts(documents: list[Document], readable: set[Visibility]) -> Counter[Key]:
    """The matrix computed by hand: published documents of a readable visibility."""
    counts: Counter[Key] = Counter()
    for d in documents:
        if d.status is DocumentStatus.PUBLISHED and d.visibility in readable:
            for c in d.commitments:
                counts[(d.state.code, c.number, d.type)] += 1
    return counts


def matrix_counts(user: Any, filters: MatrixFilters | None = None) -> Counter[Key]:
    """What build_matrix shows `user`, as (state, commitment, type) -> count."""
    table = build_matrix(user, filters or MatrixFilters(), today=TODAY, stale_months=18)
    return Counter(
        {
            (cell.state.code, cell.commitment.number, doc_type): count
            for row in table.rows
            for cell in row.cells
            for doc_type, count in cell.counts.items()
        }
    )


ALL = set(Visibility)
MEMBERS = {Visibility.PUBLIC, Visibility.PARTICIPANTS}


def test_each_role_sees_exactly_the_published_documents_it_may_read(
    world: dict[str, Any], make_user
) -> None:
    """A visitor's matrix is the one of public published documents, and so on per role;
    nobody's own drafts count, not even in their own matrix."""
    readers: list[tuple[str, User | None, set[Visibility]]] = [
        ("visitor", None, {Visibility.PUBLIC}),
        ("industry", make_user("industry"), MEMBERS),
        ("civil society", world["civil_society"], MEMBERS),
        ("government", world["government"], ALL),
        ("government without 2FA", make_user("government", "FR", two_factor=False), MEMBERS),
        ("secretariat", make_user("secretariat"), ALL),
        (
            "secretariat without 2FA",
            make_user("secretariat", two_factor=False),
            {Visibility.PUBLIC},
        ),
    ]
    for reader, user, readable in readers:
        expected = expected_counts(world["documents"], readable)
        assert expected, reader  # the world is not empty for anyone
        assert matrix_counts(user) == expected, reader


def page_cells(html: str) -> dict[tuple[str, int], int]:
    """Totals per cell as the HTML page shows them."""
    cells = re.findall(r'data-state="(\w+)" data-commitment="(\d)" data-total="(\d+)"', html)
    return {(code, int(number)): int(total) for code, number, total in cells}


def csv_rows(text: str) -> list[dict[str, str]]:
    """The CSV download as dictionaries."""
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("reader", ["visitor", "industry", "government"])
def test_the_csv_has_the_page_numbers_for_each_reader(
    world: dict[str, Any], client: FlaskClient, make_user, reader: str
) -> None:
    user = {"visitor": None, "industry": make_user("industry"), "government": world["government"]}
    if user[reader] is not None:
        assert sign_in(client, user[reader].email).status_code == 302
    readable = {"visitor": {Visibility.PUBLIC}, "industry": MEMBERS, "government": ALL}[reader]
    expected = expected_counts(world["documents"], readable)
    page = client.get("/commitments/matrix")
    assert page.status_code == 200
    download = client.get("/commitments/matrix.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "private" in download.headers["Cache-Control"]
    rows = csv_rows(download.get_data(as_text=True))
    shown = page_cells(page.get_data(as_text=True))
    assert len(rows) == len(shown) == 6 * len({r["state_code"] for r in rows})
    for row in rows:
        key = (row["state_code"], int(row["commitment"]))
        assert int(row["total"]) == shown[key]
        for doc_type in DocumentType:
            assert int(row[f"count_{doc_type.value}"]) == expected[(*key, doc_type)], (
                key,
                doc_type,
            )


def test_filters_by_type_and_year_apply_to_page_and_csv(
    world: dict[str, Any], client: FlaskClient
) -> None:
    public = {Visibility.PUBLIC}
    notes = expected_counts([d for d in world["documents"] if d.type is NOTE], public)
    assert matrix_counts(None, MatrixFilters(type=NOTE)) == notes
    recent = [d for d in world["documents"] if d.published_on and d.published_on.year == OLD.year]
    assert matrix_counts(None, MatrixFilters(year=OLD.year)) == expected_counts(recent, public)

    rows = csv_rows(client.get("/commitments/matrix.csv?type=implementation_note").text)
    page = page_cells(client.get("/commitments/matrix?type=implementation_note").text)
    for row in rows:
        key = (row["state_code"], int(row["commitment"]))
        assert int(row["total"]) == page[key] == notes[(*key, NOTE)]
        assert all(int(row[f"count_{t.value}"]) == 0 for t in DocumentType if t is not NOTE)
    for bad in ("type=memo", "year=20x4", "year=9999", "sort=colour"):
        assert client.get(f"/commitments/matrix?{bad}").status_code == 400
        assert client.get(f"/commitments/matrix.csv?{bad}").status_code == 400


def test_sorting_by_total_puts_the_busiest_state_first(world: dict[str, Any]) -> None:
    by_name = build_matrix(None, MatrixFilters(), today=TODAY, stale_months=18)
    names = [row.state.name for row in by_name.rows]
    assert names == sorted(names)
    by_total = build_matrix(None, MatrixFilters(sort="total"), today=TODAY, stale_months=18)
    totals = [row.total for row in by_total.rows]
    assert totals == sorted(totals, reverse=True)
    assert by_total.rows[0].state.code == "FR"


def test_old_evidence_is_marked_stale_in_words(world: dict[str, Any], client: FlaskClient) -> None:
    table = build_matrix(None, MatrixFilters(), today=TODAY, stale_months=18)
    cells = {(c.state.code, c.commitment.number): c for r in table.rows for c in r.cells}
    assert cells[("JP", 6)].stale and not cells[("FR", 1)].stale
    assert not cells[("GB", 1)].stale  # nothing shared is not "stale"
    longer = build_matrix(None, MatrixFilters(), today=TODAY, stale_months=36)
    assert not any(c.stale for r in longer.rows for c in r.cells)
    page = client.get("/commitments/matrix").text
    assert page.count('class="stale-mark">Stale<') == 1
    rows = {
        (r["state_code"], r["commitment"]): r
        for r in csv_rows(client.get("/commitments/matrix.csv").text)
    }
    assert rows[("JP", "6")]["stale"] == "yes" and rows[("FR", "1")]["stale"] == "no"


def test_cells_show_the_latest_readable_ratings_of_each_kind(app: Flask, client) -> None:
    older, newer = RECENT - dt.timedelta(days=60), RECENT
    pub, members, published = Visibility.PUBLIC, Visibility.PARTICIPANTS, DocumentStatus.PUBLISHED
    publish(SELF, pub, published, "FR", (1,), older, Assessment.LIMITED)
    publish(SELF, pub, published, "FR", (1,), newer, Assessment.COMPLETE)
    publish(REVIEW, pub, published, "FR", (1,), older, Assessment.NOT_STARTED)
    publish(REVIEW, members, published, "FR", (1,), newer, Assessment.SUBSTANTIAL)
    publish(REVIEW, pub, DocumentStatus.DRAFT, "FR", (1,), newer, Assessment.COMPLETE)

    def cell(user: Any) -> Any:
        table = build_matrix(user, MatrixFilters(), today=TODAY, stale_months=18)
        return next(
            c
            for r in table.rows
            for c in r.cells
            if (c.state.code, c.commitment.number) == ("FR", 1)
        )

    visitor_cell = cell(None)
    assert (visitor_cell.self_assessment, visitor_cell.review) == (
        Assessment.COMPLETE,
        Assessment.NOT_STARTED,
    )
    row = next(
        r
        for r in csv_rows(client.get("/commitments/matrix.csv").text)
        if r["state_code"] == "FR" and r["commitment"] == "1"
    )
    assert (row["self_assessment_rating"], row["review_rating"]) == ("complete", "not_started")
    assert "Side by side" in client.get("/commitments/matrix").text


def test_the_matrix_is_linked_from_the_navigation_and_the_commitments_page(client) -> None:
    assert 'href="/commitments/matrix"' in client.get("/commitments/").text
    assert 'href="/commitments/matrix"' in client.get("/").text


def test_an_old_rating_is_marked_stale_even_beside_recent_evidence(app: Flask) -> None:
    """A recent note does not make a 30-month-old civil-society rating current."""
    publish(REVIEW, Visibility.PUBLIC, DocumentStatus.PUBLISHED, "NO", (3,), on=OLD)
    publish(NOTE, Visibility.PUBLIC, DocumentStatus.PUBLISHED, "NO", (3,), on=RECENT)
    table = build_matrix(None, MatrixFilters(), today=TODAY, stale_months=18)
    (cell,) = [
        c for row in table.rows for c in row.cells
        if row.state.code == "NO" and c.commitment.number == 3
    ]  # fmt: skip
    assert not cell.stale and cell.review_stale and cell.review_on == OLD
