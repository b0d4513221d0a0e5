"""The ECHRI Practice Portal: create_app builds the Flask application."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask

from portal import security
from portal.config import load_config
from portal.extensions import csrf, db, login_manager, migrate

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints, error pages and CLI."""
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(load_config(Path(app.instance_path)))
    if config:
        app.config.from_mapping(config)

    security.bound_url_integers(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    csrf.init_app(app)
    login_manager.init_app(app)
    from portal import i18n

    i18n.init_app(app)

    from portal import attachments, auth, cli, errors, plenaries, search, templating
    from portal.admin.audit_views import bp as audit_bp
    from portal.admin.views import bp as admin_bp
    from portal.comments.views import bp as comments_bp
    from portal.commitments.views import bp as commitments_bp
    from portal.documents import preview  # noqa: F401  (adds its route to documents_bp)
    from portal.documents.views import bp as documents_bp
    from portal.home.views import bp as home_bp
    from portal.states.views import bp as states_bp

    auth.init_app(app)
    for blueprint in (home_bp, documents_bp, commitments_bp, states_bp, admin_bp, audit_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(comments_bp)
    attachments.init_app(app)
    plenaries.init_app(app)
    from portal import feeds

    feeds.init_app(app)
    from portal import exports

    exports.init_app(app)
    from portal import api

    api.init_app(app)
    search.init_app(app)
    errors.init_app(app)
    templating.init_app(app)
    cli.init_app(app)
    from portal import reader_pages, visitor_pages

    # After the other request hooks (an idle session is signed out first), before the
    # security headers.
    visitor_pages.init_app(app)
    reader_pages.init_app(app)
    security.init_app(app)  # last: throttles wrap the views registered above

    if app.config["PRODUCTION"]:
        from portal.demo import refuse_demo_accounts_in_production

        refuse_demo_accounts_in_production(app)
    logging.getLogger("portal").setLevel(logging.INFO)
    return app
