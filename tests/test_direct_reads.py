"""One-round-trip reads outside the request's transaction (portal/direct_reads.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, Integer, Numeric, bindparam, cast, event, func, literal, select
from sqlalchemy.exc import DataError, OperationalError, SQLAlchemyError

from portal.auth.sessions import signed_in
from portal.data_version import data_version, with_data_version
from portal.direct_reads import read_now, reads_engine
from portal.extensions import db
from portal.models import Document, User, UserSession, Visibility
from tests.conftest import sign_in

POSTGRESQL_ONLY = "a PostgreSQL server's own failures"

_READER = with_data_version(signed_in(User.locale))


def statements_through_sqlalchemy(engine: Engine) -> list[str]:
    """The statements SQLAlchemy runs on `engine` from now on."""
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def note(_c: object, _cur: object, statement: str, *_: object) -> None:
        seen.append(statement)

    return seen


def test_plain_reads_run_on_the_driver(app, client, make_document, make_user):
    """Numbers and text need no conversion: the driver runs the compiled statement itself
    (its parameters in the driver's order), with the answers SQLAlchemy gives."""
    make_document(title="Walrus note", source="Walrus text.")
    user = make_user("government", "DE")
    user.locale = "fr"
    db.session.commit()
    sign_in(client, user.email)
    token_hash = db.session.scalars(select(UserSession.token_hash)).one()
    signed_in_claim = {
        "user_id": user.id,
        "version": user.session_version,
        "token_hash": token_hash,
    }
    with reads_engine().connect() as connection:
        expected = tuple(connection.execute(_READER, signed_in_claim).one())
    assert expected[0] == "fr"
    through_sqlalchemy = statements_through_sqlalchemy(reads_engine())
    assert read_now(_READER, signed_in_claim) == expected
    assert read_now(_READER, {**signed_in_claim, "token_hash": "not a session"}) is None
    assert read_now(_READER, {**signed_in_claim, "version": user.session_version + 1}) is None
    assert read_now(select(Document.title).limit(1)) == ("Walrus note",)
    assert data_version() == expected[1] > 0
    assert through_sqlalchemy == []


def test_numbers_with_decimals_and_per_execution_values_go_through_sqlalchemy(app):
    through_sqlalchemy = statements_through_sqlalchemy(reads_engine())
    assert read_now(select(cast(literal(1.5), Numeric(10, 2)))) == (Decimal("1.50"),)
    calls = iter(range(1, 10))
    counted = select(bindparam("n", callable_=lambda: next(calls), type_=Integer))
    assert [read_now(counted), read_now(counted)] == [(1,), (2,)]
    assert len(through_sqlalchemy) == 3


def test_values_sqlalchemy_converts_are_converted(app, make_document):
    """An enum column is stored as its name: such a statement runs through SQLAlchemy."""
    make_document(title="Manatee note", source="Manatee text.", visibility=Visibility.PUBLIC)
    through_sqlalchemy = statements_through_sqlalchemy(reads_engine())
    row = read_now(select(Document.visibility, Document.title))
    assert row is not None and tuple(row) == (Visibility.PUBLIC, "Manatee note")
    assert len(through_sqlalchemy) == 1


def test_a_missing_parameter_is_refused_before_the_database(app):
    with pytest.raises(
        SQLAlchemyError, match="A value is required for bind parameter 'token_hash'"
    ):
        read_now(_READER, {"user_id": 1, "version": 1})


def test_a_connection_lost_since_its_last_use_is_replaced(app):
    version = data_version()
    with reads_engine().connect() as connection:
        # The database connection goes away while pooled, as in a database restart.
        connection.connection.driver_connection.close()
    assert data_version() == version


def test_a_lost_connection_takes_the_pools_older_ones_with_it(app):
    """After a database restart every pooled connection is dead: the first failure drops
    them all, so the retry connects afresh instead of trying the next dead one."""
    engine = reads_engine()
    connections = [engine.raw_connection() for _ in range(3)]
    for connection in connections:
        connection.driver_connection.close()
        connection.close()  # back in the pool, dead
    assert engine.pool.checkedin() == 3
    assert data_version() >= 0
    assert engine.pool.checkedin() == 1


def test_a_database_that_refuses_connections_is_the_503_error(app, monkeypatch):
    engine = reads_engine()
    engine.dispose()  # nothing pooled: the read must connect

    def refused() -> Any:
        raise engine.dialect.loaded_dbapi.OperationalError("connection refused")

    monkeypatch.setattr(engine.pool, "connect", refused)
    with pytest.raises(OperationalError):
        data_version()


def test_disposed_with_the_apps_engine(app):
    data_version()
    engine = reads_engine()
    assert engine is not db.engine and engine.pool.checkedin() == 1
    db.engine.dispose()
    assert engine.pool.checkedin() == 0
    assert data_version() >= 0


def test_a_read_that_fails_twice_is_the_503_error(app, postgres_url, monkeypatch):
    """Both connections lost: SQLAlchemy's OperationalError (the 503 page), parameters not
    shown (a session's token hash is one)."""
    engine = reads_engine()
    real_raw_connection = engine.raw_connection

    def lost_connection() -> Any:
        connection = real_raw_connection()
        connection.driver_connection.close()
        return connection

    monkeypatch.setattr(engine, "raw_connection", lost_connection)
    with pytest.raises(OperationalError) as failed:
        read_now(_READER, {"user_id": 1, "version": 1, "token_hash": "secret-token-hash"})
    assert failed.value.connection_invalidated
    assert "secret-token-hash" not in str(failed.value)
    monkeypatch.undo()
    assert data_version() >= 0


def test_a_failing_statement_is_raised_at_once_and_the_connection_kept(app, postgres_url):
    server_session = select(func.pg_backend_pid())
    before = read_now(server_session)
    with pytest.raises(DataError):
        read_now(select(cast(literal("not a number"), Integer)))
    assert read_now(server_session) == before
