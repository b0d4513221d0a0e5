"""Child process that reads the text of one file: `python extract_worker.py KIND PATH MAX_CHARS`.

Run as a script (it imports nothing from the portal) by `portal.attachments.extraction`,
which kills it after a time limit. A hostile file can at worst exhaust this process's own
memory cap and time. Prints {"text": ...} as JSON on success.
"""

from __future__ import annotations

import json
import resource
import sys
import zipfile
from collections.abc import Iterator

MEMORY_BYTES = 768 * 1024 * 1024
MAX_PAGES = 2000
MAX_XML_BYTES = 64 * 1024 * 1024
_ODT_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"


def pdf_text(path: str) -> Iterator[str]:
    """Page by page, as pypdf reads it."""
    from pypdf import PdfReader

    reader = PdfReader(path)
    if reader.is_encrypted:
        reader.decrypt("")  # many "encrypted" PDFs only restrict printing
    for number, page in enumerate(reader.pages):
        if number >= MAX_PAGES:
            return
        yield page.extract_text() or ""


def docx_text(path: str) -> Iterator[str]:
    """Paragraphs, then table cells, as python-docx reads them."""
    import docx

    document = docx.Document(path)
    for paragraph in document.paragraphs:
        yield paragraph.text
    for table in document.tables:
        for row in table.rows:
            yield " | ".join(cell.text for cell in row.cells)


def odt_text(path: str) -> Iterator[str]:
    """Headings and paragraphs of content.xml, parsed with defusedxml."""
    from defusedxml import ElementTree

    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("content.xml")
        if info.file_size > MAX_XML_BYTES:
            raise ValueError("content.xml is too large")
        root = ElementTree.fromstring(archive.read(info))
    for element in root.iter():
        if element.tag in (f"{{{_ODT_TEXT}}}p", f"{{{_ODT_TEXT}}}h"):
            yield "".join(element.itertext())


EXTRACTORS = {"PDF": pdf_text, "DOCX": docx_text, "ODT": odt_text}


def extract(kind: str, path: str, max_chars: int) -> str:
    """The file's text, cut at `max_chars`."""
    parts: list[str] = []
    total = 0
    for part in EXTRACTORS[kind](path):
        parts.append(part)
        total += len(part) + 1
        if total >= max_chars:
            break
    return "\n".join(parts)[:max_chars]


def main() -> int:
    """Limit this process, read the file, print the result."""
    kind, path, max_chars = sys.argv[1], sys.argv[2], int(sys.argv[3])
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    text = extract(kind, path, max_chars)
    sys.stdout.write(json.dumps({"text": text}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
