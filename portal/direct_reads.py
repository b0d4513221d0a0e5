"""Reads outside the request's transaction, one round trip each.

The data version, a signed-in reader's session check and search's newest change are read on
nearly every request, so they take the shortest path: an engine of their own in autocommit
mode, without the liveness ping the app's engine makes on every checkout (no BEGIN, no
ROLLBACK, no ping: on PostgreSQL one round trip instead of four).

A statement whose parameters and columns need no conversion (numbers and text) is compiled
once and run on the pooled connection's driver (psycopg, sqlite3) directly: under load,
SQLAlchemy's execution around a one-row read cost a worker more CPU than the read itself
(bench/load.py, a signed-in reader's page). Any other statement runs through SQLAlchemy.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Engine, Integer, Select, String, create_engine, event
from sqlalchemy.exc import DBAPIError, InvalidRequestError
from sqlalchemy.types import NullType, TypeEngine

from portal.extensions import db, once_per_app

_READS = "direct_reads"
#: The drivers whose connections run a compiled statement's SQL as SQLAlchemy would.
_DRIVERS = frozenset({"psycopg", "pysqlite"})


def read_now(
    statement: Select[Any], parameters: Mapping[str, Any] | None = None
) -> tuple[Any, ...] | None:
    """The first row of `statement`, read outside the request's transaction.

    Build `statement` once (module level): it is compiled once per statement object. A
    connection lost since its last use (a database restart) fails the read, which is tried
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


def read_number_now(statement: Select[Any]) -> int:
    """The number `statement` selects (a length, a largest id), 0 for none: `read_now`."""
    row = read_now(statement)
    return (row[0] if row is not None else 0) or 0


class DirectReads:
    """The app's database in autocommit mode, without pings, for `read_now`."""

    def __init__(self, main: Engine) -> None:
        url = main.url
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            # A memory database exists only on the app's engine's connection, which may be
            # in the request's transaction: read through SQLAlchemy, in autocommit mode.
            self.engine = main.execution_options(isolation_level="AUTOCOMMIT")
            self._on_driver = False
        else:
            self.engine = create_engine(
                url,
                isolation_level="AUTOCOMMIT",
                pool_reset_on_return=None,
                hide_parameters=True,  # a session's token hash is one
            )
            event.listen(main, "engine_disposed", lambda _: self.engine.dispose())
            self._on_driver = self.engine.dialect.driver in _DRIVERS
        # Statements are compiled for the driver only once the first connection has told the
        # dialect about the server (its version, its features).
        self._dialect_ready = not self._on_driver

    def first_row(
        self, statement: Select[Any], parameters: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        """The first row of `statement`; `DBAPIError` if the database fails it."""
        if not self._dialect_ready:
            with self.engine.connect():
                self._dialect_ready = True
        plain = _plain_sql(statement, self.engine.dialect) if self._on_driver else None
        if plain is None:
            with self.engine.connect() as connection:
                row = connection.execute(statement, parameters).first()
            return None if row is None else tuple(row)
        return self._first_row_on_driver(plain.sql, plain.parameters(parameters))

    def _first_row_on_driver(
        self, sql: str, parameters: Mapping[str, Any] | tuple[Any, ...]
    ) -> tuple[Any, ...] | None:
        dialect = self.engine.dialect
        connection = None
        try:
            connection = self.engine.raw_connection()  # refused: the database is down
            cursor = connection.driver_connection.execute(sql, parameters)  # type: ignore[union-attr]
            try:
                return cursor.fetchone()
            finally:
                cursor.close()
        except dialect.loaded_dbapi.Error as error:
            lost = connection is not None and dialect.is_disconnect(
                error, connection.driver_connection, None
            )
            if lost:  # a restart: the pool's idle connections are dead too, so a new pool
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
        except BaseException as interrupted:  # a KeyboardInterrupt or timeout mid-statement
            if connection is not None and not isinstance(interrupted, Exception):
                connection.invalidate(interrupted)  # it may still be busy with the statement
            raise
        finally:
            if connection is not None:
                connection.close()


@dataclass(frozen=True)
class PlainSQL:
    """A statement compiled for its driver, with the parameters it was compiled with."""

    sql: str
    constants: dict[str, Any]
    required: frozenset[str]
    order: tuple[str, ...] | None  # the parameters' order, for a positional driver

    def parameters(self, given: Mapping[str, Any]) -> dict[str, Any] | tuple[Any, ...]:
        """What the driver takes with `sql`, from the caller's parameters."""
        missing = self.required.difference(given)
        if missing:
            raise InvalidRequestError(f"A value is required for bind parameter {min(missing)!r}")
        values = {**self.constants, **given}
        return values if self.order is None else tuple(values[name] for name in self.order)


@functools.lru_cache(maxsize=64)
def _plain_sql(statement: Select[Any], dialect: Dialect) -> PlainSQL | None:
    """`statement` compiled for the driver, if nothing in it needs converting between Python
    and the database; else None."""
    compiled = statement.compile(dialect=dialect)
    types = [bind.type for bind in compiled.binds.values()]
    types += [column.type for column in statement.selected_columns]
    if (
        compiled.escaped_bind_names
        or compiled.literal_execute_params
        or compiled.post_compile_params
        or any(bind.callable is not None for bind in compiled.binds.values())  # per execution
        or not all(_plain(type_, dialect) for type_ in types)
    ):
        return None
    values = compiled.params
    names = compiled.bind_names.items()
    return PlainSQL(
        sql=compiled.string,
        constants={name: values[name] for bind, name in names if not bind.required},
        required=frozenset(name for bind, name in names if bind.required),
        order=tuple(compiled.positiontup or ()) if compiled.positional else None,
    )


def _plain(type_: TypeEngine[Any], dialect: Dialect) -> bool:
    """Whether the driver's own values of `type_` are SQLAlchemy's: whole numbers and text
    with no conversion either way."""
    if not isinstance(type_, (Integer, String, NullType)):
        return False
    implementation = type_.dialect_impl(dialect)
    return (
        implementation.bind_processor(dialect) is None
        and implementation.result_processor(dialect, None) is None
    )


def _reads() -> DirectReads:
    """This app's `DirectReads`, made on first use; disposed with the app's engine."""
    reads: DirectReads = once_per_app(_READS, lambda: DirectReads(db.engine))
    return reads


def reads_engine() -> Engine:
    """The engine `read_now` uses (for tests and diagnostics)."""
    return _reads().engine
