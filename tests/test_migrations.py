"""The schema comes only from Alembic migrations: from empty, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from portal import create_app
from portal.extensions import db
from portal.models import Base
from tests.conftest import reset_postgres_schema

SCHEMA = "migration_check"


def empty_database_urls(tmp_path: Path) -> Iterator[str]:
    """A new SQLite file, and an empty PostgreSQL schema when TEST_DATABASE_URL is set."""
    yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    url = os.environ.get("TEST_DATABASE_URL", "")
    if url.startswith("postgresql"):
        reset_postgres_schema(url, SCHEMA)
        separator = "&" if "?" in url else "?"
        yield f"{url}{separator}options=-csearch_path%3D{SCHEMA}"


def test_upgrade_from_empty_matches_the_models_and_downgrades_cleanly(tmp_path):
    for url in empty_database_urls(tmp_path):
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
        with app.app_context():
            upgrade()
            tables = set(inspect(db.engine).get_table_names())
            assert set(Base.metadata.tables) <= tables, url
            with db.engine.connect() as connection:
                context = MigrationContext.configure(
                    connection, opts={"compare_type": True, "render_as_batch": True}
                )
                assert compare_metadata(context, Base.metadata) == [], url
            downgrade(revision="base")
            assert set(inspect(db.engine).get_table_names()) == {"alembic_version"}, url
            db.engine.dispose()


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="TEST_DATABASE_URL is not a PostgreSQL URL; SQLite was checked above",
)
def test_suite_database_is_postgresql_when_asked(database_url):
    assert database_url.startswith("postgresql")
