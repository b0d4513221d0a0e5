"""Index writers: Whoosh's, with postings grouped by term as documents are added.

Whoosh's writer puts every posting (one per word per document) in a pool as a tuple, sorts
them all when the segment is written (past `limitmb`, sorts what it holds and pickles it to
a run file one posting at a time, then merges the runs posting by posting), and hands them
one by one to the postings writer through four calls and four type checks each: most of a
rebuild. `TermPool` keeps each term's document numbers, weights and values in arrays as
they come (documents are added in order, so each term's are already sorted), sorts only
the terms, spills whole terms to disk when full and writes each term's postings whole
(`CompactFieldWriter.add_grouped_postings`): the same index files, byte for byte.
`open_writer` gives a writer using it, in one process or several (each writing a segment;
the commit checks that every process handed one over).
"""

from __future__ import annotations

import heapq
import queue
from array import array
from collections.abc import Iterable, Iterator
from contextlib import suppress
from itertools import groupby
from multiprocessing import parent_process
from operator import itemgetter
from pickle import HIGHEST_PROTOCOL, dump, load
from typing import Any, BinaryIO

from whoosh.filedb.filestore import Storage
from whoosh.index import Index
from whoosh.multiproc import MpWriter, SubWriterTask
from whoosh.util import random_name
from whoosh.writing import SegmentWriter

#: Most postings per pickled chunk of a spilled run (a few MB in memory while it is read).
CHUNK = 50_000
#: Runs merged at once; more are first merged in batches of this many (open files, memory).
MAX_OPEN_RUNS = 128
# Memory of one posting in a term's arrays and list (document number, weight, the value's
# bytes object less its length) and of a term's entry, measured.
_POSTING_BYTES = 4 + 8 + 8 + 33
_TERM_BYTES = 400

Posting = tuple[str, bytes, int, float, bytes | None]
#: (field name, term, document numbers, weights, values): a term's postings.
TermPostings = tuple[str, bytes, array, array, list[bytes | None]]
_KEY = itemgetter(0, 1)


class TermPool:
    """A segment's postings, grouped by field and term as they are added.

    Takes Whoosh's `PostingPool` place in a writer (`add`, `iter_postings`, `cleanup`, a
    memory `limit` in bytes): past the limit, the terms held are written sorted to a run
    file and the pool starts again; `iter_terms` merges the runs term by term (each run
    holds later documents than the one before, so a term's postings are concatenated).
    """

    def __init__(self, tempstore: Storage, limit: float) -> None:
        self.tempstore = tempstore
        self.limit = limit
        self.currentsize = 0
        self.runs: list[str] = []
        self._fields: dict[str, dict[bytes, tuple[array, array, list[bytes | None]]]] = {}

    def add(self, item: Posting) -> None:
        """Add one (field name, term bytes, document number, weight, value) posting; a
        term's postings must come in document order (a writer adds documents in order)."""
        fieldname, text, docnum, weight, value = item
        terms = self._fields.get(fieldname)
        if terms is None:
            terms = self._fields[fieldname] = {}
        postings = terms.get(text)
        if postings is None:
            terms[text] = (array("I", (docnum,)), array("d", (weight,)), [value])
            self.currentsize += _TERM_BYTES + len(text)
        else:
            ids, weights, values = postings
            if docnum < ids[-1]:
                raise ValueError(f"postings of {fieldname}:{text!r} out of document order")
            ids.append(docnum)
            weights.append(weight)
            values.append(value)
        self.currentsize += _POSTING_BYTES + len(value or b"")
        if self.currentsize > self.limit:
            self._spill()

    def _held(self) -> Iterator[TermPostings]:
        """The terms held in memory, sorted by field name and term."""
        for fieldname, terms in sorted(self._fields.items()):
            for text in sorted(terms):
                yield (fieldname, text, *terms[text])

    def _spill(self) -> None:
        """Write the terms held to a run file and start again."""
        self.runs.append(self._write_run(self._held()))
        self._fields = {}
        self.currentsize = 0

    def _write_run(self, terms: Iterable[TermPostings]) -> str:
        """Write sorted terms to a new run file, in chunks small enough that the runs merged
        at once (MAX_OPEN_RUNS) hold about the pool's limit in memory; its name."""
        most = max(1, min(CHUNK, int(self.limit) // (MAX_OPEN_RUNS * _POSTING_BYTES)))
        path = f"{random_name()}.run"
        with self.tempstore.create_file(path).raw_file() as f:
            chunk: list[TermPostings] = []
            size = 0
            for term in terms:
                chunk.append(term)
                size += len(term[2])
                if size >= most:
                    dump(chunk, f, HIGHEST_PROTOCOL)
                    chunk, size = [], 0
            if chunk:
                dump(chunk, f, HIGHEST_PROTOCOL)
        return path

    def _read_run(self, path: str) -> Iterator[TermPostings]:
        f: BinaryIO = self.tempstore.open_file(path).raw_file()
        try:
            while True:
                try:
                    chunk = load(f)
                except EOFError:
                    return
                yield from chunk
        finally:
            f.close()
            self.tempstore.delete_file(path)

    @staticmethod
    def _merged(sources: list[Iterator[TermPostings]]) -> Iterator[TermPostings]:
        """Sorted terms from sorted sources, each term's parts joined in source order."""
        # heapq.merge is stable: a term's parts come in the order of their sources. Only the
        # last source is the pool itself, so the arrays extended here are a run's copies.
        for _, group in groupby(heapq.merge(*sources, key=_KEY), key=_KEY):
            first, *rest = group
            fieldname, text, ids, weights, values = first
            for part in rest:
                if part[2][0] < ids[-1]:
                    raise ValueError(f"postings of {fieldname}:{text!r} out of document order")
                ids.extend(part[2])
                weights.extend(part[3])
                values.extend(part[4])
            yield first

    def iter_terms(self) -> Iterator[TermPostings]:
        """Every term's postings, sorted by field name and term, documents ascending."""
        if not self.runs:
            yield from self._held()
            return
        # Runs hold successive documents: the first ones are merged into one, in place.
        while len(self.runs) > MAX_OPEN_RUNS:
            batch, rest = self.runs[:MAX_OPEN_RUNS], self.runs[MAX_OPEN_RUNS:]
            merged = self._write_run(self._merged([self._read_run(path) for path in batch]))
            self.runs = [merged, *rest]
        sources = [self._read_run(path) for path in self.runs] + [self._held()]
        self.runs = []
        yield from self._merged(sources)

    def iter_postings(self) -> Iterator[Posting]:
        """Every posting as Whoosh's pool gives them, sorted (for another codec's writer)."""
        for fieldname, text, ids, weights, values in self.iter_terms():
            for docnum, weight, value in zip(ids, weights, values, strict=True):
                yield fieldname, text, docnum, weight, value

    def cleanup(self) -> None:
        """Remove the run files not yet read (a cancelled writer)."""
        for path in self.runs:
            with suppress(OSError):
                self.tempstore.delete_file(path)
        self.runs = []


def _use_term_pool(writer: SegmentWriter) -> None:
    """Give a new writer a `TermPool` with the same memory limit (it holds nothing yet)."""
    writer.pool = TermPool(writer._tempstorage, writer.pool.limit)


class _WritesTermsWhole(SegmentWriter):
    """Writes the pool's postings term by term where the codec's field writer can."""

    def _flush_segment(self) -> None:
        # SegmentWriter._flush_segment, with the postings handed over grouped by term.
        fieldwriter = self.fieldwriter
        if not hasattr(fieldwriter, "add_grouped_postings"):
            super()._flush_segment()
            return
        self.perdocwriter.close()
        perdoc = self.per_document_reader() if self.codec.length_stats else None
        try:
            fieldwriter.add_grouped_postings(self.schema, perdoc, self.pool.iter_terms())
            fieldwriter.close()
        finally:
            if perdoc is not None:
                perdoc.close()


class SpoolingSegmentWriter(_WritesTermsWhole):
    """Whoosh's `SegmentWriter` with a `TermPool`."""

    def __init__(self, ix: Index, **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        _use_term_pool(self)


class IndexingFailed(RuntimeError):
    """An indexing process ended without handing its segment over."""


class _SpoolingTask(SubWriterTask):
    """Whoosh's sub-writer process (`SubWriterTask.run`), writing with a
    `SpoolingSegmentWriter`, and giving up if its parent dies (a parent killed outright
    would otherwise leave it waiting for work forever, holding the index's write lock)."""

    def run(self) -> None:
        parent = parent_process()
        assert parent is not None, "runs in a process of its own"
        ix = self.storage.open_index(self.indexname)
        writer = self.writer = SpoolingSegmentWriter(ix, _lk=False, **self.kwargs)
        while self.running:
            try:
                job = self.jobqueue.get(timeout=1.0)
            except queue.Empty:
                self.running = parent.is_alive()  # its pipe, whatever the start method
                continue
            if job is None:  # the parent's signal to finish
                break
            self._process_file(*job)
        if not self.running:
            writer.cancel()
            return
        # (run name, field names, segment): only the segment is read with multisegment.
        self.resultqueue.put((None, None, writer._finalize_segment()), timeout=5)


class SpoolingMpWriter(MpWriter, _WritesTermsWhole):
    """Whoosh's `MpWriter` (with `multisegment`: a segment from each process) whose
    processes and itself use a `TermPool`, which commits only if every process handed its segment
    over, and whose `cancel` stops them."""

    def __init__(self, ix: Index, **kwargs: Any) -> None:
        super().__init__(ix, multisegment=True, **kwargs)
        _use_term_pool(self)

    def _new_task(self) -> _SpoolingTask:
        task = _SpoolingTask(
            self.storage,
            self.indexname,
            self.jobqueue,
            self.resultqueue,
            self.subargs,
            self.multisegment,
        )
        task.daemon = True  # ended with this process if it exits without committing
        self.tasks.append(task)
        task.start()
        return task

    def _commit(self, mergetype: Any, optimize: Any, merge: Any) -> None:
        if self.docbuffer:
            self._enqueue()
        for _ in self.tasks:
            self.jobqueue.put(None)
        segments = self._merge_segments(mergetype, optimize, merge)
        # Results are read before the processes are joined (one that has put something on
        # a queue ends once it is read) and checked: Whoosh committed without the segment
        # of a process that died, losing its documents.
        results: list[Any] = []
        while len(results) < len(self.tasks):
            try:
                results.append(self.resultqueue.get(timeout=1.0))
            except queue.Empty:
                if not any(task.is_alive() for task in self.tasks) and self.resultqueue.empty():
                    break
        for task in self.tasks:
            task.join()
        failed = [task.exitcode for task in self.tasks if task.exitcode != 0]
        if failed or len(results) < len(self.tasks):
            raise IndexingFailed(
                f"{len(self.tasks) - len(results)} of {len(self.tasks)} indexing processes "
                f"handed no segment over (exit codes {[t.exitcode for t in self.tasks]})"
            )
        segments += [segment for _, _, segment in results]
        if self._added:
            segments.append(self._finalize_segment())
        else:
            self._close_segment()
        self._commit_toc(segments)
        self._finish()

    def cancel(self) -> None:
        """Stop the indexing processes, drop what they and this writer wrote, let go of
        the lock."""
        try:
            for task in self.tasks:
                if task.is_alive():
                    task.terminate()
            for task in self.tasks:
                task.join()
        finally:
            SegmentWriter.cancel(self)


def open_writer(ix: Index, procs: int = 1, **args: Any) -> SegmentWriter:
    """A writer on `ix` that does not take the write lock (the caller holds it): with
    `procs` > 1, one that indexes in that many processes and commits a segment from each."""
    if procs > 1:
        return SpoolingMpWriter(ix, procs=procs, subargs=dict(args), _lk=False, **args)
    return SpoolingSegmentWriter(ix, _lk=False, **args)
