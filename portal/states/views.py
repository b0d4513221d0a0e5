"""Subscribing states and what each has shared."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select

from portal.access import visible_documents
from portal.assessments.queries import reviews_of, side_by_side
from portal.extensions import db
from portal.models import Document, State
from portal.states.profile import documents_by_commitment

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


def load_state(code: str) -> State:
    """The state with this code (any case), or 404."""
    return db.first_or_404(select(State).where(State.code == code.upper()))


@bp.get("/<code>")
def show(code: str) -> ResponseReturnValue:
    """A state's profile: its documents by commitment, assessments side by side, reviews."""
    state = load_state(code)
    return render_template(
        "states/show.html",
        state=state,
        groups=documents_by_commitment(current_user, state),
        assessments=side_by_side(current_user, state),
        reviews=reviews_of(current_user, state),
    )


@bp.get("/<code>/commitments/<int:number>")
def commitment(code: str, number: int) -> ResponseReturnValue:
    """One state on one commitment: its self-assessments and the reviews, side by side."""
    state = load_state(code)
    cells = side_by_side(current_user, state, number)
    if not cells:
        abort(404)
    return render_template("states/commitment.html", state=state, cell=cells[0])
