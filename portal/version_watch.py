"""The data version as PostgreSQL announces it, so a visitor's kept page needs no query.

Every audited change and every change of access (migration 0008) updates the audit chain's
head, and a trigger (migrations 0007, 0008) sends the new data version on CHANNEL when the
change commits, on whichever worker or node made it. A worker's watch listens on a connection
of its own, in a thread, and keeps the latest version. Every HEARTBEAT_SECONDS it reads the
version itself, which proves the connection alive and corrects a version announced by anyone
else; it reads at once when a notification is lower than what it holds (rows deleted) or
not a number. A watch that has heard nothing
from the database for LIVE_SECONDS (not yet connected, connection lost or hanging, database
down) vouches for nothing, and the version is read from the database as before
(`data_version`); one whose connection does not keep its server session (a proxy pooling
transactions) stops for good.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from sqlalchemy import Connection, Engine, Select

log = logging.getLogger("portal.data_version")

CHANNEL = "portal_data_version"
#: Seconds between the watch's own reads of the version.
HEARTBEAT_SECONDS = 1.0
#: Seconds since the database was last heard from after which the watch vouches for nothing.
LIVE_SECONDS = 3.0
#: The same for a signed-in reader's kept page (a session ended elsewhere): a heartbeat missed
#: by half its interval is enough to read instead.
READER_LIVE_SECONDS = 1.5 * HEARTBEAT_SECONDS
#: Seconds the thread waits for a notification before it looks up (to stop, or to read).
POLL_SECONDS = 0.25
#: Seconds between attempts to connect again.
RETRY_SECONDS = 1.0


class NotListening(Exception):
    """The connection cannot be relied on for notifications (it changed server sessions)."""


class VersionWatch:
    """One process's view of the data version, kept by a listening thread.

    The thread starts on the first `version()` in each process (a server's workers are
    forked after the app is made), and stops with `stop()`.
    """

    def __init__(self, engine: Engine, read_statement: Select[Any]) -> None:
        """`read_statement` selects the server session's pid and the version: notifications
        only reach the session that listens, which a transaction-pooling proxy does not keep."""
        self._engine = engine  # autocommit, unpooled: the listening connection is its own
        self._read_statement = read_statement
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._stopped = threading.Event()
        self._version = 0
        self._heard = float("-inf")  # time.monotonic() of the last word from the database
        self._failing = False

    def version(self, *, for_reader: bool = False) -> int | None:
        """The latest version the database announced, or None if the watch cannot vouch for
        it (read it instead): nothing heard from the database for LIVE_SECONDS, or
        READER_LIVE_SECONDS `for_reader`."""
        if self._pid != os.getpid():
            self._start()
        heard = self._heard
        version = self._version  # read after the time: never older than what `heard` vouches
        live = READER_LIVE_SECONDS if for_reader else LIVE_SECONDS
        return version if time.monotonic() - heard <= live else None

    def stop(self) -> None:
        """Stop listening (the thread ends within POLL_SECONDS)."""
        self._stopped.set()
        self._heard = float("-inf")

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid() or self._stopped.is_set():
                return
            self._pid = os.getpid()
            self._heard = float("-inf")  # a forked copy's thread did not come along
            threading.Thread(target=self._run, name="data-version-watch", daemon=True).start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self._listen()
            except NotListening as error:
                log.error("data version: %s; reading it per request from now on", error)
                self.stop()
            except Exception as error:  # any other failure: vouch for nothing, connect again
                self._heard = float("-inf")
                if not self._failing:
                    log.warning(
                        "data version: not listening (%s); reading it per request until "
                        "the database answers again",
                        error,
                    )
                self._failing = True
                self._stopped.wait(RETRY_SECONDS)
        self._heard = float("-inf")

    def _listen(self) -> None:
        with self._engine.connect() as connection:
            connection.exec_driver_sql(f"LISTEN {CHANNEL}")
            driver = connection.connection.driver_connection
            session: int | None = None  # the server session's pid
            read_at = float("-inf")
            while not self._stopped.is_set():
                if time.monotonic() - read_at >= HEARTBEAT_SECONDS:
                    session = self._read(connection, session)
                    read_at = time.monotonic()
                for notice in driver.notifies(timeout=POLL_SECONDS):  # type: ignore[union-attr]
                    announced = _version(notice.payload)
                    if announced is None or announced < self._version:
                        # Older than a read (still queued), a version that went down (rows
                        # deleted: a test, a restore) or not a number: read it now.
                        read_at = float("-inf")
                        break
                    self._heard_of(announced)

    def _read(self, connection: Connection, session: int | None) -> int:
        backend, version = connection.execute(self._read_statement).one()
        if session is not None and backend != session:
            raise NotListening(
                "the connection does not keep its server session (a proxy pooling "
                "transactions?), so notifications cannot reach it"
            )
        self._heard_of(version or 0)
        if self._failing:
            log.info("data version: listening again")
            self._failing = False
        return int(backend)

    def _heard_of(self, version: int) -> None:
        self._version = version
        self._heard = time.monotonic()


def _version(payload: str) -> int | None:
    """A notification's version, or None if it is not one."""
    return int(payload) if payload.isascii() and payload.isdigit() else None
