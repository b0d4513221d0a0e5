"""Subscribing states and what each has shared."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select

from portal.access import visible_documents
from portal.documents.listing import DocumentFilters, filtered_documents, paginate
from portal.extensions import db
from portal.models import Document, State

bp = Blueprint("states", __name__, url_prefix="/states")


@bp.get("/")
def index() -> ResponseReturnValue:
    """Every subscribing state, with how many documents the user may read from or about it."""
    counts = dict(
        db.session.execute(
            select(Document.state_id, func.count())
            .where(visible_documents(current_user), Document.state_id.is_not(None))
            .group_by(Document.state_id)
        ).all()
    )
    states = db.session.scalars(select(State).order_by(State.name)).all()
    return render_template("states/index.html", states=states, counts=counts)


@bp.get("/<code>")
def show(code: str) -> ResponseReturnValue:
    """A state's profile and its documents."""
    state = db.first_or_404(select(State).where(State.code == code.upper()))
    query = filtered_documents(current_user, DocumentFilters(state=state.code))
    page = paginate(query)
    return render_template("states/show.html", state=state, page=page)
