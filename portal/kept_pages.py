"""Rendered pages kept by each worker, and shared by the workers of one server.

Each worker keeps the pages it renders in memory (`KeptPages`), for one version of the data
(`data_version`) and at most VISITOR_PAGE_SECONDS. On its own, each of a server's workers
renders every page once more after each change of the data and whenever its copy runs out.
With KEPT_PAGES_DIR set, a page one worker rendered is also written to a file
(`SharedPages`) that the server's other workers read instead of rendering it again: same
key, same data version, same age limit, so nothing is served that the worker's own copy
would not serve. A signed-in reader's pages are keyed by their own server-side session, as
in memory.

Files are the portal's user's only (directories 700, files 600, checked, never followed
through a link), named by a hash keyed with SECRET_KEY, and checked whole (length and
digest) before use. Each running server (its master process), code and database has a
directory of its own, so a restart or a deployment never serves pages an earlier server or
earlier code rendered; files past their age, including those of earlier servers, are removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flask import Flask

log = logging.getLogger("portal.pages")

MAX_PAGES = 512
#: What one store may hold in all, per worker (a few hundred typical pages).
MAX_BYTES = 32 * 1024 * 1024
#: Files one shared store keeps at most; the oldest go first.
MAX_FILES = 4096
#: Every this many pages written (or once per age limit), old files are removed.
SWEEP_EVERY = 64
#: Files younger than their age limit plus this may still be read or being written.
GRACE_SECONDS = 60
_PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class KeptPage:
    """A rendered page and when it was made (`time.monotonic()`)."""

    body: bytes
    mimetype: str
    etag: str
    made: float


class UnsafeDirectory(OSError):
    """A directory for shared pages that others could read or write."""


def _private_directory(path: Path) -> None:
    """Create `path` (mode 700) if missing; refuse one that is a link, another user's, or
    open to others."""
    path.mkdir(mode=0o700, exist_ok=True)
    found = path.lstat()
    if (
        not stat.S_ISDIR(found.st_mode)
        or found.st_uid != os.geteuid()
        or stat.S_IMODE(found.st_mode) & 0o077
    ):
        raise UnsafeDirectory(f"{path} must be a directory of this user, mode 700")


def _digest(data: bytes, secret: bytes = b"") -> str:
    return hashlib.blake2b(data, key=secret, digest_size=16).hexdigest()


def body_etag(body: bytes) -> str:
    """A strong entity tag for a response body (also what a shared file's body is checked
    against)."""
    return _digest(body)


class SharedPages:
    """Pages in `directory`, each a file: a JSON header line, then the body."""

    def __init__(
        self, directory: Path, secret: bytes, max_age: float, max_files: int = MAX_FILES
    ) -> None:
        self.directory = directory
        self.max_age = max_age
        self.max_files = max_files
        self._secret = hashlib.blake2b(secret).digest()  # a key of blake2b's size
        self._written = 0
        self._swept = time.monotonic()
        self._lock = threading.Lock()
        _private_directory(directory)

    def _path(self, key: str) -> Path:
        return self.directory / _digest(key.encode(), self._secret)

    def get(self, key: str, version: int) -> KeptPage | None:
        """The page a worker of this server kept for `key` at `version`, whatever its age."""
        try:
            descriptor = os.open(self._path(key), os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(descriptor, "rb") as file:
                data = file.read()
        except OSError:
            return None
        header, _, body = data.partition(b"\n")
        try:
            meta = json.loads(header)
            whole = meta["length"] == len(body) and meta["digest"] == body_etag(body)
            if not whole or meta["version"] != version:
                return None
            age = time.time() - float(meta["made"])
            return KeptPage(body, str(meta["mimetype"]), str(meta["etag"]), time.monotonic() - age)
        except (ValueError, KeyError, TypeError):
            return None  # not a whole page written by this code: render it instead

    def put(self, key: str, version: int, page: KeptPage) -> None:
        """Share `page`; a directory that cannot be written only means no sharing."""
        header = {
            "version": version,
            "made": time.time() - (time.monotonic() - page.made),
            "mimetype": page.mimetype,
            "etag": page.etag,
            "length": len(page.body),
            "digest": body_etag(page.body),
        }
        path = self._path(key)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            if not self.directory.is_dir():  # removed while this server was idle
                _private_directory(self.directory.parent)
                _private_directory(self.directory)
            temporary.unlink(missing_ok=True)  # left by a process that died while writing
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            with os.fdopen(os.open(temporary, flags, 0o600), "wb") as file:
                file.write(json.dumps(header).encode() + b"\n" + page.body)
            os.replace(temporary, path)  # a reader sees the old file or the new one, whole
        except OSError as error:
            log.warning("cannot share a kept page in %s: %s", self.directory, error)
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            return
        with self._lock:
            self._written += 1
            due = self._written % SWEEP_EVERY == 0 or time.monotonic() - self._swept > self.max_age
            if due:
                self._swept = time.monotonic()
        if due:
            self.sweep()

    def sweep(self) -> None:
        """Remove files past their age, then the oldest beyond `max_files`."""
        kept = _remove_old_files(self.directory, self.max_age + GRACE_SECONDS)
        kept.sort()
        for _, path in kept[: max(0, len(kept) - self.max_files)]:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _remove_old_files(directory: Path | str, max_age: float) -> list[tuple[float, str]]:
    """Remove the files of `directory` older than `max_age` seconds; (time, path) of the
    others, temporary ones aside. Errors (a file removed meanwhile) are passed over."""
    now = time.time()
    kept: list[tuple[float, str]] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return kept
    for entry in entries:
        try:
            modified = entry.stat(follow_symlinks=False).st_mtime
            if now - modified > max_age:
                os.unlink(entry.path)
            elif not entry.name.startswith("."):
                kept.append((modified, entry.path))
        except OSError:
            continue
    return kept


class KeptPages:
    """This worker's kept pages for one version of the data (LRU, thread-safe), and its
    server's `shared` ones if given."""

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
        """Keep and share `page` for `url` if the data is still at `version` (a page made
        for an older version would only take a newer one's place)."""
        if self._remember(url, version, page) and self._shared is not None:
            self._shared.put(url, version, page)

    def _remember(self, url: str, version: int, page: KeptPage) -> bool:
        with self._lock:
            if version != self._version:
                return False
            replaced = self._pages.pop(url, None)
            self._bytes += len(page.body) - (len(replaced.body) if replaced else 0)
            self._pages[url] = page
            while len(self._pages) > MAX_PAGES or self._bytes > MAX_BYTES:
                _, dropped = self._pages.popitem(last=False)
                self._bytes -= len(dropped.body)
            return True


@cache
def _code_identity() -> str:
    """What changes when the portal's code, templates or translations do."""
    files = sorted(
        path
        for path in _PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts  # written as workers import
    )
    stats = [(str(path), path.stat()) for path in files]
    return _digest(repr([(name, st.st_mtime_ns, st.st_size) for name, st in stats]).encode())


def kept_pages(app: Flask, name: str) -> KeptPages:
    """A worker's store of pages called `name`, shared through KEPT_PAGES_DIR if set.

    The store's directory is named by a keyed hash of the database, the server (the workers'
    parent: a restart starts afresh) and the code; directories of earlier servers are
    emptied of files past their age and removed once empty.
    """
    directory = app.config.get("KEPT_PAGES_DIR")
    if not directory:
        return KeptPages()
    secret = str(app.config["SECRET_KEY"]).encode()
    max_age = app.config.get("VISITOR_PAGE_SECONDS", 30)
    root = Path(directory)
    server = f"{app.config['SQLALCHEMY_DATABASE_URI']}\0{os.getppid()}\0{_code_identity()}"
    scope = root / _digest(server.encode(), hashlib.blake2b(secret).digest())
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        _private_directory(root)
        _private_directory(scope)
        _remove_earlier_servers(root, scope, max_age + GRACE_SECONDS)
        return KeptPages(SharedPages(scope / name, secret, max_age))
    except OSError as error:
        log.warning("kept pages are not shared: cannot use %s: %s", directory, error)
        return KeptPages()


def _remove_earlier_servers(root: Path, current: Path, max_age: float) -> None:
    """Remove other servers' files past their age, and their directories once empty and
    unused for as long (a server still running recreates its own if needed)."""
    for scope in root.iterdir():
        if scope == current or scope.is_symlink() or not scope.is_dir():
            continue
        for store in [*scope.iterdir(), scope]:
            if store != scope and (store.is_symlink() or not store.is_dir()):
                continue
            if store != scope:
                _remove_old_files(store, max_age)
            with contextlib.suppress(OSError):  # not empty, or used meanwhile
                if time.time() - store.stat().st_mtime > max_age:
                    store.rmdir()
