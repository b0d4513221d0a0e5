"""Index writers (portal/search/writers.py): postings grouped by term come back sorted and
complete, spilled or not, and the index written with them is Whoosh's, byte for byte."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.writing import CLEAR, SegmentWriter

from portal.search import writers
from portal.search.codec import CompactCodec
from portal.search.index import WRITER_ARGS
from portal.search.schema import build_schema
from portal.search.writers import SpoolingMpWriter, TermPool, open_writer

FIELDS = ["body", "title", "body_fr"]
WORDS = ["export", "licence", "broker", "dual", "use", "item", "human", "rights", "risk"]


def _postings(documents: int, seed: int = 7) -> list[tuple]:
    """Postings as a writer adds them: document by document, each (field, term) at most
    once per document."""
    rng = random.Random(seed)
    postings = []
    for docnum in range(documents):
        drawn = {
            (rng.choice(FIELDS), rng.choice(WORDS).encode() + b"%d" % rng.randrange(50))
            for _ in range(rng.randrange(1, 8))
        }
        for field, term in sorted(drawn, key=lambda _: rng.random()):
            value = rng.choice([None, b"H\x01\x00", b"H\x02\x00\x05\x00"])
            postings.append((field, term, docnum, float(rng.randrange(1, 5)), value))
    return postings


def _pool(tmp_path: Path, limit: float) -> TermPool:
    return TermPool(FileStorage(str(tmp_path)).create(), limit)


@pytest.mark.parametrize("limit", [20_000, 10**9], ids=["spilled", "in memory"])
def test_pooled_postings_come_back_grouped_sorted_and_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    monkeypatch.setattr(writers, "CHUNK", 7)  # chunk boundaries inside every run
    pool = _pool(tmp_path, limit)
    postings = _postings(600)
    for posting in postings:
        pool.add(posting)
    assert (len(pool.runs) > 10) if limit < 10**6 else not pool.runs
    terms = list(pool.iter_terms())
    keys = [(field, term) for field, term, *_ in terms]
    assert keys == sorted(set(keys))  # each term once, in order
    for _, _, ids, weights, values in terms:
        assert list(ids) == sorted(ids) and len(ids) == len(weights) == len(values)
    assert [
        (field, term, docnum, weight, value)
        for field, term, ids, weights, values in terms
        for docnum, weight, value in zip(ids, weights, values, strict=True)
    ] == sorted(postings, key=lambda posting: posting[:3])
    assert not list(tmp_path.glob("*.run"))  # each run file is removed once read


def test_iter_postings_gives_whooshs_order(tmp_path: Path) -> None:
    pool = _pool(tmp_path, 5_000)
    postings = _postings(200, seed=3)
    for posting in postings:
        pool.add(posting)
    assert pool.runs
    assert list(pool.iter_postings()) == sorted(postings, key=lambda posting: posting[:3])


def test_many_runs_are_merged_in_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writers, "MAX_OPEN_RUNS", 3)
    monkeypatch.setattr(writers, "CHUNK", 5)
    pool = _pool(tmp_path, 3_000)
    postings = _postings(400, seed=5)
    for posting in postings:
        pool.add(posting)
    assert len(pool.runs) > 20
    merged = [
        (field, term, docnum, weight, value)
        for field, term, ids, weights, values in pool.iter_terms()
        for docnum, weight, value in zip(ids, weights, values, strict=True)
    ]
    assert merged == sorted(postings, key=lambda posting: posting[:3])
    assert not list(tmp_path.glob("*.run"))


def test_a_term_out_of_document_order_across_runs_is_refused(tmp_path: Path) -> None:
    pool = _pool(tmp_path, 1)  # every posting spills
    pool.add(("body", b"export", 5, 1.0, None))
    pool.add(("body", b"export", 3, 1.0, None))  # a run of its own: not seen by add
    with pytest.raises(ValueError, match="out of document order"):
        list(pool.iter_terms())


def test_a_term_out_of_document_order_is_refused(tmp_path: Path) -> None:
    pool = _pool(tmp_path, 10**9)
    pool.add(("body", b"export", 5, 1.0, None))
    pool.add(("body", b"licence", 2, 1.0, None))  # another term: its own order
    with pytest.raises(ValueError, match="out of document order"):
        pool.add(("body", b"export", 4, 1.0, None))


def test_cleanup_removes_runs_not_read(tmp_path: Path) -> None:
    pool = _pool(tmp_path, 2_000)
    for posting in _postings(100):
        pool.add(posting)
    assert pool.runs and list(tmp_path.glob("*.run"))
    pool.cleanup()
    assert not pool.runs and not list(tmp_path.glob("*.run"))


def _index(directory: Path, writer_factory, documents: list[dict], check=None) -> dict:
    directory.mkdir()
    ix = whoosh_index.create_in(directory, build_schema())
    writer = writer_factory(ix)
    for document in documents:
        writer.add_document(**document)
    if check:
        check(writer)
    writer.commit()
    with ix.searcher() as searcher:
        reader = searcher.reader()
        return {
            (field, term): sorted(
                (searcher.stored_fields(docnum)["id"], weight, value)
                for docnum, weight, value in _postings_of(reader, field, term)
            )
            for field, term in reader.all_terms()
        }


def _postings_of(reader, field: str, term: bytes):  # type: ignore[no-untyped-def]
    matcher = reader.postings(field, term)
    while matcher.is_active():
        yield matcher.id(), matcher.weight(), matcher.value()
        matcher.next()


def _documents(count: int) -> list[dict]:
    rng = random.Random(11)
    return [
        {
            "id": str(number),
            "title": " ".join(rng.choices(WORDS, k=4)),
            "body": " ".join(rng.choices(WORDS, k=rng.randrange(20, 200))),
            "state": rng.choice(["fr", "de", "nl"]),
        }
        for number in range(count)
    ]


def test_an_index_written_with_spills_is_the_index_written_without(tmp_path: Path) -> None:
    documents = _documents(300)

    def spilling(ix):  # type: ignore[no-untyped-def]
        writer = open_writer(ix, **{**WRITER_ARGS, "limitmb": 0.05})  # about 50 KB
        assert type(writer.pool) is TermPool
        return writer

    def whooshs(ix):  # type: ignore[no-untyped-def]
        return SegmentWriter(ix, **{**WRITER_ARGS, "limitmb": 1024})

    def spilled_runs(writer) -> None:  # type: ignore[no-untyped-def]
        assert len(writer.pool.runs) > 3

    spilled = _index(tmp_path / "spilled", spilling, documents, spilled_runs)
    assert spilled and spilled == _index(tmp_path / "whoosh", whooshs, documents)


def _segment_files(directory: Path) -> dict[str, bytes]:
    """The one segment's files by extension (segment names are random)."""
    return {
        path.name.split(".", 1)[1]: path.read_bytes()
        for path in directory.iterdir()
        if path.name.startswith("MAIN_") and "." in path.name
    }


@pytest.mark.parametrize("limitmb", [0.05, 1024], ids=["spilled", "in memory"])
def test_terms_written_whole_give_whooshs_bytes(tmp_path: Path, limitmb: float) -> None:
    """Blocks of 8 postings, so that terms span several blocks, each with its own weight
    and length statistics."""
    documents = _documents(300)
    codec = CompactCodec(blocklimit=8, compression=0)
    args = {key: value for key, value in WRITER_ARGS.items() if key != "limitmb"} | {"codec": codec}

    def spilled_as_asked(writer) -> None:  # type: ignore[no-untyped-def]
        assert bool(writer.pool.runs) == (limitmb < 1)

    whole = _index(
        tmp_path / "whole",
        lambda ix: open_writer(ix, **args, limitmb=limitmb),
        documents,
        spilled_as_asked,
    )
    assert whole
    _index(tmp_path / "whoosh", lambda ix: SegmentWriter(ix, **args, limitmb=1024), documents)
    ours, whooshs = _segment_files(tmp_path / "whole"), _segment_files(tmp_path / "whoosh")
    assert {"pst", "trm", "_body_len.col"} <= ours.keys()
    assert ours == whooshs


def test_several_processes_write_one_segment_each(tmp_path: Path) -> None:
    documents = _documents(400)

    def parallel(ix):  # type: ignore[no-untyped-def]
        writer = open_writer(ix, procs=2, **{**WRITER_ARGS, "limitmb": 0.05})
        assert type(writer) is SpoolingMpWriter
        return writer

    written = _index(tmp_path / "parallel", parallel, documents)
    ix = whoosh_index.open_dir(tmp_path / "parallel")
    assert len(ix._segments()) == 2
    assert written == _index(tmp_path / "one", lambda ix: open_writer(ix, **WRITER_ARGS), documents)


def _locked_writer(ix, procs: int = 2):  # type: ignore[no-untyped-def]
    lock = ix.lock("WRITELOCK")
    assert lock.acquire()
    writer = open_writer(ix, procs=procs, **WRITER_ARGS)
    writer.writelock = lock
    return writer


def _one_document_index(directory: Path):  # type: ignore[no-untyped-def]
    ix = whoosh_index.create_in(directory, build_schema())
    with ix.writer(**WRITER_ARGS) as writer:
        writer.add_document(id="kept", body="the index before")
    return ix


def test_a_process_that_dies_fails_the_commit_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ix = _one_document_index(tmp_path)

    def die(task, filename: str, count: int) -> None:  # type: ignore[no-untyped-def]
        os._exit(3)  # as a process killed for its memory would, without a word

    monkeypatch.setattr(writers._SpoolingTask, "_process_file", die)  # forked: inherited
    writer = _locked_writer(ix)
    for document in _documents(300):
        writer.add_document(**document)
    with pytest.raises(writers.IndexingFailed, match="exit codes"):
        writer.commit(mergetype=CLEAR)
    writer.cancel()
    assert all(not task.is_alive() for task in writer.tasks)
    with ix.searcher() as searcher:  # the old contents stand
        assert [fields["id"] for fields in searcher.all_stored_fields()] == ["kept"]
    assert ix.lock("WRITELOCK").acquire()  # and the lock is free


def test_cancel_stops_the_processes(tmp_path: Path) -> None:
    ix = _one_document_index(tmp_path)
    writer = _locked_writer(ix)
    for document in _documents(300):
        writer.add_document(**document)
    assert writer.tasks and all(task.is_alive() for task in writer.tasks)
    writer.cancel()
    assert all(task.exitcode is not None for task in writer.tasks)
    with ix.searcher() as searcher:
        assert searcher.doc_count() == 1
    assert ix.lock("WRITELOCK").acquire()


@pytest.mark.parametrize("start_method", ["fork", "forkserver"])
def test_a_process_whose_parent_died_gives_up(tmp_path: Path, start_method: str) -> None:
    """A rebuild killed outright (SIGKILL) leaves no process holding the write lock, however
    its processes were started (forkserver: Python 3.14's default on Linux)."""
    ix = _one_document_index(tmp_path)
    script = f"""
import multiprocessing, os, sys
multiprocessing.set_start_method({start_method!r}, force=True)
from whoosh import index
from portal.search.index import WRITER_ARGS
from portal.search.writers import open_writer
ix = index.open_dir({str(tmp_path)!r})
writer = open_writer(ix, procs=2, **WRITER_ARGS)
lock = ix.lock("WRITELOCK"); lock.acquire(); writer.writelock = lock
for n in range(300):
    writer.add_document(id=str(n), body="words " * 20)
print(" ".join(str(task.pid) for task in writer.tasks), flush=True)
os.kill(os.getpid(), 9)
"""
    # The processes hold the output pipe: a timeout, not a hang, if they never end.
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    pids = [int(pid) for pid in run.stdout.split()]
    assert run.returncode == -9 and pids, run.stderr
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in pids)
    assert ix.lock("WRITELOCK").acquire()


def test_processes_started_by_a_forkserver_hand_their_segments_over(tmp_path: Path) -> None:
    """Python 3.14 starts processes from a fork server on Linux: their parent is that
    server, not the writer, and they must still wait for work rather than give up."""
    _one_document_index(tmp_path)
    script = f"""
import multiprocessing
multiprocessing.set_start_method("forkserver", force=True)
from whoosh import index
from portal.search.index import WRITER_ARGS
from portal.search.writers import open_writer
ix = index.open_dir({str(tmp_path)!r})
writer = open_writer(ix, procs=2, **WRITER_ARGS)
lock = ix.lock("WRITELOCK"); lock.acquire(); writer.writelock = lock
for n in range(300):
    writer.add_document(id=str(n), body="words " * 20)
import time; time.sleep(2.5)  # idle longer than a task's wait for work
for n in range(300, 400):
    writer.add_document(id=str(n), body="words " * 20)
writer.commit()
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    with whoosh_index.open_dir(tmp_path).searcher() as searcher:
        assert searcher.doc_count() == 401


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has ended
        return stat.read().split(") ")[-1][0] != "Z"
