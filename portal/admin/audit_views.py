"""The audit trail for those who may read part of it: governments see their state's documents."""

from __future__ import annotations

from flask import Blueprint, abort
from flask.typing import ResponseReturnValue
from flask_login import current_user

from portal.access import can_read_audit_trail
from portal.admin.trail import render_trail
from portal.extensions import login_manager

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.before_request
def guard() -> ResponseReturnValue | None:
    """Visitors are sent to sign in; users who may read no part of the trail get 403."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not can_read_audit_trail(current_user):
        abort(403)
    return None


@bp.get("/")
def trail() -> ResponseReturnValue:
    """The audit events of documents the user's state owns (everything, for the secretariat)."""
    return render_trail("audit.trail")
