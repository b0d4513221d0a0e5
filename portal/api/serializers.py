"""What the API returns: plain dicts built from models, in the shapes openapi.py describes.

Every person is named through `access.author_label`, as on the site. Callers have already
checked that `viewer` may read what is passed in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import url_for

from portal.access import Action, author_label, can, can_read_draft_minutes
from portal.clock import as_utc
from portal.commitments.matrix import Cell, Matrix
from portal.models import Commitment, Document, Revision, State
from portal.models.plenaries import ActionItem, MinutesRevision, MinutesStatus, Plenary
from portal.search.query import SearchHit


def day(value: dt.date | None) -> str | None:
    """A date as YYYY-MM-DD."""
    return value.isoformat() if value else None


def moment(value: dt.datetime | None) -> str | None:
    """A stored moment as RFC 3339 in UTC."""
    return as_utc(value).isoformat() if value else None


def etag_of(document: Document) -> str:
    """The strong ETag of the document as it stands now (its id and version, quoted)."""
    return f'"{document.id}.{document.version}"'


def state_ref(state: State | None) -> dict[str, str] | None:
    """A state as {code, name}."""
    return {"code": state.code, "name": state.name} if state else None


def _answered(viewer: Any, document: Document) -> str | None:
    """The slug of the review a response answers, if the viewer may read that review."""
    review = document.responds_to
    return review.slug if review is not None and can(viewer, Action.READ, review) else None


def document_summary(viewer: Any, document: Document) -> dict[str, Any]:
    """A document's metadata, as lists show it."""
    return {
        "slug": document.slug,
        "url": url_for("api.document", slug=document.slug, _external=True),
        "html_url": url_for("documents.show", slug=document.slug, _external=True),
        "type": document.type.value,
        "title": document.title,
        "state": state_ref(document.state),
        "organisation": document.organisation,
        "commitments": [c.number for c in document.commitments],
        "visibility": document.visibility.value,
        "status": document.status.value,
        "published_on": day(document.published_on),
        "updated_at": moment(document.updated_at),
        "lang": document.lang,
        "assessment": document.assessment.value if document.assessment else None,
        "responds_to": _answered(viewer, document),
        "author": author_label(viewer, document.author, document.signed_as),
        "version": document.version,
    }


def revision_summary(viewer: Any, revision: Revision) -> dict[str, Any]:
    """A revision's metadata, as the history shows it."""
    return {
        "number": revision.number,
        "url": url_for(
            "api.revision", slug=revision.document.slug, number=revision.number, _external=True
        ),
        "title": revision.title,
        "summary": revision.summary,
        "author": author_label(viewer, revision.author, revision.signed_as),
        "created_at": moment(revision.created_at),
    }


def revision_full(viewer: Any, revision: Revision) -> dict[str, Any]:
    """A revision with its Markdown source and the sanitised HTML stored with it."""
    return {
        **revision_summary(viewer, revision),
        "markdown": revision.source,
        "html": revision.html,
    }


def document_full(viewer: Any, document: Document) -> dict[str, Any]:
    """A document with its current revision."""
    current = document.current_revision
    return {
        **document_summary(viewer, document),
        "etag": etag_of(document),
        "revision": revision_full(viewer, current) if current else None,
    }


def commitment_json(commitment: Commitment, count: int) -> dict[str, Any]:
    """A commitment of the Code and how many documents the viewer may read on it."""
    return {
        "number": commitment.number,
        "title": commitment.title,
        "text": commitment.text,
        "documents": count,
    }


def state_json(state: State, count: int) -> dict[str, Any]:
    """A subscribing state and how many documents the viewer may read from or about it."""
    return {
        "code": state.code,
        "name": state.name,
        "joined_on": day(state.joined_on),
        "documents": count,
    }


def plenary_summary(plenary: Plenary) -> dict[str, Any]:
    """A plenary's record without its texts."""
    return {
        "number": plenary.number,
        "url": url_for("api.plenary", number=plenary.number, _external=True),
        "title": plenary.title,
        "place": plenary.place,
        "starts_on": day(plenary.starts_on),
        "ends_on": day(plenary.ends_on),
        "host_state": plenary.host_state.code if plenary.host_state else None,
        "participants": [s.code for s in plenary.participants],
        "visibility": plenary.visibility.value,
        "minutes_status": plenary.minutes_status.value,
    }


def _minutes(revision: MinutesRevision) -> dict[str, Any]:
    return {
        "number": revision.number,
        "kind": revision.kind.value,
        "markdown": revision.source,
        "html": revision.html,
        "reason": revision.reason,
        "created_at": moment(revision.created_at),
    }


def action_item_json(item: ActionItem, today: dt.date) -> dict[str, Any]:
    """An action item, its owners (none: the secretariat) and its status."""
    return {
        "id": item.id,
        "text": item.text,
        "owners": [s.code for s in item.owners],
        "due_on": day(item.due_on),
        "status": item.status.value,
        "overdue": item.is_overdue(today),
    }


def plenary_full(viewer: Any, plenary: Plenary, today: dt.date) -> dict[str, Any]:
    """A plenary's record; unadopted minutes only for those who may read drafts."""
    adopted = plenary.minutes_status is MinutesStatus.ADOPTED
    current = plenary.current_minutes
    shown = current is not None and (adopted or can_read_draft_minutes(viewer, plenary))
    return {
        **plenary_summary(plenary),
        "agenda": {"markdown": plenary.agenda_source, "html": plenary.agenda_html},
        "decisions": {"markdown": plenary.decisions_source, "html": plenary.decisions_html},
        "minutes": {
            "status": plenary.minutes_status.value,
            "circulated_at": moment(plenary.circulated_at),
            "comment_deadline": moment(plenary.comment_deadline),
            "adopted_at": moment(plenary.adopted_at),
            "adoption_method": plenary.adoption_method.value if plenary.adoption_method else None,
            "current": _minutes(current) if shown and current is not None else None,
        },
        "action_items": [action_item_json(item, today) for item in plenary.action_items],
    }


def _cell(cell: Cell) -> dict[str, Any]:
    return {
        "commitment": cell.commitment.number,
        "total": cell.total,
        "counts": {t.value: n for t, n in sorted(cell.counts.items())},
        "latest": day(cell.latest),
        "stale": cell.stale,
        "self_assessment": cell.self_assessment.value if cell.self_assessment else None,
        "self_assessment_on": day(cell.self_assessment_on),
        "self_assessment_stale": cell.self_assessment_stale,
        "review": cell.review.value if cell.review else None,
        "review_on": day(cell.review_on),
        "review_stale": cell.review_stale,
    }


def matrix_json(matrix: Matrix) -> dict[str, Any]:
    """The states x commitments matrix as the viewer may see it."""
    filters = matrix.filters
    return {
        "filters": {
            "type": filters.type.value if filters.type else None,
            "year": filters.year,
            "sort": filters.sort,
        },
        "stale_months": matrix.stale_months,
        "stale_before": day(matrix.stale_before),
        "years": matrix.years,
        "commitments": [{"number": c.number, "title": c.title} for c in matrix.commitments],
        "rows": [
            {
                "state": state_ref(row.state),
                "total": row.total,
                "cells": [_cell(cell) for cell in row.cells],
            }
            for row in matrix.rows
        ],
    }


def search_hit_json(hit: SearchHit) -> dict[str, Any]:
    """One search result; `snippet` is HTML with matches in <mark>."""
    published = hit.published
    return {
        "slug": hit.slug,
        "url": url_for("api.document", slug=hit.slug, _external=True),
        "title": hit.title,
        "type": hit.type,
        "state": hit.state.upper() if hit.state else None,
        "published_on": published.date().isoformat() if published else None,
        "visibility": hit.visibility,
        "status": hit.status,
        "snippet": str(hit.snippet),
        "attachment": hit.attachment,
    }
