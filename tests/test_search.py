"""Search: never leaks, stays in step with the database, survives bad queries."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from whoosh import index as whoosh_index
from whoosh.fields import ID, Schema

from portal.access import CONTENT_LOADER
from portal.documents.services import (
    withdraw_document,
)
from portal.extensions import db
from portal.models import Document, SearchChange, Visibility
from portal.search import search_index
from portal.search.index import SearchIndex
from portal.search.schema import META_ID, body_text
from portal.search.spelling import read_vocabulary
from tests.conftest import commitments, edit_document, state, statements_on_this_thread

VISIBILITIES = ("public", "participants", "government")
STATUSES = ("published", "draft", "withdrawn")

# Which of the nine French implementation notes (visibility, status) each reader finds.
EXPECTED = {
    "visitor": {("public", "published")},
    "civil_society": {("public", "published"), ("participants", "published")},
    "industry": {("public", "published"), ("participants", "published")},
    "government_fr": {(v, s) for v in VISIBILITIES for s in STATUSES},
    "government_de": {(v, "published") for v in VISIBILITIES},
    "secretariat": {(v, s) for v in VISIBILITIES for s in STATUSES},
}


def results(client, query: str, **args: str) -> tuple[int, str]:
    """The result count and the page for a search."""
    response = client.get("/search", query_string={"q": query, **args})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    match = re.search(r'id="results-heading">(\d+) result', page)
    return (int(match.group(1)) if match else -1), page


def suggestion(page: str) -> str | None:
    """The "did you mean" correction offered on a search page."""
    match = re.search(r'class="suggestion">Did you mean <a href="[^"]*">([^<]*)</a>', page)
    return match.group(1) if match else None


def facet_count(page: str, facet: str, value: str) -> int | None:
    """The count shown beside one facet value, or None if the value is not offered."""
    block = re.search(rf'data-facet="{facet}">(.*?)</ul>', page, re.S)
    if not block:
        return None
    match = re.search(
        rf"{facet}={re.escape(value)}[^>]*>[^<]*</a> <span class=\"count\">\((\d+)\)",
        block.group(1),
    )
    return int(match.group(1)) if match else None


@pytest.fixture
def other_process_index(app):
    """A second handle on the index directory, as another process would have."""
    handles: list[SearchIndex] = []

    def make() -> SearchIndex:
        handle = SearchIndex(Path(app.config["SEARCH_INDEX_DIR"]), lambda: Session(db.engine))
        handles.append(handle)
        return handle

    yield make
    for handle in handles:
        handle.close()


def sign_in_reader(reader: str, login_as) -> None:
    """Sign the client in as the named reader (visitors stay signed out)."""
    if reader == "visitor":
        return
    if reader.startswith("government_"):
        login_as("government", reader.split("_")[1].upper())
    else:
        login_as(reader)


@pytest.mark.parametrize("reader", sorted(EXPECTED))
def test_search_shows_each_reader_only_what_they_may_read(reader, client, login_as, make_document):
    for visibility in VISIBILITIES:
        for status in STATUSES:
            make_document(
                visibility=visibility,
                status=status,
                title=f"Quokka note {visibility} {status}",
                source=f"The quokka procedure, {visibility} {status} edition: wombatword.",
                commitment_numbers=(2,),
            )
    sign_in_reader(reader, login_as)
    expected = EXPECTED[reader]

    total, page = results(client, "quokka")
    assert total == len(expected)
    for visibility in VISIBILITIES:
        for status in STATUSES:
            title = f"Quokka note {visibility} {status}"
            assert (title in page) == ((visibility, status) in expected), title
            snippet = f"{visibility} {status} edition"
            assert (snippet in page) == ((visibility, status) in expected), snippet
    assert facet_count(page, "type", "implementation_note") == len(expected)
    assert facet_count(page, "state", "fr") == len(expected)
    assert facet_count(page, "commitments", "2") == len(expected)
    published = {pair for pair in expected if pair[1] == "published"}
    years = re.findall(r'year=(\d{4})[^>]*>[^<]*</a> <span class="count">\((\d+)\)', page)
    assert sum(int(count) for _, count in years) == len(published)
    # A word shared by every note: the count is the same however the reader asks.
    assert results(client, "wombatword")[0] == len(expected)
    assert results(client, "", type="implementation_note")[0] == len(expected)


def test_own_draft_review_is_found_by_its_author_only(client, login_as, make_user, make_document):
    author = make_user("civil_society")
    make_document("review", "public", "draft", author=author, title="Pangolin review draft")
    login_as("civil_society")
    assert results(client, "pangolin")[0] == 0
    other = client.application.test_client()
    from tests.conftest import sign_in

    sign_in(other, author.email)
    assert results(other, "pangolin")[0] == 1


@pytest.mark.parametrize("reader", sorted(EXPECTED))
def test_did_you_mean_never_offers_a_word_the_reader_may_not_read(
    reader, client, login_as, make_document
):
    make_document(visibility="public", title="Open licensing note", source="Licensing is open.")
    make_document(visibility="government", title="Confidential", source="The xylophonically word.")
    make_document(visibility="participants", title="Members", source="The marmaladish word.")
    make_document(
        visibility="public", status="draft", title="Draft", source="The zanzibarish word."
    )
    sign_in_reader(reader, login_as)
    readable_words = {
        "xylophonically": {"government_fr", "government_de", "secretariat"},
        "marmaladish": set(EXPECTED) - {"visitor"},
    }
    for word, readers in readable_words.items():
        _, page = results(client, word[:-1] + "x")  # one letter wrong
        assert (word in page) == (reader in readers), (word, reader)
    # Draft words are never suggested, even to those who may read the draft.
    _, page = results(client, "zanzibarisx")
    assert "zanzibarish" not in page
    _, page = results(client, "licensin")
    assert "Did you mean" in page and "licensing" in page


def test_suggestions_forget_words_of_a_document_made_less_visible(client, make_document):
    document = make_document(
        visibility="public", title="Formerly open", source="The gazpachoid text."
    )
    assert "gazpachoid" in results(client, "gazpachoix")[1]
    edit_document(document, source="The gazpachoid text.", visibility=Visibility.GOVERNMENT)
    _, page = results(client, "gazpachoix")
    assert "gazpachoid" not in page
    assert results(client, "gazpachoid")[0] == 0


def test_a_suggestion_is_a_word_written_in_a_readable_document_not_just_its_stem(
    client, make_document
):
    # "licensed" stays in the public vocabulary after its document is made government-only,
    # and shares its stem with "licensing" in a document that stays public.
    hidden = make_document(visibility="public", title="Note", source="Exports were licensed.")
    make_document(visibility="public", title="Open", source="Licensing is open.")
    assert suggestion(results(client, "licensedx")[1]) == "licensed"
    edit_document(hidden, source="Exports were licensed.", visibility=Visibility.GOVERNMENT)
    assert suggestion(results(client, "licensedx")[1]) != "licensed"
    # Typing a word whose stem readable documents hold finds them: nothing to correct.
    count, page = results(client, "licenses")
    assert count == 1 and "Did you mean" not in page


def test_a_swapped_pair_of_letters_counts_as_one_edit(client, make_document):
    make_document(visibility="public", title="Its", source="Its own; its rules; its list.")
    make_document(visibility="public", title="Other", source="One item only.")
    assert suggestion(results(client, "ietm")[1]) == "item"  # not the commoner "its"
    for n in range(3):
        make_document(visibility="public", title=f"Note {n}", source="We play it.")
    make_document(visibility="public", title="Tree", source="A palm.")
    assert suggestion(results(client, "paly")[1]) == "play"  # one swap beats one change


def test_words_no_longer_readable_do_not_change_the_suggestion(client, make_document):
    # Nineteen readable words one edit from "zorblax", and "zorblaz", in more documents.
    decoys = [f"zorbla{letter}" for letter in "abcdefghijklmnopqrt"]
    make_document(visibility="public", title="Decoys", source=" ".join(decoys) + ".")
    for n in range(2):
        make_document(visibility="public", title=f"Target {n}", source="Zorblaz here.")
    assert suggestion(results(client, "zorblax")[1]) == "zorblaz"
    # A word left in the public vocabulary by a document since made government-only.
    hidden = make_document(visibility="public", title="Secret", source="The zorblau plan.")
    edit_document(hidden, source="The zorblau plan.", visibility=Visibility.GOVERNMENT)
    assert results(client, "zorblau")[0] == 0
    assert suggestion(results(client, "zorblax")[1]) == "zorblaz"


def test_a_rare_form_of_a_common_stem_is_still_found(client, make_document):
    for n in range(21):
        make_document(visibility="public", title=f"Note {n}", source="Licensing rules.")
    make_document(visibility="public", title="Last", source="Exports licensed.")
    assert suggestion(results(client, "licensex")[1]) == "licensed"


def test_suggestions_follow_words_added_by_later_edits(client, make_document):
    document = make_document(visibility="public", title="Plain", source="Nothing special.")
    assert suggestion(results(client, "quokkaisx")[1]) is None
    edit_document(document, source="Something quokkaish now.")
    assert suggestion(results(client, "quokkaisx")[1]) == "quokkaish"


def test_published_document_is_searchable_as_soon_as_the_save_returns(client, login_as):
    from tests.conftest import csrf_token
    from tests.test_documents import NEW_NOTE, note_form

    login_as("government", "FR")
    form = note_form(csrf_token(client, NEW_NOTE), title="Armadillo licensing", visibility="public")
    assert client.post(NEW_NOTE, data=form).status_code == 302
    assert not search_index().is_behind()
    assert results(client.application.test_client(), "armadillo")[0] == 1


def test_a_search_asks_whether_the_index_is_behind_without_a_session(
    app, client, make_document, monkeypatch
):
    """One autocommit read before each search (read_now), not a session's checkout, ping,
    query and rollback."""
    make_document(title="Tapir note", source="Tapir text.")
    assert results(client, "tapir")[0] == 1

    def no_session() -> None:
        raise AssertionError("the index's session was opened to check the change log")

    monkeypatch.setattr(search_index(), "session_factory", no_session)
    assert not search_index().is_behind()
    assert results(client, "tapir")[0] == 1


def test_edit_withdraw_and_visibility_change_reach_the_index(client, make_document):
    document = make_document(title="Narwhal guidance", source="First text about narwhals.")
    visitor = client
    assert results(visitor, "narwhal")[0] == 1
    edit_document(
        document,
        title="Beluga guidance",
        source="Second text about belugas.",
        visibility=Visibility.PUBLIC,
    )
    assert results(visitor, "narwhal")[0] == 0
    assert results(visitor, "beluga")[0] == 1
    withdraw_document(CONTENT_LOADER, document)
    db.session.commit()
    assert results(visitor, "beluga")[0] == 0


def test_index_heals_when_a_commit_was_not_applied(app, client, make_document, other_process_index):
    results(client, "anything")  # builds the index
    app.config["SEARCH_APPLY_ON_COMMIT"] = False
    make_document(title="Capybara note", source="Capybara text.")
    assert search_index().is_behind()
    # Another process (a fresh handle on the same directory) sees the gap too.
    other = other_process_index()
    assert other.status().changes_behind == 1
    assert results(client, "capybara")[0] == 1  # the search page catches up first
    assert not other.is_behind()


def test_crash_during_indexing_after_commit_heals(app, client, make_document, monkeypatch, caplog):
    results(client, "anything")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(SearchIndex, "catch_up", crash)
    with caplog.at_level(logging.ERROR, logger="portal.search"):
        make_document(title="Okapi note", source="Okapi text.")
    assert "stay in the log" in caplog.text
    assert db.session.scalar(select(func.count()).select_from(Document)) == 1
    monkeypatch.undo()
    assert results(client, "okapi")[0] == 1


def test_two_processes_publishing_at_once_lose_nothing(
    app, database_url, tmp_path, other_process_index
):
    results(app.test_client(), "anything")
    script = tmp_path / "publish.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys
        from portal import create_app
        from portal.access import CONTENT_LOADER
        from portal.documents.services import DocumentFields, create_document
        from portal.extensions import db
        from portal.models import DocumentStatus, DocumentType, Visibility

        app = create_app({{"SQLALCHEMY_DATABASE_URI": {database_url!r},
                          "SEARCH_INDEX_DIR": {app.config["SEARCH_INDEX_DIR"]!r}}})
        with app.app_context():
            for i in range(8):
                fields = DocumentFields(title=f"Process {{sys.argv[1]}} page {{i}}",
                                        source="Concurrent publishing text.",
                                        visibility=Visibility.PUBLIC,
                                        status=DocumentStatus.PUBLISHED)
                create_document(CONTENT_LOADER, DocumentType.PAGE, fields)
                db.session.commit()
            db.engine.dispose()
    """)
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), name], env=env, stderr=subprocess.PIPE, text=True
        )
        for name in ("a", "b")
    ]
    for worker in workers:
        _, errors = worker.communicate(timeout=120)
        assert worker.returncode == 0, errors
    status = other_process_index().status()
    assert status.documents_in_database == status.documents_in_index == 16
    assert status.changes_behind == 0
    assert results(app.test_client(), "concurrent")[0] == 16


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced quote',
        "OR",
        "AND OR NOT",
        "x" * 10_000,
        "licensing\x00\x01\x1b[31m",
        "(((",
        ")",
        "title:",
        ":",
        "state:",
        "year:[2023 TO",
        "visibility:government",
        "author:1",
        "*",
        "lic*",
        "-",
        "+",
        "~2",
        "^3",
        "café ünïcödé 日本語",
        "<script>alert(1)</script>",
        "%",
        "\\",
    ],
)
def test_malformed_queries_get_a_message_and_a_200(client, make_document, query):
    make_document(title="Licensing note", source="Licensing text.")
    response = client.get("/search", query_string={"q": query})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page


def test_long_and_control_character_queries_say_what_happened(client):
    page = client.get("/search", query_string={"q": "a" * 10_000}).get_data(as_text=True)
    assert "longer than 500 characters" in page
    page = client.get("/search", query_string={"q": "lic\x01ensing"}).get_data(as_text=True)
    assert "Control characters" in page
    page = client.get("/search", query_string={"q": "OR"}).get_data(as_text=True)
    assert "no words to look for" in page
    page = client.get("/search", query_string={"q": "visibility:public"}).get_data(as_text=True)
    assert "is not a field you can search" in page


def test_query_syntax(client, make_document):
    make_document(
        title="Catch-all clause",
        source="A catch-all clause for cyber items.",
        state_code="DE",
        commitment_numbers=(1,),
    )
    make_document(
        title="End-use checks",
        source="Checks of the end use of cyber items.",
        state_code="FR",
        commitment_numbers=(3,),
    )
    assert results(client, "cyber")[0] == 2
    assert results(client, '"catch-all clause"')[0] == 1
    assert results(client, '"clause catch-all"')[0] == 0
    assert results(client, "catch OR checks")[0] == 2
    assert results(client, "cyber NOT catch")[0] == 1
    assert results(client, "cyber -catch")[0] == 1
    assert results(client, "cyber state:de")[0] == 1
    assert results(client, "cyber state:DE")[0] == 1
    assert results(client, "commitment:3")[0] == 1
    assert results(client, f"year:{__import__('datetime').date.today().year}")[0] == 2
    assert results(client, "type:implementation_note cyber")[0] == 2
    assert results(client, "title:checks")[0] == 1


def test_stemming_highlighting_and_escaped_snippets(client, make_document):
    make_document(
        title="Licences", source="We licensed exporters.\n\n`<script>alert(1)</script>` here."
    )
    total, page = results(client, "licensing")
    assert total == 1
    assert "<mark>licensed</mark>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    _, page = results(client, "script")
    assert "&lt;<mark>script</mark>&gt;" in page and "<script>alert" not in page


def test_documents_in_other_languages_use_their_stemmer(client, make_document):
    document = make_document(
        title="Contrôle des exportations", source="Les exportations sont contrôlées."
    )
    document.lang = "fr"
    edit_document(document, visibility=Visibility.PUBLIC, lang="fr")
    assert results(client, "exportation")[0] == 1
    assert results(client, "contrôlée")[0] == 1


def test_facet_links_narrow_and_sorting_and_pages(client, make_document):
    import datetime as dt

    for number in range(23):
        document = make_document(
            title=f"Otter note {number}",
            source="Otter text.",
            state_code="DE" if number % 2 else "FR",
        )
        document.published_on = dt.date(2024, 1, 1) + dt.timedelta(days=number)
        db.session.commit()
    for document in db.session.scalars(select(Document)):
        edit_document(document, source="Otter text, revised.", visibility=Visibility.PUBLIC)
    db.session.commit()
    total, page = results(client, "otter")
    assert total == 23 and facet_count(page, "state", "de") == 11
    assert "Page 1 of 3" in page
    narrowed, page = results(client, "otter", state="de")
    assert narrowed == 11 and "Otter note 1<" in page and "Otter note 2<" not in page
    _, page = results(client, "otter", sort="date")
    assert page.index("Otter note 22<") < page.index("Otter note 21<")
    _, third = results(client, "otter", page="3")
    assert len(re.findall(r"Otter note \d+<", third)) == 3
    assert results(client, "otter", page="99999999999999999999")[0] == 23


@pytest.mark.parametrize(
    ("text", "sort", "narrow"),
    [
        ("otter", "relevance", {}),
        ('"due diligence" & café/ü +x?=1', "date", {"state": "fr", "year": "2024"}),
        ("O'Brien (UK) @gov; ~50% #2 $3 !", "relevance", {"type": "review"}),
        ("", "relevance", {"commitments": "2"}),
    ],
)
def test_facet_links_are_what_url_for_writes(app, text, sort, narrow):
    from flask import url_for

    from portal.search.query import SearchOutcome, SearchRequest
    from portal.search.views import narrowing_links

    asked = SearchRequest(text=text, sort=sort, narrow=dict(narrow))
    facets = {"state": [("de", 3), ("fr", 1)], "type": [("review", 2)], "year": [("2024", 4)]}
    with app.test_request_context("/search"):
        links = narrowing_links(asked, SearchOutcome(facets=facets))
        for name, values in facets.items():
            assert [(value, count) for value, count, _ in links[name]] == values
            assert [url for *_, url in links[name]] == [
                url_for(
                    "search.page",
                    q=text or None,
                    sort=sort if sort != "relevance" else None,
                    **dict(narrow, **{name: value}),
                )
                for value, _ in values
            ]


def test_bodies_are_read_from_a_column_not_the_stored_fields(app, client, make_document):
    make_document(title="Tapir note", source="The tapir *walks* at night.")
    searcher = search_index().searcher()
    docnum = searcher.document_number(kind="document")
    stored = searcher.stored_fields(docnum)
    assert stored["heading"] == "Tapir note"
    # Listing hits loads the stored fields: they must not hold (and decompress) the body.
    assert "night" not in repr(stored)
    assert body_text(searcher, docnum) == "The tapir walks at night."
    assert "<mark>tapir</mark> walks at night" in results(client, "tapir")[1]


def test_small_segments_do_not_pile_up(app, client, make_document):
    for number in range(9):
        make_document(title=f"Okapi note {number}", source="Okapi text.")
        searcher = search_index().searcher()
        # Whoosh's own policy would leave up to five; each is searched for every word.
        assert len(searcher.leaf_searchers()) <= 2
    assert results(client, "okapi")[0] == 9


def test_rebuild_equals_incremental_index(app, client, make_document, make_user):
    author = make_user("industry")
    documents = [
        make_document(visibility=v, status=s, title=f"Lemur {v} {s}", source=f"Lemur text {v} {s}.")
        for v in VISIBILITIES
        for s in ("published", "draft")
    ]
    make_document(
        "practice_note", "participants", author=author, state_code=None, title="Lemur practice"
    )
    withdraw_document(CONTENT_LOADER, documents[0])
    edit_document(
        documents[1],
        title="Lemur renamed",
        source="Changed lemur text.",
        visibility=Visibility.PUBLIC,
    )

    def snapshot() -> tuple[list[dict], dict[str, frozenset[str]]]:
        searcher = search_index().searcher()
        entries = [
            {**searcher.stored_fields(docnum), "text": body_text(searcher, docnum)}
            for docnum in searcher.reader().all_doc_ids()
        ]
        entries = [entry for entry in entries if "words" not in entry]
        return sorted(entries, key=lambda entry: entry["id"]), read_vocabulary(searcher)

    incremental, words_seen = snapshot()
    assert app.test_cli_runner().invoke(args=["search", "rebuild", "--procs", "1"]).exit_code == 0
    rebuilt, words = snapshot()
    assert rebuilt == incremental
    assert len([e for e in incremental if e["id"] != META_ID]) == 7
    # The rebuilt vocabulary holds the words of what is published now; the incremental one
    # also keeps words of earlier versions (the corrector confirms every candidate).
    # (The only published public document was withdrawn; the edited one is a draft.)
    assert words == {
        "participants": {
            "lemur",
            "participants",
            "practice",
            "published",
            "some",
            "markdown",
            "text",
        },
        "government": {"lemur", "government", "published", "text"},
    }
    assert words_seen["public"] == {"lemur", "public", "published", "text"}
    assert all(words[v] <= words_seen[v] for v in words)


# Whoosh leaves the file handle of a TOC it refuses as corrupt for the garbage collector.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_deleted_or_corrupt_index_is_rebuilt_with_a_log_line(
    app, client, make_document, caplog, other_process_index
):
    make_document(title="Wallaby note", source="Wallaby text.")
    directory = Path(app.config["SEARCH_INDEX_DIR"])
    assert results(client, "wallaby")[0] == 1
    for damage in ("delete", "corrupt"):
        if damage == "delete":
            for path in directory.iterdir():
                path.unlink()
        else:
            for toc in directory.glob("*.toc"):
                toc.write_bytes(b"not an index")
        fresh = other_process_index()
        with caplog.at_level(logging.WARNING, logger="portal.search"):
            assert fresh.status().documents_in_index == 1
        assert "rebuild" in caplog.text or "building it" in caplog.text
        caplog.clear()


def test_search_cli_status_and_rebuild(app, make_document):
    make_document(title="Numbat", source="Numbat text.")
    runner = app.test_cli_runner()
    status = runner.invoke(args=["search", "status"])
    assert "Documents in the database: 1" in status.output
    assert "Documents in the index:    1" in status.output
    assert "Changes not yet applied:   0" in status.output
    app.config["SEARCH_APPLY_ON_COMMIT"] = False
    make_document(title="Bilby", source="Bilby text.")
    assert "Changes not yet applied:   1" in runner.invoke(args=["search", "status"]).output
    assert "Applied 1 changes." in runner.invoke(args=["search", "catch-up"]).output
    rebuilt = runner.invoke(args=["search", "rebuild", "--procs", "2"])
    assert rebuilt.exit_code == 0 and "Indexed 2 documents." in rebuilt.output
    assert db.session.scalar(select(func.max(SearchChange.id))) == search_index().last_applied()


def test_rebuilding_an_unusable_index_builds_it_once(app, make_document, tmp_path, monkeypatch):
    make_document(title="Quoll", source="Quoll text.")
    directory = tmp_path / "older-index"
    directory.mkdir()
    whoosh_index.create_in(directory, Schema(id=ID(unique=True, stored=True)))  # another schema
    fills = []
    fill = SearchIndex._fill
    monkeypatch.setattr(
        SearchIndex, "_fill", lambda self, *args, **kw: fills.append(1) or fill(self, *args, **kw)
    )
    index = SearchIndex(directory, lambda: Session(db.engine))
    try:
        assert index.rebuild(lambda items, total: items, procs=1) == 1
        assert len(fills) == 1  # not once to open it and again to rebuild it
        assert index.status().documents_in_index == 1
    finally:
        index.close()


def test_prepare_builds_an_index_of_another_layout_with_progress_and_nothing_else(
    app, make_document, tmp_path
):
    make_document(title="Quokka", source="Quokka text.")
    runner = app.test_cli_runner()
    assert "The search index is ready." in runner.invoke(args=["search", "prepare"]).output
    directory = tmp_path / "older-index"
    directory.mkdir()
    whoosh_index.create_in(directory, Schema(id=ID(unique=True, stored=True)))  # another schema
    app.extensions["search"].close()
    app.extensions["search"] = SearchIndex(directory, lambda: Session(db.engine))
    try:
        prepared = runner.invoke(args=["search", "prepare", "--procs", "1"])
        assert prepared.exit_code == 0, prepared.output
        assert "Indexing documents" in prepared.output and "Indexed 1 documents." in prepared.output
        assert search_index().status().documents_in_index == 1
        assert "ready" in runner.invoke(args=["search", "prepare"]).output
    finally:
        search_index().close()


def test_header_has_a_search_box(client):
    page = client.get("/").get_data(as_text=True)
    assert 'role="search"' in page and 'action="/search"' in page


def test_a_deleted_document_leaves_the_index(client, make_document):
    from portal.search.changes import log_search_change

    document = make_document(title="Dugong note", source="Dugong text.")
    assert results(client, "dugong")[0] == 1
    document_id = document.id
    document.current_revision = None
    db.session.flush()
    db.session.delete(document)
    log_search_change(document_id)
    db.session.commit()
    assert results(client, "dugong")[0] == 0
    assert search_index().status().documents_in_index == 0


def test_each_node_keeps_its_own_index_in_step_from_the_shared_log(app, make_document, tmp_path):
    make_document(title="Tapir note", source="Tapir text.")
    nodes = [SearchIndex(tmp_path / f"node-{n}", lambda: Session(db.engine)) for n in (1, 2)]
    try:
        assert all(node.status().documents_in_index == 1 for node in nodes)
        app.config["SEARCH_APPLY_ON_COMMIT"] = False
        make_document(title="Second tapir", source="Tapir again.")
        assert all(node.is_behind() for node in nodes)
        assert [node.catch_up() for node in nodes] == [1, 1]
        assert all(node.status() == nodes[0].status() for node in nodes)
        assert nodes[1].status().documents_in_index == 2
    finally:
        for node in nodes:
            node.close()


def test_reader_who_may_read_nothing_gets_nothing(client, make_document):
    make_document(visibility="government", title="Secret jackal note", source="Jackal text.")
    total, page = results(client, "jackal")
    assert total == 0 and "Secret jackal" not in page and 'data-facet="type"' not in page
    assert results(client, "", type="implementation_note")[0] == 0


def test_cached_readable_sets_match_the_full_policy_and_do_not_grow_per_reader(
    app, make_user, make_document
):
    from portal.access import search_filter
    from portal.search.query import readable_documents

    readers = [make_user("civil_society") for _ in range(4)]
    readers += [make_user("government", code) for code in ("FR", "DE")]
    for reader in readers[:2]:
        make_document("review", "participants", "draft", author=reader, title="Own draft")
    for visibility in VISIBILITIES:
        for status in STATUSES:
            make_document(visibility=visibility, status=status)
    searcher = search_index().searcher()
    for reader in readers:
        expected = set(searcher.docs_for_query(search_filter(reader)))
        assert readable_documents(searcher, reader) == expected
    # One cached set per role, not per reader.
    assert len(searcher.__dict__["_portal_docsets"]) == 2


def test_state_and_commitment_names_are_read_once_per_data_version(client, make_document):
    make_document(state_code="DE", commitment_numbers=(2,), source="Otters in the river.")
    first = results(client, "otter")[1]
    assert ">Germany</a>" in first and f">2. {commitments(2)[0].title}</a>" in first
    again = statements_on_this_thread(lambda: results(client, "otter"))
    assert not [sql for sql in again if "FROM states" in sql or "FROM commitments" in sql]
    # Renamed without an audited change (as the content loader does): kept until the next one.
    state("DE").name = "Federal Republic of Germany"
    db.session.commit()
    assert ">Germany</a>" in results(client, "otter")[1]
    make_document(state_code="FR", source="Another note.")
    assert ">Federal Republic of Germany</a>" in results(client, "otter")[1]


def test_type_names_follow_each_readers_language(client, make_document):
    make_document(source="Otters in the river.")
    english = client.get("/search?q=otter", headers={"Accept-Language": "en"}).text
    french = client.get("/search?q=otter", headers={"Accept-Language": "fr"}).text
    assert "Implementation note" in english and "Note de mise en œuvre" not in english
    assert "Note de mise en œuvre" in french
