"""What a file is, decided from its content (magic bytes and structure), never its name.

Accepted: PDF, DOCX, XLSX, ODT, CSV, PNG and JPEG. Anything else (a program renamed
.pdf, HTML or SVG whatever it is called, a macro-enabled Office file) is refused.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from flask_babel import gettext as _


@dataclass(frozen=True)
class FileKind:
    """An accepted kind of file."""

    name: str  # what people call it: "PDF"
    media_type: str
    extensions: tuple[str, ...]
    #: Its text is extracted and searched.
    searchable: bool = False


PDF = FileKind("PDF", "application/pdf", (".pdf",), searchable=True)
DOCX = FileKind(
    "DOCX",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    (".docx",),
    searchable=True,
)
XLSX = FileKind(
    "XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",)
)
ODT = FileKind("ODT", "application/vnd.oasis.opendocument.text", (".odt",), searchable=True)
CSV = FileKind("CSV", "text/csv", (".csv",), searchable=True)
PNG = FileKind("PNG", "image/png", (".png",))
JPEG = FileKind("JPEG", "image/jpeg", (".jpg", ".jpeg"))
KINDS = (PDF, DOCX, XLSX, ODT, CSV, PNG, JPEG)
BY_MEDIA_TYPE = {kind.media_type: kind for kind in KINDS}
ACCEPTED = ", ".join(kind.name for kind in KINDS)

_OOXML_MAIN = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": DOCX,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": XLSX,
}
_ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"
_PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
_JPEG = b"\xff\xd8\xff"
_HEAD_BYTES = 4096
_MAX_ZIP_ENTRIES = 5000
_MAX_CONTENT_TYPES_BYTES = 1024 * 1024
# Markup a browser would render or run, anywhere in a text file.
_MARKUP = re.compile(
    rb"<\s*(?:!doctype|html|head|body|script|svg|iframe|object|embed|meta|style|\?xml)\b"
    rb"|javascript:",
    re.IGNORECASE,
)
_PROGRAMS = (b"MZ", b"\x7fELF", b"\xfe\xed\xfa", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"#!")


class UnsupportedFile(ValueError):
    """A file of a kind the portal does not accept; the message says what it is and why."""


def _refuse(what: str) -> UnsupportedFile:
    return UnsupportedFile(
        f"{what} Only these kinds of file can be attached: {ACCEPTED}. "
        "The kind is read from the file's content, not its name."
    )


def sniff(path: Path) -> FileKind:
    """The kind of the file at `path`; UnsupportedFile if it is not an accepted kind."""
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if not head:
        raise _refuse(_("The file is empty."))
    if head.startswith(b"%PDF-"):
        return _check_pdf(path)
    if head.startswith(_PNG):
        return PNG
    if head.startswith(_JPEG):
        return JPEG
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(path)
    if head.startswith(_PROGRAMS):
        raise _refuse(_("This file is a program or script, which is never accepted."))
    return _check_csv(path)


def _check_pdf(path: Path) -> FileKind:
    """A PDF starts with its header and ends with an end-of-file marker."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(max(0, size - 2048))
        tail = handle.read()
    if b"%%EOF" not in tail:
        raise _refuse(_("This file starts like a PDF but is not a complete one."))
    return PDF


def _zip_kind(path: Path) -> FileKind:
    """DOCX and XLSX by their [Content_Types].xml, ODT by its `mimetype` entry."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if len(names) > _MAX_ZIP_ENTRIES:
                raise _refuse(_("This archive holds too many entries to be an office document."))
            if "mimetype" in names:
                small = archive.getinfo("mimetype").file_size <= 100
                if small and archive.read("mimetype").strip() == _ODT_MIMETYPE:
                    return ODT
                raise _refuse(_("This OpenDocument file is not a text document (ODT)."))
            if "[Content_Types].xml" in names:
                info = archive.getinfo("[Content_Types].xml")
                if info.file_size > _MAX_CONTENT_TYPES_BYTES:
                    raise _refuse(_("This file is not a well-formed office document."))
                return _ooxml_kind(archive.read(info))
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, ValueError) as error:
        if isinstance(error, UnsupportedFile):
            raise
        raise _refuse(_("This file is a damaged or unreadable ZIP archive.")) from error
    raise _refuse(_("This file is a ZIP archive, not an office document."))


def _ooxml_kind(content_types: bytes) -> FileKind:
    try:
        root = ElementTree.fromstring(content_types)
    except (ElementTree.ParseError, DefusedXmlException) as error:
        raise _refuse(_("This file is not a well-formed office document.")) from error
    declared = {
        element.get("ContentType", "")
        for element in root.iter()
        if element.tag.endswith("}Override")
    }
    for content_type, kind in _OOXML_MAIN.items():
        if content_type in declared:
            return kind
    raise _refuse(
        _(
            "This Office file is not a plain Word document or Excel workbook (macro-enabled files "
            "and other kinds are refused).",
        )
    )


def _check_csv(path: Path) -> FileKind:
    """CSV: UTF-8 text without NUL characters and without markup a browser would run."""
    data = path.read_bytes()
    if b"\x00" in data:
        raise _refuse(_("This file is binary data of an unknown kind."))
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _refuse(_("This file is neither a known kind nor UTF-8 text (CSV).")) from error
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") or _MARKUP.search(data):
        raise _refuse(_("This file is a web page, SVG image or other markup, which is refused."))
    return CSV
