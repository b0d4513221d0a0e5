"""Exports: the content/ tree (CLI and zip) loads back into an empty database unchanged, holds
only what its reader may read; action items as CSV and minutes as Markdown follow the plenary
pages' rules; CSV cells never run as spreadsheet formulas."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.access import CONTENT_LOADER, Action, can
from portal.attachments.services import FileChanges, change_files
from portal.attachments.storage import stage
from portal.content import load_content
from portal.documents.services import (
    DocumentFields,
    create_document,
    slugify,
    withdraw_document,
)
from portal.exports.csv_files import safe_cell
from portal.exports.markdown_tree import attachment_names
from portal.extensions import db
from portal.models import (
    ActionStatus,
    Assessment,
    Attachment,
    Document,
    DocumentStatus,
    DocumentType,
    MinutesStatus,
    Plenary,
    State,
    Visibility,
)
from portal.plenaries.actions import create_action_item
from portal.plenaries.services import (
    PlenaryFields,
    amend_minutes,
    circulate_minutes,
    create_plenary,
    record_past_adoption,
    save_minutes,
)
from tests.conftest import (
    CONTENT_DIR,
    close_app,
    commitments,
    edit_document,
    migrated_app,
    sign_in,
    state,
)

LATER = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=20)


# -- Building a varied portal ----------------------------------------------------------------


def write(
    doc_type: DocumentType,
    title: str,
    *,
    visibility: Visibility = Visibility.PUBLIC,
    status: DocumentStatus = DocumentStatus.PUBLISHED,
    code: str | None = "FR",
    numbers: tuple[int, ...] = (1,),
    source: str = "Some **Markdown** text.\n",
    **extra: Any,
) -> Document:
    """A document created through the service as the content loader, committed."""
    document = create_document(
        CONTENT_LOADER,
        doc_type,
        DocumentFields(
            title=title,
            source=source,
            visibility=visibility,
            status=status,
            state=state(code) if code else None,
            commitments=commitments(*numbers),
            **extra,
        ),
        slug=slugify(title),
    )
    db.session.commit()
    return document


def attach(document: Document, name: str, data: bytes) -> None:
    """Attach a file through the service and commit."""
    change_files(CONTENT_LOADER, document, FileChanges(add=[stage(io.BytesIO(data), name)]))
    db.session.commit()


def plenary(
    number: int,
    visibility: Visibility = Visibility.PUBLIC,
    participants: tuple[str, ...] = ("FR", "DE", "NO"),
    minutes: str | None = "### Opening\n\nThe plenary opened.",
) -> Plenary:
    """A plenary recorded through the services as the content loader, with draft minutes."""
    record = create_plenary(
        CONTENT_LOADER,
        PlenaryFields(
            number=number,
            title=f"Plenary {number}: Paris",
            starts_on=dt.date(2024, 10, 1),
            ends_on=dt.date(2024, 10, 2),
            place="Paris, France",
            host_state=state(participants[0]),
            participants=[state(code) for code in participants],
            visibility=visibility,
            agenda_source="1. Opening\n2. Licensing",
            decisions_source="The plenary agreed a work plan.",
        ),
    )
    if minutes:
        save_minutes(CONTENT_LOADER, record, minutes)
    db.session.commit()
    return record


def varied_portal() -> None:
    """Every type, visibility and status; languages, organisations, ratings, a response,
    an edit, a withdrawal, a file, and plenaries at each step of the minutes' life cycle."""
    write(
        DocumentType.IMPLEMENTATION_NOTE,
        'Critères: "licences" # NO - 2024',
        visibility=Visibility.GOVERNMENT,
        numbers=(1, 4),
        source="Texte en **français**, café.\r\n\r\n| a | b |\n|---|---|\n| 1 | 2 |\n",
        lang="fr",
        published_on=dt.date(2024, 3, 5),
    )
    write(DocumentType.LESSON_LEARNED, "Lessons from Germany", code="DE", status="draft")
    risk = write(DocumentType.EMERGING_RISK, "Brokers", code="EE", visibility=Visibility.GOVERNMENT)
    withdraw_document(CONTENT_LOADER, risk, "outdated")
    db.session.commit()
    note = write(
        DocumentType.PRACTICE_NOTE,
        "Due diligence checklist",
        code=None,
        numbers=(5,),
        visibility=Visibility.PARTICIPANTS,
        organisation="Meridian Systems",
        source="---\nStarts with a rule.\n",
    )
    edit_document(note, source="Second revision of the checklist.\n")
    attach(note, "checklist (v2)?.csv", b"step,done\n=cmd,no\n")
    attach(note, "guidance.csv", b"a,b\n1,2\n")
    review = write(
        DocumentType.REVIEW,
        "Review of the United Kingdom",
        code="GB",
        numbers=(1, 2),
        organisation="Centre for Rights",
        assessment=Assessment.SUBSTANTIAL,
        published_on=dt.date(2025, 9, 30),
    )
    write(
        DocumentType.RESPONSE,
        "Response of the United Kingdom",
        code="GB",
        numbers=(1, 2),
        visibility=Visibility.PARTICIPANTS,
        responds_to=review,
    )
    write(
        DocumentType.SELF_ASSESSMENT,
        "Self-assessment of France",
        numbers=(2,),
        visibility=Visibility.GOVERNMENT,
        assessment=Assessment.COMPLETE,
    )
    write(DocumentType.PAGE, "About", code=None, numbers=())
    write(DocumentType.PLENARY_OUTCOME, "Outcome of plenary 2", code=None, numbers=(1, 3))

    adopted = plenary(2)
    create_action_item(
        CONTENT_LOADER, adopted, "=Report on licensing", [state("NO"), state("FR")],
        dt.date(2025, 1, 31), ActionStatus.IN_PROGRESS,
    )  # fmt: skip
    create_action_item(CONTENT_LOADER, adopted, "Publish the outcome", [], None, ActionStatus.DONE)
    record_past_adoption(CONTENT_LOADER, adopted, dt.date(2024, 11, 2))
    amend_minutes(CONTENT_LOADER, adopted, "### Opening\n\nThe plenary opened at 10:00.", "Time")
    circulate_minutes(CONTENT_LOADER, plenary(3, Visibility.PARTICIPANTS), LATER)
    plenary(4, Visibility.GOVERNMENT)
    plenary(5, minutes=None)
    db.session.commit()


# -- Reading a portal back ---------------------------------------------------------------------


def documents_snapshot() -> dict[str, dict[str, Any]]:
    """Every field content/ carries, per document slug."""
    snapshot = {}
    for d in db.session.scalars(select(Document)):
        revision = d.current_revision
        snapshot[d.slug] = {
            "title": d.title,
            "type": d.type,
            "state": d.state.code if d.state else None,
            "organisation": d.organisation,
            "commitments": [c.number for c in d.commitments],
            "visibility": d.visibility,
            "status": d.status,
            "published": d.published_on,
            "lang": d.lang,
            "assessment": d.assessment,
            "responds_to": d.responds_to.slug if d.responds_to else None,
            "source": revision.source.replace("\r\n", "\n"),
            # Names the loader would refuse are made plain (see the test of names).
            "files": sorted(a.sha256 for a in revision.attachments),
        }
    return snapshot


def plenaries_snapshot() -> dict[int, dict[str, Any]]:
    """Every field content/plenaries carries, per plenary number."""
    snapshot = {}
    for p in db.session.scalars(select(Plenary)):
        snapshot[p.number] = {
            "record": (p.title, p.starts_on, p.ends_on, p.place, p.visibility, p.agenda_source),
            "decisions": p.decisions_source,
            "host": p.host_state.code if p.host_state else None,
            "participants": sorted(s.code for s in p.participants),
            "minutes": p.minutes_status,
            "text": p.current_minutes.source if p.current_minutes else None,
            "adopted": p.adopted_at.date() if p.adopted_at else None,
            "deadline": p.comment_deadline.replace(tzinfo=None) if p.comment_deadline else None,
            "items": sorted(
                (i.text, tuple(sorted(s.code for s in i.owners)), i.due_on, i.status)
                for i in p.action_items
            ),
        }
    return snapshot


def snapshot(app: Flask) -> tuple[dict[str, Any], dict[int, Any]]:
    """Documents and plenaries of `app`'s database."""
    with app.app_context():
        return documents_snapshot(), plenaries_snapshot()


@pytest.fixture
def empty_portal(tmp_path: Path) -> Iterator[Callable[[], Flask]]:
    """make(): an app on a new, migrated SQLite database with nothing in it."""
    made: list[Flask] = []

    def make() -> Flask:
        number = len(made)
        url = f"sqlite:///{tmp_path / f'empty-{number}.sqlite3'}"
        app = migrated_app(url, tmp_path / f"empty-{number}")
        made.append(app)
        return app

    yield make
    for app in made:
        close_app(app)


def cli(app: Flask, *args: str) -> Any:
    """Run a `flask` command against `app`."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def load_into(app: Flask, directory: Path) -> None:
    """`flask content load DIRECTORY`, which must load every file."""
    result = cli(app, "content", "load", str(directory))
    assert result.exit_code == 0, result.output
    assert "0 skipped" in result.output


def download_zip(client: FlaskClient) -> Any:
    """GET the zip export, read it and close the response (and its temporary file)."""
    response = client.get("/export/documents.zip")
    response.get_data()
    response.close()
    return response


def unzip(data: bytes, target: Path) -> Path:
    """Extract a zip export; the folder it holds."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(target)
        roots = {name.split("/", 1)[0] for name in archive.namelist()}
    assert len(roots) == 1
    return target / roots.pop()


def zip_texts(data: bytes) -> dict[str, str]:
    """The Markdown and YAML files of a zip export, by path below its folder."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            name.split("/", 1)[1]: archive.read(name).decode()
            for name in archive.namelist()
            if name.endswith((".md", ".yml"))
        }


def exported_slugs(texts: dict[str, str]) -> set[str]:
    """The document slugs of an export (file names, which the loader uses as slugs)."""
    return {Path(path).stem for path in texts if path.startswith("documents/")}


# -- The round trip ----------------------------------------------------------------------------


def test_cli_export_loads_into_an_empty_database_as_the_same_documents_and_plenaries(
    app: Flask, tmp_path: Path, empty_portal: Callable[[], Flask]
) -> None:
    varied_portal()
    result = cli(app, "content", "export", str(tmp_path / "tree"))
    assert result.exit_code == 0, result.output
    assert "Exporting 9 documents and 4 plenaries" in result.output
    copy = empty_portal()
    load_into(copy, tmp_path / "tree")

    documents, plenaries = snapshot(copy)
    assert documents == documents_snapshot()
    assert plenaries == plenaries_snapshot()
    assert documents["criteres-licences-no-2024"]["lang"] == "fr"
    with copy.app_context():
        files = db.session.scalars(select(Document).where(Document.slug.like("due-%"))).one()
        names = {a.filename for a in files.current_revision.attachments}
    # "checklist (v2)?.csv" is stored as "checklist (v2)_.csv"; content/ takes plain names.
    assert names == {"checklist _v2__.csv", "guidance.csv"}
    assert plenaries[3]["minutes"] is MinutesStatus.CIRCULATED
    assert (tmp_path / "tree" / "documents" / "due-diligence-checklist" / "guidance.csv").exists()


def test_zip_export_of_the_secretariat_loads_into_an_empty_database_unchanged(
    app: Flask, client: FlaskClient, login_as: Callable[..., Any], tmp_path: Path,
    empty_portal: Callable[[], Flask],
) -> None:  # fmt: skip
    varied_portal()
    login_as("secretariat")
    response = download_zip(client)
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=echri-content-")
    assert disposition.endswith(".zip")
    assert response.headers["Cache-Control"] == "private, no-store"
    tree = unzip(response.get_data(), tmp_path / "unzipped")
    copy = empty_portal()
    load_into(copy, tree)
    assert snapshot(copy) == (documents_snapshot(), plenaries_snapshot())


def test_the_repositorys_content_folder_round_trips(
    app: Flask, tmp_path: Path, empty_portal: Callable[[], Flask]
) -> None:
    report = load_content(CONTENT_DIR)
    assert not report.errors
    assert cli(app, "content", "export", str(tmp_path / "tree")).exit_code == 0
    copy = empty_portal()
    load_into(copy, tmp_path / "tree")
    documents, plenaries = snapshot(copy)
    assert documents == documents_snapshot()
    assert plenaries == plenaries_snapshot()
    assert set(documents) == {p.stem for p in (CONTENT_DIR / "documents").rglob("*.md")}
    assert set(plenaries) == {1}


def test_states_and_commitments_travel_with_the_documents(
    app: Flask, tmp_path: Path, empty_portal: Callable[[], Flask]
) -> None:
    write(DocumentType.IMPLEMENTATION_NOTE, "Note of Norway", code="NO", numbers=(6,))
    assert cli(app, "content", "export", str(tmp_path / "tree")).exit_code == 0
    copy = empty_portal()
    load_into(copy, tmp_path / "tree")
    with app.app_context():
        states = [(s.code, s.name, s.joined_on) for s in db.session.scalars(select(State))]
    with copy.app_context():
        assert sorted(states) == sorted(
            (s.code, s.name, s.joined_on) for s in db.session.scalars(select(State))
        )
        loaded = db.session.scalars(select(Document)).one()
        assert (loaded.state.code, [c.number for c in loaded.commitments]) == ("NO", [6])


def test_export_refuses_a_folder_that_is_not_empty(app: Flask, tmp_path: Path) -> None:
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "old.md").write_text("stale")
    result = cli(app, "content", "export", str(tmp_path / "tree"))
    assert result.exit_code != 0
    assert "is not empty" in result.output


def test_export_as_a_visitor_or_an_account_holds_only_what_they_may_read(
    app: Flask, tmp_path: Path, make_user: Callable[..., Any]
) -> None:
    varied_portal()
    industry = make_user("industry")
    assert cli(app, "content", "export", "--as-visitor", str(tmp_path / "v")).exit_code == 0
    result = cli(app, "content", "export", "--as", industry.email, str(tmp_path / "i"))
    assert result.exit_code == 0, result.output
    for folder, user in (("v", None), ("i", industry)):
        slugs = {p.stem for p in (tmp_path / folder / "documents").rglob("*.md")}
        expected = {
            d.slug for d in db.session.scalars(select(Document)) if can(user, Action.READ, d)
        }
        assert slugs == expected
    assert "criteres-licences-no-2024" not in {
        p.stem for p in (tmp_path / "i" / "documents").rglob("*.md")
    }
    assert cli(
        app, "content", "export", "--as", "nobody@example.org", str(tmp_path / "x")
    ).exit_code


def test_a_response_to_a_withdrawn_review_is_left_out_and_said(app: Flask, tmp_path: Path) -> None:
    review = write(
        DocumentType.REVIEW, "Review", code="GB", organisation="CTRA", assessment="limited"
    )
    write(DocumentType.RESPONSE, "Answer", code="GB", responds_to=review)
    withdraw_document(CONTENT_LOADER, review, "superseded")
    db.session.commit()
    result = cli(app, "content", "export", str(tmp_path / "tree"))
    assert result.exit_code == 0
    assert "answer: not exported" in result.output
    assert not (tmp_path / "tree" / "documents" / "answer.md").exists()
    assert (tmp_path / "tree" / "documents" / "review.md").exists()


# -- Who gets what in the zip ------------------------------------------------------------------

ROLES = [
    (None, None),
    ("civil_society", None),
    ("industry", None),
    ("government", "FR"),
    ("government", "DE"),
    ("secretariat", None),
]


@pytest.mark.parametrize(("role", "code"), ROLES, ids=[f"{r}-{c}" for r, c in ROLES])
def test_zip_holds_exactly_the_documents_and_plenaries_the_reader_may_read(
    app: Flask, client: FlaskClient, make_user: Callable[..., Any], role: str | None,
    code: str | None,
) -> None:  # fmt: skip
    user = make_user(role, code) if role else None
    for visibility in Visibility:
        for status in DocumentStatus:
            write(
                DocumentType.IMPLEMENTATION_NOTE,
                f"Secret {visibility.value} {status.value}",
                visibility=visibility,
                status=status,
            )
        plenary(10 + list(Visibility).index(visibility), visibility)
    if user is not None:
        assert sign_in(client, user.email).status_code == 302
    texts = zip_texts(download_zip(client).get_data())

    expected = {d.slug for d in db.session.scalars(select(Document)) if can(user, Action.READ, d)}
    assert exported_slugs(texts) == expected
    readable = {v.value for v in Visibility if can(user, Action.READ, _doc(v))}
    plenary_files = [text for path, text in texts.items() if path.startswith("plenaries/")]
    assert sorted(p.split("visibility: ")[1].split("\n")[0] for p in plenary_files) == sorted(
        readable
    )
    documents = "".join(t for p, t in texts.items() if p.startswith("documents/"))
    for visibility in set(Visibility) - {Visibility(v) for v in readable}:
        assert f"visibility: {visibility.value}" not in documents
        assert f"Secret {visibility.value}" not in "".join(texts.values())
    if role is None:
        assert "status: draft" not in documents and "status: withdrawn" not in documents


def _doc(visibility: Visibility) -> Document:
    return Document(visibility=visibility, status=DocumentStatus.PUBLISHED, type=DocumentType.PAGE)


def test_draft_minutes_leave_the_zip_only_for_those_who_may_read_them(
    app: Flask, client: FlaskClient, make_user: Callable[..., Any]
) -> None:
    circulate_minutes(CONTENT_LOADER, plenary(3, Visibility.PARTICIPANTS), LATER)
    db.session.commit()
    industry = make_user("industry")
    assert sign_in(client, industry.email).status_code == 302
    (text,) = (t for p, t in zip_texts(download_zip(client).data).items()
               if p.startswith("plenaries/"))  # fmt: skip
    assert "minutes: draft" in text
    assert "The plenary opened" not in text and "## Minutes" not in text
    assert "## Agenda" in text and "## Decisions" in text


# -- Action items as CSV -----------------------------------------------------------------------


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_action_items_csv_follows_the_plenary_pages(
    app: Flask, client: FlaskClient, login_as: Callable[..., Any]
) -> None:
    public, participants, government = (
        plenary(1), plenary(2, Visibility.PARTICIPANTS), plenary(3, Visibility.GOVERNMENT)
    )  # fmt: skip
    for record in (public, participants, government):
        create_action_item(CONTENT_LOADER, record, f"Item of {record.number}", [state("FR")])
    db.session.commit()

    def texts(path: str) -> list[str]:
        response = client.get(path)
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert response.headers["Cache-Control"] == "private, no-store"
        return [row["action"] for row in csv_rows(response.get_data(as_text=True))]

    assert texts("/plenaries/action-items.csv") == ["Item of 1"]
    assert texts("/plenaries/1/action-items.csv") == ["Item of 1"]
    assert client.get("/plenaries/2/action-items.csv").status_code == 404
    login_as("industry")
    assert texts("/plenaries/action-items.csv") == ["Item of 1", "Item of 2"]
    assert client.get("/plenaries/3/action-items.csv").status_code == 404
    assert client.get("/plenaries/99/action-items.csv").status_code == 404
    login_as("government", "DE")
    assert texts("/plenaries/3/action-items.csv") == ["Item of 3"]
    row = csv_rows(client.get("/plenaries/3/action-items.csv").get_data(as_text=True))[0]
    assert (row["plenary"], row["owners"], row["owner_names"], row["status"]) == (
        "3", "FR", "France", "open",
    )  # fmt: skip
    assert row["link"].endswith("/plenaries/3#item-" + row["link"].rsplit("-", 1)[1])


def test_csv_cells_that_a_spreadsheet_would_run_start_with_a_quote(
    app: Flask, client: FlaskClient
) -> None:
    record = plenary(1)
    texts = ['=HYPERLINK("http://evil")', "+1+2", "-2+3", "@SUM(A1)", "Plain -1"]
    for text in texts:
        create_action_item(CONTENT_LOADER, record, text, [])
    db.session.add(State(code="ZZ", name="=cmd|' /C calc'!A0", joined_on=dt.date(2024, 1, 1)))
    db.session.commit()

    rows = csv_rows(client.get("/plenaries/action-items.csv").get_data(as_text=True))
    assert [row["action"] for row in rows] == [
        '\'=HYPERLINK("http://evil")',
        "'+1+2",
        "'-2+3",
        "'@SUM(A1)",
        "Plain -1",
    ]
    matrix = client.get("/commitments/matrix.csv").get_data(as_text=True)
    assert "'=cmd|' /C calc'!A0" in matrix
    assert ",=cmd" not in matrix
    assert safe_cell(-5) == -5 and safe_cell("-5") == "'-5" and safe_cell("a=b") == "a=b"


# -- Minutes as Markdown -----------------------------------------------------------------------


def test_minutes_markdown_has_the_record_the_adopted_minutes_and_the_action_items(
    app: Flask, client: FlaskClient
) -> None:
    record = plenary(2)
    create_action_item(CONTENT_LOADER, record, "Report | on licensing", [state("NO")],
                       dt.date(2020, 1, 31))  # fmt: skip
    record_past_adoption(CONTENT_LOADER, record, dt.date(2024, 11, 2))
    amend_minutes(CONTENT_LOADER, record, "### Opening\n\nOpened at 10:00.", "The time")
    db.session.commit()

    response = client.get("/plenaries/2/minutes.md")
    assert response.status_code == 200
    assert response.mimetype == "text/markdown"
    assert 'filename="echri-plenary-2-minutes.md"' in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("# Plenary 2: Paris\n")
    for expected in (
        "- **Place:** Paris, France",
        "- **Participating states:** France, Germany, Norway",
        "Adopted 2024-11-02 00:00 UTC",
        "Opened at 10:00.",
        ": The time",
        "1. Opening",
        "The plenary agreed a work plan.",
        "| Report \\| on licensing | Norway | 2020-01-31 | Open (overdue) |",
    ):
        assert expected in text, expected


@pytest.mark.parametrize(
    ("role", "code", "reads_draft"),
    [
        (None, None, False),
        ("industry", None, False),
        ("government", "ES", False),
        ("government", "DE", True),
        ("secretariat", None, True),
    ],
)
def test_circulated_draft_minutes_are_in_the_markdown_only_for_who_may_read_them(
    app: Flask, client: FlaskClient, make_user: Callable[..., Any], role: str | None,
    code: str | None, reads_draft: bool,
) -> None:  # fmt: skip
    circulate_minutes(CONTENT_LOADER, plenary(3), LATER)
    db.session.commit()
    if role:
        assert sign_in(client, make_user(role, code).email).status_code == 302
    text = client.get("/plenaries/3/minutes.md").get_data(as_text=True)
    assert ("The plenary opened." in text) is reads_draft
    assert ("The minutes have not been adopted yet." in text) is not reads_draft
    assert ("Draft minutes (circulated)" in text) is reads_draft


def test_minutes_markdown_of_a_plenary_the_reader_may_not_read_is_not_found(
    app: Flask, client: FlaskClient, login_as: Callable[..., Any]
) -> None:
    plenary(4, Visibility.GOVERNMENT)
    assert client.get("/plenaries/4/minutes.md").status_code == 404
    login_as("civil_society")
    assert client.get("/plenaries/4/minutes.md").status_code == 404
    assert client.get("/plenaries/4/action-items.csv").status_code == 404


# -- Links -------------------------------------------------------------------------------------


def test_pages_link_to_their_exports(app: Flask, client: FlaskClient) -> None:
    plenary(1)
    assert 'href="/export/documents.zip"' in client.get("/documents/").get_data(as_text=True)
    page = client.get("/plenaries/1").get_data(as_text=True)
    assert 'href="/plenaries/1/action-items.csv"' in page
    assert 'href="/plenaries/1/minutes.md"' in page
    assert 'href="/plenaries/action-items.csv"' in client.get("/plenaries/").get_data(as_text=True)


def test_loading_a_response_to_an_unpublished_review_is_reported_not_a_crash(
    app: Flask, tmp_path: Path
) -> None:
    documents = tmp_path / "tree" / "documents"
    documents.mkdir(parents=True)
    (documents / "review.md").write_text(
        "---\ntitle: Review\ntype: review\nstate: GB\ncommitments: [1]\nassessment: limited\n"
        "visibility: public\nstatus: withdrawn\n---\nText.\n"
    )
    (documents / "response.md").write_text(
        "---\ntitle: Response\ntype: response\nstate: GB\nresponds_to: review\nvisibility: public\n"
        "---\nText.\n"
    )
    report = load_content(tmp_path / "tree")
    assert report.created == ["review"]
    assert [(p.name, reason) for p, reason in report.errors] == [
        ("response.md", "responds_to names a review that is not published")
    ]


def test_minutes_whose_silence_deadline_passed_are_exported_adopted(
    app: Flask, tmp_path: Path, empty_portal: Callable[[], Flask]
) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    record = plenary(3)
    circulate_minutes(CONTENT_LOADER, record, past + dt.timedelta(days=14), now=past)
    db.session.commit()
    assert cli(app, "content", "export", str(tmp_path / "tree")).exit_code == 0
    text = next((tmp_path / "tree" / "plenaries").glob("3-*.md")).read_text()
    assert "minutes: adopted" in text
    copy = empty_portal()
    load_into(copy, tmp_path / "tree")
    assert snapshot(copy)[1][3]["minutes"] is MinutesStatus.ADOPTED


def test_export_warns_of_what_the_loader_would_read_differently(app: Flask, tmp_path: Path) -> None:
    plenary(6, minutes="## Opening\n\nThe plenary opened.")
    note = write(DocumentType.IMPLEMENTATION_NOTE, "With a file")
    attach(note, "gone.csv", b"a,b\n")
    for attachment in note.current_revision.attachments:
        (Path(app.config["FILES_DIR"]) / attachment.storage_name).unlink()
    result = cli(app, "content", "export", str(tmp_path / "tree"))
    assert result.exit_code == 0
    assert "plenary 6: the minutes section has a level-2 heading" in result.output
    assert "with-a-file: gone.csv is missing from FILES_DIR" in result.output
    assert (tmp_path / "tree" / "documents" / "with-a-file.md").exists()


def test_file_names_become_plain_and_unique_in_their_folder() -> None:
    files = [
        Attachment(filename=name)
        for name in ("Guidance.pdf", "guidance.pdf", "notes (v2)?.csv", f"{'x' * 130}.pdf")
    ]
    assert attachment_names(files) == [
        "Guidance.pdf", "guidance-2.pdf", "notes _v2_.csv", f"{'x' * 116}.pdf",
    ]  # fmt: skip
