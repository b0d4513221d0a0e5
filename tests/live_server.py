"""A real multi-process server on the test database, and a browser for it.

The operations tests (concurrency, several nodes) talk HTTP to a server started as it
runs in production: gunicorn with sync workers, or Werkzeug's forking server where
gunicorn is not installed. `Browser` signs in and fills forms through the real pages.
"""

from __future__ import annotations

import http.cookiejar
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pyotp

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 30


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_command(port: int, workers: int) -> list[str]:
    """gunicorn with sync workers, or Werkzeug forking `workers` processes without it."""
    if importlib.util.find_spec("gunicorn") is not None:
        options = f"--worker-class sync --bind 127.0.0.1:{port} --timeout 60 --graceful-timeout 5"
        gunicorn = [sys.executable, "-m", "gunicorn", "--workers", str(workers)]
        return [*gunicorn, *options.split(), "app:app"]
    script = (
        "from werkzeug.serving import run_simple; from app import app; "
        f"run_simple('127.0.0.1', {port}, app, processes={workers}, threaded=False)"
    )
    return [sys.executable, "-c", script]


@dataclass
class LiveServer:
    """A running server: its base URL and process."""

    url: str
    process: subprocess.Popen
    log: Path


@contextmanager
def live_server(
    database_url: str, index_dir: Path, log_dir: Path, workers: int = 3, **env: str
) -> Iterator[LiveServer]:
    """Start the portal on a free port, wait until it answers, stop it afterwards."""
    port = free_port()
    log = log_dir / f"server-{port}.log"
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SEARCH_INDEX_DIR": str(index_dir),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "test-secret-key"),
        "RATELIMIT_ENABLED": "false",  # every process signs in from 127.0.0.1
        "PYTHONPATH": str(ROOT),
        **env,
    }
    environment.pop("PORTAL_ENV", None)
    with open(log, "w") as output:
        process = subprocess.Popen(
            server_command(port, workers),
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_until_up(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(server: LiveServer) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{server.log.read_text()}")
        try:
            with urllib.request.urlopen(f"{server.url}/", timeout=5) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    log = server.log.read_text()
    raise RuntimeError(f"the server did not answer in {STARTUP_SECONDS} s:\n{log}")


@dataclass
class Page:
    """A response as the browser saw it (redirects are not followed)."""

    status: int
    text: str
    location: str | None = None


@dataclass
class Form:
    """A form's fields as a browser would submit them (checked boxes, selected options)."""

    attrs: dict[str, str]
    fields: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        """The first value of `name`, if the form has it."""
        return next((value for key, value in self.fields if key == name), None)

    def with_values(self, **values: str) -> list[tuple[str, str]]:
        """The fields with some replaced (or added)."""
        kept = [(key, value) for key, value in self.fields if key not in values]
        return kept + list(values.items())


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.forms.append(Form(a))
        elif not self.forms:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.forms[-1].fields.append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button", "image", "reset", "file"):
                self.forms[-1].fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._select_first, self._select_chosen = a.get("name"), None, False
        elif tag == "option" and self._select:
            value = a.get("value", "")
            self._select_first = value if self._select_first is None else self._select_first
            if "selected" in a:
                self.forms[-1].fields.append((self._select, value))
                self._select_chosen = True
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), []

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select:
            if not self._select_chosen and self._select_first is not None:
                self.forms[-1].fields.append((self._select, self._select_first))
            self._select = None
        elif tag == "textarea" and self._textarea:
            # Browsers drop the newline that follows <textarea>.
            self.forms[-1].fields.append((self._textarea, "".join(self._text).removeprefix("\n")))
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self._text.append(data)


def find_form(page: str, with_field: str) -> Form:
    """The form in `page` that has a field named `with_field`."""
    parser = _FormParser()
    parser.feed(page)
    for form in parser.forms:
        if any(name == with_field for name, _ in form.fields):
            return form
    raise AssertionError(f"no form with a {with_field!r} field")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Browser:
    """Cookies, forms and sign-in over real HTTP, one browser per user."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirects()
        )

    def request(self, method: str, path: str, data: list[tuple[str, str]] | None = None) -> Page:
        """Send one request; any status comes back as a Page."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(f"{self.base_url}{path}", data=body, method=method)
        try:
            with self.opener.open(request, timeout=60) as response:
                return Page(response.status, response.read().decode(), response.headers["Location"])
        except urllib.error.HTTPError as error:
            return Page(error.code, error.read().decode(), error.headers.get("Location"))

    def get(self, path: str) -> Page:
        """GET a page."""
        return self.request("GET", path)

    def submit(self, path: str, with_field: str, **values: str) -> Page:
        """Load the form at `path` and send it back with `values` filled in."""
        page = self.get(path)
        assert page.status == 200, f"GET {path}: {page.status}"
        form = find_form(page.text, with_field)
        return self.request("POST", form.attrs.get("action") or path, form.with_values(**values))

    def sign_in(self, email: str, password: str, totp_secret: str | None = None) -> None:
        """Sign in through the forms, typing the current TOTP code when asked."""
        page = self.submit("/auth/sign-in", "email", email=email, password=password)
        if page.status == 302 and "/auth/sign-in/code" in (page.location or ""):
            assert totp_secret, f"{email} needs a second factor"
            code = pyotp.TOTP(totp_secret).now()
            page = self.submit("/auth/sign-in/code", "code", code=code)
        assert page.status == 302, f"sign-in of {email} failed: {page.status}"
