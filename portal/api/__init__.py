"""The JSON API under /api/v1/: bearer tokens, problem+json errors, an OpenAPI 3.1 spec.

Every endpoint answers through `portal/access.py` as the token's owner (or a visitor),
so a call sees exactly what the same person sees on the site.
"""

from __future__ import annotations

import os

from flask import Blueprint, Flask, Response, current_app
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from portal.api import problems
from portal.extensions import csrf, limiter

bp = Blueprint("api", __name__, url_prefix="/api/v1")
DEFAULT_RATE_LIMIT = "300 per minute"


def _rate_limit() -> str:
    return str(current_app.config.get("API_RATE_LIMIT") or DEFAULT_RATE_LIMIT)


def _private_answers(response: Response) -> Response:
    """What a token's call returns depends on its owner: never for a shared cache."""
    from portal.api.auth import api_token

    response.vary.add("Authorization")
    if api_token() is not None:
        response.headers["Cache-Control"] = "private, no-store"
    return response


def init_app(app: Flask) -> None:
    """Register the API, the token pages of the account, and `flask api`."""
    from portal.api import documents, openapi, reference, search  # noqa: F401  (routes on bp)
    from portal.api.auth import authenticate, rate_limit_key
    from portal.api.cli import api_cli
    from portal.api.token_views import bp as tokens_bp
    from portal.api.token_views import token_panel

    app.config.setdefault("API_RATE_LIMIT", os.environ.get("API_RATE_LIMIT", DEFAULT_RATE_LIMIT))
    if not getattr(bp, "_portal_limited", False):
        # Once per process: the limiter keeps blueprint limits itself, across apps.
        limiter.shared_limit(_rate_limit, scope="api", key_func=rate_limit_key)(bp)
        bp.before_request(authenticate)
        bp.after_request(_private_answers)
        bp.register_error_handler(problems.ApiProblem, problems.handle_api_problem)
        bp.register_error_handler(HTTPException, problems.handle_http_error)
        bp.register_error_handler(RateLimitExceeded, problems.handle_throttled)
        bp._portal_limited = True  # type: ignore[attr-defined]
    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.register_blueprint(tokens_bp)
    app.context_processor(token_panel)
    problems.init_app(app)
    app.cli.add_command(api_cli)
