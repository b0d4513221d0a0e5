"""Plenaries: records, minutes with their life cycle, delegations' comments, action items."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask_login import current_user

from portal.models import ActionItem, State


def utc_today() -> dt.date:
    """Today's date in UTC (what overdue is measured against)."""
    return dt.datetime.now(dt.UTC).date()


def init_app(app: Flask) -> None:
    """Register the blueprint and the template helpers the state page uses."""
    from portal.plenaries.actions import open_action_items
    from portal.plenaries.views import bp

    app.register_blueprint(bp)

    @app.context_processor
    def plenary_helpers() -> dict[str, Any]:
        def open_action_items_for(state: State) -> list[ActionItem]:
            """The state's open action items from plenaries the viewer may read."""
            return open_action_items(current_user, state)

        return {"open_action_items_for": open_action_items_for, "utc_today": utc_today}
