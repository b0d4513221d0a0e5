"""The Code's six commitments and what has been shared on each."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select

from portal.access import visible_documents
from portal.commitments.matrix import Cell, Matrix, MatrixFilters, matrix_csv
from portal.commitments.matrix_cache import matrix_for
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


def _matrix() -> Matrix:
    filters = MatrixFilters.from_args(request.args)
    if filters.error:
        abort(400, description=filters.error)
    return matrix_for(
        current_user,
        filters,
        today=dt.date.today(),
        stale_months=current_app.config["MATRIX_STALE_MONTHS"],
    )


def cell_documents_url(cell: Cell, filters: MatrixFilters, **options: bool) -> str:
    """The document list filtered to one cell (and the matrix's type filter)."""
    return url_for(
        "documents.index",
        state=cell.state.code,
        commitment=cell.commitment.number,
        type=filters.type.value if filters.type else None,
        **options,
    )


@bp.get("/matrix")
def matrix() -> ResponseReturnValue:
    """States x commitments: what each state shared on each commitment, as the user may see."""
    return render_template("commitments/matrix.html", matrix=_matrix(), cell_url=cell_documents_url)


@bp.get("/matrix.csv")
def matrix_download() -> ResponseReturnValue:
    """The matrix as CSV: the same filters, the same visibility, the same numbers."""
    table = _matrix()
    body = matrix_csv(table, lambda cell: cell_documents_url(cell, table.filters, _external=True))
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": 'attachment; filename="echri-matrix.csv"',
            # What the file holds depends on who asked: never for a shared cache.
            "Cache-Control": "private, no-store",
        },
    )
