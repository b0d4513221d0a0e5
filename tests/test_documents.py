"""Writing, editing, history, diff, withdrawal: the journeys of an author."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.access import CONTENT_LOADER
from portal.documents.services import DocumentFields, EditConflict, update_document
from portal.extensions import db
from portal.models import AuditEvent, Document, DocumentStatus, Revision, Visibility
from tests.conftest import csrf_token, edit_document

NEW_NOTE = "/documents/new?type=implementation_note"


def note_form(token: str, **overrides: object) -> dict[str, object]:
    """A complete implementation-note form for a French official."""
    form: dict[str, object] = {
        "csrf_token": token,
        "title": "Catch-all controls for intrusion software",
        "state": "FR",
        "commitments": [1, 3],
        "visibility": "participants",
        "status": "published",
        "source": "## Scope\n\nWe apply a **catch-all** clause.",
        "summary": "First version",
        "save": "Save",
    }
    form.update(overrides)
    return form


def publish_note_as_french_official(client: FlaskClient, login_as) -> Document:
    """Sign in as a French official and publish a note through the form."""
    login_as("government", "FR")
    client.post(NEW_NOTE, data=note_form(csrf_token(client, NEW_NOTE)))
    return db.session.scalars(select(Document)).one()


def edit_form(client: FlaskClient, slug: str, **overrides: object) -> dict[str, object]:
    """The edit form as the browser received it, with some fields changed."""
    page = client.get(f"/documents/{slug}/edit").get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page)
    assert version, page
    form = note_form(csrf_token(client, f"/documents/{slug}/edit"), version=version.group(1))
    form.update(overrides)
    return form


def test_government_user_writes_previews_and_publishes_a_note(client, login_as):
    user = login_as("government", "FR")
    token = csrf_token(client, NEW_NOTE)

    preview = client.post(NEW_NOTE, data=note_form(token, save=None, preview="Preview"))
    assert preview.status_code == 200
    body = preview.get_data(as_text=True)
    assert "<strong>catch-all</strong>" in body and "nothing has been saved" in body
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0

    saved = client.post(NEW_NOTE, data=note_form(token))
    assert saved.status_code == 302
    document = db.session.scalars(select(Document)).one()
    assert saved.headers["Location"].endswith(f"/documents/{document.slug}")
    assert document.author_id == user.id and document.state.code == "FR"
    assert document.status is DocumentStatus.PUBLISHED and document.published_on is not None
    assert [c.number for c in document.commitments] == [1, 3]
    assert document.current_revision.number == 1
    assert '<h2 id="doc-scope">' in document.current_revision.html

    page = client.get(f"/documents/{document.slug}").get_data(as_text=True)
    assert "Catch-all controls for intrusion software" in page
    assert "<strong>catch-all</strong>" in page


def test_new_document_form_reports_missing_fields(client, login_as):
    login_as("government", "FR")
    token = csrf_token(client, NEW_NOTE)
    response = client.post(NEW_NOTE, data=note_form(token, title="", source=""))
    assert response.status_code == 400
    assert "This field is required." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0


def test_edit_creates_revision_and_history_shows_it(client, login_as):
    slug = publish_note_as_french_official(client, login_as).slug

    response = client.post(
        f"/documents/{slug}/edit",
        data=edit_form(
            client,
            slug,
            title="Catch-all controls for intrusion and monitoring software",
            source="## Scope\n\nWe apply a **catch-all** clause.\n\nAnd consult NGOs.",
            summary="Added consultation",
        ),
    )
    assert response.status_code == 302
    revisions = db.session.scalars(select(Revision).order_by(Revision.number)).all()
    assert [r.number for r in revisions] == [1, 2]
    assert revisions[1].summary == "Added consultation"

    history = client.get(f"/documents/{slug}/history").get_data(as_text=True)
    assert "Added consultation" in history and "First version" in history

    diff = client.get(f"/documents/{slug}/diff?a=1&b=2")
    assert diff.status_code == 200
    text = diff.get_data(as_text=True)
    assert "<ins>And consult NGOs.</ins>" in text
    assert "Title changed from" in text

    old = client.get(f"/documents/{slug}/revisions/1").get_data(as_text=True)
    assert "You are reading revision 1 of 2" in old
    assert "And consult NGOs." not in old


def test_saving_without_changes_adds_no_revision(client, login_as):
    slug = publish_note_as_french_official(client, login_as).slug
    response = client.post(f"/documents/{slug}/edit", data=edit_form(client, slug))
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Revision)) == 1


def test_stale_edit_is_refused_with_conflict_and_keeps_the_users_text(client, login_as):
    document = publish_note_as_french_official(client, login_as)
    stale = edit_form(client, document.slug, source="My careful rewrite that must not be lost.")

    edit_document(document, source="Colleague's version.")  # a colleague saves first

    response = client.post(f"/documents/{document.slug}/edit", data=stale)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Someone else saved this document while you were editing" in page
    assert "My careful rewrite that must not be lost." in page
    assert "Colleague&#39;s version." in page
    db.session.expire_all()
    assert document.current_revision.source == "Colleague's version."
    assert document.current_revision.number == 2


def test_conflicting_saves_in_two_sessions_never_overwrite(app, make_document):
    document = make_document()
    version = document.version
    fields = DocumentFields(
        title=document.title,
        source="first save",
        visibility=Visibility.PUBLIC,
        status=DocumentStatus.PUBLISHED,
        state=document.state,
    )
    update_document(CONTENT_LOADER, document, fields, base_version=version)
    db.session.commit()
    fields.source = "second save from the same starting point"
    with pytest.raises(EditConflict):
        update_document(CONTENT_LOADER, document, fields, base_version=version)
    db.session.rollback()
    assert document.current_revision.source == "first save"


def test_withdraw_and_restore(client, login_as):
    login_as("government", "FR")
    client.post(NEW_NOTE, data=note_form(csrf_token(client, NEW_NOTE), visibility="public"))
    slug = db.session.scalars(select(Document.slug)).one()
    token = csrf_token(client, f"/documents/{slug}")

    response = client.post(f"/documents/{slug}/withdraw", data={"csrf_token": token, "reason": "x"})
    assert response.status_code == 302
    document = db.session.scalars(select(Document)).one()
    assert document.status is DocumentStatus.WITHDRAWN
    again = client.post(f"/documents/{slug}/withdraw", data={"csrf_token": token})
    assert again.status_code == 409
    assert "already withdrawn" in again.get_data(as_text=True)

    anonymous = client.application.test_client()
    assert anonymous.get(f"/documents/{slug}").status_code == 404

    assert client.post(f"/documents/{slug}/restore", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert document.status is DocumentStatus.PUBLISHED
    assert anonymous.get(f"/documents/{slug}").status_code == 200
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["document.withdraw", "document.restore"]


def test_forms_without_a_valid_csrf_token_are_refused(client, login_as):
    login_as("government", "FR")
    for token in (None, "forged-token"):
        data = (
            note_form(token)
            if token
            else {k: v for k, v in note_form("").items() if k != "csrf_token"}
        )
        response = client.post(NEW_NOTE, data=data)
        assert response.status_code == 400
        assert "security token" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0


def test_sign_out_requires_csrf_token(client, login_as):
    login_as("secretariat")
    assert client.post("/auth/sign-out").status_code == 400
    assert client.get("/auth/account").status_code == 200


def test_unknown_document_and_revision_pages_are_plain_404s(client, make_document):
    document = make_document()
    for path in (
        "/documents/no-such-document",
        f"/documents/{document.slug}/revisions/9",
        f"/documents/{document.slug}/diff?a=1&b=9",
    ):
        response = client.get(path)
        assert response.status_code == 404
        assert "Traceback" not in response.get_data(as_text=True)
        assert "There is no page at this address" in response.get_data(as_text=True)


def test_bad_diff_and_filter_arguments_get_a_clear_400(client, make_document):
    document = make_document()
    diff = client.get(f"/documents/{document.slug}/diff?a=one&b=2")
    assert diff.status_code == 400
    assert "Choose two revision numbers" in diff.get_data(as_text=True)
    listing = client.get("/documents/?type=manifesto")
    assert listing.status_code == 400
    assert "no document type called" in listing.get_data(as_text=True)
    assert client.get("/documents/?commitment=9").status_code == 400


def test_document_list_filters_by_type_state_and_commitment(client, make_document):
    make_document(title="French note", state_code="FR", commitment_numbers=(1,))
    make_document(title="German note", state_code="DE", commitment_numbers=(2,))
    make_document("page", title="About page", state_code=None, commitment_numbers=())

    def titles(query: str) -> set[str]:
        page = client.get(f"/documents/?{query}").get_data(as_text=True)
        return {t for t in ("French note", "German note", "About page") if t in page}

    assert titles("") == {"French note", "German note", "About page"}
    assert titles("state=DE") == {"German note"}
    assert titles("commitment=1") == {"French note"}
    assert titles("type=page") == {"About page"}


def test_document_list_paginates(client, make_document):
    for _ in range(25):
        make_document()
    first = client.get("/documents/").get_data(as_text=True)
    assert "Page 1 of 2" in first and "25 documents" in first
    assert client.get("/documents/?page=2").status_code == 200
    assert client.get("/documents/?page=99").status_code == 200


def test_commitment_and_state_pages(client, make_document):
    make_document(title="Korean risk note", state_code="KR", commitment_numbers=(3,))
    commitment = client.get("/commitments/3").get_data(as_text=True)
    assert "Information sharing on emerging risks" in commitment
    assert "Korean risk note" in commitment
    state_page = client.get("/states/KR").get_data(as_text=True)
    assert "Republic of Korea" in state_page and "Korean risk note" in state_page
    assert client.get("/states/ZZ").status_code == 404
    assert client.get("/commitments/7").status_code == 404
    assert "Kosovo" in client.get("/states/").get_data(as_text=True)
    home = client.get("/").get_data(as_text=True)
    assert "Korean risk note" in home and "Capacity building" in home


def test_nul_characters_in_forms_and_arguments_get_a_400_not_a_500(client, login_as):
    login_as("government", "FR")
    token = csrf_token(client, NEW_NOTE)
    response = client.post(NEW_NOTE, data=note_form(token, source="binary\x00junk"))
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)
    assert client.get("/documents/?state=F%00R").status_code == 400
    assert sign_in_with_nul(client).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0


def sign_in_with_nul(client: FlaskClient):
    """A sign-in attempt whose email holds a NUL byte."""
    token = csrf_token(client, "/auth/sign-in")
    return client.post(
        "/auth/sign-in", data={"email": "a\x00@b.org", "password": "x", "csrf_token": token}
    )


def test_oversized_upload_is_refused_with_413(client, login_as):
    login_as("government", "FR")
    token = csrf_token(client, NEW_NOTE)
    response = client.post(NEW_NOTE, data=note_form(token, source="x" * (3 * 1024 * 1024)))
    assert response.status_code == 413
    assert "larger than the portal accepts" in response.get_data(as_text=True)


def test_invalid_utf8_in_a_form_is_saved_readably_not_a_crash(client, login_as):
    login_as("government", "FR")
    token = csrf_token(client, NEW_NOTE)
    fields = note_form(token, title="placeholder")
    body = b"&".join(
        f"{k}={v}".encode() for k, v in fields.items() if k not in ("title", "commitments")
    )
    body += b"&commitments=1&title=caf%E9%FF"
    response = client.post(NEW_NOTE, data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 302
    # Werkzeug keeps undecodable bytes visible rather than dropping them.
    assert db.session.scalars(select(Document.title)).one().startswith("caf")


def test_forged_version_field_is_a_400_not_a_500(client, login_as):
    slug = publish_note_as_french_official(client, login_as).slug
    response = client.post(f"/documents/{slug}/edit", data=edit_form(client, slug, version="x1"))
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Revision)) == 1


def test_resaving_after_a_conflict_succeeds_with_the_merged_text(client, login_as):
    document = publish_note_as_french_official(client, login_as)
    stale = edit_form(client, document.slug, source="My rewrite.")
    edit_document(document, source="Colleague's version.")  # a colleague saves first
    conflict = client.post(f"/documents/{document.slug}/edit", data=stale)
    assert conflict.status_code == 409
    version = re.search(r'name="version" type="hidden" value="(\d+)"', conflict.get_data(True))
    merged = {**stale, "version": version.group(1), "source": "Colleague's version. My rewrite."}
    assert client.post(f"/documents/{document.slug}/edit", data=merged).status_code == 302
    db.session.expire_all()
    assert document.current_revision.source == "Colleague's version. My rewrite."
    assert document.current_revision.number == 3


def test_slugs_do_not_reveal_that_a_hidden_document_has_the_same_title(
    client, login_as, make_document
):
    make_document(
        "lesson_learned", "government", "draft", state_code="AU", title="Secret denial list"
    )
    login_as("industry")
    url = "/documents/new?type=practice_note"
    form = note_form(csrf_token(client, url), title="Secret denial list", state="")
    first = client.post(url, data={**form, "visibility": "public"})
    second = client.post(url, data={**form, "visibility": "public"})
    slugs = [
        first.headers["Location"].rsplit("/", 1)[1],
        second.headers["Location"].rsplit("/", 1)[1],
    ]
    assert all(re.fullmatch(r"secret-denial-list-[a-z2-9]{6}", slug) for slug in slugs)
    assert slugs[0] != slugs[1]


def test_a_document_titled_new_is_reachable(client, login_as):
    login_as("industry")
    url = "/documents/new?type=practice_note"
    form = note_form(csrf_token(client, url), title="New", state="", visibility="public")
    location = client.post(url, data=form).headers["Location"]
    assert client.get(location).status_code == 200
    assert re.search(r"<h1[^>]*>New</h1>", client.get(location).get_data(as_text=True))


def test_editing_on_the_site_keeps_the_document_language(client, login_as, make_document):
    document = make_document()
    document.lang = "fr"
    db.session.commit()
    login_as("secretariat")
    form = edit_form(client, document.slug, title=document.title, visibility="public")
    assert client.post(f"/documents/{document.slug}/edit", data=form).status_code == 302
    db.session.expire_all()
    assert document.lang == "fr"


def test_huge_or_odd_numbers_in_urls_are_not_errors(client, make_document):
    document = make_document()
    huge = 10**20
    assert client.get(f"/documents/?page={huge}").status_code == 200
    assert client.get(f"/states/FR?page={huge}").status_code == 200
    assert client.get(f"/commitments/{huge}").status_code == 404
    assert client.get(f"/documents/{document.slug}/revisions/{huge}").status_code == 404
    assert client.get(f"/documents/{document.slug}/diff?a=1&b={huge}").status_code == 404
    assert client.get("/documents/?commitment=%C2%B2").status_code == 400
    assert client.get("/documents/%00").status_code == 400
    assert client.get("/states/%00/").status_code in (400, 404)
