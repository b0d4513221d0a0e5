"""Index writers: Whoosh's, with a posting pool that spills to disk and reads back cheaply.

A writer sorts every posting of the documents it adds (one per word per document) in a
pool; past `limitmb`, Whoosh's pool sorts what it holds and pickles it to a run file one
posting per call, then reads every posting back one call at a time to merge the runs.
Rebuilding 50,000 documents spilled about 20 million postings so: half of the rebuild.
`PostingSpool` keeps Whoosh's accounting and on-disk order but pickles runs in chunks, so
both ways run in C. `open_writer` gives a writer using it, in one process or several (each
writing a segment; the commit checks that every process handed one over).
"""

from __future__ import annotations

import os
import queue
from collections.abc import Iterable, Iterator
from itertools import islice
from pickle import HIGHEST_PROTOCOL, dump, load
from typing import Any, BinaryIO

from whoosh.index import Index
from whoosh.multiproc import MpWriter, SubWriterTask
from whoosh.writing import PostingPool, SegmentWriter

#: Most postings per pickled chunk of a run (about 10 MB in memory while a run is read).
CHUNK = 50_000
#: Runs Whoosh merges at once (`SortingPool.items`); each holds a chunk in memory meanwhile.
MAX_OPEN_RUNS = 128
# Whoosh's estimate of a posting's memory, less the lengths of its strings.
_POSTING_BYTES = 28 + 4 * 5 + 21 + 26 + 18 + 16 + 21
# What a posting of a few letters and one position takes in memory, measured.
_POSTING_MEMORY = 200

Posting = tuple[str, bytes, int, float, bytes | None]


class PostingSpool(PostingPool):
    """Whoosh's `PostingPool` (same size accounting, same sorted runs) with runs pickled
    in chunks of `CHUNK` postings instead of one posting at a time."""

    def add(self, item: Posting) -> None:
        """Add one (field name, term bytes, document number, weight, value) posting."""
        fieldname, text, _, _, value = item
        self.fieldnames.add(fieldname)
        self.currentsize += _POSTING_BYTES + len(fieldname) + 2 * len(text) + len(value or b"")
        if self.currentsize > self.limit:
            self.save()
        self.current.append(item)

    def _write_run(self, f: BinaryIO, items: Iterable[Posting]) -> None:
        # Chunks small enough that the runs being merged hold no more than the pool's limit.
        size = max(1, min(CHUNK, int(self.limit) // (MAX_OPEN_RUNS * _POSTING_MEMORY)))
        postings = iter(items)
        while chunk := list(islice(postings, size)):
            dump(chunk, f, HIGHEST_PROTOCOL)
        f.close()

    def _read_run(self, path: str) -> Iterator[Posting]:
        f = self._open_run(path)
        try:
            while True:
                try:
                    chunk = load(f)
                except EOFError:
                    return
                yield from chunk
        finally:
            f.close()
            self._remove_run(path)


def _use_spool(writer: SegmentWriter) -> None:
    """Give a new writer a `PostingSpool` with the same memory limit (it holds nothing yet)."""
    limit = writer.pool.limit
    writer.pool = PostingSpool(writer._tempstorage, writer.newsegment)
    writer.pool.limit = limit


class SpoolingSegmentWriter(SegmentWriter):
    """Whoosh's `SegmentWriter` with a `PostingSpool`."""

    def __init__(self, ix: Index, **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        _use_spool(self)


class IndexingFailed(RuntimeError):
    """An indexing process ended without handing its segment over."""


class _SpoolingTask(SubWriterTask):
    """Whoosh's sub-writer process (`SubWriterTask.run`), writing with a
    `SpoolingSegmentWriter`, and giving up if its parent dies (a parent killed outright
    would otherwise leave it waiting for work forever, holding the index's write lock)."""

    def run(self) -> None:
        parent = os.getppid()
        ix = self.storage.open_index(self.indexname)
        writer = self.writer = SpoolingSegmentWriter(ix, _lk=False, **self.kwargs)
        while self.running:
            try:
                job = self.jobqueue.get(timeout=1.0)
            except queue.Empty:
                self.running = os.getppid() == parent
                continue
            if job is None:  # the parent's signal to finish
                break
            self._process_file(*job)
        if not self.running:
            writer.cancel()
            return
        fieldnames = writer.pool.fieldnames
        self.resultqueue.put((None, fieldnames, writer._finalize_segment()), timeout=5)


class SpoolingMpWriter(MpWriter):
    """Whoosh's `MpWriter` (with `multisegment`: a segment from each process) whose
    processes use a `PostingSpool`, which commits only if every process handed its segment
    over, and whose `cancel` stops them."""

    def __init__(self, ix: Index, **kwargs: Any) -> None:
        super().__init__(ix, multisegment=True, **kwargs)
        _use_spool(self)

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
