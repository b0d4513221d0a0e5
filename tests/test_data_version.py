"""The data version read on every kept page (portal/data_version.py)."""

from __future__ import annotations

from portal.data_version import _version_engine, data_version
from portal.extensions import db


def test_every_change_moves_the_version(app, make_document):
    before = data_version()
    make_document(title="Dugong note", source="Dugong text.")
    assert data_version() > before


def test_a_connection_lost_since_its_last_use_is_replaced(app):
    version = data_version()
    engine = _version_engine()
    with engine.connect() as connection:
        # The database connection goes away while pooled, as in a database restart.
        connection.connection.driver_connection.close()
    assert data_version() == version


def test_disposed_with_the_apps_engine(app):
    data_version()
    engine = _version_engine()
    assert engine is not db.engine and engine.pool.checkedin() == 1
    db.engine.dispose()
    assert engine.pool.checkedin() == 0
    assert data_version() >= 0
