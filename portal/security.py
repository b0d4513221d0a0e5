"""Protections around every request: proxy headers, throttling, security headers.

Throttled endpoints are listed here, in one table, rather than decorated where they
are defined, so the whole throttling policy reads in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, Response, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from portal.errors import render_error
from portal.extensions import limiter

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # data: for small inline icons; no external hosts, so a reader's address stays here.
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000; includeSubDomains"


def _submitted_email() -> str:
    """The email typed into the form, normalised: attempts on one account count together."""
    email = (request.form.get("email") or "").strip().lower()[:254]
    return f"email:{email}" if email else f"address:{get_remote_address()}"


def _pending_account() -> str:
    """The account half-way through two-factor sign-in (its code attempts count together)."""
    pending = session.get("two_factor_pending")
    account = pending.get("id", "") if isinstance(pending, dict) else ""
    return f"account:{str(account).partition('.')[0]}" if account else get_remote_address()


def _signed_in_user() -> str:
    """The signed-in account (colleagues behind one office address count apart)."""
    user_id = current_user.get_id() if current_user.is_authenticated else None
    return f"user:{str(user_id).partition('.')[0]}" if user_id else get_remote_address()


@dataclass(frozen=True)
class Throttle:
    """A limit on an endpoint's POSTs (or other `methods`), counted per address or per `key`."""

    limit: str
    key: str = "address"
    methods: tuple[str, ...] = ("POST",)


_KEYS = {
    "address": get_remote_address,
    "email": _submitted_email,
    "account": _pending_account,
    "user": _signed_in_user,
}

#: endpoint -> limits on its POSTs. The messages never say whether an account exists.
THROTTLES: dict[str, tuple[Throttle, ...]] = {
    "auth.sign_in": (Throttle("20 per 10 minutes"), Throttle("8 per 10 minutes", "email")),
    "auth.two_factor_code": (Throttle("10 per 10 minutes"), Throttle("5 per 5 minutes", "account")),
    "auth.request_access": (Throttle("5 per hour"),),
    "auth.forgot_password": (Throttle("10 per hour"), Throttle("3 per hour", "email")),
    "auth.reset_password": (Throttle("10 per hour"),),
    "auth.accept_invitation": (Throttle("10 per hour"),),
    "auth.invite": (Throttle("30 per hour"),),
    "auth.change_password_page": (Throttle("10 per hour"),),
    "auth.two_factor_setup": (Throttle("10 per 10 minutes"),),
    "auth.disable_two_factor": (Throttle("5 per 10 minutes"),),
    "auth.regenerate_recovery_codes": (Throttle("5 per 10 minutes"),),
    # The editor asks after each pause in typing (debounced): generous, but not a free renderer.
    "documents.preview": (Throttle("120 per minute", "user"),),
    # Each download builds an archive of every readable document: cheap to ask, dear to make.
    "exports.documents_zip": (Throttle("10 per 10 minutes", "user", ("GET",)),),
    "api_tokens.create": (Throttle("20 per hour", "user"),),
}


class DatabaseInteger(IntegerConverter):
    """`<int:...>` in URLs, limited to what a database id can hold: a larger number is a
    404 like any unknown id, not an overflow in the database driver."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def bound_url_integers(app: Flask) -> None:
    """Use DatabaseInteger for `<int:...>`; call before any route is registered."""
    app.url_map.converters["int"] = DatabaseInteger


def _throttle_endpoints(app: Flask) -> None:
    for endpoint, throttles in THROTTLES.items():
        view = app.view_functions.get(endpoint)
        if view is None:
            raise RuntimeError(f"throttled endpoint {endpoint} does not exist")
        for throttle in throttles:
            view = limiter.limit(
                throttle.limit,
                key_func=_KEYS[throttle.key],
                methods=list(throttle.methods),
                scope=f"{endpoint}:{throttle.key}",
            )(view)
        app.view_functions[endpoint] = view


def _security_headers(response: Response) -> Response:
    """HEADERS (and HSTS over HTTPS), except where the response set its own."""
    wanted = {**HEADERS, "Strict-Transport-Security": HSTS} if request.is_secure else HEADERS
    present = {name.lower() for name, _ in response.headers.items()}  # one pass, not one each
    response.headers.extend((k, v) for k, v in wanted.items() if k.lower() not in present)
    return response


def init_app(app: Flask) -> None:
    """Trust the configured proxies, throttle, and add security headers to every response.

    Call after every blueprint is registered: throttles wrap existing views.
    """
    proxies = app.config.get("TRUSTED_PROXIES", 0)
    if proxies:
        # Client address and scheme only: the host comes from BASE_URL, never a header.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    limiter.init_app(app)
    _throttle_endpoints(app)
    app.after_request(_security_headers)

    @app.errorhandler(RateLimitExceeded)
    def throttled(error: RateLimitExceeded) -> ResponseReturnValue:
        # The same page whether or not the account exists; the limit itself is not shown.
        app.logger.warning("throttled %s %s: %s", request.method, request.path, error.description)
        body, status = render_error(429)  # type: ignore[misc]
        return body, status, {"Retry-After": "60"}


def safe_local_url(target: str | None) -> str:
    """`target` if it is a path on this site, else the home page: never another host."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
        and len(target) <= 2000
    ):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("home.index")
