"""Reading the text of an attached file, with a size and a time limit.

PDF, DOCX and ODT are read in a child process (extract_worker.py) that is killed when it
takes longer than TEXT_EXTRACTION_SECONDS: a hostile or huge file must never hang a
request. A file whose text cannot be read is still stored, with a note saying so.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from portal.attachments.kinds import CSV, FileKind

log = logging.getLogger("portal.attachments")
WORKER = Path(__file__).with_name("extract_worker.py")
#: Characters of text kept per file (indexed and shown in snippets).
MAX_TEXT_CHARS = 500_000


@dataclass(frozen=True)
class ExtractedText:
    """A file's text, or None and a note saying why it is not searchable."""

    text: str | None
    note: str | None = None


def extract_text(path: Path, kind: FileKind, timeout: float) -> ExtractedText:
    """The searchable text of the file at `path` (already sniffed as `kind`)."""
    if not kind.searchable:
        return ExtractedText(None, f"The text of {kind.name} files is not searched.")
    if kind is CSV:
        # Sniffing proved it is UTF-8 text; nothing to parse.
        return _found(path.read_bytes()[: MAX_TEXT_CHARS * 4].decode("utf-8", "ignore"))
    command = [sys.executable, "-I", str(WORKER), kind.name, str(path), str(MAX_TEXT_CHARS)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        log.warning("reading the text of %s took over %ss: stored as not searchable", path, timeout)
        return ExtractedText(None, "Its text is not searchable: reading it took too long.")
    if done.returncode != 0:
        log.warning("could not read the text of %s: %s", path, done.stderr[-500:])
        return ExtractedText(None, "Its text is not searchable: the file could not be read.")
    try:
        text = json.loads(done.stdout)["text"]
    except (ValueError, KeyError, TypeError):
        return ExtractedText(None, "Its text is not searchable: the file could not be read.")
    return _found(str(text))


def _found(text: str) -> ExtractedText:
    # NUL cannot be stored in PostgreSQL text; other control characters are noise.
    text = text.replace("\x00", " ")[:MAX_TEXT_CHARS].strip()
    if not text:
        return ExtractedText(None, "No text was found in it (a scan?), so it is not searchable.")
    return ExtractedText(text)
