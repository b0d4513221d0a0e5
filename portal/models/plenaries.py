"""Plenaries: their records, minutes with a life cycle, delegations' comments, action items."""

from __future__ import annotations

import datetime as dt
import enum

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models import Base, str_enum
from portal.models.documents import Visibility
from portal.models.states import State
from portal.models.users import User


class MinutesStatus(enum.StrEnum):
    """Where a plenary's minutes are in their life cycle (the order is the life cycle's)."""

    DRAFT = "draft"  # the secretariat is writing them
    CIRCULATED = "circulated"  # with the delegations for comment until the deadline
    ADOPTED = "adopted"  # locked: changes only by amendment

    @property
    def label(self) -> str:
        """The status as people write it, in the interface language."""
        return {
            MinutesStatus.DRAFT: _("Draft"),
            MinutesStatus.CIRCULATED: _("Circulated"),
            MinutesStatus.ADOPTED: _("Adopted"),
        }[self]


class AdoptionMethod(enum.StrEnum):
    """How adopted minutes were adopted."""

    SILENCE = "silence"  # the comment deadline passed with no open objection
    SECRETARIAT = "secretariat"  # the secretariat recorded the plenary's adoption

    @property
    def label(self) -> str:
        """The method as people write it."""
        if self is AdoptionMethod.SILENCE:
            return _("Silence procedure")
        return _("Recorded by the secretariat")


class MinutesRevisionKind(enum.StrEnum):
    """Why a revision of the minutes was made."""

    DRAFT = "draft"  # a version before adoption
    AMENDMENT = "amendment"  # a change after adoption, with a required reason


class ActionStatus(enum.StrEnum):
    """Where an action item stands."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"

    @property
    def label(self) -> str:
        """The status as people write it, in the interface language."""
        return str(ACTION_STATUS_LABELS[self])

    @property
    def is_closed(self) -> bool:
        """Done or dropped: no longer owed."""
        return self in (ActionStatus.DONE, ActionStatus.DROPPED)


#: Labels in the interface language; lazy, so module-level form choices can use them too.
ACTION_STATUS_LABELS = {
    ActionStatus.OPEN: _l("Open"),
    ActionStatus.IN_PROGRESS: _l("In progress"),
    ActionStatus.DONE: _l("Done"),
    ActionStatus.DROPPED: _l("Dropped"),
}


plenary_participants = Table(
    "plenary_participants",
    Base.metadata,
    Column("plenary_id", ForeignKey("plenaries.id", ondelete="CASCADE"), primary_key=True),
    Column("state_id", ForeignKey("states.id"), primary_key=True),
)

action_item_owners = Table(
    "action_item_owners",
    Base.metadata,
    Column("action_item_id", ForeignKey("action_items.id", ondelete="CASCADE"), primary_key=True),
    Column("state_id", ForeignKey("states.id"), primary_key=True),
)


class Plenary(Base):
    """A plenary meeting of the subscribing states and its record.

    `visibility` is who may read the record (agenda, decisions, adopted minutes, action
    items); draft and circulated minutes are for the participating delegations and the
    secretariat only (portal/access.py).
    """

    __tablename__ = "plenaries"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(300))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    place: Mapped[str] = mapped_column(String(200))
    host_state_id: Mapped[int | None] = mapped_column(ForeignKey("states.id"))
    visibility: Mapped[Visibility] = mapped_column(str_enum(Visibility, "plenary_visibility"))
    agenda_source: Mapped[str] = mapped_column(Text, default="", server_default="")
    agenda_html: Mapped[str] = mapped_column(Text, default="", server_default="")
    decisions_source: Mapped[str] = mapped_column(Text, default="", server_default="")
    decisions_html: Mapped[str] = mapped_column(Text, default="", server_default="")
    minutes_status: Mapped[MinutesStatus] = mapped_column(
        str_enum(MinutesStatus, "minutes_status")
    )
    circulated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    comment_deadline: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    adopted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    adoption_method: Mapped[AdoptionMethod | None] = mapped_column(
        str_enum(AdoptionMethod, "adoption_method")
    )
    current_minutes_id: Mapped[int | None] = mapped_column(
        ForeignKey("minutes_revisions.id", use_alter=True)
    )
    # Checksum of the content/plenaries file last loaded, as for documents.
    content_checksum: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    host_state: Mapped[State | None] = relationship(foreign_keys=[host_state_id])
    participants: Mapped[list[State]] = relationship(
        secondary=plenary_participants, order_by=State.name
    )
    current_minutes: Mapped[MinutesRevision | None] = relationship(
        foreign_keys=[current_minutes_id], post_update=True
    )
    minutes_revisions: Mapped[list[MinutesRevision]] = relationship(
        back_populates="plenary",
        foreign_keys="MinutesRevision.plenary_id",
        order_by="MinutesRevision.number",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    action_items: Mapped[list[ActionItem]] = relationship(
        back_populates="plenary", order_by="ActionItem.id", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Plenary {self.number}>"


class MinutesRevision(Base):
    """One version of a plenary's minutes (a draft, or an amendment after adoption)."""

    __tablename__ = "minutes_revisions"
    __table_args__ = (
        UniqueConstraint("plenary_id", "number", name="uq_minutes_revisions_plenary_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plenary_id: Mapped[int] = mapped_column(ForeignKey("plenaries.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[MinutesRevisionKind] = mapped_column(
        str_enum(MinutesRevisionKind, "minutes_revision_kind")
    )
    source: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    # Required for amendments: shown on the page beside the change.
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    plenary: Mapped[Plenary] = relationship(
        back_populates="minutes_revisions", foreign_keys=[plenary_id]
    )
    author: Mapped[User | None] = relationship()


class MinutesComment(Base):
    """A delegation's comment on, or objection to, circulated draft minutes."""

    __tablename__ = "minutes_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    plenary_id: Mapped[int] = mapped_column(
        ForeignKey("plenaries.id", ondelete="CASCADE"), index=True
    )
    revision_id: Mapped[int] = mapped_column(ForeignKey("minutes_revisions.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state_id: Mapped[int | None] = mapped_column(ForeignKey("states.id"))
    source: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    is_objection: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # An objection stops the silence procedure until withdrawn by its delegation or
    # resolved by the secretariat (with a note).
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str] = mapped_column(Text, default="", server_default="")

    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    state: Mapped[State | None] = relationship()
    revision: Mapped[MinutesRevision] = relationship()

    @property
    def is_open_objection(self) -> bool:
        """An objection not yet withdrawn or resolved."""
        return self.is_objection and self.resolved_at is None


class ActionItem(Base):
    """Something a plenary decided that one or more states (or the secretariat) owe."""

    __tablename__ = "action_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    plenary_id: Mapped[int] = mapped_column(
        ForeignKey("plenaries.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[ActionStatus] = mapped_column(str_enum(ActionStatus, "action_status"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    plenary: Mapped[Plenary] = relationship(back_populates="action_items")
    owners: Mapped[list[State]] = relationship(secondary=action_item_owners, order_by=State.name)
    history: Mapped[list[ActionStatusChange]] = relationship(
        back_populates="action_item",
        order_by="ActionStatusChange.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def is_overdue(self, today: dt.date) -> bool:
        """Past its due date and not done or dropped."""
        return self.due_on is not None and self.due_on < today and not self.status.is_closed


class ActionStatusChange(Base):
    """One dated step in an action item's status history."""

    __tablename__ = "action_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_item_id: Mapped[int] = mapped_column(
        ForeignKey("action_items.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[ActionStatus] = mapped_column(str_enum(ActionStatus, "action_change_status"))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="", server_default="")

    action_item: Mapped[ActionItem] = relationship(back_populates="history")
    changed_by: Mapped[User | None] = relationship()
