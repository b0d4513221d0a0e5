"""Accounts and their roles."""

from __future__ import annotations

import datetime as dt
import enum

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, String, func
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
        """The role as people write it."""
        return self.value.replace("_", " ").capitalize()


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

    state: Mapped[State | None] = relationship()

    @property
    def is_active(self) -> bool:
        """Flask-Login refuses to sign in a deactivated account."""
        return self.active

    def set_password(self, password: str) -> None:
        """Store a salted scrypt hash of the password (werkzeug's default)."""
        self.password_hash = generate_password_hash(password, method="scrypt")

    def check_password(self, password: str) -> bool:
        """True if the password matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"
