"""The Code's six commitments and what has been shared on each."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select

from portal.access import visible_documents
from portal.documents.listing import DocumentFilters, filtered_documents, paginate
from portal.extensions import db
from portal.models import Commitment, Document
from portal.models.documents import document_commitments

bp = Blueprint("commitments", __name__, url_prefix="/commitments")


@bp.get("/")
def index() -> ResponseReturnValue:
    """The six commitments, each with how many documents the user may read on it."""
    counts = dict(
        db.session.execute(
            select(document_commitments.c.commitment_id, func.count())
            .join(Document, Document.id == document_commitments.c.document_id)
            .where(visible_documents(current_user))
            .group_by(document_commitments.c.commitment_id)
        ).all()
    )
    commitments = db.session.scalars(select(Commitment).order_by(Commitment.number)).all()
    return render_template("commitments/index.html", commitments=commitments, counts=counts)


@bp.get("/<int:number>")
def show(number: int) -> ResponseReturnValue:
    """A commitment's text and the documents on it."""
    if not 1 <= number <= 6:
        abort(404)
    commitment = db.session.scalar(select(Commitment).where(Commitment.number == number))
    if commitment is None:
        abort(404)
    query = filtered_documents(current_user, DocumentFilters(commitment=number))
    page = paginate(query)
    return render_template("commitments/show.html", commitment=commitment, page=page)
