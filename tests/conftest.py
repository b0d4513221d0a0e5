"""Fixtures: `app`, `client`, `login_as`, `make_document`.

The schema is created once per run by the Alembic migrations (the only way the
schema is made); every test then starts from empty tables plus the canonical
states and commitments. Set TEST_DATABASE_URL to run the suite on PostgreSQL.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import Engine, create_engine, delete, event, select, text, update

os.environ.setdefault("SECRET_KEY", "test-secret-key")
os.environ.pop("PORTAL_ENV", None)

from portal import create_app
from portal.access import CONTENT_LOADER
from portal.audit import _chain_head
from portal.auth.services import create_user
from portal.content import load_commitment, load_states
from portal.direct_reads import DirectReads
from portal.documents.services import DocumentFields, create_document, update_document
from portal.extensions import db
from portal.models import (
    Assessment,
    Base,
    Commitment,
    Document,
    DocumentStatus,
    DocumentType,
    Role,
    State,
    User,
    Visibility,
)
from portal.models.documents import ASSESSMENT_TYPES

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
PASSWORD = "correct horse battery"
_CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


class IsolatedClient(FlaskClient):
    """Runs each request in an empty context, as a server would.

    The test holds an app context for its own database work; without this, requests
    would reuse it and share `g` (where Flask-Login caches the user) and the database
    session with the test and with each other, which can hide access bugs.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        return contextvars.Context().run(super().open, *args, **kwargs)


def statements_on_this_thread(run: Callable[[], object]) -> list[str]:
    """The SQL statements `run` sends from this thread (not a watch's own reads): through
    SQLAlchemy, or on the driver directly (portal/direct_reads.py)."""
    statements: list[str] = []
    me = threading.get_ident()

    def count(*args: object) -> None:
        if threading.get_ident() == me:
            statements.append(str(args[2]))

    on_driver = DirectReads._first_row_on_driver

    def count_on_driver(reads: DirectReads, sql: str, parameters: dict[str, Any]) -> Any:
        count(None, None, sql)
        return on_driver(reads, sql, parameters)

    event.listen(Engine, "before_cursor_execute", count)
    DirectReads._first_row_on_driver = count_on_driver  # type: ignore[method-assign]
    try:
        run()
    finally:
        DirectReads._first_row_on_driver = on_driver  # type: ignore[method-assign]
        event.remove(Engine, "before_cursor_execute", count)
    return statements


def reset_postgres_schema(url: str, schema: str = "public") -> None:
    """Drop and recreate a PostgreSQL schema so migrations start from empty."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """TEST_DATABASE_URL (PostgreSQL) or a fresh SQLite file, migrated to head once."""
    url = os.environ.get("TEST_DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    )
    if url.startswith("postgresql"):
        reset_postgres_schema(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


@pytest.fixture
def postgres_url(database_url: str, request: pytest.FixtureRequest) -> str:
    """The PostgreSQL test database; on SQLite the test is skipped, for the reason its
    module gives in POSTGRESQL_ONLY."""
    if not database_url.startswith("postgresql"):
        reason = getattr(request.module, "POSTGRESQL_ONLY", "it needs PostgreSQL")
        pytest.skip(f"needs PostgreSQL (TEST_DATABASE_URL): {reason}")
    return database_url


def empty_tables() -> None:
    """Delete every row of every table (inside an app context)."""
    # documents and revisions refer to each other: break the cycle before deleting.
    db.session.execute(update(Document).values(current_revision_id=None))
    plenaries = Base.metadata.tables["plenaries"]  # and plenaries and their minutes
    db.session.execute(update(plenaries).values(current_minutes_id=None))
    for table in reversed(Base.metadata.sorted_tables):
        db.session.execute(delete(table))
    # As the migrations leave it: the audit chain's genesis head, which also counts changes
    # of access (migration 0008).
    _chain_head(db.session)
    db.session.commit()


@pytest.fixture
def app(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """An app on empty tables holding only the canonical states and commitments."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "TESTING": True,
            "SERVER_NAME": "portal.test",
            "CONTENT_DIR": str(CONTENT_DIR),
            "SEARCH_INDEX_DIR": str(tmp_path / "search-index"),
            "FILES_DIR": str(tmp_path / "files"),
            "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
            # Tests sign in many accounts from one address; tests/test_security.py
            # turns throttling on where it is the subject.
            "RATELIMIT_ENABLED": request.node.get_closest_marker("throttled") is not None,
        }
    )
    app.test_client_class = IsolatedClient
    with app.app_context():
        empty_tables()
        load_states(CONTENT_DIR / "states.yml")
        for path in sorted((CONTENT_DIR / "commitments").glob("*.md")):
            load_commitment(path)
        yield app
        app.extensions["search"].close()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client (cookies kept between requests)."""
    return app.test_client()


def csrf_token(client: FlaskClient, path: str = "/auth/sign-in") -> str:
    """The CSRF token a real browser would find in the form at `path`."""
    page = client.get(path).get_data(as_text=True)
    match = _CSRF.search(page)
    assert match, f"no CSRF token in {path}"
    return match.group(1) or match.group(2)


def state(code: str) -> State:
    """The state with this code."""
    return db.session.scalars(select(State).where(State.code == code)).one()


def commitments(*numbers: int) -> list[Commitment]:
    """Commitments by number."""
    return list(db.session.scalars(select(Commitment).where(Commitment.number.in_(numbers))))


def edit_document(document: Document, **changes: Any) -> None:
    """Save an edit of `document` through the service, as the content loader, and commit.

    Fields not named in `changes` keep their current values.
    """
    fields = DocumentFields(
        title=document.title,
        source=document.current_revision.source,
        visibility=document.visibility,
        status=document.status,
        state=document.state,
        commitments=list(document.commitments),
    )
    for name, value in changes.items():
        setattr(fields, name, value)
    update_document(CONTENT_LOADER, document, fields, base_version=document.version)
    db.session.commit()


def enrol_two_factor(user: User) -> None:
    """Turn on two-factor sign-in for `user` as enrolment would (secret stored, no codes)."""
    user.totp_secret = pyotp.random_base32(32)
    user.totp_enabled_at = dt.datetime.now(dt.UTC)
    db.session.commit()


def totp_code(user: User) -> str:
    """A valid code for `user` that was not used yet (the next time step if needed)."""
    db.session.refresh(user)
    totp = pyotp.TOTP(user.totp_secret)
    counter = int(time.time()) // totp.interval
    if user.totp_last_counter is not None and counter <= user.totp_last_counter:
        counter = user.totp_last_counter + 1
    return totp.generate_otp(counter)


@pytest.fixture
def make_user(app: Flask) -> Callable[..., User]:
    """Create an approved account: make_user(role, state='FR', email=None, **kwargs).

    Government and secretariat accounts get two-factor sign-in unless
    `two_factor=False` (they need it to read `government` documents).
    """
    counter = iter(range(1, 10_000))

    def make(role: Role | str, state_code: str | None = None, **kwargs: Any) -> User:
        role = Role(role)
        two_factor = kwargs.pop("two_factor", role in (Role.GOVERNMENT, Role.SECRETARIAT))
        if role is Role.GOVERNMENT and state_code is None:
            state_code = "FR"
        email = kwargs.pop("email", f"{role.value}.{state_code or 'x'}.{next(counter)}@example.org")
        user = create_user(
            email,
            name=kwargs.pop("name", f"{role.label} user"),
            role=role,
            password=kwargs.pop("password", PASSWORD),
            state=state(state_code) if state_code else None,
            **kwargs,
        )
        db.session.commit()
        if two_factor:
            enrol_two_factor(user)
        return user

    return make


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    """Sign in through the real forms, as a browser would, typing a code when asked."""
    token = csrf_token(client)
    response = client.post(
        "/auth/sign-in", data={"email": email, "password": password, "csrf_token": token}
    )
    if response.status_code == 302 and "/auth/sign-in/code" in response.location:
        user = db.session.scalars(select(User).where(User.email == email.lower())).one()
        code = totp_code(user)
        token = csrf_token(client, "/auth/sign-in/code")
        response = client.post("/auth/sign-in/code", data={"code": code, "csrf_token": token})
    return response


@pytest.fixture
def login_as(client: FlaskClient, make_user: Callable[..., User]) -> Callable[..., User]:
    """Sign the client in as a new user: login_as('government', 'DE')."""

    def login(role: Role | str, state_code: str | None = None, **kwargs: Any) -> User:
        user = make_user(role, state_code, **kwargs)
        response = sign_in(client, user.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return login


@pytest.fixture
def make_document(app: Flask) -> Callable[..., Document]:
    """Create a document through the service: make_document(type, visibility, status, ...)."""
    counter = iter(range(1, 10_000))

    def make(
        doc_type: DocumentType | str = DocumentType.IMPLEMENTATION_NOTE,
        visibility: Visibility | str = Visibility.PUBLIC,
        status: DocumentStatus | str = DocumentStatus.PUBLISHED,
        *,
        state_code: str | None = "FR",
        author: User | None = None,
        title: str | None = None,
        source: str = "Some **Markdown** text.",
        commitment_numbers: tuple[int, ...] = (1,),
        assessment: Assessment | str | None = None,
        responds_to: Document | None = None,
    ) -> Document:
        doc_type = DocumentType(doc_type)
        # Self-assessments and reviews need a rating: "limited" unless the test names one.
        if assessment is None and doc_type in ASSESSMENT_TYPES:
            assessment = Assessment.LIMITED
        document = create_document(
            author or CONTENT_LOADER,
            doc_type,
            DocumentFields(
                title=title or f"{doc_type.label} {next(counter)}",
                source=source,
                visibility=Visibility(visibility),
                status=DocumentStatus(status),
                state=state(state_code) if state_code else None,
                commitments=commitments(*commitment_numbers),
                assessment=Assessment(assessment) if assessment else None,
                responds_to=responds_to,
            ),
        )
        db.session.commit()
        return document

    return make


def migrated_app(url: str, workdir: Path, **config: Any) -> Flask:
    """An app on the database at `url`, migrated to the latest schema, with its own search
    index and files folders under `workdir` (tests that need a second, empty portal)."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "TESTING": True,
            "SEARCH_INDEX_DIR": str(workdir / "index"),
            "FILES_DIR": str(workdir / "files"),
            "CONTENT_DIR": str(CONTENT_DIR),
            "RATELIMIT_ENABLED": False,
            **config,
        }
    )
    with app.app_context():
        upgrade()
    return app


def close_app(app: Flask) -> None:
    """Close what `migrated_app` opened: the index, the session and the connection pool."""
    with app.app_context():
        app.extensions["search"].close()
        db.session.remove()
        db.engine.dispose()
