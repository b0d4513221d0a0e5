"""Subscribing states and the Code of Conduct's commitments."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.models import Base


class State(Base):
    """A subscribing state, keyed by its ISO 3166-1 alpha-2 code (XK for Kosovo)."""

    __tablename__ = "states"
    __table_args__ = (CheckConstraint("length(code) = 2", name="code_two_letters"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(2), unique=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    joined_on: Mapped[dt.date] = mapped_column(Date)

    def __repr__(self) -> str:
        return f"<State {self.code}>"


class Commitment(Base):
    """One of the six commitments of the Code of Conduct."""

    __tablename__ = "commitments"
    __table_args__ = (CheckConstraint("number BETWEEN 1 AND 6", name="number_one_to_six"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<Commitment {self.number}>"
