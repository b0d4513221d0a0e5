"""Demo accounts, one per role, so a newcomer can try the portal on a development database."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy import exc, func, select

from portal.auth.services import create_user
from portal.extensions import db
from portal.models import Role, State, User


@dataclass(frozen=True)
class DemoAccount:
    """A demo account as shown to the developer."""

    email: str
    password: str
    role: str
    name: str
    state: str | None = None


_SPECS = [
    ("gov.fr@demo.echri.test", "Camille Martin (France)", Role.GOVERNMENT, "FR", None),
    ("gov.de@demo.echri.test", "Jonas Becker (Germany)", Role.GOVERNMENT, "DE", None),
    ("industry@demo.echri.test", "Ines Duarte", Role.INDUSTRY, None, "Example Sensors Ltd"),
    (
        "civil.society@demo.echri.test",
        "Amara Okafor",
        Role.CIVIL_SOCIETY,
        None,
        "Example Rights Watch",
    ),
    (
        "secretariat@demo.echri.test",
        "Plenary Secretariat",
        Role.SECRETARIAT,
        None,
        "ECHRI Secretariat",
    ),
]


def _accounts_file(app: Flask) -> Path:
    return Path(app.instance_path) / "demo-accounts.json"


def demo_accounts(app: Flask) -> list[DemoAccount]:
    """The demo accounts recorded for this development instance (none in production)."""
    path = _accounts_file(app)
    if app.config["PRODUCTION"] or not path.exists():
        return []
    return [DemoAccount(**entry) for entry in json.loads(path.read_text())]


def create_demo_accounts(app: Flask) -> list[DemoAccount] | None:
    """Create the demo accounts if the database has no accounts yet; None if it has some."""
    if app.config["PRODUCTION"]:
        raise RuntimeError("demo accounts are never created in production")
    if db.session.scalar(select(func.count()).select_from(User)):
        return None
    accounts = []
    for email, name, role, code, organisation in _SPECS:
        state = db.session.scalar(select(State).where(State.code == code)) if code else None
        if code and state is None:
            raise RuntimeError(f"state {code} is missing: run `flask content load` first")
        password = secrets.token_urlsafe(12)
        create_user(
            email,
            name=name,
            role=role,
            password=password,
            state=state,
            organisation=organisation,
            is_demo=True,
        )
        accounts.append(DemoAccount(email, password, role.value, name, code))
    db.session.commit()
    path = _accounts_file(app)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump([asdict(account) for account in accounts], handle, indent=2)
    return accounts


def refuse_demo_accounts_in_production(app: Flask) -> None:
    """Stop a production start if the database holds demo accounts."""
    with app.app_context():
        try:
            count = db.session.scalar(select(func.count()).where(User.is_demo.is_(True)))
        except exc.DBAPIError:
            # No schema yet (before `flask db upgrade`): there can be no demo accounts.
            db.session.rollback()
            return
        finally:
            db.session.remove()
            # Close the pool's connection: WSGI servers may fork workers after create_app.
            db.engine.dispose()
    if count:
        raise RuntimeError(
            f"{count} demo account(s) exist in this database; production refuses to start. "
            "Delete them (they have is_demo set) or use a fresh database."
        )
