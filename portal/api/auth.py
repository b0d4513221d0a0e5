"""Who is calling the API: the owner of a bearer token, or an anonymous visitor.

Browser session cookies are ignored here: a call without a token is anonymous, whoever's
browser sends it, so no other site can make a signed-in browser write through the API
(and no CSRF token is needed). Writes need a token with the `write` scope.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import g, request
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import AnonymousUserMixin

from portal.access import token_permits
from portal.api.problems import REALM, ApiProblem
from portal.api.tokens import find_usable_token
from portal.models.integration import ApiToken

ANONYMOUS = AnonymousUserMixin()


def _bearer_secret() -> str | None:
    """The token in `Authorization: Bearer ...`; None without the header; 401 if malformed."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _sep, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiProblem(
            401,
            _("Send the token as “Authorization: Bearer <token>”."),
            kind="invalid-token",
            headers={"WWW-Authenticate": f'{REALM}, error="invalid_request"'},
        )
    return secret.strip()


def authenticate() -> None:
    """Resolve the caller before every API view: 401 for a bad, expired or revoked token."""
    g.api_token = None
    secret = _bearer_secret()
    if secret is None:
        return
    token = find_usable_token(secret)
    if token is None:
        raise ApiProblem(
            401,
            _("The access token is unknown, expired or revoked, or its account is deactivated."),
            kind="invalid-token",
            headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
        )
    g.api_token = token


def api_token() -> ApiToken | None:
    """The token of this call, if any."""
    return g.get("api_token")


def api_user() -> Any:
    """Whom this call acts as: the token's owner, or an anonymous visitor."""
    token = api_token()
    return token.user if token is not None else ANONYMOUS


def require_write() -> Any:
    """The acting user of a write: 401 without a token, 403 for a read-only token."""
    token = api_token()
    if token is None:
        raise ApiProblem(
            401,
            _("Writing through the API needs an access token with the write scope."),
            kind="token-required",
            headers={"WWW-Authenticate": REALM},
        )
    if not token_permits(token.scope_set, write=True):
        raise ApiProblem(
            403,
            _("This token may only read. Make a token with the write scope to change documents."),
            kind="insufficient-scope",
            headers={"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="write"'},
        )
    return token.user


def rate_limit_key() -> str:
    """Count calls per token (by a digest of its secret, however the header is spelled),
    other calls per address."""
    scheme, _sep, secret = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        digest = hashlib.sha256(secret.strip().encode("utf-8", "replace")).hexdigest()
        return f"api-token:{digest[:32]}"
    return f"api-address:{get_remote_address()}"
