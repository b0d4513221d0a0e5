"""The home page."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from portal.documents.listing import filtered_documents
from portal.extensions import db
from portal.models import Commitment

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    """What the portal is, the six commitments and the latest documents the visitor may read."""
    latest = db.session.scalars(filtered_documents(current_user).limit(10)).all()
    commitments = db.session.scalars(select(Commitment).order_by(Commitment.number)).all()
    return render_template("home/index.html", latest=latest, commitments=commitments)
