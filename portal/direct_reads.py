"""Reads outside the request's transaction, one round trip each.

The data version, a signed-in reader's session check and search's newest change are read on
nearly every request, so they take the shortest path: an engine of their own in autocommit
mode, without the liveness ping the app's engine makes on every checkout (no BEGIN, no
ROLLBACK, no ping: on PostgreSQL one round trip instead of four).

On PostgreSQL through psycopg, a statement whose parameters and columns need no conversion
(numbers and text) is compiled once and run on the pooled connection's driver directly:
under load, SQLAlchemy's execution around a one-row read cost a worker more CPU than the
read itself (bench/load.py, a signed-in reader's page). Any other statement, and every
statement on SQLite, runs through SQLAlchemy.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from flask import current_app
from sqlalchemy import Dialect, Engine, Select, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeEngine

from portal.extensions import db

_READS = "direct_reads"
_lock = threading.Lock()


def read_now(
    statement: Select[Any], parameters: Mapping[str, Any] | None = None
) -> Sequence[Any] | None:
    """The first row of `statement`, read outside the request's transaction.

    A connection lost since its last use (a database restart) fails the read, which is tried
    once more on a new connection; if that fails too, the error is raised (the 503 page).
    """
    reads = _reads()
    for attempt in (1, 2):
        try:
            return reads.first_row(statement, parameters or {})
        except DBAPIError as error:
            if attempt == 2 or not error.connection_invalidated:
                raise
    raise AssertionError("unreachable")


class DirectReads:
    """The app's database in autocommit mode, without pings, for `read_now`."""

    def __init__(self, main: Engine) -> None:
        url = main.url
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            # A memory database exists only on the app's engine's connection.
            self.engine = main.execution_options(isolation_level="AUTOCOMMIT")
        else:
            self.engine = create_engine(
                url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None
            )
            event.listen(main, "engine_disposed", lambda _: self.engine.dispose())
        self._on_driver = self.engine.dialect.driver == "psycopg"

    def first_row(
        self, statement: Select[Any], parameters: Mapping[str, Any]
    ) -> Sequence[Any] | None:
        """The first row of `statement`; `DBAPIError` if the database fails it."""
        plain = _plain_sql(statement, self.engine.dialect) if self._on_driver else None
        if plain is None:
            with self.engine.connect() as connection:
                return connection.execute(statement, parameters).first()
        sql, constants = plain
        return self._first_row_on_driver(sql, {**constants, **parameters})

    def _first_row_on_driver(self, sql: str, parameters: dict[str, Any]) -> Sequence[Any] | None:
        dialect = self.engine.dialect
        connection = None
        try:
            connection = self.engine.raw_connection()  # refused: the database is down
            return connection.driver_connection.execute(sql, parameters).fetchone()  # type: ignore[union-attr]
        except dialect.loaded_dbapi.Error as error:
            lost = connection is not None and dialect.is_disconnect(
                error, connection.driver_connection, None
            )
            if lost:  # as SQLAlchemy does: this connection, and the pool's older ones with it
                connection.invalidate(error)  # type: ignore[union-attr]
                self.engine.dispose()
            raise DBAPIError.instance(
                sql,
                parameters,
                error,
                dialect.loaded_dbapi.Error,
                hide_parameters=True,  # a session's token hash is one
                connection_invalidated=lost,
                dialect=dialect,
            ) from error
        finally:
            if connection is not None:
                connection.close()


@functools.lru_cache(maxsize=64)
def _plain_sql(statement: Select[Any], dialect: Dialect) -> tuple[str, dict[str, Any]] | None:
    """`statement` as the driver's SQL and its constant parameters (the others must be
    given), if nothing in it needs converting between Python and the database; else None."""
    compiled = statement.compile(dialect=dialect)
    types = [bind.type for bind in compiled.binds.values()]
    types += [column.type for column in statement.selected_columns]
    if (
        compiled.escaped_bind_names
        or compiled.literal_execute_params
        or compiled.post_compile_params
        or any(_converts(type_, dialect) for type_ in types)
    ):
        return None
    values = compiled.params
    constants = {
        name: values[name] for bind, name in compiled.bind_names.items() if not bind.required
    }
    return compiled.string, constants


def _converts(type_: TypeEngine[Any], dialect: Dialect) -> bool:
    implementation = type_.dialect_impl(dialect)
    return (
        implementation.bind_processor(dialect) is not None
        or implementation.result_processor(dialect, None) is not None
    )


def _reads() -> DirectReads:
    """This app's `DirectReads`, made on first use; disposed with the app's engine."""
    extensions = current_app.extensions
    reads = extensions.get(_READS)
    if reads is None:
        with _lock:
            reads = extensions.get(_READS)
            if reads is None:
                reads = extensions[_READS] = DirectReads(db.engine)
    return reads


def reads_engine() -> Engine:
    """The engine `read_now` uses (for tests and diagnostics)."""
    return _reads().engine
