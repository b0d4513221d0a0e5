"""Pages kept in memory for visitors, and matrices kept per audience: fast, never shared wrongly."""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from portal.access import evidence_audience, published_evidence
from portal.extensions import db
from portal.models import Document, DocumentType, Role, User, Visibility
from tests.conftest import edit_document, sign_in


def test_a_visitor_page_is_kept_until_an_audited_change(
    app: Flask, client: FlaskClient, make_document: Callable[..., Document]
) -> None:
    document = make_document(title="Licensing criteria")
    url = f"/documents/{document.slug}"
    first = client.get(url)
    assert first.status_code == 200 and first.headers["ETag"]
    # A change that bypasses the services (and so the audit trail) is not seen: the page is kept.
    db.session.execute(
        update(Document).where(Document.id == document.id).values(title="Changed behind its back")
    )
    db.session.commit()
    assert client.get(url).get_data() == first.get_data()
    # A change through the services appends an audit event: every kept page is stale at once.
    edit_document(db.session.get(Document, document.id), title="Revised licensing criteria")
    assert "Revised licensing criteria" in client.get(url).get_data(as_text=True)


def test_a_visitor_revalidates_with_the_etag(
    client: FlaskClient, make_document: Callable[..., Document]
) -> None:
    make_document()
    first = client.get("/")
    again = client.get("/", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    assert "Cookie" in first.headers["Vary"]


def test_a_signed_in_reader_never_gets_a_visitors_kept_page(
    app: Flask,
    client: FlaskClient,
    make_document: Callable[..., Document],
    make_user: Callable[..., User],
) -> None:
    make_document(title="Public licensing note")
    make_document(visibility=Visibility.GOVERNMENT, title="Government only risk note")
    visitor = app.test_client()
    for _ in range(2):
        page = visitor.get("/documents/").get_data(as_text=True)
        assert "Public licensing note" in page and "Government only risk note" not in page
    official = make_user(Role.GOVERNMENT, "DE")
    assert sign_in(client, official.email).status_code == 302
    page = client.get("/documents/")
    assert "Government only risk note" in page.get_data(as_text=True)
    assert "ETag" not in page.headers


def test_a_visitor_with_a_session_is_served_afresh(
    client: FlaskClient, make_document: Callable[..., Document]
) -> None:
    make_document()
    client.get("/auth/sign-in")  # the form's CSRF token starts a session
    assert "ETag" not in client.get("/").headers


def test_the_matrix_is_shared_only_within_an_audience(
    app: Flask,
    client: FlaskClient,
    make_document: Callable[..., Document],
    make_user: Callable[..., User],
) -> None:
    make_document(visibility=Visibility.PARTICIPANTS, title="Participants note")
    industry = make_user(Role.INDUSTRY, None)
    official = make_user(Role.GOVERNMENT, "DE")

    def france_total(user: User | None) -> str:
        reader = app.test_client()
        if user is not None:
            assert sign_in(reader, user.email).status_code == 302
        page = reader.get("/commitments/matrix").get_data(as_text=True)
        row = page[page.index(">France<") :]
        return row[: row.index("</tr>")]

    visitor_row, industry_row = france_total(None), france_total(industry)
    assert visitor_row != industry_row
    make_document(visibility=Visibility.GOVERNMENT, title="Government note")
    # The new document shows at once, and only to readers who may read it.
    assert france_total(industry) == industry_row
    assert france_total(official) != industry_row


def test_readers_of_one_evidence_audience_count_the_same_documents(
    make_document: Callable[..., Document], make_user: Callable[..., User]
) -> None:
    for visibility in Visibility:
        make_document(visibility=visibility, state_code="DE")
        make_document(visibility=visibility, status="draft", state_code="FR")
    make_document(DocumentType.PRACTICE_NOTE, state_code=None, status="draft")
    users: list[object] = [
        make_user(Role.GOVERNMENT, "FR"),
        make_user(Role.GOVERNMENT, "DE"),
        make_user(Role.GOVERNMENT, "FR", two_factor=False),
        make_user(Role.INDUSTRY),
        make_user(Role.CIVIL_SOCIETY),
        make_user(Role.SECRETARIAT),
        make_user(Role.SECRETARIAT, two_factor=False),
        make_user(Role.INDUSTRY, approved=False),
    ]

    def counted(user: object) -> set[int]:
        return set(db.session.scalars(select(Document.id).where(published_evidence(user))))

    for a, b in combinations(users, 2):
        if evidence_audience(a) == evidence_audience(b):
            assert counted(a) == counted(b)
        else:
            assert counted(a) != counted(b)
