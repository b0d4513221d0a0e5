"""The data version read on every kept page (portal/data_version.py)."""

from __future__ import annotations

from portal.data_version import data_version


def test_every_change_moves_the_version(app, make_document):
    before = data_version()
    make_document(title="Dugong note", source="Dugong text.")
    assert data_version() > before
