"""Accounts and their roles."""

from __future__ import annotations

import datetime as dt
import enum

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from portal.models import Base, str_enum
from portal.models.states import State


class Role(enum.StrEnum):
    """What kind of participant an account belongs to."""

    GOVERNMENT = "government"
    INDUSTRY = "industry"
    CIVIL_SOCIETY = "civil_society"
    SECRETARIAT = "secretariat"

    @property
    def label(self) -> str:
        """The role as people write it, in the interface language."""
        return str(ROLE_LABELS[self])

    @property
    def has_state(self) -> bool:
        """Government accounts belong to exactly one state; other roles to none."""
        return self is Role.GOVERNMENT


#: Labels in the interface language; lazy, so module-level form choices can use them too.
ROLE_LABELS = {
    Role.GOVERNMENT: _l("Government"),
    Role.INDUSTRY: _l("Industry"),
    Role.CIVIL_SOCIETY: _l("Civil society"),
    Role.SECRETARIAT: _l("Secretariat"),
}


class Attribution(enum.StrEnum):
    """How a civil-society author's work is signed for everyone but the secretariat."""

    NAME = "name"
    ORGANISATION = "organisation"
    PSEUDONYM = "pseudonym"


class DigestPeriod(enum.StrEnum):
    """How often a user's email digest is sent; NONE sends nothing."""

    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"


class User(UserMixin, Base):
    """A signed-in participant. Government users belong to exactly one state."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "(role = 'government') = (state_id IS NOT NULL)",
            name="state_iff_government",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    state_id: Mapped[int | None] = mapped_column(ForeignKey("states.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    approved: Mapped[bool] = mapped_column(Boolean, default=False)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # Onboarding: why someone asked for access, and the secretariat's decision.
    access_reason: Mapped[str | None] = mapped_column(Text)
    declined: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A government user the secretariat trusts to invite colleagues of the same state.
    is_focal_point: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Part of the session identifier: raising it signs the account out everywhere.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Two-factor sign-in (TOTP). The last accepted time step refuses a replayed code.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    totp_last_counter: Mapped[int | None] = mapped_column(Integer)
    # Civil-society authors may sign as their organisation or a pseudonym: their own name
    # is then shown only to the secretariat (portal/access.py `author_label`).
    attribution: Mapped[Attribution] = mapped_column(
        str_enum(Attribution, "attribution"), default=Attribution.NAME, server_default="name"
    )
    pseudonym: Mapped[str | None] = mapped_column(String(120))
    # Interface language chosen by the user ("en", "fr"); None follows the browser.
    locale: Mapped[str | None] = mapped_column(String(8))
    # Email digest of new and changed documents (portal/feeds): "none", "daily" or "weekly",
    # and the moment the last one covered up to.
    digest_period: Mapped[DigestPeriod] = mapped_column(
        str_enum(DigestPeriod, "digest_period"), default=DigestPeriod.NONE, server_default="none"
    )
    digest_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    state: Mapped[State | None] = relationship()

    @property
    def is_active(self) -> bool:
        """Flask-Login refuses to sign in a deactivated account."""
        return self.active

    @property
    def two_factor_enabled(self) -> bool:
        """True once the user has enrolled an authenticator app."""
        return self.totp_enabled_at is not None

    @property
    def pending_approval(self) -> bool:
        """Asked for access and not yet approved or declined."""
        return not self.approved and not self.declined

    def get_id(self) -> str:
        """The session identifier: the id and the session version (see `session_version`)."""
        return f"{self.id}.{self.session_version}"

    def set_password(self, password: str) -> None:
        """Store a salted scrypt hash of the password (werkzeug's default)."""
        self.password_hash = generate_password_hash(password, method="scrypt")

    def check_password(self, password: str) -> bool:
        """True if the password matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"
