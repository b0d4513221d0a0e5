"""The portal's content as a content/ tree that `flask content load` reads back.

Layout and front matter are the loader's (portal/content.py, portal/plenaries/loading.py):
`states.yml`, `commitments/N-slug.md`, `documents/<slug>.md` (or `documents/<slug>/<slug>.md`
with its files beside it when it has attachments) and `plenaries/N-slug.md`. Only what the
reader may read is written, so loading the tree into an empty database reproduces exactly
that. content/ has no place for revision history, authors and signatures, comments, the
delegations' comments on minutes, earlier minutes and amendment reasons, or action items'
status history: those stay in the database (and its backups).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.access import (
    SystemActor,
    can_read_draft_minutes,
    visible_documents,
    visible_plenaries,
)
from portal.attachments.storage import MAX_NAME_LENGTH, stored_path
from portal.clock import as_utc, utcnow
from portal.content import _FILE_NAME as LOADABLE_FILE_NAME
from portal.documents.services import slugify
from portal.extensions import db
from portal.models import (
    Attachment,
    Commitment,
    Document,
    DocumentStatus,
    DocumentType,
    MinutesStatus,
    Plenary,
    Revision,
    State,
)
from portal.models.plenaries import ActionItem
from portal.plenaries.loading import SECTIONS

#: Who `flask content export` reads as by default: everything, as the secretariat would.
EVERYTHING = SystemActor("content-export")
#: Documents loaded from the database at a time.
CHUNK = 200
_LEVEL_TWO_HEADING = re.compile(r"^##[ \t]+\S", re.MULTILINE)
_UNSAFE_NAME = re.compile(r"[^\w .-]+")


@dataclass(frozen=True)
class TreeFile:
    """One file of the tree: `data`, or a stored file to copy from `source`."""

    path: str  # relative, with "/" separators
    data: bytes | None = None
    source: Path | None = None


class _FrontMatterDumper(yaml.SafeDumper):
    """Block mappings, and lists of plain values on one line, as content/ files are written."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(value, dict | list) for value in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_FrontMatterDumper.add_representer(list, _represent_list)


def front_matter_file(meta: dict[str, Any], body: str, notes: tuple[str, ...] = ()) -> bytes:
    """A Markdown file with YAML front matter (and `# notes` at its top) as the loader reads it."""
    text = yaml.dump(
        meta,
        Dumper=_FrontMatterDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1_000_000,
    )
    comments = "".join(f"# {note}\n" for note in notes)
    return f"---\n{comments}{text}---\n{body}".encode()


def states_file() -> TreeFile:
    """states.yml: every subscribing state (public data, as on the states page), one a line."""
    lines = [
        "- "
        + yaml.safe_dump(
            {"code": s.code, "name": s.name, "joined": s.joined_on},
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=True,
            width=1_000_000,
        )
        for s in db.session.scalars(select(State).order_by(State.name))
    ]
    return TreeFile("states.yml", ("".join(lines) or "[]\n").encode())


def commitment_files() -> list[TreeFile]:
    """commitments/N-slug.md: the Code's commitments."""
    return [
        TreeFile(
            f"commitments/{c.number}-{slugify(c.title, 60)}.md",
            front_matter_file({"number": c.number, "title": c.title}, f"{c.text}\n"),
        )
        for c in db.session.scalars(select(Commitment).order_by(Commitment.number))
    ]


def document_meta(document: Document) -> dict[str, Any]:
    """The document's front matter, in the order content/ files use."""
    meta: dict[str, Any] = {"title": document.title, "type": document.type.value}
    if document.state is not None:
        meta["state"] = document.state.code
    if document.organisation:
        meta["organisation"] = document.organisation
    if document.commitments:
        meta["commitments"] = [c.number for c in document.commitments]
    if document.assessment is not None:
        meta["assessment"] = document.assessment.value
    if document.responds_to is not None:
        meta["responds_to"] = document.responds_to.slug
    meta["visibility"] = document.visibility.value
    meta["status"] = document.status.value
    if document.published_on is not None:
        meta["published"] = document.published_on
    meta["lang"] = document.lang
    return meta


def attachment_names(attachments: list[Attachment]) -> list[str]:
    """A name for each file that the loader accepts (a plain name), unique in its folder."""
    names: list[str] = []
    for attachment in attachments:
        name = attachment.filename
        if not LOADABLE_FILE_NAME.match(name):
            name = _UNSAFE_NAME.sub("_", name).lstrip(" .-") or "file"
        stem, dot, extension = name.rpartition(".")
        stem, extension = (stem, f".{extension}") if dot else (name, "")
        taken = {n.lower() for n in names}
        candidate, number = f"{stem[: MAX_NAME_LENGTH - len(extension)]}{extension}", 1
        while candidate.lower() in taken:
            number += 1
            suffix = f"-{number}{extension}"
            candidate = f"{stem[: MAX_NAME_LENGTH - len(suffix)]}{suffix}"
        names.append(candidate)
    return names


def _body(source: str) -> str:
    # The loader reads files with Unix newlines; write them so.
    return source.replace("\r\n", "\n")


@dataclass
class ContentExport:
    """What one reader may read, ready to be written as a content/ tree.

    `warnings` says what the tree could not carry (or what the loader will refuse);
    `skipped` names the documents left out.
    """

    reader: Any
    document_ids: list[int]
    plenary_ids: list[int]
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    _exported: frozenset[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._exported = frozenset(self.document_ids)

    @classmethod
    def for_reader(cls, reader: Any) -> ContentExport:
        """Everything `reader` may read: documents by slug, plenaries by number."""
        documents = select(Document.id).where(visible_documents(reader)).order_by(Document.slug)
        plenaries = select(Plenary.id).where(visible_plenaries(reader)).order_by(Plenary.number)
        return cls(reader, list(db.session.scalars(documents)), list(db.session.scalars(plenaries)))

    @property
    def count(self) -> int:
        """Documents and plenaries to write."""
        return len(self.document_ids) + len(self.plenary_ids)

    def items(self) -> Iterator[Document | Plenary]:
        """The documents, then the plenaries, loaded a chunk at a time."""
        for start in range(0, len(self.document_ids), CHUNK):
            chunk = self.document_ids[start : start + CHUNK]
            query = (
                select(Document)
                # Read again through the policy: a document may have changed meanwhile.
                .where(Document.id.in_(chunk), visible_documents(self.reader))
                .options(
                    selectinload(Document.state),
                    selectinload(Document.commitments),
                    selectinload(Document.responds_to),
                    selectinload(Document.current_revision).selectinload(Revision.attachments),
                )
            )
            loaded = {document.id: document for document in db.session.scalars(query)}
            yield from (loaded[i] for i in chunk if i in loaded)
        query = (
            select(Plenary)
            .where(Plenary.id.in_(self.plenary_ids), visible_plenaries(self.reader))
            .options(
                selectinload(Plenary.participants),
                selectinload(Plenary.action_items).selectinload(ActionItem.owners),
            )
            .order_by(Plenary.number)
        )
        yield from db.session.scalars(query)

    def static_files(self) -> list[TreeFile]:
        """states.yml and the commitments: every document refers to them."""
        return [states_file(), *commitment_files()]

    def files_of(self, item: Document | Plenary) -> list[TreeFile]:
        """The tree's files for one document (with its attachments) or plenary."""
        if isinstance(item, Plenary):
            return [self.plenary_file(item)]
        return self.document_files(item)

    def all_files(self) -> Iterator[TreeFile]:
        """Every file of the tree."""
        yield from self.static_files()
        for item in self.items():
            yield from self.files_of(item)

    def document_files(self, document: Document) -> list[TreeFile]:
        """documents/<slug>.md, or a folder holding it and its files."""
        review = document.responds_to
        if document.type is DocumentType.RESPONSE and not (
            review is not None
            and review.id in self._exported
            and review.status is DocumentStatus.PUBLISHED
        ):
            # The loader answers a review that is loaded and published, nothing else.
            self.skipped.append(document.slug)
            self.warnings.append(
                f"{document.slug}: not exported, the review it answers is withdrawn or not "
                "readable, and content/ can only load a response to a published review"
            )
            return []
        revision = document.current_revision
        attachments = list(revision.attachments) if revision is not None else []
        missing = [a for a in attachments if not stored_path(a.storage_name).is_file()]
        for attachment in missing:
            self.warnings.append(
                f"{document.slug}: {attachment.filename} is missing from FILES_DIR"
            )
        attachments = [a for a in attachments if a not in missing]
        meta = document_meta(document)
        source = _body(revision.source if revision is not None else "")
        if not attachments:
            return [TreeFile(f"documents/{document.slug}.md", front_matter_file(meta, source))]
        names = attachment_names(attachments)
        meta["attachments"] = names
        folder = f"documents/{document.slug}"
        files = [TreeFile(f"{folder}/{document.slug}.md", front_matter_file(meta, source))]
        files += [
            TreeFile(f"{folder}/{name}", source=stored_path(a.storage_name))
            for a, name in zip(attachments, names, strict=True)
        ]
        return files

    def plenary_file(self, plenary: Plenary) -> TreeFile:
        """plenaries/N-slug.md: the record, the minutes the reader may read, action items."""
        meta: dict[str, Any] = {
            "number": plenary.number,
            "title": plenary.title,
            "starts": plenary.starts_on,
            "ends": plenary.ends_on,
            "place": plenary.place,
        }
        if plenary.host_state is not None:
            meta["host"] = plenary.host_state.code
        meta["participants"] = [s.code for s in plenary.participants]
        meta["visibility"] = plenary.visibility.value
        minutes, notes = self._minutes(plenary, meta)
        if plenary.action_items:
            meta["action_items"] = [_item(item) for item in plenary.action_items]
        sections = {
            "agenda": plenary.agenda_source,
            "minutes": minutes,
            "decisions": plenary.decisions_source,
        }
        for name in SECTIONS:
            if _LEVEL_TWO_HEADING.search(sections[name]):
                self.warnings.append(
                    f"plenary {plenary.number}: the {name} section has a level-2 heading "
                    "(## …), which content/ reads as a new section; make it ### before loading"
                )
        body = "\n".join(
            f"## {name.capitalize()}\n\n{_body(text).strip()}\n"
            for name, text in sections.items()
            if text.strip()
        )
        path = f"plenaries/{plenary.number}-{slugify(plenary.title, 60)}.md"
        return TreeFile(path, front_matter_file(meta, body, notes))

    def _minutes(self, plenary: Plenary, meta: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
        """Set the minutes' status keys; the minutes' text the reader may read, and notes."""
        current = plenary.current_minutes
        if plenary.minutes_status is MinutesStatus.ADOPTED and current is not None:
            adopted_at = as_utc(plenary.adopted_at) or utcnow()
            meta["minutes"] = MinutesStatus.ADOPTED.value
            meta["adopted"] = adopted_at.date()
            return current.source, ()
        meta["minutes"] = MinutesStatus.DRAFT.value
        if current is None or not can_read_draft_minutes(self.reader, plenary):
            return "", ()
        deadline = as_utc(plenary.comment_deadline)
        if plenary.minutes_status is MinutesStatus.CIRCULATED and deadline is not None:
            if deadline > utcnow():
                meta["minutes"] = MinutesStatus.CIRCULATED.value
                meta["deadline"] = deadline
                return current.source, ()
            note = f"circulated until {deadline:%Y-%m-%d %H:%M} UTC; a past deadline cannot load"
            return current.source, (note,)
        return current.source, ()


def _item(item: ActionItem) -> dict[str, Any]:
    entry: dict[str, Any] = {"text": item.text, "owners": [s.code for s in item.owners]}
    if item.due_on is not None:
        entry["due"] = item.due_on
    entry["status"] = item.status.value
    return entry
