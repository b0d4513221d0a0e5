"""Template globals: the access policy and labels, so templates never compare roles."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_login import current_user

from portal import access
from portal.mail import external_url
from portal.models import DocumentStatus, DocumentType, Visibility


def init_app(app: Flask) -> None:
    """Expose `can`, `Action` and the enums to templates."""

    @app.context_processor
    def policy() -> dict[str, Any]:
        return {
            "can": access.can,
            "Action": access.Action,
            "creatable_types": lambda: access.creatable_types(current_user),
            "can_administer": lambda: access.can_administer(current_user),
            "can_read_audit_trail": lambda: access.can_read_audit_trail(current_user),
            "author_label": lambda author, *signed: access.author_label(
                current_user, author, *signed
            ),
            "can_respond_to": lambda review: access.can_respond_to(current_user, review),
            "DocumentType": DocumentType,
            "DocumentStatus": DocumentStatus,
            "Visibility": Visibility,
        }

    # Absolute links on BASE_URL (never the request's Host): permalinks in "cite this".
    app.add_template_global(external_url, "external_url")
