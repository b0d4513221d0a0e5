"""Configuration: safe laptop defaults, overridden from the environment."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

PRODUCTION_VALUES = {"production", "prod"}
_TRUE = {"1", "true", "yes", "on"}


def _flag(env: dict[str, str], name: str, default: bool) -> bool:
    value = env.get(name)
    return default if value is None else value.strip().lower() in _TRUE


def is_production(environ: os._Environ[str] | dict[str, str] = os.environ) -> bool:
    """True when PORTAL_ENV (or the older FLASK_ENV) says this is production."""
    value = environ.get("PORTAL_ENV") or environ.get("FLASK_ENV") or ""
    return value.strip().lower() in PRODUCTION_VALUES


def _instance_secret_key(instance_path: Path) -> str:
    """Read the development secret kept in instance/, creating it once."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_hex(32)
    # O_EXCL: two workers starting at once must not write two different keys.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def load_config(instance_path: Path, environ: dict[str, str] | None = None) -> dict[str, object]:
    """Build the configuration mapping from the environment and instance folder."""
    env = dict(os.environ if environ is None else environ)
    production = is_production(env)
    secret_key = env.get("SECRET_KEY")
    if not secret_key:
        if production:
            raise RuntimeError(
                "SECRET_KEY must be set in production (PORTAL_ENV=production): "
                "refusing to start with a generated development key."
            )
        secret_key = _instance_secret_key(instance_path)
    base_url = env.get("PORTAL_BASE_URL", "").strip().rstrip("/")
    if production and not base_url.startswith("https://"):
        raise RuntimeError(
            "PORTAL_BASE_URL must be set to the portal's https:// address in production: "
            "links in emails are built on it, never on a request's Host header."
        )
    return {
        "PRODUCTION": production,
        "SECRET_KEY": secret_key,
        "BASE_URL": base_url,
        # In production only requests for the portal's own host are served.
        "TRUSTED_HOSTS": [urlsplit(base_url).hostname] if production else None,
        # Keys the audit trail's hashes: an edited row cannot be re-hashed from the
        # database alone. Keep it stable (changing it makes old events fail verification).
        "AUDIT_KEY": env.get("AUDIT_KEY") or secret_key,
        "SQLALCHEMY_DATABASE_URI": env.get(
            "DATABASE_URL", f"sqlite:///{instance_path / 'portal.sqlite3'}"
        ),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SEARCH_INDEX_DIR": env.get("SEARCH_INDEX_DIR", str(instance_path / "search-index")),
        # Postings a full rebuild sorts in memory per process before spilling runs to disk.
        "SEARCH_REBUILD_MEMORY_MB": int(env.get("SEARCH_REBUILD_MEMORY_MB", 1024)),
        "CONTENT_DIR": env.get("CONTENT_DIR", str(Path.cwd() / "content")),
        "DOCUMENTS_PER_PAGE": 20,
        # Request bodies; the upload routes allow MAX_UPLOAD_MB more (portal/attachments).
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        # Attached files: where they are stored, the largest accepted, how long reading
        # one's text may take before it is stored as "not searchable".
        "FILES_DIR": env.get("FILES_DIR", str(instance_path / "files")),
        "MAX_UPLOAD_MB": int(env.get("MAX_UPLOAD_MB", 25)),
        "TEXT_EXTRACTION_SECONDS": float(env.get("TEXT_EXTRACTION_SECONDS", 20)),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # The cookie is written when the session changes (sign-in, at most once a minute of
        # activity for the idle clock), not re-signed on every request: the lifetime and idle
        # limits are enforced from the session's own timestamps (portal/auth/sessions.py).
        "SESSION_REFRESH_EACH_REQUEST": False,
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "WTF_CSRF_TIME_LIMIT": None,
        # Sessions: an absolute lifetime and an idle timeout, both in minutes.
        "PERMANENT_SESSION_LIFETIME": dt.timedelta(
            minutes=int(env.get("SESSION_LIFETIME_MINUTES", 12 * 60))
        ),
        "SESSION_IDLE_MINUTES": int(env.get("SESSION_IDLE_MINUTES", 30)),
        # Reverse proxies in front of the app whose X-Forwarded-* headers are trusted.
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", 0)),
        # Flask-Limiter: memory by default; redis://... shares counts between workers.
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_ENABLED": _flag(env, "RATELIMIT_ENABLED", True),
        # Mail: SMTP when MAIL_SERVER is set, otherwise instance/outbox/ and the log.
        "MAIL_SERVER": env.get("MAIL_SERVER", ""),
        "MAIL_PORT": int(env.get("MAIL_PORT", 587)),
        "MAIL_USERNAME": env.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": _flag(env, "MAIL_USE_TLS", True),
        "MAIL_USE_SSL": _flag(env, "MAIL_USE_SSL", False),
        "MAIL_FROM": env.get("MAIL_FROM", "ECHRI Practice Portal <no-reply@localhost>"),
        # Lifetimes of emailed links.
        "INVITATION_VALID_DAYS": int(env.get("INVITATION_VALID_DAYS", 7)),
        "PASSWORD_RESET_VALID_MINUTES": int(env.get("PASSWORD_RESET_VALID_MINUTES", 60)),
        # The matrix marks a cell stale when its latest evidence is older than this.
        "MATRIX_STALE_MONTHS": int(env.get("MATRIX_STALE_MONTHS", 18)),
        # Seconds a worker may serve a visitor's page from memory (0: never); any audited
        # change ends them at once (portal/visitor_pages.py).
        "VISITOR_PAGE_SECONDS": int(env.get("VISITOR_PAGE_SECONDS", 30)),
        # PostgreSQL: each worker learns of changes from the database's notifications instead
        # of reading the data version for each visitor's kept page (portal/version_watch.py).
        # On by default in production; one connection more per worker.
        "DATA_VERSION_LISTEN": _flag(env, "DATA_VERSION_LISTEN", production),
        # Where a server's workers share the pages they keep (portal/kept_pages.py); empty:
        # each worker renders its own. On by default in production, where several workers run.
        "KEPT_PAGES_DIR": env.get(
            "KEPT_PAGES_DIR", str(instance_path / "kept-pages") if production else ""
        ),
    }
