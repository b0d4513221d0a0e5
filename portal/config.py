"""Configuration: safe laptop defaults, overridden from the environment."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PRODUCTION_VALUES = {"production", "prod"}


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
    return {
        "PRODUCTION": production,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": env.get(
            "DATABASE_URL", f"sqlite:///{instance_path / 'portal.sqlite3'}"
        ),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SEARCH_INDEX_DIR": env.get("SEARCH_INDEX_DIR", str(instance_path / "search-index")),
        "CONTENT_DIR": env.get("CONTENT_DIR", str(Path.cwd() / "content")),
        "DOCUMENTS_PER_PAGE": 20,
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "WTF_CSRF_TIME_LIMIT": None,
    }
