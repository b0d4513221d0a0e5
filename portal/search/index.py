"""The search index: opened once per process, kept in step with the change log.

The database is the source of truth. The index stores, in the same commit as the
entries it changes, the id of the last change-log row it applied (a `kind:meta`
entry), so any process can tell how far behind it is and catch up; applying the
same change twice is harmless.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, load_only, selectinload
from whoosh import index as whoosh_index
from whoosh.codec.base import Segment
from whoosh.index import EmptyIndexError, Index, LockError
from whoosh.reading import SegmentReader
from whoosh.searching import Searcher
from whoosh.util.filelock import try_for
from whoosh.writing import CLEAR, MERGE_SMALL, SegmentWriter

from portal.models import Attachment, Document, Revision, SearchChange
from portal.search.codec import CompactCodec
from portal.search.schema import (
    META_ID,
    build_schema,
    index_fields,
    meta_fields,
    schema_signature,
)
from portal.search.spelling import Vocabulary, read_vocabulary
from portal.search.writers import open_writer

log = logging.getLogger("portal.search")

BATCH = 500
# compound=False keeps segments as separate files that searchers memory-map: opening
# one is then ~0.3 ms instead of copying the whole segment into memory. Posting blocks are
# not zlib-compressed (decompressing them was a fifth of a search's time), are pickled with
# the highest protocol (codec.py) and hold 1,024 postings, not 128: postings.py reads a
# term's postings whole, and each block costs a seek and two unpicklings.
WRITER_ARGS = {
    "compound": False,
    "limitmb": 128,
    "codec": CompactCodec(blocklimit=1024, compression=0),
}
#: Segments with fewer documents than this are "small" (see merge_small_segments).
SMALL_SEGMENT = 100


def merge_small_segments(writer: SegmentWriter, segments: list[Segment]) -> list[Segment]:
    """Whoosh's MERGE_SMALL, after merging small segments into the one being written once
    there are two of them.

    Each publish commits a segment of its own, and every search looks each of its words
    up in every segment; Whoosh's policy lets four or five tiny ones pile up. Merging
    small segments copies at most 2 x SMALL_SEGMENT documents' postings.
    """
    small = [segment for segment in segments if segment.doc_count_all() < SMALL_SEGMENT]
    if len(small) < 2:
        return MERGE_SMALL(writer, segments)
    for segment in small:
        reader = SegmentReader(writer.storage, writer.schema, segment)
        writer.add_reader(reader)
        reader.close()
    return MERGE_SMALL(writer, [segment for segment in segments if segment not in small])


def _writer(ix: Index, timeout: float, procs: int = 1, **args: object) -> SegmentWriter:
    """`ix.writer()` (writers.open_writer), except that a writer which cannot start lets go
    of the write lock.

    Whoosh takes the lock before creating the writer's files; on a full or read-only disk
    that fails and the lock stays held until the half-made writer is garbage-collected, so
    this process could not write to the index even once the disk is fixed.
    """
    lock = ix.lock("WRITELOCK")
    if not try_for(lock.acquire, timeout=timeout, delay=0.1):
        raise LockError
    try:
        writer = open_writer(ix, procs, **args)
    except BaseException:
        lock.release()
        raise
    writer.writelock = lock  # commit() and cancel() release it
    return writer


def _cancel(writer: SegmentWriter) -> None:
    """`writer.cancel()`, letting go of the write lock even if cancelling fails (a full
    disk while closing the segment's files): the lock would otherwise stay held until the
    writer is garbage-collected."""
    try:
        writer.cancel()
    finally:
        lock = writer.writelock
        if lock is not None and getattr(lock, "fd", None) is not None:
            lock.release()


@dataclass(frozen=True)
class IndexStatus:
    """What `flask search status` prints."""

    documents_in_database: int
    documents_in_index: int
    changes_behind: int


def _load_documents(session: Session, ids: Iterable[int] | None = None) -> Iterator[Document]:
    """Documents with everything index_fields reads, in batches."""
    query = (
        select(Document)
        .options(
            selectinload(Document.state),
            selectinload(Document.author),
            selectinload(Document.commitments),
            selectinload(Document.current_revision).options(
                load_only(Revision.html),
                selectinload(Revision.attachments).load_only(Attachment.filename, Attachment.text),
            ),
        )
        .order_by(Document.id)
        .execution_options(yield_per=BATCH)
    )
    if ids is not None:
        query = query.where(Document.id.in_(list(ids)))
    yield from session.scalars(query)


#: The change log's newest row.
LATEST_CHANGE = select(func.max(SearchChange.id))


class SearchIndex:
    """One process's handle on the index directory.

    `latest_change` reads the change log's newest id (LATEST_CHANGE) for `is_behind`, asked
    before every search; by default in a session of its own.
    """

    def __init__(
        self,
        directory: Path,
        session_factory: Callable[[], Session],
        rebuild_memory_mb: int = 1024,
        latest_change: Callable[[], int] | None = None,
    ) -> None:
        self.directory = directory
        self.session_factory = session_factory
        self.rebuild_memory_mb = rebuild_memory_mb
        self._latest_change = latest_change or self._latest_change_in_a_session
        self._index: Index | None = None
        self._open_lock = threading.Lock()
        self._local = threading.local()
        self._searchers: set[Searcher] = set()

    # -- opening ---------------------------------------------------------------------------

    def index(self) -> Index:
        """The open index, created or rebuilt from the database if missing or unreadable."""
        if self._index is None:
            self.prepare()
        assert self._index is not None
        return self._index

    def _replace_vanished(self, ix: Index) -> Index:
        """The open index's directory was deleted or emptied: rebuild it, once for all threads."""
        with self._open_lock:
            if self._index is ix:
                log.warning("search index at %s vanished: rebuilding it", self.directory)
                self._index = self._open_or_rebuild()
            return self._index

    def _live_index(self) -> Index:
        """The open index, rebuilt first if its files disappeared since it was opened."""
        ix = self.index()
        return self._replace_vanished(ix) if ix.latest_generation() < 0 else ix

    def _open_or_rebuild(self, build: Callable[[Index], object] | None = None) -> Index:
        """Open the index, or build it afresh (with `build(ix)`, else `_fill(ix)`) if it is
        missing, unfinished, unreadable or of another schema."""
        # Several workers may start at once on a machine without an index: one builds it,
        # the others wait on this lock and then open what it built.
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.directory.parent / f".{self.directory.name}.lock"
        with open(lock_path, "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                return self._open_or_build_locked(build or self._fill)
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _open_or_build_locked(self, build: Callable[[Index], object]) -> Index:
        try:
            ix = whoosh_index.open_dir(self.directory)
            with ix.searcher() as searcher:
                complete = searcher.document(id=META_ID) is not None
            if not complete:
                log.warning("search index at %s was never finished: rebuilding", self.directory)
            elif schema_signature(ix.schema) != schema_signature(build_schema()):
                log.warning("search schema changed: rebuilding the index at %s", self.directory)
            else:
                return ix
        except (EmptyIndexError, FileNotFoundError):
            log.warning("no search index at %s: building it from the database", self.directory)
        except Exception:
            log.exception("search index at %s is unreadable: rebuilding it", self.directory)
        return self._build_fresh(build)

    def _build_fresh(self, build: Callable[[Index], object], attempts: int = 3) -> Index:
        """Build the index from the database into an emptied directory.

        If the directory disappears while it is being built (someone deleting it, a clean-up
        job), the build starts again rather than failing the request.
        """
        for attempt in range(1, attempts + 1):
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory.mkdir(parents=True, exist_ok=True)
            try:
                ix = whoosh_index.create_in(self.directory, build_schema())
                build(ix)
                return ix
            except FileNotFoundError:
                if attempt == attempts:
                    raise
                log.warning("search index at %s vanished while building: again", self.directory)
        raise AssertionError("unreachable")

    def _fill(self, ix: Index, wrap: Callable | None = None, procs: int = 1) -> int:
        """Replace the index's contents with every document, in one commit."""
        with self.session_factory() as session:
            # Read the watermark first: changes committed during the rebuild are re-applied.
            watermark = session.scalar(LATEST_CHANGE) or 0
            total = session.scalar(select(func.count()).select_from(Document)) or 0
            # Postings sorted in memory are not pickled to disk and back: a rebuild of
            # 10,000 documents took a third less time with 1,024 MB than with 256 MB.
            args: dict = {**WRITER_ARGS, "limitmb": self.rebuild_memory_mb}
            writer = _writer(ix, 60.0, procs, **args)
            vocabulary = Vocabulary()
            try:
                documents = _load_documents(session)
                for document in wrap(documents, total) if wrap else documents:
                    fields = index_fields(document)
                    writer.add_document(**fields)
                    vocabulary.add(fields)
                if entry := vocabulary.entry(watermark):
                    writer.add_document(**entry)
                writer.add_document(**meta_fields(watermark))
                # CLEAR swaps the old segments for the new ones atomically: searchers keep
                # the old contents until the commit, never an empty index.
                writer.commit(mergetype=CLEAR)
            except BaseException:
                _cancel(writer)
                raise
        return total

    def prepare(self, wrap: Callable | None = None, procs: int = 1) -> int | None:
        """Open the index, building it first if it cannot be used as it is (missing,
        unfinished, unreadable or of another schema); `wrap(iterable, total)` shows the
        build's progress. The number of documents indexed if it was built, else None."""
        counted: list[int] = []

        def build(ix: Index) -> None:
            counted.append(self._fill(ix, wrap, procs))

        with self._open_lock:
            if self._index is None:
                self._index = self._open_or_rebuild(build)
        return counted[0] if counted else None

    def rebuild(self, wrap: Callable | None = None, procs: int = 1) -> int:
        """Rebuild the whole index from the database; `wrap(iterable, total)` shows progress.

        An index that cannot be used as it is is built once, not on opening and again.
        """
        built = self.prepare(wrap, procs)
        return built if built is not None else self._fill(self.index(), wrap, procs)

    # -- reading ---------------------------------------------------------------------------

    def searcher(self) -> Searcher:
        """This thread's searcher, reopened if the index changed since it was opened.

        Searchers are opened once per thread and kept: with uncompounded segments that
        are memory-mapped, reopening after a change costs well under a millisecond.
        """
        ix = self.index()
        latest = ix.latest_generation()
        if latest < 0:
            ix = self._replace_vanished(ix)
            latest = ix.latest_generation()
        searcher: Searcher | None = getattr(self._local, "searcher", None)
        if searcher is not None and searcher.reader().generation() != latest:
            self._discard(searcher)
            searcher = None
        if searcher is None:
            searcher = ix.searcher()
            with self._open_lock:
                self._searchers.add(searcher)
            self._local.searcher = searcher
        return searcher

    def _discard(self, searcher: Searcher) -> None:
        with self._open_lock:
            self._searchers.discard(searcher)
        searcher.close()

    def close(self) -> None:
        """Close every thread's searcher (at shutdown, or between tests)."""
        with self._open_lock:
            searchers, self._searchers = self._searchers, set()
        for searcher in searchers:
            searcher.close()
        self._local = threading.local()

    def last_applied(self, searcher: Searcher | None = None) -> int:
        """The id of the last change-log row reflected in the index."""
        meta = (searcher or self.searcher()).document(id=META_ID)
        return int(meta["last_change"]) if meta else 0

    # -- keeping in step -------------------------------------------------------------------

    def is_behind(self) -> bool:
        """True if the change log has rows the index has not applied."""
        return self._latest_change() > self.last_applied()

    def _latest_change_in_a_session(self) -> int:
        with self.session_factory() as session:
            return session.scalar(LATEST_CHANGE) or 0

    def catch_up(self, timeout: float = 10.0) -> int:
        """Apply pending changes; returns how many log rows were applied.

        Runs under the index's write lock and reads the log only once it holds it, so
        concurrent callers apply changes in order and never overwrite newer entries with
        older ones. If another process holds the lock past `timeout`, it is applying the
        same log: return and let it finish.
        """
        applied = 0
        while True:
            try:
                writer = _writer(self._live_index(), timeout, **WRITER_ARGS)
            except LockError:
                log.info("search index is locked by another process; it will apply the log")
                return applied
            try:
                with writer.searcher() as searcher:
                    last = self.last_applied(searcher)
                    vocabulary = Vocabulary(read_vocabulary(searcher))
                with self.session_factory() as session:
                    rows = session.execute(
                        select(SearchChange.id, SearchChange.document_id)
                        .where(SearchChange.id > last)
                        .order_by(SearchChange.id)
                        .limit(BATCH)
                    ).all()
                    if not rows:
                        _cancel(writer)
                        return applied
                    ids = {document_id for _, document_id in rows}
                    found = set()
                    for document in _load_documents(session, ids):
                        fields = index_fields(document)
                        writer.update_document(**fields)
                        vocabulary.add(fields)
                        found.add(document.id)
                    for missing in ids - found:
                        writer.delete_by_term("id", str(missing))
                if entry := vocabulary.entry(rows[-1][0]):
                    writer.update_document(**entry)
                writer.update_document(**meta_fields(rows[-1][0]))
                writer.commit(mergetype=merge_small_segments)
            except BaseException:
                _cancel(writer)
                raise
            applied += len(rows)

    def status(self) -> IndexStatus:
        """Documents in the database and in the index, and changes not yet applied."""
        searcher = self.searcher()
        last = self.last_applied(searcher)
        with self.session_factory() as session:
            in_database = session.scalar(select(func.count()).select_from(Document)) or 0
            behind = session.scalar(
                select(func.count()).select_from(SearchChange).where(SearchChange.id > last)
            )
        # Not the meta and vocabulary entries.
        in_index = sum(1 for _ in searcher.document_numbers(kind="document"))
        return IndexStatus(in_database, in_index, behind or 0)
