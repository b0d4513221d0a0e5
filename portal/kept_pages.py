"""Rendered pages kept by each worker, and shared by the workers of one node.

Each worker keeps the pages it renders in memory (`KeptPages`), for one version of the data
(`data_version`) and at most VISITOR_PAGE_SECONDS. On its own, each of a node's workers
renders every page once more after each change of the data and whenever its copy runs out.
With KEPT_PAGES_DIR set, a page one worker rendered is also written to a file
(`SharedPages`) that the node's other workers read instead of rendering it again: same key,
same data version, same age limit, so nothing is served that the worker's own copy would
not serve. A signed-in reader's pages are keyed by their own server-side session, as in
memory; files are readable by the portal's user only and removed once too old. Each
database has its own subdirectory (named by a hash of its URL), and each node its own
directory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

log = logging.getLogger("portal.pages")

MAX_PAGES = 512
MAX_PAGE_BYTES = 512 * 1024
#: What one store may hold in all, per worker (a few hundred typical pages).
MAX_BYTES = 32 * 1024 * 1024
#: Files one shared store keeps at most; the oldest go first.
MAX_FILES = 4096
#: Every this many pages written, files past their age (or over MAX_FILES) are removed.
SWEEP_EVERY = 64


@dataclass(frozen=True)
class KeptPage:
    """A rendered page and when it was made (`time.monotonic()`)."""

    body: bytes
    mimetype: str
    etag: str
    made: float


def _file_name(key: str) -> str:
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


class SharedPages:
    """Pages in `directory`, each a file: a JSON header line, then the body."""

    def __init__(self, directory: Path, max_age: float, max_files: int = MAX_FILES) -> None:
        self.directory = directory
        self.max_age = max_age
        self.max_files = max_files
        self._written = 0
        self._lock = threading.Lock()
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def get(self, key: str, version: int) -> KeptPage | None:
        """The page a worker of this node kept for `key` at `version`, if not too old."""
        try:
            data = (self.directory / _file_name(key)).read_bytes()
        except OSError:
            return None
        header, _, body = data.partition(b"\n")
        try:
            meta = json.loads(header)
            if meta["key"] != key or meta["version"] != version:
                return None
            age = time.time() - float(meta["made"])
            page = KeptPage(body, str(meta["mimetype"]), str(meta["etag"]), time.monotonic() - age)
        except (ValueError, KeyError, TypeError):
            return None  # not a whole page written by this code: render it instead
        return page if 0 <= age <= self.max_age else None

    def put(self, key: str, version: int, page: KeptPage) -> None:
        """Share `page`; a directory that cannot be written only means no sharing."""
        made = time.time() - (time.monotonic() - page.made)
        header = {"key": key, "version": version, "made": made}
        header |= {"mimetype": page.mimetype, "etag": page.etag}
        path = self.directory / _file_name(key)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(json.dumps(header).encode() + b"\n" + page.body)
            os.replace(temporary, path)  # a reader sees the old file or the new one, whole
        except OSError as error:
            log.warning("cannot share a kept page in %s: %s", self.directory, error)
            temporary.unlink(missing_ok=True)
            return
        with self._lock:
            self._written += 1
            due = self._written % SWEEP_EVERY == 0
        if due:
            self.sweep()

    def sweep(self) -> None:
        """Remove files past their age, then the oldest beyond `max_files`."""
        now = time.time()
        kept: list[tuple[float, str]] = []
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return
        for entry in entries:
            try:
                modified = entry.stat().st_mtime
                if now - modified > self.max_age + 60:  # a minute's grace for writes under way
                    os.unlink(entry.path)
                elif not entry.name.startswith("."):
                    kept.append((modified, entry.path))
            except OSError:
                continue  # removed meanwhile by another worker
        kept.sort()
        for _, path in kept[: max(0, len(kept) - self.max_files)]:
            Path(path).unlink(missing_ok=True)


class KeptPages:
    """This worker's kept pages for one version of the data (LRU, thread-safe), and the
    node's `shared` ones if given."""

    def __init__(self, shared: SharedPages | None = None) -> None:
        self._lock = threading.Lock()
        self._pages: OrderedDict[str, KeptPage] = OrderedDict()
        self._bytes = 0
        self._version: int | None = None
        self._shared = shared

    def get(self, url: str, version: int, max_age: float) -> KeptPage | None:
        """The page kept for `url` at `version`, if younger than `max_age` seconds."""
        with self._lock:
            if version != self._version:
                self._pages.clear()
                self._bytes = 0
                self._version = version
            else:
                page = self._pages.get(url)
                if page is not None and time.monotonic() - page.made <= max_age:
                    self._pages.move_to_end(url)
                    return page
        if self._shared is None:
            return None
        page = self._shared.get(url, version)
        if page is None or time.monotonic() - page.made > max_age:
            return None
        self._remember(url, version, page)
        return page

    def put(self, url: str, version: int, page: KeptPage) -> None:
        """Keep `page` for `url` if the data is still at `version`; share it."""
        self._remember(url, version, page)
        if self._shared is not None:
            self._shared.put(url, version, page)

    def _remember(self, url: str, version: int, page: KeptPage) -> None:
        with self._lock:
            if version != self._version:
                return
            replaced = self._pages.pop(url, None)
            self._bytes += len(page.body) - (len(replaced.body) if replaced else 0)
            self._pages[url] = page
            while len(self._pages) > MAX_PAGES or self._bytes > MAX_BYTES:
                _, dropped = self._pages.popitem(last=False)
                self._bytes -= len(dropped.body)


def kept_pages(app: Flask, name: str) -> KeptPages:
    """A worker's store of pages called `name`, shared through KEPT_PAGES_DIR if set."""
    directory = app.config.get("KEPT_PAGES_DIR")
    if not directory:
        return KeptPages()
    database = str(app.config["SQLALCHEMY_DATABASE_URI"]).encode()
    scope = hashlib.blake2b(database, digest_size=8).hexdigest()
    max_age = app.config.get("VISITOR_PAGE_SECONDS", 30)
    try:
        return KeptPages(SharedPages(Path(directory) / scope / name, max_age))
    except OSError as error:
        log.warning("kept pages are not shared: cannot use %s: %s", directory, error)
        return KeptPages()
