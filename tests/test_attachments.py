"""Attached files: kinds read from content, the document's access rules on every download,
revisions that keep their files, searchable text, atomic storage, audit and content load."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from portal.access import CONTENT_LOADER
from portal.attachments import storage
from portal.attachments.kinds import UnsupportedFile, sniff
from portal.attachments.services import FileChanges, change_files
from portal.attachments.storage import FileTooLarge, stage
from portal.content import LoadReport, load_document_file
from portal.extensions import db
from portal.models import Attachment, AuditEvent, Document, DocumentType, Revision
from tests.conftest import csrf_token, edit_document
from tests.test_access_policy import CELLS, READS_FRENCH_NOTE, become, reader_account

NEW_NOTE = "/documents/new?type=implementation_note"
READERS = [
    "visitor",
    "unapproved",
    "civil_society",
    "industry",
    "government",
    "other_government",
    "secretariat",
]

# -- Small real files of every accepted kind, built here --------------------------------


def make_pdf(text: str) -> bytes:
    """A minimal valid one-page PDF showing `text` (Latin-1, no parentheses)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def make_docx(text: str) -> bytes:
    """A Word document written by python-docx."""
    document = docx.Document()
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            method = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=method)
    return buffer.getvalue()


def _content_types(main: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/main.xml" ContentType="{main}"/></Types>'
    ).encode()


def make_xlsx() -> bytes:
    """The package structure of a workbook (sniffing reads [Content_Types].xml)."""
    main = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
    return _zip({"[Content_Types].xml": _content_types(main), "xl/workbook.xml": b"<workbook/>"})


def make_odt(text: str) -> bytes:
    """An OpenDocument text with one paragraph."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0">'
        f"<office:body><office:text><text:p>{text}</text:p></office:text></office:body>"
        "</office:document-content>"
    ).encode()
    return _zip(
        {
            "mimetype": b"application/vnd.oasis.opendocument.text",
            "content.xml": content,
            "META-INF/manifest.xml": b"<manifest/>",
        }
    )


def make_png() -> bytes:
    """A 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
CSV = b"state,commitment\nFR,1\nDE,3\n"


def files_on_disk(app: Flask) -> list[Path]:
    """Everything under FILES_DIR, temporary files included."""
    directory = Path(app.config["FILES_DIR"])
    return sorted(directory.iterdir()) if directory.exists() else []


def attachment_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Attachment)) or 0


def attach(document: Document, name: str, data: bytes) -> Attachment:
    """Attach a file through the service, as the content loader, and commit."""
    change_files(CONTENT_LOADER, document, FileChanges(add=[stage(io.BytesIO(data), name)]))
    db.session.commit()
    return max(document.current_revision.attachments, key=lambda a: a.id)


def fetch(client: FlaskClient, url: str) -> Any:
    """GET a file, read it and close the response (its file handle with it)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


def upload_form(token: str, **overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "csrf_token": token,
        "title": "National guidance on brokering",
        "state": "FR",
        "commitments": [1],
        "visibility": "participants",
        "status": "published",
        "source": "Our guidance is attached.",
        "save": "Save",
    }
    form.update(overrides)
    return form


# -- Kinds: read from the content, never the name ----------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "kind", "shown_as"),
    [
        (make_pdf("Guidance"), "guidance.pdf", "PDF", "guidance.pdf"),
        (make_docx("Licensing form"), "form.docx", "DOCX", "form.docx"),
        (make_xlsx(), "Figures 2024.XLSX", "XLSX", "Figures 2024.xlsx"),
        (make_odt("Consultation"), "notes.odt", "ODT", "notes.odt"),
        (CSV, "licences.csv", "CSV", "licences.csv"),
        (make_png(), "chart.png", "PNG", "chart.png"),
        (JPEG, "photo.jpeg", "JPEG", "photo.jpeg"),
        # The content decides: a PDF called .docx is a PDF, and is named so.
        (make_pdf("Guidance"), "../../etc/guid<ance>.docx", "PDF", "guid_ance_.docx.pdf"),
    ],
)
def test_accepted_kinds_are_recognised_from_their_content(app, data, name, kind, shown_as):
    staged = stage(io.BytesIO(data), name)
    assert (staged.kind.name, staged.filename) == (kind, shown_as)
    db.session.rollback()


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200, "program"),
        (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200, "program"),
        (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "web page"),
        (b"  <html><body>Guidance</body></html>", "web page"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>', "SVG"),
        (b"state,note\nFR,<script>alert(1)</script>\n", "markup"),
        (b"%PDF-1.4\n1 0 obj << >> endobj\n", "not a complete one"),
        (_zip({"payload.exe": b"MZ"}), "not an office document"),
        (
            _zip(
                {
                    "[Content_Types].xml": _content_types(
                        "application/vnd.ms-word.document.macroEnabled.main+xml"
                    )
                }
            ),
            "macro-enabled",
        ),
        (b"\xff\xfe\x00\x00binary", "binary"),
        (b"", "empty"),
    ],
)
def test_other_kinds_are_refused_whatever_they_are_called(app, data, says):
    with pytest.raises(UnsupportedFile, match=says):
        stage(io.BytesIO(data), "guidance.pdf")
    assert files_on_disk(app) == []


def test_sniffing_reads_the_file_not_its_name(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(make_docx("x"))
    assert sniff(path).name == "DOCX"


# -- The "done when", through the pages ------------------------------------------


def test_government_user_attaches_a_pdf_and_only_allowed_readers_find_and_fetch_it(
    app: Flask, client: FlaskClient, login_as: Callable[..., Any]
) -> None:
    login_as("government", "FR")
    pdf = make_pdf("Brokering of zeroclick exploits needs a licence")
    form = upload_form(csrf_token(client, NEW_NOTE), files=(io.BytesIO(pdf), "guidance.pdf"))
    response = client.post(NEW_NOTE, data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    document = db.session.scalars(select(Document)).one()
    attachment = document.current_revision.attachments[0]
    assert (attachment.filename, attachment.media_type, attachment.size) == (
        "guidance.pdf",
        "application/pdf",
        len(pdf),
    )
    assert "zeroclick" in attachment.text
    assert document.current_revision.number == 1
    assert "attached guidance.pdf" in document.current_revision.summary
    page = client.get(f"/documents/{document.slug}").get_data(as_text=True)
    assert attachment.sha256 in page
    url = f"/documents/{document.slug}/files/{attachment.id}"
    assert url in page

    industry = app.test_client()
    become(industry, reader_account("industry"))
    results = industry.get("/search", query_string={"q": "zeroclick"}).get_data(as_text=True)
    assert document.title in results
    assert "Match in attached file: guidance.pdf" in results
    assert "<mark>zeroclick</mark>" in results
    fetched = fetch(industry, url)
    assert fetched.status_code == 200
    assert fetched.data == pdf
    assert fetched.headers["Content-Type"] == "application/pdf"
    assert fetched.headers["Content-Disposition"].startswith("inline")
    assert fetched.headers["X-Content-Type-Options"] == "nosniff"
    assert fetched.headers["Cache-Control"] == "private, no-store"

    visitor = app.test_client()
    assert document.title not in visitor.get("/search?q=zeroclick").get_data(as_text=True)
    refused = fetch(visitor, url)
    assert refused.status_code == 404
    assert pdf not in refused.data
    assert (
        fetch(visitor, f"/documents/{document.slug}/revisions/1/files/{attachment.id}").status_code
        == 404
    )


# -- Every reader x visibility x status on both download routes ---------------------------


def test_downloads_follow_the_document_for_every_role_visibility_and_status(
    app: Flask, make_document: Callable[..., Document]
) -> None:
    notes = {}
    for visibility, status in CELLS:
        note = make_document(DocumentType.IMPLEMENTATION_NOTE, visibility, status)
        secret = f"secret-{visibility}-{status},1\n".encode()
        notes[visibility, status] = (note, attach(note, "figures.csv", secret), secret)
    problems = []
    for reader in READERS:
        client = app.test_client()
        become(client, reader_account(reader))
        for cell, allowed in zip(CELLS, READS_FRENCH_NOTE[reader], strict=True):
            note, attachment, secret = notes[cell]
            for url in (
                f"/documents/{note.slug}/files/{attachment.id}",
                f"/documents/{note.slug}/revisions/2/files/{attachment.id}",
            ):
                response = fetch(client, url)
                leaked = secret in response.data and not allowed
                if response.status_code != (200 if allowed else 404) or leaked:
                    problems.append((reader, cell, url, response.status_code))
    assert problems == []


def test_a_file_is_only_served_from_its_own_document_and_revision(
    client: FlaskClient, make_document: Callable[..., Document]
) -> None:
    mine = make_document(DocumentType.IMPLEMENTATION_NOTE, "public")
    other = make_document(DocumentType.IMPLEMENTATION_NOTE, "government")
    hidden = attach(other, "hidden.csv", b"hidden,1\n")
    attach(mine, "open.csv", b"open,1\n")
    assert fetch(client, f"/documents/{mine.slug}/files/{hidden.id}").status_code == 404
    assert fetch(client, f"/documents/{mine.slug}/revisions/2/files/{hidden.id}").status_code == 404
    assert fetch(client, f"/documents/{mine.slug}/revisions/1/files/{hidden.id}").status_code == 404


def test_download_headers_name_the_file_safely_and_cache_only_public_files(
    client: FlaskClient, make_document: Callable[..., Document]
) -> None:
    public = make_document(DocumentType.IMPLEMENTATION_NOTE, "public")
    csv_file = attach(public, "Données été.csv", CSV)
    response = fetch(client, f"/documents/{public.slug}/files/{csv_file.id}")
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert "filename*=UTF-8''Donn%C3%A9es%20%C3%A9t%C3%A9.csv" in disposition
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    image = attach(public, "chart.png", make_png())
    shown = fetch(client, f"/documents/{public.slug}/files/{image.id}")
    assert shown.headers["Content-Disposition"].startswith("inline")
    assert shown.headers["Content-Type"] == "image/png"


# -- Revisions keep their files ----------------------------------------------------------


def test_replacing_and_removing_files_makes_revisions_that_keep_the_old_files(
    app: Flask, client: FlaskClient, login_as: Callable[..., Any], make_document
) -> None:
    note = make_document(DocumentType.IMPLEMENTATION_NOTE, "participants")
    first = attach(note, "guidance.csv", b"version,1\n")  # revision 2
    keep = attach(note, "keep.csv", b"keep,1\n")  # revision 3, first carried forward
    assert {a.id for a in note.current_revision.attachments} == {first.id, keep.id}
    login_as("government", "FR")
    edit = f"/documents/{note.slug}/edit"
    form = upload_form(
        csrf_token(client, edit),
        title=note.title,
        source=note.current_revision.source,
        version=str(note.version),
        **{f"replace-{first.id}": (io.BytesIO(b"version,2\n"), "guidance.csv")},
    )
    assert client.post(edit, data=form).status_code == 302
    db.session.expire_all()
    assert note.current_revision.number == 4
    assert note.current_revision.summary == "Replaced guidance.csv with guidance.csv"
    second = next(a for a in note.current_revision.attachments if a.filename == "guidance.csv")
    assert second.id != first.id

    form = upload_form(
        csrf_token(client, edit),
        title=note.title,
        source=note.current_revision.source,
        version=str(note.version),
        remove_files=[keep.id],
        summary="Tidy up",
    )
    assert client.post(edit, data=form).status_code == 302
    db.session.expire_all()
    assert note.current_revision.number == 5
    assert note.current_revision.summary == "Tidy up; removed keep.csv"
    assert [a.id for a in note.current_revision.attachments] == [second.id]

    # The old file: from its revision only; the current route no longer serves it.
    old_url = f"/documents/{note.slug}/revisions/2/files/{first.id}"
    assert fetch(client, old_url).data == b"version,1\n"
    assert fetch(client, f"/documents/{note.slug}/files/{first.id}").status_code == 404
    assert fetch(client, f"/documents/{note.slug}/revisions/4/files/{first.id}").status_code == 404
    assert fetch(client, f"/documents/{note.slug}/files/{second.id}").data == b"version,2\n"
    history = client.get(f"/documents/{note.slug}/history").get_data(as_text=True)
    assert "Replaced guidance.csv with guidance.csv" in history
    diff = client.get(f"/documents/{note.slug}/diff?a=3&b=5").get_data(as_text=True)
    assert "Added" in diff and "Removed" in diff
    assert second.sha256 in diff and first.sha256 in diff and keep.sha256 in diff
    old_page = client.get(f"/documents/{note.slug}/revisions/2").get_data(as_text=True)
    assert old_url in old_page

    # Readers of the revision only: a visitor gets nothing from any route.
    visitor = app.test_client()
    assert fetch(visitor, old_url).status_code == 404
    assert visitor.get(f"/documents/{note.slug}/diff?a=3&b=5").status_code == 404

    # A save started before the file change is a conflict, not an overwrite.
    form = upload_form(
        csrf_token(client, edit), title=note.title, source="Mine", version=str(note.version - 1)
    )
    assert client.post(edit, data=form).status_code == 409


def test_file_changes_are_in_the_audit_trail(make_document: Callable[..., Document]) -> None:
    note = make_document()
    old = attach(note, "a.csv", b"a,1\n")
    new = stage(io.BytesIO(b"a,2\n"), "a.csv")
    change_files(CONTENT_LOADER, note, FileChanges(replace=[(old, new)]))
    db.session.commit()
    change_files(CONTENT_LOADER, note, FileChanges(remove=list(note.current_revision.attachments)))
    db.session.commit()
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action.like("document.%")).order_by(AuditEvent.id)
    ).all()
    actions = [(e.action, e.object_id, e.details.get("filename")) for e in events]
    assert actions[-3:] == [
        ("document.attach", note.id, "a.csv"),
        ("document.replace_file", note.id, "a.csv"),
        ("document.detach", note.id, "a.csv"),
    ]
    assert events[-2].details["replaced"]["sha256"] == old.sha256
    assert events[-2].details["sha256"] == new.sha256


# -- Search: attachment text, only for readers, only the current revision's files --------


def search_titles(client: FlaskClient, query: str) -> str:
    return client.get("/search", query_string={"q": query}).get_data(as_text=True)


def test_search_finds_attachment_text_only_for_readers_of_the_document(
    app: Flask, make_document: Callable[..., Document]
) -> None:
    shared = make_document(DocumentType.IMPLEMENTATION_NOTE, "participants", title="Shared note")
    secret = make_document(DocumentType.IMPLEMENTATION_NOTE, "government", title="Secret note")
    draft = make_document(
        DocumentType.IMPLEMENTATION_NOTE, "participants", "draft", title="Draft note"
    )
    attach(shared, "shared.pdf", make_pdf("quokkafarm licensing statistics"))
    attach(secret, "secret.docx", make_docx("wombatworks surveillance broker"))
    attach(draft, "draft.odt", make_odt("numbatnet pending decision"))
    expectations = {
        "visitor": (False, False, False),
        "industry": (True, False, False),
        "other_government": (True, True, False),
        "government": (True, True, True),
        "secretariat": (True, True, True),
    }
    for reader, (sees_shared, sees_secret, sees_draft) in expectations.items():
        client = app.test_client()
        become(client, reader_account(reader))
        for word, title, expected in (
            ("quokkafarm", "Shared note", sees_shared),
            ("wombatworks", "Secret note", sees_secret),
            ("numbatnet", "Draft note", sees_draft),
        ):
            page = search_titles(client, word)
            assert (title in page) is expected, (reader, word)
            assert (f"<mark>{word}</mark>" in page) is expected, (reader, word)
            assert ("Match in attached file" in page) is expected, (reader, word)


def test_only_the_current_revisions_files_are_searched(
    app: Flask, client: FlaskClient, make_document: Callable[..., Document]
) -> None:
    note = make_document(DocumentType.IMPLEMENTATION_NOTE, "public", title="Rotating note")
    old = attach(note, "old.csv", b"platypusword,1\n")
    assert "Rotating note" in search_titles(client, "platypusword")
    change_files(CONTENT_LOADER, note, FileChanges(remove=[old]))
    db.session.commit()
    assert "Rotating note" not in search_titles(client, "platypusword")


def test_a_file_whose_text_cannot_be_read_is_stored_as_not_searchable(app: Flask) -> None:
    broken = stage(io.BytesIO(b"%PDF-1.7\nthis is not really a pdf\n%%EOF\n"), "broken.pdf")
    assert broken.text.text is None
    assert "not searchable" in (broken.text.note or "")
    app.config["TEXT_EXTRACTION_SECONDS"] = 0.001
    slow = stage(io.BytesIO(make_pdf("slow")), "slow.pdf")
    assert slow.text.text is None
    assert "took too long" in (slow.text.note or "")
    png = stage(io.BytesIO(make_png()), "chart.png")
    assert png.text.note == "The text of PNG files is not searched."
    db.session.rollback()
    assert files_on_disk(app) == []


# -- Nothing is left behind: refusals, broken uploads, failed saves ----------------------


def test_an_upload_that_breaks_halfway_leaves_no_file_and_no_row(app: Flask) -> None:
    class BreaksHalfway(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() >= storage.CHUNK_BYTES:
                raise OSError("connection reset by peer")
            return super().read(size)

    with pytest.raises(OSError, match="connection reset"):
        stage(BreaksHalfway(b"a,b\n" * storage.CHUNK_BYTES), "big.csv")
    assert files_on_disk(app) == []
    assert attachment_count() == 0


def test_a_save_that_fails_after_the_file_was_stored_leaves_no_file_and_no_row(
    app: Flask, client: FlaskClient, login_as, monkeypatch: pytest.MonkeyPatch
) -> None:
    login_as("government", "FR")

    def broken_audit(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr("portal.attachments.services.record_event", broken_audit)
    form = upload_form(
        csrf_token(client, NEW_NOTE), files=(io.BytesIO(make_pdf("half")), "half.pdf")
    )
    with pytest.raises(RuntimeError, match="went away"):
        client.post(NEW_NOTE, data=form)
    db.session.rollback()
    assert files_on_disk(app) == []
    assert attachment_count() == 0
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0


def test_a_disk_failure_while_writing_leaves_no_file(app: Flask, monkeypatch) -> None:
    def full_disk(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage.os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        stage(io.BytesIO(CSV), "a.csv")
    assert files_on_disk(app) == []


def test_refused_and_oversized_uploads_say_why_and_store_nothing(
    app: Flask, client: FlaskClient, login_as
) -> None:
    login_as("government", "FR")
    token = csrf_token(client, NEW_NOTE)
    program = (io.BytesIO(b"\x7fELF\x02\x01\x01" + b"\x00" * 100), "guidance.pdf")
    response = client.post(NEW_NOTE, data=upload_form(token, files=program))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "“guidance.pdf” was not attached" in page and "program" in page

    app.config["MAX_UPLOAD_MB"] = 0.05  # 51,200 bytes
    big = (io.BytesIO(b"a,b\n" * 20_000), "big.csv")
    response = client.post(NEW_NOTE, data=upload_form(token, files=big))
    assert response.status_code == 413
    assert "at most 0.05 MB" in response.get_data(as_text=True)
    # Over the whole request's limit: refused before the body is read. (Encoded here: the
    # test client would spool a body this big to a temporary file it never closes.)
    huge = FileStorage(io.BytesIO(b"a,b\n" * 700_000), "huge.csv", content_type="text/csv")
    boundary, body = encode_multipart(MultiDict(upload_form(token, files=huge)))
    response = client.post(
        NEW_NOTE, data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 413
    assert "files may be at most 0.05 MB" in response.get_data(as_text=True)
    assert files_on_disk(app) == []
    assert attachment_count() == 0
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0
    with pytest.raises(FileTooLarge):
        stage(io.BytesIO(b"x" * 60_000), "x.csv")


def test_uploading_needs_a_csrf_token(app: Flask, client: FlaskClient, login_as) -> None:
    login_as("government", "FR")
    form = upload_form("", files=(io.BytesIO(CSV), "a.csv"))
    del form["csrf_token"]
    response = client.post(NEW_NOTE, data=form)
    assert response.status_code == 400
    assert files_on_disk(app) == []
    assert attachment_count() == 0


# -- Content load ------------------------------------------------------------------------


def test_content_load_stores_listed_files_idempotently(app: Flask, tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    markdown = folder / "fr-guidance.md"
    markdown.write_text(
        "---\ntitle: French guidance\ntype: implementation_note\nstate: FR\n"
        "visibility: public\nattachments: [guidance.pdf]\n---\nSee the attached guidance.\n"
    )
    (folder / "guidance.pdf").write_bytes(make_pdf("dingoline licensing guidance"))

    def load() -> LoadReport:
        report = LoadReport()
        load_document_file(markdown, report, {})
        return report

    assert load().created == ["fr-guidance"]
    assert load().unchanged == ["fr-guidance"]
    document = db.session.scalars(select(Document)).one()
    assert [a.filename for a in document.current_revision.attachments] == ["guidance.pdf"]
    assert attachment_count() == 1
    assert document.current_revision.number == 1
    (folder / "guidance.pdf").write_bytes(make_pdf("dingoline guidance, second edition"))
    assert load().revised == ["fr-guidance"]
    db.session.expire_all()
    assert document.current_revision.number == 2
    assert "replaced guidance.pdf" in document.current_revision.summary
    assert "second edition" in document.current_revision.attachments[0].text
    assert len(db.session.scalars(select(Revision)).all()) == 2

    markdown.write_text(markdown.read_text().replace("[guidance.pdf]", "[missing.pdf]"))
    report = load()
    assert "missing.pdf" in report.errors[0][1]


def test_a_text_edit_carries_the_files_forward_without_copying(
    make_document: Callable[..., Document],
) -> None:
    note = make_document()
    file = attach(note, "a.csv", CSV)
    edit_document(note, source="A new text.")
    assert note.current_revision.number == 3
    assert note.current_revision.attachments == [file]
    assert attachment_count() == 1
