"""Accounts and sign-in (Flask-Login)."""

from __future__ import annotations

from flask import Flask

from portal.auth import sessions
from portal.extensions import login_manager


def init_app(app: Flask) -> None:
    """Register the user loader and the auth blueprint."""
    from portal.auth import attribution, onboarding  # noqa: F401  (add their routes to bp)
    from portal.auth.views import bp

    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    login_manager.user_loader(sessions.load_user)
    sessions.init_app(app)
    app.register_blueprint(bp)
