"""Who may read and write which documents: BRIEF.md's "Who may do what" table, end to end.

Every expectation below is written out by hand from BRIEF.md, never computed with `can`,
so a mistake in the policy cannot hide in the test. Readers: V (visitor), an unapproved
government account of France, CS, IN, GOV (France, owner of the notes), GOV* (Germany), SEC.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_login import AnonymousUserMixin
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from portal.access import (
    CONTENT_LOADER,
    AccessDenied,
    Action,
    can,
    choosable_state_ids,
    choosable_visibilities,
    creatable_types,
    effective_role,
    visible_documents,
)
from portal.documents.services import DocumentFields, create_document, update_document
from portal.extensions import db
from portal.models import (
    Assessment,
    Document,
    DocumentStatus,
    DocumentType,
    Role,
    User,
    Visibility,
)
from tests.conftest import PASSWORD, commitments, csrf_token, enrol_two_factor, sign_in, state

PUBLIC, PARTICIPANTS, GOVERNMENT = Visibility.PUBLIC, Visibility.PARTICIPANTS, Visibility.GOVERNMENT
PUBLISHED, DRAFT, WITHDRAWN = (
    DocumentStatus.PUBLISHED,
    DocumentStatus.DRAFT,
    DocumentStatus.WITHDRAWN,
)
NOTE, LESSON, RISK = (
    DocumentType.IMPLEMENTATION_NOTE,
    DocumentType.LESSON_LEARNED,
    DocumentType.EMERGING_RISK,
)
REVIEW, PRACTICE, OUTCOME, PAGE = (
    DocumentType.REVIEW,
    DocumentType.PRACTICE_NOTE,
    DocumentType.PLENARY_OUTCOME,
    DocumentType.PAGE,
)
SELF, RESPONSE = DocumentType.SELF_ASSESSMENT, DocumentType.RESPONSE
Y, N = True, False

#: The accounts behind each reader: (role, state, approved, two-factor); the visitor has none.
ACCOUNTS: dict[str, tuple[Role, str | None, bool, bool] | None] = {
    "visitor": None,
    "unapproved": (Role.GOVERNMENT, "FR", False, True),
    "civil_society": (Role.CIVIL_SOCIETY, None, True, False),
    "industry": (Role.INDUSTRY, None, True, False),
    "government": (Role.GOVERNMENT, "FR", True, True),
    "government_without_2fa": (Role.GOVERNMENT, "FR", True, False),
    "other_government": (Role.GOVERNMENT, "DE", True, True),
    "secretariat": (Role.SECRETARIAT, None, True, True),
    "secretariat_without_2fa": (Role.SECRETARIAT, None, True, False),
}
READERS = list(ACCOUNTS)

#: The nine French implementation notes, in the column order of READS_FRENCH_NOTE.
CELLS = [(v, s) for v in (PUBLIC, PARTICIPANTS, GOVERNMENT) for s in (PUBLISHED, DRAFT, WITHDRAWN)]

# Which French implementation note each reader may read (BRIEF.md: visibility ladder; drafts
# and withdrawn documents only for the owning state's government and the secretariat).
# fmt: off
READS_FRENCH_NOTE: dict[str, tuple[bool, ...]] = {
    #                     public        participants  government
    #                     pub drf wdn   pub drf wdn   pub drf wdn
    "visitor":          (Y,  N,  N,    N,  N,  N,    N,  N,  N),
    "unapproved":       (Y,  N,  N,    N,  N,  N,    N,  N,  N),
    "civil_society":    (Y,  N,  N,    Y,  N,  N,    N,  N,  N),
    "industry":         (Y,  N,  N,    Y,  N,  N,    N,  N,  N),
    "government":       (Y,  Y,  Y,    Y,  Y,  Y,    Y,  Y,  Y),
    "other_government": (Y,  N,  N,    Y,  N,  N,    Y,  N,  N),
    "secretariat":      (Y,  Y,  Y,    Y,  Y,  Y,    Y,  Y,  Y),
    # Without two-factor sign-in nobody reads `government` documents, not even their own,
    # and a secretariat account reads what a visitor does.
    "government_without_2fa":  (Y,  Y,  Y,    Y,  Y,  Y,    N,  N,  N),
    "secretariat_without_2fa": (Y,  N,  N,    N,  N,  N,    N,  N,  N),
}
# fmt: on

#: Who reads a civil-society user's draft review of France (not the owning state's note).
READS_PEERS_DRAFT_REVIEW = {"secretariat"}

#: Types each writer may open /documents/new for (BRIEF.md's "create" rows).
# fmt: off
NEW_FORM_TYPES: dict[str, set[DocumentType]] = {
    "visitor":       set(),
    "unapproved":    set(),
    "civil_society": {REVIEW},
    "industry":      {PRACTICE},
    "government":    {NOTE, LESSON, RISK, SELF, RESPONSE},
    "secretariat":   {NOTE, LESSON, RISK, REVIEW, PRACTICE, OUTCOME, PAGE, SELF, RESPONSE},
}
# fmt: on

#: Policy actors: "civil_society" and "industry" author the review and the practice note,
#: "other_*" are their peers; "government" is France, which owns the state documents.
POLICY_ACTORS = [
    "visitor",
    "unapproved",
    "deactivated",
    "civil_society",
    "other_civil_society",
    "industry",
    "other_industry",
    "government",
    "other_government",
    "secretariat",
]

#: Who may create a (French, public) document of each type.
# fmt: off
CREATORS: dict[DocumentType, set[str]] = {
    NOTE:     {"government", "secretariat"},
    LESSON:   {"government", "secretariat"},
    RISK:     {"government", "secretariat"},
    REVIEW:   {"civil_society", "other_civil_society", "secretariat"},
    PRACTICE: {"industry", "other_industry", "secretariat"},
    OUTCOME:  {"secretariat"},
    PAGE:     {"secretariat"},
    # A state assesses itself and answers reviews of it (which review: can_respond_to).
    SELF:     {"government", "secretariat"},
    RESPONSE: {"government", "secretariat"},
}

#: Who may edit, withdraw and restore a French document of each type ("own", "own state's").
CHANGERS: dict[DocumentType, set[str]] = {
    NOTE:     {"government", "secretariat"},
    LESSON:   {"government", "secretariat"},
    RISK:     {"government", "secretariat"},
    REVIEW:   {"civil_society", "secretariat"},
    PRACTICE: {"industry", "secretariat"},
    OUTCOME:  {"secretariat"},
    PAGE:     {"secretariat"},
    SELF:     {"government", "secretariat"},
    RESPONSE: {"government", "secretariat"},
}
# fmt: on

_emails = itertools.count(1)
# Accounts made here use a one-round hash: signing in stays cheap, the policy never sees it.
_CHEAP_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")


def add_account(
    role: Role,
    state_code: str | None = None,
    *,
    approved: bool = True,
    active: bool = True,
    two_factor: bool | None = None,
) -> User:
    """An account that can sign in with PASSWORD (and a code, for government and secretariat)."""
    number = next(_emails)
    user = User(
        email=f"{role.value}.{number}@example.org",
        name=f"{role.label} {number}",
        role=role,
        state=state(state_code) if state_code else None,
        approved=approved,
        active=active,
        password_hash=_CHEAP_HASH,
    )
    db.session.add(user)
    db.session.commit()
    if two_factor if two_factor is not None else role in (Role.GOVERNMENT, Role.SECRETARIAT):
        enrol_two_factor(user)
    return user


def reader_account(reader: str) -> User | None:
    """A fresh account for one of READERS (None for the visitor)."""
    spec = ACCOUNTS[reader]
    if spec is None:
        return None
    role, state_code, approved, two_factor = spec
    return add_account(role, state_code, approved=approved, two_factor=two_factor)


def become(client: FlaskClient, user: User | None) -> None:
    """Sign `client` in as `user` through the real form; a visitor stays signed out."""
    if user is not None:
        response = sign_in(client, user.email)
        assert response.status_code == 302, response.get_data(as_text=True)


def add_second_revision(document: Document) -> None:
    """Edit the text as the content loader, so the document has revisions 1 and 2."""
    update_document(
        CONTENT_LOADER,
        document,
        DocumentFields(
            title=document.title,
            source="The second revision's text.",
            visibility=document.visibility,
            status=document.status,
            state=document.state,
            commitments=list(document.commitments),
        ),
        base_version=document.version,
    )
    db.session.commit()
    assert document.current_revision is not None
    assert document.current_revision.number == 2


def french_notes(
    make_document: Callable[..., Document], *, revised: bool = True
) -> dict[tuple[Visibility, DocumentStatus], Document]:
    """The nine French implementation notes on commitment 1, one per CELLS entry."""
    notes = {}
    for visibility, status in CELLS:
        note = make_document(NOTE, visibility, status, title=f"French {visibility} {status} note")
        if revised:
            add_second_revision(note)
        notes[visibility, status] = note
    return notes


def document_pages(slug: str) -> list[str]:
    """Every page showing a document: itself, its history, revision 1 and a diff."""
    base = f"/documents/{slug}"
    return [base, f"{base}/history", f"{base}/revisions/1", f"{base}/diff?a=1&b=2"]


def read_problems(
    client: FlaskClient, documents: Iterable[tuple[Document, bool]], listing_path: str
) -> list[str]:
    """Where pages and the list disagree with the expectation: (document, may read) pairs."""
    listing = client.get(listing_path).get_data(as_text=True)
    problems = []
    for document, allowed in documents:
        expected = 200 if allowed else 404
        for path in document_pages(document.slug):
            response = client.get(path)
            if response.status_code != expected:
                problems.append(f"{path} answered {response.status_code}, expected {expected}")
            elif not allowed and document.title in response.get_data(as_text=True):
                problems.append(f"{path} names “{document.title}” in its 404 page")
        if (document.title in listing) != allowed:
            shown = "lists" if not allowed else "does not list"
            problems.append(f"{listing_path} {shown} “{document.title}”")
    return problems


def titles_shown(page: str, documents: Iterable[Document]) -> set[str]:
    """The titles among `documents` that appear on `page`."""
    return {d.title for d in documents if d.title in page}


def document_count(page: str, pattern: str) -> int:
    """The number a counts page shows, found with `pattern` (one group of digits)."""
    match = re.search(pattern, page, re.DOTALL)
    assert match, f"no count matching {pattern!r}"
    return int(match.group(1))


# --- 1. Reading: pages, history, revisions, diffs and the list ------------------------------


@pytest.mark.parametrize("reader", READERS)
def test_reader_opens_only_the_notes_and_revisions_they_may_read(
    client: FlaskClient, make_document: Callable[..., Document], reader: str
) -> None:
    """Page, history, revision 1, diff 1-2: 200 if readable else 404; the list shows the same."""
    notes = french_notes(make_document)
    become(client, reader_account(reader))
    expected = zip(CELLS, READS_FRENCH_NOTE[reader], strict=True)
    problems = read_problems(client, [(notes[cell], ok) for cell, ok in expected], "/documents/")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("role", "doc_type"), [(Role.CIVIL_SOCIETY, REVIEW), (Role.INDUSTRY, PRACTICE)]
)
def test_author_reads_own_draft_and_withdrawn_documents_but_peers_do_not(
    app: Flask, make_document: Callable[..., Document], role: Role, doc_type: DocumentType
) -> None:
    """ "Own": the author and the secretariat read them; another user of the role, GOV do not."""
    author = add_account(role)
    drafts = []
    for status in (DRAFT, WITHDRAWN):
        title = f"{role.label} {status} own document"
        document = make_document(doc_type, PARTICIPANTS, status, author=author, title=title)
        add_second_revision(document)
        drafts.append(document)
    readers = {
        "author": (author, True),
        "peer": (add_account(role), False),
        "government of the state": (add_account(Role.GOVERNMENT, "FR"), False),
        "secretariat": (add_account(Role.SECRETARIAT), True),
    }
    problems = []
    for name, (user, allowed) in readers.items():
        client = app.test_client()
        become(client, user)
        found = read_problems(client, [(d, allowed) for d in drafts], "/documents/")
        problems += [f"{name}: {problem}" for problem in found]
    assert not problems, "\n".join(problems)


def test_unapproved_account_signs_in_but_sees_only_public_documents(
    client: FlaskClient, make_document: Callable[..., Document]
) -> None:
    """Waiting for approval: signed in, told so, and reading like a visitor."""
    public = make_document(NOTE, PUBLIC, PUBLISHED, title="Public French note")
    participants = make_document(NOTE, PARTICIPANTS, PUBLISHED, title="Participants French note")
    user = add_account(Role.CIVIL_SOCIETY, approved=False)
    response = sign_in(client, user.email)
    assert response.status_code == 302
    assert "waiting for approval" in client.get("/").get_data(as_text=True)
    listing = client.get("/documents/").get_data(as_text=True)
    assert public.title in listing
    assert participants.title not in listing
    assert client.get(f"/documents/{participants.slug}").status_code == 404


def test_deactivated_account_reads_like_a_visitor_and_cannot_sign_in_again(
    app: Flask, client: FlaskClient, make_document: Callable[..., Document]
) -> None:
    """Deactivated mid-session, a French official loses their notes; the policy agrees."""
    notes = french_notes(make_document)
    secret = notes[GOVERNMENT, DRAFT]
    user = add_account(Role.GOVERNMENT, "FR")
    become(client, user)
    assert client.get(f"/documents/{secret.slug}").status_code == 200
    user.active = False
    db.session.commit()
    assert client.get(f"/documents/{secret.slug}").status_code == 404
    expected = zip(CELLS, READS_FRENCH_NOTE["visitor"], strict=True)
    problems = read_problems(client, [(notes[cell], ok) for cell, ok in expected], "/documents/")
    assert not problems, "\n".join(problems)
    assert sign_in(app.test_client(), user.email).status_code == 400

    assert effective_role(user) is None
    for cell, allowed in zip(CELLS, READS_FRENCH_NOTE["visitor"], strict=True):
        assert can(user, Action.READ, notes[cell]) is allowed, cell
        assert not can(user, Action.EDIT, notes[cell])
    readable = set(db.session.scalars(select(Document.id).where(visible_documents(user))))
    assert readable == {notes[PUBLIC, PUBLISHED].id}
    assert creatable_types(user) == []
    assert choosable_visibilities(user) == []
    assert choosable_state_ids(user) == frozenset()


# --- 2. Counts and listings on state, commitment and home pages ------------------------------


@pytest.mark.parametrize("reader", READERS)
def test_state_commitment_and_home_pages_list_and_count_only_readable_documents(
    client: FlaskClient, make_document: Callable[..., Document], reader: str
) -> None:
    """/states/FR, /commitments/1, / and the counts on /states/ and /commitments/ do not leak."""
    notes = french_notes(make_document, revised=False)
    peer = add_account(Role.CIVIL_SOCIETY)
    review = make_document(REVIEW, PARTICIPANTS, DRAFT, author=peer, title="Draft review by a peer")
    expected = {
        notes[c].title for c, ok in zip(CELLS, READS_FRENCH_NOTE[reader], strict=True) if ok
    }
    if reader in READS_PEERS_DRAFT_REVIEW:
        expected.add(review.title)
    documents = [*notes.values(), review]  # ten, all French and on commitment 1
    become(client, reader_account(reader))

    for path in ("/states/FR", "/commitments/1", "/"):
        page = client.get(path)
        assert page.status_code == 200
        assert titles_shown(page.get_data(as_text=True), documents) == expected, path
    states = client.get("/states/").get_data(as_text=True)
    france = r'href="/states/FR">France</a></th>\s*<td>FR</td>\s*<td>.*?</td>\s*<td>(\d+)</td>'
    assert document_count(states, france) == len(expected)
    commitment = r'href="/commitments/1">[^<]*</a></h2>\s*<p>[^<]*</p>\s*<p class="meta">(\d+) '
    assert document_count(client.get("/commitments/").get_data(as_text=True), commitment) == len(
        expected
    )
    listing = client.get("/documents/?state=FR&commitment=1").get_data(as_text=True)
    plural = "" if len(expected) == 1 else "s"
    assert f"{len(expected)} document{plural}</p>" in listing


# --- 3. `can` and `visible_documents` agree --------------------------------------------------


def test_policy_and_list_query_agree_for_every_user_and_document(app: Flask) -> None:
    """For every kind of user, can(READ) holds exactly for the documents the SQL condition lists."""
    cs_author, in_author = add_account(Role.CIVIL_SOCIETY), add_account(Role.INDUSTRY)
    gov_author = add_account(Role.GOVERNMENT, "FR")
    users: dict[str, Any] = {
        "none": None,
        "anonymous": AnonymousUserMixin(),
        "content loader": CONTENT_LOADER,
        "civil society author": cs_author,
        "civil society peer": add_account(Role.CIVIL_SOCIETY),
        "industry author": in_author,
        "industry peer": add_account(Role.INDUSTRY),
        "government FR": gov_author,
        "government DE": add_account(Role.GOVERNMENT, "DE"),
        "secretariat": add_account(Role.SECRETARIAT),
    }
    for role in Role:
        code = "FR" if role is Role.GOVERNMENT else None
        users[f"unapproved {role}"] = add_account(role, code, approved=False)
        users[f"deactivated {role}"] = add_account(role, code, active=False)
    state_ids = [state("FR").id, state("DE").id, None]
    authors = [None, cs_author.id, in_author.id, gov_author.id]
    for number, (doc_type, visibility, status, state_id, author_id) in enumerate(
        itertools.product(DocumentType, Visibility, DocumentStatus, state_ids, authors)
    ):
        db.session.add(
            Document(
                slug=f"doc-{number}",
                type=doc_type,
                title=f"Document {number}",
                visibility=visibility,
                status=status,
                state_id=state_id,
                author_id=author_id,
            )
        )
    db.session.commit()
    documents = db.session.scalars(select(Document)).all()
    assert len(documents) == len(DocumentType) * 3 * 3 * 3 * 4

    problems = []
    for name, user in users.items():
        listed = set(db.session.scalars(select(Document.id).where(visible_documents(user))))
        allowed = {d.id for d in documents if can(user, Action.READ, d)}
        for document in documents:
            if (document.id in listed) != (document.id in allowed):
                problems.append(
                    f"{name}: {document.type} {document.visibility} {document.status} "
                    f"state={document.state_id} author={document.author_id}: "
                    f"can={document.id in allowed} listed={document.id in listed}"
                )
    assert not problems, "\n".join(problems[:40])


# --- 4. Writing through the pages ------------------------------------------------------------


@pytest.mark.parametrize("writer", list(NEW_FORM_TYPES))
def test_new_document_form_opens_only_for_types_the_role_may_create(
    client: FlaskClient, writer: str
) -> None:
    """200 for types the role may create, 403 otherwise; visitors are sent to sign in."""
    become(client, reader_account(writer))
    problems = []
    for doc_type in DocumentType:
        response = client.get(f"/documents/new?type={doc_type}")
        if writer == "visitor":
            location = response.headers.get("Location", "")
            ok = response.status_code == 302 and "/auth/sign-in" in location
        else:
            ok = response.status_code == (200 if doc_type in NEW_FORM_TYPES[writer] else 403)
        if not ok:
            problems.append(f"{doc_type}: {response.status_code}")
    assert not problems, problems


def post_new(client: FlaskClient, doc_type: DocumentType, **fields: Any) -> Any:
    """Submit the new-document form of `doc_type` with `fields` (plus a CSRF token and Save)."""
    path = f"/documents/new?type={doc_type}"
    data = {"source": "Some text.", "status": "published", "save": "Save", **fields}
    return client.post(path, data={**data, "csrf_token": csrf_token(client, path)})


def count_titled(title: str) -> int:
    """How many documents carry this title."""
    return db.session.scalar(select(func.count()).where(Document.title == title)) or 0


def test_government_user_cannot_create_a_note_for_another_state(client: FlaskClient) -> None:
    """A French official posting state=DE is refused and nothing is created."""
    official = add_account(Role.GOVERNMENT, "FR")
    become(client, official)
    title = "French official writing for Germany"
    response = post_new(client, NOTE, title=title, state="DE", commitments=[1], visibility="public")
    assert response.status_code in (400, 403)
    assert count_titled(title) == 0
    fields = DocumentFields(title=title, source="Text.", visibility=PUBLIC, state=state("DE"))
    with pytest.raises(AccessDenied):
        create_document(official, NOTE, fields)
    db.session.rollback()
    assert choosable_state_ids(official) == {state("FR").id}


def test_industry_cannot_publish_a_government_document(client: FlaskClient) -> None:
    """The form offers industry public and participants only; a forged choice is a 400."""
    become(client, reader_account("industry"))
    title = "Industry practice for governments only"
    response = post_new(client, PRACTICE, title=title, visibility="government")
    assert response.status_code == 400
    assert count_titled(title) == 0


def test_civil_society_can_review_a_state_on_a_commitment(client: FlaskClient) -> None:
    """A review of France on commitments 1 and 2 is saved, authored by the reviewer."""
    reviewer = add_account(Role.CIVIL_SOCIETY)
    become(client, reviewer)
    title = "Review of France on human-rights review"
    response = post_new(
        client,
        REVIEW,
        title=title,
        state="FR",
        commitments=[1, 2],
        visibility="participants",
        assessment="substantial",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    review = db.session.scalars(select(Document).where(Document.title == title)).one()
    assert (review.type, review.author_id, review.visibility) == (REVIEW, reviewer.id, PARTICIPANTS)
    assert review.state is not None and review.state.code == "FR"
    assert [c.number for c in review.commitments] == [1, 2]
    assert client.get(f"/documents/{review.slug}").status_code == 200


#: Who may edit, withdraw and restore each kind of document, as the pages enforce it.
CHANGE_ACTORS = [
    "visitor",
    "government",
    "other_government",
    "civil_society",
    "other_civil_society",
    "industry",
    "other_industry",
    "secretariat",
]
PAGE_CHANGERS: dict[str, set[str]] = {
    "note": {"government", "secretariat"},
    "review": {"civil_society", "secretariat"},
    "practice note": {"industry", "secretariat"},
}


@pytest.mark.parametrize("actor", CHANGE_ACTORS)
def test_only_owners_and_the_secretariat_edit_withdraw_and_restore(
    client: FlaskClient, make_document: Callable[..., Document], actor: str
) -> None:
    """Edit form, withdraw and restore: allowed for owners and SEC; 403 (404 if unreadable)."""
    cs_author, in_author = add_account(Role.CIVIL_SOCIETY), add_account(Role.INDUSTRY)
    authors = {"note": None, "review": cs_author, "practice note": in_author}
    types = {"note": NOTE, "review": REVIEW, "practice note": PRACTICE}
    published, withdrawn = {}, {}
    for kind, doc_type in types.items():
        for status, bucket in ((PUBLISHED, published), (WITHDRAWN, withdrawn)):
            title = f"{kind.capitalize()} {status} for changing"
            bucket[kind] = make_document(
                doc_type, PUBLIC, status, author=authors[kind], title=title
            )
    users = {
        "visitor": None,
        "government": add_account(Role.GOVERNMENT, "FR"),
        "other_government": add_account(Role.GOVERNMENT, "DE"),
        "civil_society": cs_author,
        "other_civil_society": add_account(Role.CIVIL_SOCIETY),
        "industry": in_author,
        "other_industry": add_account(Role.INDUSTRY),
        "secretariat": add_account(Role.SECRETARIAT),
    }
    become(client, users[actor])
    token = csrf_token(client)
    problems = []
    for kind in types:
        allowed = actor in PAGE_CHANGERS[kind]
        # A visitor is sent to sign in; a withdrawn document is unreadable to non-owners: 404.
        refused, hidden = (302, 302) if actor == "visitor" else (403, 404)
        open_doc, gone_doc = published[kind], withdrawn[kind]
        checks = [
            ("GET edit", client.get(f"/documents/{open_doc.slug}/edit"), 200, refused),
            (
                "POST withdraw",
                client.post(f"/documents/{open_doc.slug}/withdraw", data={"csrf_token": token}),
                302,
                refused,
            ),
            (
                "POST restore",
                client.post(f"/documents/{gone_doc.slug}/restore", data={"csrf_token": token}),
                302,
                hidden,
            ),
        ]
        for what, response, yes, no in checks:
            if response.status_code != (yes if allowed else no):
                problems.append(f"{what} {kind}: {response.status_code}")
        db.session.expire_all()
        after = (open_doc.status, gone_doc.status)
        if after != ((WITHDRAWN, PUBLISHED) if allowed else (PUBLISHED, WITHDRAWN)):
            problems.append(f"{kind}: statuses now {after}")
    assert not problems, "\n".join(problems)


def test_government_user_cannot_move_their_note_to_another_state(
    client: FlaskClient, make_document: Callable[..., Document]
) -> None:
    """Editing a French note with state=DE is refused and leaves it French and unrevised."""
    note = make_document(NOTE, PUBLIC, PUBLISHED, title="French licensing criteria")
    official = add_account(Role.GOVERNMENT, "FR")
    become(client, official)
    path = f"/documents/{note.slug}/edit"
    data = {
        "title": note.title,
        "state": "DE",
        "commitments": [1],
        "visibility": "public",
        "status": "published",
        "source": "Now about Germany.",
        "version": str(note.version),
        "save": "Save",
        "csrf_token": csrf_token(client, path),
    }
    assert client.post(path, data=data).status_code in (400, 403)
    db.session.expire_all()
    assert note.state is not None and note.state.code == "FR"
    assert len(note.revisions) == 1

    fields = DocumentFields(
        title=note.title,
        source="Now about Germany.",
        visibility=PUBLIC,
        status=PUBLISHED,
        state=state("DE"),
        commitments=commitments(1),
    )
    with pytest.raises(AccessDenied):
        update_document(official, note, fields, base_version=note.version)
    db.session.rollback()
    assert note.state is not None and note.state.code == "FR"

    # The same form without the move saves: the refusal was about the state.
    data |= {"state": "FR", "source": "Still about France."}
    assert client.post(path, data=data).status_code == 302
    db.session.expire_all()
    assert len(note.revisions) == 2


# --- 5. The policy itself: create, edit, withdraw, restore -----------------------------------


def policy_actors() -> dict[str, Any]:
    """One user per POLICY_ACTORS entry."""
    return {
        "visitor": None,
        "unapproved": add_account(Role.GOVERNMENT, "FR", approved=False),
        "deactivated": add_account(Role.SECRETARIAT, active=False),
        "civil_society": add_account(Role.CIVIL_SOCIETY),
        "other_civil_society": add_account(Role.CIVIL_SOCIETY),
        "industry": add_account(Role.INDUSTRY),
        "other_industry": add_account(Role.INDUSTRY),
        "government": add_account(Role.GOVERNMENT, "FR"),
        "other_government": add_account(Role.GOVERNMENT, "DE"),
        "secretariat": add_account(Role.SECRETARIAT),
    }


def test_policy_lets_each_role_create_only_the_types_the_brief_gives_it(app: Flask) -> None:
    """can(CREATE) on an unsaved public French document of each type, per actor."""
    actors = policy_actors()
    france = state("FR").id
    problems = []
    for doc_type, actor in itertools.product(DocumentType, POLICY_ACTORS):
        user = actors[actor]
        draft = Document(
            type=doc_type,
            visibility=PUBLIC,
            status=DRAFT,
            state_id=france,
            author_id=getattr(user, "id", None),
        )
        if can(user, Action.CREATE, draft) is not (actor in CREATORS[doc_type]):
            problems.append(f"{actor} creating {doc_type}: expected {actor in CREATORS[doc_type]}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("action", [Action.EDIT, Action.WITHDRAW, Action.RESTORE])
def test_policy_lets_only_owners_and_the_secretariat_change_documents(
    app: Flask, action: Action
) -> None:
    """can(EDIT/WITHDRAW/RESTORE) per actor on a French document of each type, by its author."""
    actors = policy_actors()
    natural_author = {REVIEW: actors["civil_society"], PRACTICE: actors["industry"]}
    natural_author |= dict.fromkeys((NOTE, LESSON, RISK, SELF, RESPONSE), actors["government"])
    status = WITHDRAWN if action is Action.RESTORE else PUBLISHED
    review = make_review_of_france()
    problems = []
    for doc_type in DocumentType:
        document = create_document(
            natural_author.get(doc_type, CONTENT_LOADER),
            doc_type,
            DocumentFields(
                title=f"{doc_type.label} to change",
                source="Text.",
                visibility=PUBLIC,
                status=status,
                state=state("FR"),
                commitments=commitments(1),
                assessment=Assessment.LIMITED if doc_type in (SELF, REVIEW) else None,
                responds_to=review if doc_type is RESPONSE else None,
            ),
        )
        db.session.commit()
        for actor in POLICY_ACTORS:
            expected = actor in CHANGERS[doc_type]
            if can(actors[actor], action, document) is not expected:
                problems.append(f"{actor} {action} {doc_type}: expected {expected}")
    assert not problems, "\n".join(problems)


def make_review_of_france() -> Document:
    """A published public review of France, loaded as canonical content."""
    fields = DocumentFields(
        title="Review of France to answer",
        source="Text.",
        visibility=PUBLIC,
        status=PUBLISHED,
        state=state("FR"),
        commitments=commitments(1),
        assessment=Assessment.LIMITED,
    )
    review = create_document(CONTENT_LOADER, REVIEW, fields)
    db.session.commit()
    return review


def test_visibility_choices_never_exceed_what_the_author_may_read(app: Flask) -> None:
    """Industry and civil society may choose public or participants; GOV and SEC all three."""
    actors = policy_actors()
    # fmt: off
    expected = {
        "visitor":       [],
        "unapproved":    [],
        "deactivated":   [],
        "civil_society": [PUBLIC, PARTICIPANTS],
        "industry":      [PUBLIC, PARTICIPANTS],
        "government":    [PUBLIC, PARTICIPANTS, GOVERNMENT],
        "secretariat":   [PUBLIC, PARTICIPANTS, GOVERNMENT],
    }
    # fmt: on
    for actor, visibilities in expected.items():
        assert choosable_visibilities(actors[actor]) == visibilities, actor
    fr = state("FR").id
    for actor, visibility, allowed in [
        ("industry", GOVERNMENT, False),
        ("industry", PARTICIPANTS, True),
        ("civil_society", GOVERNMENT, False),
        ("government", GOVERNMENT, True),
    ]:
        doc_type = {"industry": PRACTICE, "civil_society": REVIEW}.get(actor, NOTE)
        draft = Document(type=doc_type, visibility=visibility, status=DRAFT, state_id=fr)
        assert can(actors[actor], Action.CREATE, draft) is allowed, (actor, visibility)


def test_creatable_types_match_the_brief_for_each_role(app: Flask) -> None:
    """What the "new document" chooser offers each writer."""
    for writer in NEW_FORM_TYPES:
        expected = [t for t in DocumentType if t in NEW_FORM_TYPES[writer]]
        assert creatable_types(reader_account(writer)) == expected, writer
