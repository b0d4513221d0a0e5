"""Plenaries from content/plenaries/*.md: front matter for the record, body sections for texts.

Front matter: number, title, starts, ends, place, host, participants, visibility (default
participants), minutes (draft|circulated|adopted), adopted (date, for adopted minutes),
deadline (date-time, for circulated minutes), action_items (list of {text, owners, due,
status}). The body's `## Agenda`, `## Minutes` and `## Decisions` sections hold the texts.
Everything goes through the services, so each step is audited as the content loader.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from portal.access import CONTENT_LOADER
from portal.content import ContentError, split_front_matter
from portal.extensions import db
from portal.models import ActionStatus, MinutesStatus, Plenary, State, Visibility
from portal.plenaries import actions, services
from portal.plenaries.services import InvalidPlenary, PlenaryFields, StepRefused

PLENARY_KEYS = frozenset(
    {"number", "title", "starts", "ends", "place", "host", "participants", "visibility",
     "minutes", "adopted", "deadline", "action_items"}
)  # fmt: skip
ITEM_KEYS = frozenset({"text", "owners", "due", "status"})
SECTIONS = ("agenda", "minutes", "decisions")
_SECTION = re.compile(r"^##[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_ORDER = list(MinutesStatus)


@dataclass
class _ItemSpec:
    text: str
    owners: list[State]
    due: dt.date | None
    status: ActionStatus


@dataclass
class _PlenarySpec:
    fields: PlenaryFields
    minutes: str
    status: MinutesStatus
    adopted: dt.date | None
    deadline: dt.datetime | None
    items: list[_ItemSpec] = field(default_factory=list)


def split_sections(body: str) -> dict[str, str]:
    """The body's Agenda, Minutes and Decisions sections (level-2 headings), by name."""
    parts = _SECTION.split(body)
    if parts[0].strip():
        raise ContentError("text before the first section: start with ## Agenda, ## Minutes …")
    sections: dict[str, str] = {}
    for heading, text in zip(parts[1::2], parts[2::2], strict=True):
        name = heading.strip().lower()
        if name not in SECTIONS:
            raise ContentError(f"unknown section ## {heading}: use Agenda, Minutes, Decisions")
        if name in sections:
            raise ContentError(f"section ## {heading} appears twice")
        sections[name] = text.strip()
    return sections


def _states(codes: Any, key: str) -> list[State]:
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise ContentError(f'{key} must be a list of state codes (write "NO" for Norway)')
    states = list(db.session.scalars(select(State).where(State.code.in_(codes))))
    missing = sorted(set(codes) - {s.code for s in states})
    if missing:
        raise ContentError(f"{key}: {', '.join(missing)} not in states.yml")
    return states


def _date(meta: dict[str, Any], key: str, required: bool = False) -> dt.date | None:
    value = meta.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise ContentError(f"{key} must be a date (YYYY-MM-DD)")
    return value


def _enum(value: Any, enum_cls: Any, key: str) -> Any:
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum_cls)
        raise ContentError(f"{key} must be one of {allowed}, not {value!r}") from None


def _deadline(meta: dict[str, Any]) -> dt.datetime | None:
    value = meta.get("deadline")
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):  # the end of that day, UTC
        return dt.datetime.combine(value, dt.time(23, 59), tzinfo=dt.UTC)
    raise ContentError("deadline must be a date or a date and time (UTC)")


def _items(meta: dict[str, Any]) -> list[_ItemSpec]:
    entries = meta.get("action_items") or []
    if not isinstance(entries, list):
        raise ContentError("action_items must be a list of {text, owners, due, status}")
    items = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) - ITEM_KEYS:
            raise ContentError(f"bad action item {entry!r}: keys are text, owners, due, status")
        text = entry.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ContentError("every action item needs a text")
        items.append(
            _ItemSpec(
                text=text.strip(),
                owners=_states(entry.get("owners") or [], "action item owners"),
                due=_date(entry, "due"),
                status=_enum(entry.get("status", "open"), ActionStatus, "action item status"),
            )
        )
    return items


def parse_plenary(text: str) -> _PlenarySpec:
    """Validate a plenary file against the database's states."""
    meta, body = split_front_matter(text)
    unknown = sorted(set(meta) - PLENARY_KEYS)
    if unknown:
        raise ContentError(f"unknown front-matter key(s): {', '.join(unknown)}")
    number, title, place = meta.get("number"), meta.get("title"), meta.get("place")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise ContentError("number must be a whole number from 1")
    if not isinstance(title, str) or not isinstance(place, str):
        raise ContentError("title and place are required")
    host = _states([meta["host"]], "host")[0] if meta.get("host") is not None else None
    sections = split_sections(body)
    status = _enum(meta.get("minutes", "draft"), MinutesStatus, "minutes")
    adopted = _date(meta, "adopted", required=status is MinutesStatus.ADOPTED)
    deadline = _deadline(meta)
    if status is MinutesStatus.CIRCULATED and deadline is None:
        raise ContentError("circulated minutes need a deadline")
    if status is not MinutesStatus.DRAFT and not sections.get("minutes"):
        raise ContentError(f"{status.value} minutes need a ## Minutes section")
    fields = PlenaryFields(
        number=number,
        title=title,
        starts_on=_date(meta, "starts", required=True),  # type: ignore[arg-type]
        ends_on=_date(meta, "ends", required=True),  # type: ignore[arg-type]
        place=place,
        host_state=host,
        participants=_states(meta.get("participants"), "participants"),
        visibility=_enum(meta.get("visibility", "participants"), Visibility, "visibility"),
        agenda_source=sections.get("agenda", ""),
        decisions_source=sections.get("decisions", ""),
    )
    return _PlenarySpec(
        fields, sections.get("minutes", ""), status, adopted, deadline, _items(meta)
    )


def _bring_minutes_in_line(plenary: Plenary, spec: _PlenarySpec, path: Path) -> None:
    current = plenary.current_minutes
    if spec.minutes and (current is None or current.source != spec.minutes):
        if plenary.minutes_status is MinutesStatus.ADOPTED:
            reason = f"Updated from {path.name}"
            services.amend_minutes(CONTENT_LOADER, plenary, spec.minutes, reason)
        else:
            services.save_minutes(CONTENT_LOADER, plenary, spec.minutes)
    if _ORDER.index(spec.status) < _ORDER.index(plenary.minutes_status):
        raise ContentError(
            f"the minutes are {plenary.minutes_status.value} and cannot go back to "
            f"{spec.status.value}"
        )
    if spec.status is MinutesStatus.CIRCULATED and plenary.minutes_status is MinutesStatus.DRAFT:
        services.circulate_minutes(CONTENT_LOADER, plenary, spec.deadline)  # type: ignore[arg-type]
    if spec.status is MinutesStatus.ADOPTED and plenary.minutes_status is not MinutesStatus.ADOPTED:
        services.record_past_adoption(CONTENT_LOADER, plenary, spec.adopted)  # type: ignore[arg-type]


def _bring_items_in_line(plenary: Plenary, spec: _PlenarySpec, path: Path) -> None:
    existing = {item.text: item for item in plenary.action_items}
    for entry in spec.items:
        item = existing.get(entry.text)
        if item is None:
            actions.create_action_item(
                CONTENT_LOADER, plenary, entry.text, entry.owners, entry.due, entry.status
            )
            continue
        actions.revise_action_item(CONTENT_LOADER, item, entry.text, entry.owners, entry.due)
        if item.status is not entry.status:
            note = f"Updated from {path.name}"
            actions.change_action_status(CONTENT_LOADER, item, entry.status, note)


def load_plenary_text(path: Path, text: str) -> tuple[int, str]:
    """Create or update one plenary from a file's text: (number, created|revised|unchanged).

    Raises ContentError; the caller commits or rolls back.
    """
    checksum = hashlib.sha256(text.encode()).hexdigest()
    spec = parse_plenary(text)
    plenary = services.get_plenary(spec.fields.number)
    try:
        if plenary is None:
            plenary, outcome = services.create_plenary(CONTENT_LOADER, spec.fields), "created"
        elif plenary.content_checksum is None:
            raise ContentError(
                f"plenary {plenary.number} was recorded on the site; the file cannot replace it"
            )
        elif plenary.content_checksum == checksum:
            return plenary.number, "unchanged"
        else:
            services.update_plenary(CONTENT_LOADER, plenary, spec.fields)
            outcome = "revised"
        _bring_minutes_in_line(plenary, spec, path)
        _bring_items_in_line(plenary, spec, path)
    except (InvalidPlenary, StepRefused) as error:
        raise ContentError(str(error)) from error
    plenary.content_checksum = checksum
    return plenary.number, outcome
