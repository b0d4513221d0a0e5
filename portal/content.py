"""Loads the canonical content/ folder (YAML and Markdown with front matter), idempotently.

Layout: `states.yml`, `commitments/*.md` (front matter `number`, `title`; the body is
the text), `documents/**/*.md` (front matter keys in DOCUMENT_KEYS) and `plenaries/*.md`
(keys in portal/plenaries/loading.py). Loading twice changes nothing; a changed file gives
its document a new revision; a bad file is reported with its path and reason and skipped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from portal.access import CONTENT_LOADER, AccessDenied
from portal.attachments.kinds import UnsupportedFile
from portal.attachments.loading import (
    ContentFile,
    content_file_changes,
    content_files,
    files_checksum,
)
from portal.attachments.services import FileChanges, change_files
from portal.attachments.storage import FileTooLarge
from portal.documents.services import (
    MAX_SLUG_LENGTH,
    RESERVED_SLUGS,
    DocumentFields,
    InvalidDocument,
    create_document,
    get_document,
    update_document,
)
from portal.extensions import db
from portal.models import (
    Assessment,
    Commitment,
    Document,
    DocumentStatus,
    DocumentType,
    State,
    Visibility,
)
from portal.models.documents import STATE_TYPES

DOCUMENT_KEYS = frozenset(
    {"title", "type", "state", "organisation", "commitments", "visibility", "status",
     "published", "slug", "lang", "assessment", "responds_to", "attachments"}
)  # fmt: skip
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)(.*)\Z", re.DOTALL)
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_LANG = re.compile(r"^[a-z]{2}$")
_FILE_NAME = re.compile(r"^[\w][\w .-]{0,119}$")


class ContentError(ValueError):
    """A content file that cannot be loaded; the message says why."""


class ReviewNotLoaded(ContentError):
    """A response names a review not loaded (yet: its file may come later in the folder)."""


@dataclass
class LoadReport:
    """What a load did, file by file."""

    created: list[str] = field(default_factory=list)
    revised: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[tuple[Path, str]] = field(default_factory=list)
    states: int = 0
    commitments: int = 0
    plenaries: list[tuple[int, str]] = field(default_factory=list)  # (number, outcome)


def read_text(path: Path) -> str:
    """A file's text as UTF-8 with Unix newlines; ContentError if it is not UTF-8."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ContentError(f"not valid UTF-8 (byte {error.start})") from error
    return text.replace("\r\n", "\n")


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split '---' YAML front matter from the Markdown body."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise ContentError("no front matter: the file must start with a '---' line and close it")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as error:
        raise ContentError(f"front matter is not valid YAML: {error}".splitlines()[0]) from error
    if not isinstance(meta, dict):
        raise ContentError("front matter must be a mapping of keys to values")
    return meta, match.group(2).lstrip("\n")


def load_states(path: Path) -> int:
    """Create or update states from states.yml; returns how many it holds."""
    entries = yaml.safe_load(read_text(path)) or []
    if not isinstance(entries, list):
        raise ContentError("states.yml must be a list of {code, name, joined}")
    known = {state.code: state for state in db.session.scalars(select(State))}
    for entry in entries:
        code, name, joined = (
            entry.get(k) if isinstance(entry, dict) else None for k in ("code", "name", "joined")
        )
        if not (
            isinstance(code, str)
            and re.fullmatch(r"[A-Z]{2}", code)
            and name
            and isinstance(joined, dt.date)
        ):
            raise ContentError(f"bad state entry {entry!r}: needs code (AA), name, joined (date)")
        state = known.get(code) or State(code=code)
        state.name, state.joined_on = str(name), joined
        db.session.add(state)
    db.session.commit()
    return len(entries)


def load_commitment(path: Path) -> None:
    """Create or update one commitment from its Markdown file."""
    meta, body = split_front_matter(read_text(path))
    number, title = meta.get("number"), meta.get("title")
    if not (
        isinstance(number, int) and 1 <= number <= 6 and isinstance(title, str) and body.strip()
    ):
        raise ContentError("a commitment needs number (1-6), title and a body")
    commitment = db.session.scalar(select(Commitment).where(Commitment.number == number))
    commitment = commitment or Commitment(number=number)
    commitment.title, commitment.text = title.strip(), body.strip()
    db.session.add(commitment)
    db.session.commit()


def plenary_files(directory: Path) -> list[Path]:
    """The plenary files in content/plenaries, in a stable order."""
    return sorted((directory / "plenaries").glob("*.md"))


def load_plenary(path: Path) -> tuple[int, str]:
    """Create or update one plenary from its file: (number, created|revised|unchanged)."""
    from portal.plenaries.loading import load_plenary_text  # it builds on this module

    return load_plenary_text(path, read_text(path))


def load_plenary_file(path: Path, report: LoadReport) -> None:
    """Load one plenary file in its own transaction, recording the outcome in `report`."""
    try:
        report.plenaries.append(load_plenary(path))
        db.session.commit()
    except ContentError as error:
        db.session.rollback()
        report.errors.append((path, str(error)))


def document_files(directory: Path) -> list[Path]:
    """The document files under content/documents, in a stable order."""
    return sorted((directory / "documents").rglob("*.md"))


@dataclass
class _DocumentSpec:
    slug: str
    type: DocumentType
    fields: DocumentFields
    attachments: list[Path] = field(default_factory=list)


def _choice(meta: dict[str, Any], key: str, enum_cls: Any, default: Any = None) -> Any:
    value = meta.get(key, default)
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum_cls)
        raise ContentError(f"{key} must be one of {allowed}, not {value!r}") from None


def parse_document(path: Path, text: str) -> _DocumentSpec:
    """Validate a document file's front matter against the database's states and commitments."""
    meta, body = split_front_matter(text)
    unknown = sorted(set(meta) - DOCUMENT_KEYS)
    if unknown:
        raise ContentError(f"unknown front-matter key(s): {', '.join(unknown)}")
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ContentError("title is required")
    if len(title) > 300:
        raise ContentError("title is longer than 300 characters")
    organisation = meta.get("organisation")
    valid_organisation = isinstance(organisation, str) and len(organisation) <= 200
    if organisation is not None and not valid_organisation:
        raise ContentError("organisation must be a name of at most 200 characters")
    doc_type = _choice(meta, "type", DocumentType)
    visibility = _choice(meta, "visibility", Visibility)
    status = _choice(meta, "status", DocumentStatus, "published")
    slug = meta.get("slug", path.stem)
    if not isinstance(slug, str) or not _SLUG.match(slug) or len(slug) > MAX_SLUG_LENGTH:
        raise ContentError(
            f"slug {slug!r} must be lowercase letters, digits and hyphens "
            f"(at most {MAX_SLUG_LENGTH})"
        )
    if slug in RESERVED_SLUGS:
        raise ContentError(f"slug {slug!r} is reserved by the site; choose another")
    state = None
    if meta.get("state") is not None:
        state = db.session.scalar(select(State).where(State.code == str(meta["state"])))
        if state is None:
            raise ContentError(f"state {meta['state']!r} is not in states.yml")
    elif doc_type in STATE_TYPES or doc_type is DocumentType.REVIEW:
        raise ContentError(f"a {doc_type.value} needs a state")
    numbers = meta.get("commitments") or []
    if not isinstance(numbers, list) or not all(isinstance(n, int) for n in numbers):
        raise ContentError("commitments must be a list of numbers 1-6")
    commitments = list(db.session.scalars(select(Commitment).where(Commitment.number.in_(numbers))))
    if len(commitments) != len(set(numbers)):
        raise ContentError(f"commitments {numbers} include numbers that do not exist (1-6)")
    published = meta.get("published")
    if published is not None and not isinstance(published, dt.date):
        raise ContentError("published must be a date (YYYY-MM-DD)")
    lang = meta.get("lang", "en")
    if not isinstance(lang, str) or not _LANG.match(lang):
        raise ContentError("lang must be a two-letter language code such as en or fr")
    assessment = _choice(meta, "assessment", Assessment) if "assessment" in meta else None
    responds_to = None
    if meta.get("responds_to") is not None:
        responds_to = get_document(str(meta["responds_to"]))
        if responds_to is None:
            raise ReviewNotLoaded(f"responds_to {meta['responds_to']!r} is not a loaded review")
    fields = DocumentFields(
        title=title,
        source=body,
        visibility=visibility,
        status=status,
        state=state,
        organisation=organisation,
        commitments=commitments,
        published_on=published,
        lang=lang,
        assessment=assessment,
        responds_to=responds_to,
    )
    return _DocumentSpec(
        slug=slug, type=doc_type, fields=fields, attachments=_attachment_paths(path, meta)
    )


def _attachment_paths(path: Path, meta: dict[str, Any]) -> list[Path]:
    """The files front matter lists (`attachments: [guidance.pdf]`), beside the Markdown."""
    names = meta.get("attachments") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ContentError("attachments must be a list of file names, e.g. [guidance.pdf]")
    if len(set(names)) != len(names):
        raise ContentError("attachments lists a file twice")
    paths = []
    for name in names:
        if not _FILE_NAME.match(name):
            raise ContentError(f"attachment {name!r} must be a plain file name beside {path.name}")
        if not (path.parent / name).is_file():
            raise ContentError(f"attachment {name!r} is not a file beside {path.name}")
        paths.append(path.parent / name)
    return paths


def load_document_file(
    path: Path, report: LoadReport, seen: dict[str, Path], deferred: list[Path] | None = None
) -> None:
    """Load one document file in its own transaction, recording the outcome in `report`.

    A response whose review is not loaded yet is put in `deferred`, if given, to load last.
    """
    try:
        text = read_text(path)
        spec = parse_document(path, text)
        files = content_files(spec.attachments)
        checksum = files_checksum(hashlib.sha256(text.encode()).hexdigest(), files)
        if spec.slug in seen:
            raise ContentError(f"slug {spec.slug!r} is already used by {seen[spec.slug]}")
        seen[spec.slug] = path
        document = get_document(spec.slug)
        summary = f"Loaded from {path.name}"
        if document is None:
            changes = _file_changes(None, files)
            document = create_document(
                CONTENT_LOADER, spec.type, spec.fields, slug=spec.slug, summary=summary
            )
            change_files(CONTENT_LOADER, document, changes, revision=document.current_revision)
            report.created.append(spec.slug)
        elif document.content_checksum is None:
            raise ContentError(
                f"slug {spec.slug!r} belongs to a document written on the site; rename the file "
                "or set another slug"
            )
        elif document.content_checksum == checksum:
            report.unchanged.append(spec.slug)
            return
        elif document.type is not spec.type:
            raise ContentError(f"type cannot change from {document.type} to {spec.type}")
        else:
            changes = _file_changes(document, files)
            revision = update_document(
                CONTENT_LOADER,
                document,
                spec.fields,
                base_version=document.version,
                summary=summary,
            )
            change_files(CONTENT_LOADER, document, changes, revision=revision, summary=summary)
            report.revised.append(spec.slug)
        document.content_checksum = checksum
        db.session.commit()
    except ReviewNotLoaded as error:
        db.session.rollback()
        if deferred is None:
            report.errors.append((path, str(error)))
        else:
            deferred.append(path)
    except (ContentError, InvalidDocument) as error:
        db.session.rollback()
        report.errors.append((path, str(error)))
    except AccessDenied:
        # The loader acts as the secretariat: only answering an unpublished review is refused.
        db.session.rollback()
        report.errors.append((path, "responds_to names a review that is not published"))


def _file_changes(document: Document | None, files: list[ContentFile]) -> FileChanges:
    """Store the listed files the document does not have yet; ContentError if one is refused."""
    try:
        return content_file_changes(document, files)
    except (UnsupportedFile, FileTooLarge) as error:
        raise ContentError(f"attachment {error}") from error


def load_content(directory: Path, files: Iterable[Path] | None = None) -> LoadReport:
    """Load states, commitments, documents and plenaries from `directory`.

    `files` lets a caller wrap `document_files(directory) + plenary_files(directory)` in a
    progress bar.
    """
    report = LoadReport()
    states_file = directory / "states.yml"
    if states_file.exists():
        try:
            report.states = load_states(states_file)
        except ContentError as error:
            db.session.rollback()
            report.errors.append((states_file, str(error)))
    for path in sorted((directory / "commitments").glob("*.md")):
        try:
            load_commitment(path)
            report.commitments += 1
        except ContentError as error:
            db.session.rollback()
            report.errors.append((path, str(error)))
    seen: dict[str, Path] = {}
    deferred: list[Path] = []
    plenaries = directory / "plenaries"
    for path in document_files(directory) + plenary_files(directory) if files is None else files:
        if path.parent == plenaries:
            load_plenary_file(path, report)
        else:
            load_document_file(path, report, seen, deferred)
    for path in deferred:
        load_document_file(path, report, seen)
    return report
