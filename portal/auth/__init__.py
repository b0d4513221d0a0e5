"""Accounts and sign-in (Flask-Login)."""

from __future__ import annotations

from flask import Flask

from portal.extensions import db, login_manager
from portal.models import User


def init_app(app: Flask) -> None:
    """Register the user loader and the auth blueprint."""
    from portal.auth.views import bp

    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        return db.session.get(User, int(user_id)) if user_id.isdigit() else None

    app.register_blueprint(bp)
