"""Self-assessments, reviews and responses: ratings, who may answer which review, side by side,
and signatures that never unmask a civil-society author to anyone but the secretariat."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.access import CONTENT_LOADER, AccessDenied, can_respond_to
from portal.admin.services import change_role
from portal.auth.attribution import set_attribution
from portal.documents.services import (
    DocumentFields,
    InvalidDocument,
    create_document,
    update_document,
)
from portal.extensions import db
from portal.models import (
    Assessment,
    Attribution,
    AuditEvent,
    Document,
    DocumentStatus,
    DocumentType,
    Role,
    User,
    Visibility,
)
from tests.conftest import commitments, csrf_token, sign_in, state

SELF, REVIEW, RESPONSE = (
    DocumentType.SELF_ASSESSMENT,
    DocumentType.REVIEW,
    DocumentType.RESPONSE,
)
PUBLIC, PARTICIPANTS = Visibility.PUBLIC, Visibility.PARTICIPANTS


def fields(**overrides: Any) -> DocumentFields:
    """A public, published French document on commitment 1."""
    values: dict[str, Any] = {
        "title": "A document",
        "source": "Evidence: [a note](/documents/a-note).",
        "visibility": PUBLIC,
        "status": DocumentStatus.PUBLISHED,
        "state": state("FR"),
        "commitments": commitments(1),
    }
    return DocumentFields(**(values | overrides))


# -- Ratings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("doc_type", [SELF, REVIEW])
def test_assessment_types_need_a_rating(app: Flask, make_user: Callable[..., User], doc_type):
    author = make_user("government", "FR") if doc_type is SELF else make_user("civil_society")
    with pytest.raises(InvalidDocument) as refused:
        create_document(author, doc_type, fields())
    assert refused.value.field == "assessment"
    db.session.rollback()
    document = create_document(author, doc_type, fields(assessment=Assessment.SUBSTANTIAL))
    db.session.commit()
    assert document.assessment is Assessment.SUBSTANTIAL


@pytest.mark.parametrize(
    "doc_type",
    [DocumentType.IMPLEMENTATION_NOTE, DocumentType.PRACTICE_NOTE, DocumentType.PAGE, RESPONSE],
)
def test_other_types_may_not_carry_a_rating(app: Flask, make_user, make_document, doc_type):
    review = make_document(REVIEW)
    extra = {"responds_to": review} if doc_type is RESPONSE else {}
    with pytest.raises(InvalidDocument) as refused:
        create_document(
            make_user("secretariat"), doc_type, fields(assessment=Assessment.LIMITED, **extra)
        )
    assert refused.value.field == "assessment"


def test_an_edit_keeps_the_rating_unless_it_changes_it(app: Flask, make_document) -> None:
    review = make_document(REVIEW, assessment="complete")
    edit = fields(title=review.title, source="New evidence.")
    update_document(CONTENT_LOADER, review, edit, base_version=review.version)
    assert review.assessment is Assessment.COMPLETE


def test_the_form_asks_for_a_rating_only_for_assessments(client: FlaskClient, login_as) -> None:
    login_as("government", "FR")
    assert 'name="assessment"' not in client.get("/documents/new?type=implementation_note").text
    path = "/documents/new?type=self_assessment"
    assert "Substantial" in client.get(path).text
    data = {
        "csrf_token": csrf_token(client, path),
        "title": "How France consults",
        "state": "FR",
        "commitments": [2],
        "visibility": "public",
        "status": "published",
        "source": "Evidence.",
        "save": "Save",
    }
    assert client.post(path, data=data).status_code == 400
    assert db.session.scalar(select(Document)) is None
    assert client.post(path, data=data | {"assessment": "substantial"}).status_code == 302
    saved = db.session.scalars(select(Document)).one()
    assert (saved.type, saved.assessment) == (SELF, Assessment.SUBSTANTIAL)
    page = client.get(f"/documents/{saved.slug}").text
    assert "Substantial" in page


# -- Responses -------------------------------------------------------------------------------


def test_who_may_respond_to_which_review(app: Flask, make_user, make_document) -> None:
    """The reviewed state's officials and the secretariat, to a published review they read."""
    french_review = make_document(REVIEW, state_code="FR")
    german_review = make_document(REVIEW, state_code="DE")
    draft_review = make_document(REVIEW, status="draft", state_code="FR")
    secret_review = make_document(REVIEW, "government", state_code="FR")
    note = make_document(DocumentType.IMPLEMENTATION_NOTE, state_code="FR")
    users = {
        "french official": make_user("government", "FR"),
        "french official without 2FA": make_user("government", "FR", two_factor=False),
        "german official": make_user("government", "DE"),
        "civil society": make_user("civil_society"),
        "industry": make_user("industry"),
        "secretariat": make_user("secretariat"),
        "visitor": None,
    }
    expected = {
        "french official": {french_review, secret_review},
        "french official without 2FA": {french_review},
        "german official": {german_review},
        "secretariat": {french_review, german_review, secret_review},
    }
    for who, user in users.items():
        for document in (french_review, german_review, draft_review, secret_review, note):
            allowed = document in expected.get(who, set())
            assert can_respond_to(user, document) is allowed, (who, document.title)


def test_the_service_checks_the_review_answered(app: Flask, make_user, make_document) -> None:
    official = make_user("government", "FR")
    german_review = make_document(REVIEW, state_code="DE")
    note = make_document(DocumentType.IMPLEMENTATION_NOTE, state_code="FR")
    draft_review = make_document(REVIEW, status="draft", state_code="FR")
    with pytest.raises(InvalidDocument, match="review"):
        create_document(official, RESPONSE, fields())
    with pytest.raises(InvalidDocument, match="review"):
        create_document(official, RESPONSE, fields(responds_to=note))
    with pytest.raises(InvalidDocument, match="state the review is about"):
        create_document(official, RESPONSE, fields(responds_to=german_review))
    with pytest.raises(AccessDenied):
        create_document(official, RESPONSE, fields(state=None, responds_to=german_review))
    with pytest.raises(AccessDenied):
        create_document(official, RESPONSE, fields(responds_to=draft_review))
    db.session.rollback()
    reviewer = make_user("civil_society")
    french_review = make_document(REVIEW, state_code="FR", commitment_numbers=(2, 5))
    with pytest.raises(AccessDenied):
        create_document(reviewer, RESPONSE, fields(responds_to=french_review))
    db.session.rollback()
    response = create_document(
        official, RESPONSE, fields(state=None, commitments=[], responds_to=french_review)
    )
    assert response.state is not None and response.state.code == "FR"
    assert [c.number for c in response.commitments] == [2, 5]


def test_an_official_answers_a_review_and_the_answer_shows_beside_it(
    client: FlaskClient, login_as, make_document
) -> None:
    review = make_document(REVIEW, state_code="FR", title="Review of French licensing")
    other = make_document(REVIEW, state_code="DE", title="Review of German licensing")
    login_as("government", "FR")
    assert "Respond to this review" in client.get(f"/documents/{review.slug}").text
    assert "Respond to this review" not in client.get(f"/documents/{other.slug}").text
    path = f"/documents/new?type=response&responds_to={review.slug}"
    form = client.get(path).text
    assert re.search(
        rf'<option selected value="{review.slug}">|value="{review.slug}" selected', form
    )
    assert other.slug not in form
    data = {
        "csrf_token": csrf_token(client, path),
        "title": "The answer of France",
        "state": "FR",
        "visibility": "public",
        "status": "published",
        "source": "We disagree, and here is why.",
        "save": "Save",
    }
    forged = client.post(path, data=data | {"responds_to": other.slug})
    assert forged.status_code == 400
    assert client.post(path, data=data | {"responds_to": review.slug}).status_code == 302
    response = db.session.scalars(select(Document).where(Document.type == RESPONSE)).one()
    assert response.responds_to_id == review.id
    review_page = client.get(f"/documents/{review.slug}").text
    assert "The answer of France" in review_page and "We disagree, and here is why." in review_page
    assert review.title in client.get(f"/documents/{response.slug}").text


def test_a_german_official_cannot_open_a_response_to_a_french_review(
    client: FlaskClient, login_as, make_document
) -> None:
    review = make_document(REVIEW, state_code="FR")
    login_as("government", "DE")
    path = f"/documents/new?type=response&responds_to={review.slug}"
    assert review.slug not in client.get(path).text
    data = {
        "csrf_token": csrf_token(client, path),
        "title": "Not ours to answer",
        "state": "DE",
        "responds_to": review.slug,
        "visibility": "public",
        "status": "published",
        "source": "Text.",
        "save": "Save",
    }
    assert client.post(path, data=data).status_code == 400
    assert db.session.scalars(select(Document).where(Document.type == RESPONSE)).first() is None


# -- Side by side ----------------------------------------------------------------------------


def test_side_by_side_keeps_disagreement_visible_and_hides_what_is_unreadable(
    client: FlaskClient, make_document
) -> None:
    make_document(SELF, title="France rates itself", assessment="complete")
    review = make_document(REVIEW, title="Public review of France", assessment="limited")
    make_document(REVIEW, PARTICIPANTS, title="Members-only review", assessment="not_started")
    make_document(RESPONSE, title="France answers the review", responds_to=review)
    for path in ("/states/FR/commitments/1", "/states/FR"):
        page = client.get(path).text
        assert "France rates itself" in page and "Complete" in page
        assert "Public review of France" in page and "Limited" in page
        assert "France answers the review" in page
        assert "disagree" in page
        assert "Members-only review" not in page and "Not started" not in page
    assert client.get("/states/FR/commitments/7").status_code == 404
    assert client.get("/states/ZZ/commitments/1").status_code == 404


# -- Attribution -----------------------------------------------------------------------------

REAL_NAME = "Ximena Quillfeather"
PSEUDONYM = "Observer Seven"


@pytest.fixture
def pseudonymous_review(client: FlaskClient, make_user) -> tuple[User, Document]:
    """A review signed with a pseudonym, with two revisions and a state's response."""
    author = make_user(
        "civil_society", name=REAL_NAME, email="ximena.q@rights.example", organisation="Rights"
    )
    sign_in(client, author.email)
    token = csrf_token(client, "/auth/account")
    answer = client.post(
        "/auth/account/attribution",
        data={"csrf_token": token, "attribution": "pseudonym", "pseudonym": PSEUDONYM},
    )
    assert answer.status_code == 302
    db.session.refresh(author)
    assert (author.attribution, author.pseudonym) == (Attribution.PSEUDONYM, PSEUDONYM)
    review = create_document(
        author,
        REVIEW,
        fields(title="Pangolin review of France", assessment=Assessment.LIMITED),
    )
    db.session.commit()
    update_document(
        author, review, fields(title=review.title, source="Revised."), base_version=review.version
    )
    db.session.commit()
    official = make_user("government", "FR")
    create_document(official, RESPONSE, fields(title="France answers", responds_to=review))
    db.session.commit()
    return author, review


def pages_naming_authors(review: Document) -> list[str]:
    """Every page that names a document's author or shows the review."""
    slug = review.slug
    return [
        f"/documents/{slug}",
        f"/documents/{slug}/history",
        f"/documents/{slug}/revisions/1",
        f"/documents/{slug}/diff?a=1&b=2",
        "/states/FR",
        "/commitments/matrix",
        "/commitments/matrix.csv",
        "/states/FR/commitments/1",
        "/search?q=pangolin",
    ]


@pytest.mark.parametrize(
    "reader", ["visitor", "industry", "government", "other civil society", "secretariat"]
)
def test_a_pseudonymous_author_is_unmasked_only_to_the_secretariat(
    app: Flask, make_user, pseudonymous_review, reader: str
) -> None:
    author, review = pseudonymous_review
    client = app.test_client()
    accounts = {"industry": ("industry", None), "government": ("government", "FR")}
    accounts |= {"other civil society": ("civil_society", None), "secretariat": ("secretariat",)}
    if reader != "visitor":
        assert sign_in(client, make_user(*accounts[reader]).email).status_code == 302
    paths = pages_naming_authors(review)
    if reader in ("government", "secretariat"):
        paths.append("/audit/")
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        if reader != "secretariat":
            assert REAL_NAME not in page and author.email not in page, path
    document_page = client.get(f"/documents/{review.slug}").text
    assert PSEUDONYM in document_page
    if reader == "secretariat":
        assert REAL_NAME in document_page
        history = client.get(f"/documents/{review.slug}/history").text
        assert REAL_NAME in history and PSEUDONYM in history


def test_the_pseudonym_choice_is_validated_and_recorded(
    client: FlaskClient, login_as, make_user
) -> None:
    user = login_as("civil_society", name="Ana Example", organisation="Watch")
    path = "/auth/account/attribution"
    for bad in ("X", "someone@example.org", "Ana Example", "x" * 121):
        token = csrf_token(client, "/auth/account")
        data = {"csrf_token": token, "attribution": "pseudonym", "pseudonym": bad}
        answer = client.post(path, data=data)
        assert answer.status_code == 400, bad
        assert "pseudonym" in answer.text.lower()
    db.session.refresh(user)
    assert user.attribution is Attribution.NAME
    token = csrf_token(client, "/auth/account")
    data = {"csrf_token": token, "attribution": "organisation"}
    assert client.post(path, data=data).status_code == 302
    db.session.refresh(user)
    assert user.attribution is Attribution.ORGANISATION
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "user.attribution")
    ).all()
    assert [e.details["attribution"] for e in events] == ["organisation"]


def test_only_civil_society_chooses_a_signature(client: FlaskClient, login_as) -> None:
    login_as("industry")
    assert "How your work is signed" not in client.get("/auth/account").text
    token = csrf_token(client, "/auth/account")
    data = {"csrf_token": token, "attribution": "pseudonym", "pseudonym": "Hidden"}
    assert client.post("/auth/account/attribution", data=data).status_code == 403


def test_searching_the_trail_by_email_does_not_unmask_an_author(
    app: Flask, make_user, pseudonymous_review
) -> None:
    """A government reader searching the trail for the author's email finds nothing."""
    author, _ = pseudonymous_review
    from portal.admin.forms import AuditFilterForm
    from portal.admin.trail import audit_events

    official = make_user("government", "FR")
    secretariat = make_user("secretariat")
    with app.test_request_context(f"/audit/?actor={author.email}"):
        form = AuditFilterForm(request.args)
        assert form.validate()
        assert db.session.scalars(audit_events(official, form)).first() is None
        assert db.session.scalars(audit_events(secretariat, form)).first() is not None


def test_later_account_changes_never_unmask_earlier_work(
    app: Flask, make_user, pseudonymous_review: tuple[User, Document]
) -> None:
    """The signature is stored with the work: a role change or a new signature (even the
    real name) leaves earlier pseudonymous work signed as it was written."""
    author, review = pseudonymous_review
    change_role(make_user("secretariat"), author, Role.INDUSTRY, None)
    db.session.commit()
    visitor = app.test_client()
    for path in (f"/documents/{review.slug}", f"/documents/{review.slug}/history", "/states/FR"):
        page = visitor.get(path).get_data(as_text=True)
        assert REAL_NAME not in page, path
    change_role(make_user("secretariat"), author, Role.CIVIL_SOCIETY, None)
    set_attribution(author, Attribution.NAME, None)
    db.session.commit()
    page = visitor.get(f"/documents/{review.slug}").get_data(as_text=True)
    assert REAL_NAME not in page and PSEUDONYM in page


def test_a_response_is_never_read_more_widely_than_its_review(
    app: Flask, make_user, make_document
) -> None:
    review = make_document(REVIEW, "participants", state_code="FR")
    official = make_user("government", "FR")
    with pytest.raises(InvalidDocument, match="more widely"):
        create_document(
            official,
            DocumentType.RESPONSE,
            fields(title="Our answer", visibility=Visibility.PUBLIC, responds_to=review),
        )
    create_document(
        official,
        DocumentType.RESPONSE,
        fields(title="Our answer", visibility=Visibility.PARTICIPANTS, responds_to=review),
    )
