"""A plenary's record as one Markdown file: metadata, the minutes the reader may read, the
decisions and the action items."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext as _

from portal.access import can_read_draft_minutes
from portal.clock import as_utc
from portal.models import MinutesRevisionKind, MinutesStatus, Plenary
from portal.models.plenaries import ActionItem


def _when(moment: dt.datetime | dt.date | None) -> str:
    if isinstance(moment, dt.datetime):
        return f"{as_utc(moment):%Y-%m-%d %H:%M} UTC"
    return moment.isoformat() if moment else ""


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _metadata(plenary: Plenary) -> list[str]:
    states = ", ".join(s.name for s in plenary.participants) or _("None recorded")
    host = plenary.host_state.name if plenary.host_state else _("None")
    dates = _when(plenary.starts_on)
    if plenary.ends_on != plenary.starts_on:
        dates = _("%(start)s to %(end)s", start=dates, end=_when(plenary.ends_on))
    return [
        f"- **{_('Plenary')}:** {plenary.number}",
        f"- **{_('Dates')}:** {dates}",
        f"- **{_('Place')}:** {plenary.place}",
        f"- **{_('Host')}:** {host}",
        f"- **{_('Participating states')}:** {states}",
        f"- **{_('Visibility')}:** {plenary.visibility.label}",
        f"- **{_('Minutes')}:** {plenary.minutes_status.label}",
    ]


def _minutes(plenary: Plenary, reader: Any) -> list[str]:
    current = plenary.current_minutes
    if plenary.minutes_status is MinutesStatus.ADOPTED and current is not None:
        method = plenary.adoption_method.label.lower() if plenary.adoption_method else ""
        lines = [
            _("Adopted %(when)s (%(method)s).", when=_when(plenary.adopted_at), method=method),
            "",
            current.source.strip(),
        ]
        amendments = [
            r for r in plenary.minutes_revisions if r.kind is MinutesRevisionKind.AMENDMENT
        ]
        if amendments:
            lines += ["", f"### {_('Amendments since adoption')}", ""]
            lines += [
                "- "
                + _(
                    "Revision %(number)s, %(when)s: %(reason)s",
                    number=r.number,
                    when=_when(r.created_at),
                    reason=_cell(r.reason),
                )
                for r in amendments
            ]
        return lines
    if current is not None and can_read_draft_minutes(reader, plenary):
        notice = _(
            "Draft minutes (%(status)s), revision %(number)s: not adopted; for the "
            "participating delegations and the secretariat only.",
            status=plenary.minutes_status.label.lower(),
            number=current.number,
        )
        if plenary.comment_deadline:
            notice += " " + _("Comments due by %(when)s.", when=_when(plenary.comment_deadline))
        return [f"> {notice}", "", current.source.strip()]
    return [_("The minutes have not been adopted yet.")]


def _action_items(items: list[ActionItem], today: dt.date) -> list[str]:
    if not items:
        return [_("No action items.")]
    lines = [
        f"| {_('Action')} | {_('Owners')} | {_('Due')} | {_('Status')} |",
        "|---|---|---|---|",
    ]
    for item in items:
        owners = ", ".join(s.name for s in item.owners) or _("The secretariat")
        status = item.status.label
        if item.is_overdue(today):
            status = f"{status} ({_('overdue')})"
        due = _when(item.due_on) or _("No date")
        lines.append(f"| {_cell(item.text)} | {_cell(owners)} | {due} | {status} |")
    return lines


def minutes_markdown(plenary: Plenary, reader: Any, today: dt.date) -> str:
    """The plenary as Markdown for `reader`: draft minutes only if they may read them."""
    parts = [
        f"# {plenary.title}",
        "",
        *_metadata(plenary),
        "",
        f"## {_('Agenda')}",
        "",
        plenary.agenda_source.strip() or _("No agenda recorded."),
        "",
        f"## {_('Minutes')}",
        "",
        *_minutes(plenary, reader),
        "",
        f"## {_('Decisions')}",
        "",
        plenary.decisions_source.strip() or _("No decisions recorded."),
        "",
        f"## {_('Action items')}",
        "",
        *_action_items(list(plenary.action_items), today),
    ]
    return "\n".join(parts).replace("\r\n", "\n") + "\n"
