"""Feeds and digests: Atom feeds (anonymous and private links), subscriptions, email digests.

Everything here is evaluated for its reader at the moment it is read or sent, through
`portal/access.py` (`syndicated_documents`, `can_subscribe`).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the feeds blueprint and each worker's store of anonymous feeds."""
    from portal.feeds import delivery
    from portal.feeds.views import bp

    app.register_blueprint(bp)
    delivery.init_app(app)
