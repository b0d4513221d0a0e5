"""Loading content/: idempotent, revisions on change, bad files reported and skipped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select

from portal.content import load_content
from portal.extensions import db
from portal.models import Document, DocumentStatus, DocumentType, Revision, Visibility
from tests.conftest import CONTENT_DIR

NOTE = """---
title: Licensing guidance
type: implementation_note
state: FR
commitments: [1, 4]
visibility: public
published: 2024-02-06
---
## Guidance

We review every licence for human-rights risk.
"""


def write(folder: Path, name: str, text: str | bytes) -> Path:
    """Write a document file under folder/documents."""
    path = folder / "documents" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def count(model: type) -> int:
    """Rows of a model."""
    return db.session.scalar(select(func.count()).select_from(model))


def run_load(app, folder: Path) -> Result:
    """`flask content load FOLDER` through the real CLI."""
    return app.test_cli_runner().invoke(args=["content", "load", str(folder)])


def test_loading_twice_creates_nothing_new(app, tmp_path):
    write(tmp_path, "fr-licensing.md", NOTE)
    first = load_content(tmp_path)
    assert first.created == ["fr-licensing"] and not first.errors
    second = load_content(tmp_path)
    assert second.unchanged == ["fr-licensing"] and not second.created and not second.revised
    assert count(Document) == 1 and count(Revision) == 1
    document = db.session.scalars(select(Document)).one()
    assert document.slug == "fr-licensing" and document.state.code == "FR"
    assert [c.number for c in document.commitments] == [1, 4]
    assert document.status is DocumentStatus.PUBLISHED
    assert str(document.published_on) == "2024-02-06"


def test_changed_file_creates_a_new_revision(app, tmp_path):
    path = write(tmp_path, "fr-licensing.md", NOTE)
    load_content(tmp_path)
    path.write_text(NOTE.replace("every licence", "every licence and brokering service"))
    report = load_content(tmp_path)
    assert report.revised == ["fr-licensing"]
    document = db.session.scalars(select(Document)).one()
    assert document.current_revision.number == 2
    assert "brokering service" in document.current_revision.html
    assert document.current_revision.summary == "Loaded from fr-licensing.md"


def test_metadata_change_in_file_updates_the_document(app, tmp_path):
    path = write(tmp_path, "fr-licensing.md", NOTE)
    load_content(tmp_path)
    path.write_text(NOTE.replace("visibility: public", "visibility: government"))
    assert load_content(tmp_path).revised == ["fr-licensing"]
    db.session.expire_all()
    assert db.session.scalars(select(Document)).one().visibility is Visibility.GOVERNMENT


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("no front matter at all", "no front matter"),
        ("---\ntitle: [unclosed\n---\nbody", "not valid YAML"),
        (NOTE.replace("type: implementation_note", "type: memo"), "type must be one of"),
        (NOTE.replace("state: FR", "state: ZZ"), "state 'ZZ' is not in states.yml"),
        (NOTE.replace("state: FR\n", ""), "needs a state"),
        (NOTE.replace("visibility: public", "visibility: secret"), "visibility must be one of"),
        (NOTE.replace("[1, 4]", "[1, 9]"), "do not exist"),
        (NOTE.replace("published: 2024-02-06", "published: soon"), "published must be a date"),
        (NOTE.replace("title: Licensing guidance", "titel: Licensing guidance"), "unknown"),
        (NOTE.replace("title: Licensing guidance\n", ""), "title is required"),
        (NOTE.replace("---\n## Guidance", "slug: Bad Slug!\n---\n## Guidance"), "slug"),
        ("---\n- a list\n---\nbody", "must be a mapping"),
    ],
)
def test_bad_file_is_reported_with_path_and_reason_and_the_rest_loads(app, tmp_path, text, reason):
    write(tmp_path, "a-good.md", NOTE)
    bad = write(tmp_path, "b-bad.md", text)
    write(tmp_path, "c-good.md", NOTE.replace("Licensing guidance", "Second note"))
    result = run_load(app, tmp_path)
    assert result.exit_code == 1
    assert f"skipped {bad}" in result.output and reason in result.output
    assert "2 created" in result.output and "1 skipped" in result.output
    assert set(db.session.scalars(select(Document.slug))) == {"a-good", "c-good"}


def test_invalid_utf8_is_reported_not_crashed(app, tmp_path):
    write(tmp_path, "latin1.md", NOTE.replace("guidance", "guidance caf\xe9").encode("latin-1"))
    report = load_content(tmp_path)
    assert report.errors and "not valid UTF-8" in report.errors[0][1]
    assert count(Document) == 0


def test_two_files_with_the_same_slug_are_reported(app, tmp_path):
    write(tmp_path, "one.md", NOTE.replace("---\n## Guidance", "slug: shared\n---\n## Guidance"))
    write(tmp_path, "two.md", NOTE.replace("---\n## Guidance", "slug: shared\n---\n## Guidance"))
    report = load_content(tmp_path)
    assert report.created == ["shared"]
    assert "already used by" in report.errors[0][1]


def test_canonical_content_loads_completely_and_idempotently(app):
    result = run_load(app, CONTENT_DIR)
    assert result.exit_code == 0, result.output
    assert "0 skipped" in result.output
    documents = db.session.scalars(select(Document)).all()
    assert len(documents) >= 12
    assert {d.type for d in documents} == set(DocumentType)
    assert {d.visibility for d in documents} == set(Visibility)
    assert {c.number for d in documents for c in d.commitments} == {1, 2, 3, 4, 5, 6}
    assert len({d.state_id for d in documents if d.state_id}) >= 5
    plenary = [d for d in documents if d.type is DocumentType.PLENARY_OUTCOME]
    assert any("Washington" in d.title and "2023" in d.title for d in plenary)

    again = run_load(app, CONTENT_DIR)
    assert f"{len(documents)} unchanged" in again.output
    assert count(Revision) == len(documents)


def test_loading_the_content_folder_copy_then_editing_it(app, tmp_path):
    shutil.copytree(CONTENT_DIR, tmp_path / "content")
    folder = tmp_path / "content"
    assert run_load(app, folder).exit_code == 0
    states = app.test_cli_runner().invoke(args=["states", "list"])
    assert "XK  Kosovo" in states.output and states.output.count("\n") == 25


def test_loader_does_not_take_over_a_document_written_on_the_site(app, tmp_path, make_document):
    site = make_document("review", title="Review of France", commitment_numbers=(1,))
    write(tmp_path, f"{site.slug}.md", NOTE)
    report = load_content(tmp_path)
    assert "written on the site" in report.errors[0][1]
    db.session.expire_all()
    assert site.current_revision.number == 1 and site.title == "Review of France"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            NOTE.replace("type: implementation_note\nstate: FR", "type: review\nstate: FR").replace(
                "commitments: [1, 4]\n", ""
            ),
            "at least one commitment",
        ),
        (NOTE.split("## Guidance")[0] + "   \n", "has no text"),
        (NOTE.replace("state: FR", "state: FR\norganisation: [a, b]"), "organisation must be"),
        (NOTE.replace("---\n## Guidance", "slug: new\n---\n## Guidance"), "reserved"),
    ],
)
def test_files_invalid_for_their_type_are_skipped_and_the_rest_loads(app, tmp_path, text, reason):
    bad = write(tmp_path, "a-bad.md", text)
    write(tmp_path, "b-good.md", NOTE)
    report = load_content(tmp_path)
    assert report.errors == [(bad, report.errors[0][1])] and reason in report.errors[0][1]
    assert report.created == ["b-good"]
