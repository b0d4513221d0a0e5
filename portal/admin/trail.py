"""Reading the audit trail: the access policy's condition plus the reader's filters."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_sqlalchemy.pagination import Pagination
from flask_wtf import FlaskForm
from sqlalchemy import Select, or_, select

from portal.access import actor_label, actor_searchable_events, visible_audit_events
from portal.admin.forms import AuditFilterForm
from portal.extensions import db
from portal.models import AuditEvent, User

PER_PAGE = 50
MAX_PAGE = 100_000


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def audit_events(user: Any, filters: AuditFilterForm) -> Select[tuple[AuditEvent]]:
    """Events `user` may read that match the (validated) filters, newest first.

    An action without a dot matches its whole family: `user` finds `user.approve` and
    the other account events. Dates are whole UTC days, both ends included.
    """
    query = select(AuditEvent).where(visible_audit_events(user))
    if filters.actor.data:
        query = query.where(
            AuditEvent.actor_label.icontains(filters.actor.data, autoescape=True),
            # Searching by email must not unmask an author who signs as someone else.
            actor_searchable_events(user),
        )
    if action := (filters.action.data or "").strip():
        family = AuditEvent.action.startswith(f"{action}.", autoescape=True)
        query = query.where(or_(AuditEvent.action == action, family))
    if object_type := (filters.object_type.data or "").strip():
        query = query.where(AuditEvent.object_type == object_type)
    if filters.object_id.data is not None:
        query = query.where(AuditEvent.object_id == filters.object_id.data)
    if filters.date_from.data:
        query = query.where(AuditEvent.occurred_at >= _midnight(filters.date_from.data))
    if filters.date_to.data and filters.date_to.data < dt.date.max:
        end = _midnight(filters.date_to.data + dt.timedelta(days=1))
        query = query.where(AuditEvent.occurred_at < end)
    return query.order_by(AuditEvent.sequence.desc())


def filter_args(form: FlaskForm) -> dict[str, str]:
    """A GET form's submitted values as query-string arguments (for pagination links)."""
    return {
        name: field.raw_data[0]
        for name, field in form._fields.items()
        if field.raw_data and field.raw_data[0]
    }


def page_of(query: Select[Any], per_page: int = PER_PAGE) -> Pagination:
    """One page of `query`, from the `page` argument (clamped, so no number is an error)."""
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)
    return db.paginate(query, page=page, per_page=per_page, max_per_page=per_page, error_out=False)


def actor_names(viewer: Any, events: list[AuditEvent]) -> dict[int, str]:
    """How each event's actor is named to `viewer` (`access.actor_label`), by event id."""
    ids = {e.actor_id for e in events if e.actor_id is not None}
    actors = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    return {e.id: actor_label(viewer, e, actors.get(e.actor_id or 0)) for e in events}


def render_trail(endpoint: str) -> ResponseReturnValue:
    """The audit-trail page at `endpoint`: the events the user may read, filtered."""
    form = AuditFilterForm(request.args)
    if not form.validate():
        return render_template("admin/audit.html", form=form, page=None, endpoint=endpoint), 400
    page = page_of(audit_events(current_user, form))
    return render_template(
        "admin/audit.html",
        form=form,
        page=page,
        args=filter_args(form),
        endpoint=endpoint,
        actor_names=actor_names(current_user, page.items),
    )
