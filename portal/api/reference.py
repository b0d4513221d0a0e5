"""Commitments, states, plenaries and the matrix, as the caller may see them on the site."""

from __future__ import annotations

import datetime as dt

from flask import Response, current_app, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.access import can_read_plenary, visible_documents
from portal.api import bp
from portal.api.auth import api_user
from portal.api.problems import ApiProblem, not_found
from portal.api.serializers import (
    commitment_json,
    matrix_json,
    plenary_full,
    plenary_summary,
    state_json,
)
from portal.clock import utcnow
from portal.commitments.matrix import MatrixFilters
from portal.commitments.matrix_cache import matrix_for
from portal.extensions import db
from portal.models import Commitment, Document, State
from portal.models.documents import document_commitments
from portal.plenaries import services as plenaries

MAX_NUMBER = 2**31 - 1


@bp.get("/commitments")
def commitments() -> Response:
    """The Code's six commitments, each with how many documents the caller may read on it."""
    link = document_commitments.c
    counts = dict(
        db.session.execute(
            select(link.commitment_id, func.count())
            .join(Document, Document.id == link.document_id)
            .where(visible_documents(api_user()))
            .group_by(link.commitment_id)
        ).all()
    )
    found = db.session.scalars(select(Commitment).order_by(Commitment.number))
    return jsonify({"items": [commitment_json(c, counts.get(c.id, 0)) for c in found]})


@bp.get("/states")
def states() -> Response:
    """The subscribing states, each with how many documents the caller may read from or about it."""
    counts = dict(
        db.session.execute(
            select(Document.state_id, func.count())
            .where(visible_documents(api_user()), Document.state_id.is_not(None))
            .group_by(Document.state_id)
        ).all()
    )
    found = db.session.scalars(select(State).order_by(State.name))
    return jsonify({"items": [state_json(s, counts.get(s.id, 0)) for s in found]})


@bp.get("/plenaries")
def plenary_list() -> Response:
    """Plenaries the caller may read, newest first."""
    found = plenaries.readable_plenaries(api_user())
    return jsonify({"items": [plenary_summary(p) for p in found]})


@bp.get("/plenaries/<int:number>")
def plenary(number: int) -> Response:
    """A plenary's record and action items; unadopted minutes only for those who may read them."""
    user = api_user()
    found = plenaries.current_plenary(number) if 1 <= number <= MAX_NUMBER else None
    if found is None or not can_read_plenary(user, found):
        raise not_found()
    return jsonify(plenary_full(user, found, utcnow().date()))


@bp.get("/matrix")
def matrix() -> Response:
    """States x commitments, counted from published documents the caller may read."""
    for name in ("type", "year", "sort"):
        if name in request.args and not request.args[name]:
            raise ApiProblem(400, _("“%(name)s” must not be empty.", name=name))
    filters = MatrixFilters.from_args(request.args)
    if filters.error:
        raise ApiProblem(400, filters.error, kind="invalid-parameter")
    table = matrix_for(
        api_user(),
        filters,
        today=dt.date.today(),
        stale_months=current_app.config["MATRIX_STALE_MONTHS"],
    )
    return jsonify(matrix_json(table))
