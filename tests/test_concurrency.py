"""No lost writes: many officials saving at once through a real multi-worker server."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit import verify_chain
from portal.extensions import db
from portal.models import AuditEvent, Document, Revision
from portal.search.index import SearchIndex
from portal.search.schema import META_ID, body_text
from tests.conftest import PASSWORD
from tests.live_server import Browser, find_form, live_server

PROCESSES = 8
EDITS_PER_PROCESS = 50
OWN_DOCUMENTS = 4  # besides the one everybody edits; each is shared by two processes


@dataclass(frozen=True)
class Edit:
    """One attempted save and what the server answered."""

    slug: str
    title: str
    source: str
    status: int
    detail: str = ""


def save_edits(base_url: str, email: str, secret: str, label: str, slugs: list[str]) -> list[Edit]:
    """Sign in, then save one edit to each slug in turn through the edit form (a process)."""
    browser = Browser(base_url)
    browser.sign_in(email, PASSWORD, secret)
    edits = []
    for number, slug in enumerate(slugs, start=1):
        page = browser.get(f"/documents/{slug}/edit")
        if page.status != 200:
            edits.append(Edit(slug, "", "", page.status, page.text[:300]))
            continue
        form = find_form(page.text, "source")
        title = f"Licensing note {slug[-6:]}, saved by {label} ({number})"
        source = f"Edit {number} by {label}.\n\nLicensing criteria as of this edit."
        answer = browser.request(
            "POST", f"/documents/{slug}/edit", form.with_values(title=title, source=source)
        )
        detail = "" if answer.status in (302, 409) else answer.text[:500]
        edits.append(Edit(slug, title, source, answer.status, detail))
    return edits


def test_concurrent_edits_through_a_multi_worker_server_lose_nothing(
    app, database_url, tmp_path, make_user, make_document
):
    documents = [
        make_document(title=f"Licensing note {n}", source=f"Original text {n}.")
        for n in range(OWN_DOCUMENTS + 1)
    ]
    slugs = [document.slug for document in documents]
    editors = [make_user("government", "FR") for _ in range(PROCESSES)]
    accounts = [(user.email, user.totp_secret) for user in editors]
    db.session.remove()  # hold no connection or snapshot while the server writes
    index_dir = tmp_path / "server-index"

    plans = [
        # Every other edit goes to the shared document, the rest to one shared by a pair.
        [slugs[0] if n % 2 == 0 else slugs[1 + i % OWN_DOCUMENTS] for n in range(EDITS_PER_PROCESS)]
        for i in range(PROCESSES)
    ]
    with live_server(database_url, index_dir, tmp_path) as server:
        jobs = [
            (server.url, email, secret, f"official {i}", plans[i])
            for i, (email, secret) in enumerate(accounts)
        ]
        with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
            outcomes = pool.starmap_async(save_edits, jobs).get(timeout=300)
        server_log = server.log.read_text()

    edits = [edit for outcome in outcomes for edit in outcome]
    statuses = Counter(edit.status for edit in edits)
    print(f"answers to {len(edits)} saves: {dict(statuses)}")  # shown with pytest -s
    unexpected = [edit for edit in edits if edit.status not in (302, 409)]
    assert not unexpected, f"{statuses}: {unexpected[:3]}\n{server_log[-3000:]}"
    assert statuses[302] > 0 and statuses[409] > 0, statuses  # the shared one had conflicts

    saved = select(Document.slug, Revision.source).join(Revision.document)
    sources = {(slug, source) for slug, source in db.session.execute(saved)}
    accepted = [edit for edit in edits if edit.status == 302]
    rejected = [edit for edit in edits if edit.status == 409]
    assert all((edit.slug, edit.source) in sources for edit in accepted)  # nothing lost
    assert not any((edit.slug, edit.source) in sources for edit in rejected)  # nothing sneaked in
    revisions = Counter(slug for slug, _ in sources)
    accepted_per_document = Counter(edit.slug for edit in accepted)
    assert all(revisions[slug] == 1 + accepted_per_document[slug] for slug in slugs)
    updates = db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "document.update")
    )
    assert updates == len(accepted)
    assert verify_chain(db.session).intact

    _assert_index_equals_database(index_dir)


def _assert_index_equals_database(index_dir: Path) -> None:
    """What `flask search status` checks, plus every document's indexed title and text."""
    index = SearchIndex(index_dir, lambda: Session(db.engine))
    try:
        status = index.status()
        assert status.changes_behind == 0
        assert status.documents_in_index == status.documents_in_database
        searcher = index.searcher()
        for document in db.session.scalars(select(Document)):
            docnum = searcher.document_number(id=str(document.id))
            assert docnum is not None
            entry = searcher.stored_fields(docnum)
            assert entry["id"] != META_ID
            assert entry["heading"] == document.title
            first_line = document.current_revision.source.splitlines()[0]
            assert first_line in body_text(searcher, docnum)
    finally:
        index.close()
