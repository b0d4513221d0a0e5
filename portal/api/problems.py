"""Errors as RFC 9457 problem details (application/problem+json), for every API response.

Views raise `ApiProblem`; Werkzeug's HTTP errors, throttling and responses made before the
API's views run (routing, the NUL guard, the database-down page) are turned into problems by
the hooks here, so nothing under /api/v1/ ever answers with an HTML page.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException, MethodNotAllowed

PROBLEM_JSON = "application/problem+json"
API_PREFIX = "/api/v1/"
#: Headers an error response keeps when its body is replaced by a problem.
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")
REALM = 'Bearer realm="ECHRI Practice Portal"'


class ApiProblem(Exception):
    """An error the API reports: status, a stable `kind`, a sentence, optional field errors."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.errors = errors
        self.headers = headers or {}


def problem_response(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem+json response. `kind` names the problem type (`urn:echri:problem:<kind>`)."""
    body: dict[str, Any] = {
        "type": f"urn:echri:problem:{kind}" if kind else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON)
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def not_found() -> ApiProblem:
    """The one answer for unknown and unreadable objects alike: existence never leaks."""
    return ApiProblem(404, _("There is nothing at this address, or you may not read it."))


GENERIC = {
    400: _l("The request could not be understood."),
    401: _l("This request needs a valid access token."),
    403: _l("Your token or account is not allowed to do that."),
    404: _l("There is nothing at this address, or you may not read it."),
    405: _l("This address does not accept that method."),
    413: _l("What you sent is larger than the portal accepts."),
    415: _l("Send a JSON body with Content-Type: application/json."),
    429: _l("Too many requests in a short time. Wait a little and try again."),
    503: _l("The portal cannot answer right now. Try again in a minute."),
}


def _generic_detail(status: int) -> str:
    if status in GENERIC:
        return str(GENERIC[status])
    return HTTPStatus(status).description or HTTPStatus(status).phrase


def is_api_request() -> bool:
    """Is this request for the JSON API (matched or not)?"""
    return request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/")


def _routing_problem() -> Response | None:
    """Unknown API paths and methods answer as problems (with Allow on a 405)."""
    error = request.routing_exception
    if error is None or not is_api_request() or not isinstance(error, HTTPException):
        return None
    headers = {}
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    code = error.code or 400
    if code in (301, 302, 307, 308):
        return None  # a redirect (trailing slash): fine as it is
    return problem_response(code, _generic_detail(code), headers=headers)


def _as_problem(response: Response) -> Response:
    """Replace any non-problem error body under /api/v1/ by a problem with the same status."""
    if response.status_code < 400 or response.mimetype == PROBLEM_JSON or not is_api_request():
        return response
    replaced = problem_response(response.status_code, _generic_detail(response.status_code))
    for name in KEPT_HEADERS:
        if name in response.headers:
            replaced.headers[name] = response.headers[name]
    return replaced


def handle_api_problem(error: ApiProblem) -> Response:
    """Blueprint handler for ApiProblem."""
    return problem_response(
        error.status, error.detail, kind=error.kind, errors=error.errors, headers=error.headers
    )


def handle_http_error(error: HTTPException) -> Response:
    """Blueprint handler for Werkzeug's errors (abort, 413 from a large body, ...)."""
    code = error.code or 500
    if code >= 500:
        current_app.logger.error("API error %s on %s %s", code, request.method, request.path)
    custom = error.description if error.description != type(error).description else None
    headers = {}
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return problem_response(code, custom or _generic_detail(code), headers=headers)


def handle_throttled(error: RateLimitExceeded) -> Response:
    """429 as a problem; the limit itself is not shown."""
    current_app.logger.warning("API throttled %s %s", request.method, request.path)
    return problem_response(
        429, _generic_detail(429), kind="rate-limited", headers={"Retry-After": "60"}
    )


def init_app(app: Flask) -> None:
    """App-wide hooks: problems for unrouted API paths and for error pages made elsewhere."""
    app.before_request(_routing_problem)
    app.after_request(_as_problem)
