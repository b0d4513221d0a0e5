"""Flask extensions, created unbound here and bound to the app in create_app."""

import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Engine, event

from portal.models import Base

db = SQLAlchemy(model_class=Base)
# render_as_batch lets Alembic alter tables on SQLite, which has no ALTER COLUMN.
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
# Storage from RATELIMIT_STORAGE_URI (memory:// by default, redis://... for several workers).
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection: object, _record: object) -> None:
    """SQLite: enforce foreign keys, let readers and a writer work at once, wait on locks."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


_once_lock = threading.Lock()


def once_per_app(name: str, make: Callable[[], Any]) -> Any:
    """The current app's extension `name`, made by `make()` on first use, once across threads
    (removing it from `app.extensions` has the next use make it again)."""
    extensions = current_app.extensions
    if name not in extensions:
        with _once_lock:
            if name not in extensions:
                extensions[name] = make()
    return extensions[name]
