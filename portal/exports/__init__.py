"""Exports: the documents as a content/ tree (folder or zip), action items as CSV, minutes as
Markdown. Every export reads through portal/access.py: it holds what its caller may read.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the download pages."""
    from portal.exports.views import bp

    app.register_blueprint(bp)
