"""Download pages: the documents as a content/ zip, action items as CSV, minutes as Markdown.

Each handler: load (404) -> what the user may read (portal/access.py) -> build -> send.
What a file holds depends on who asked, so none is kept by a shared cache.
"""

from __future__ import annotations

from flask import Blueprint, Response, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from portal.clock import utcnow
from portal.exports.archive import write_zip
from portal.exports.csv_files import action_items_csv, readable_action_items
from portal.exports.markdown_tree import ContentExport
from portal.exports.minutes import minutes_markdown
from portal.models.plenaries import ActionItem
from portal.plenaries import services
from portal.plenaries.views import load_plenary

bp = Blueprint("exports", __name__)
PRIVATE = "private, no-store"


def _download(body: str, mimetype: str, filename: str) -> Response:
    return Response(
        body,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": PRIVATE,
        },
    )


def _item_url(item: ActionItem) -> str:
    return url_for(
        "plenaries.show", number=item.plenary.number, _anchor=f"item-{item.id}", _external=True
    )


@bp.get("/export/documents.zip")
def documents_zip() -> ResponseReturnValue:
    """Every document (and plenary) the user may read, as a content/ tree in a zip."""
    services.adopt_minutes_due()  # as opening the plenaries would
    root = f"echri-content-{utcnow().date().isoformat()}"
    archive = write_zip(ContentExport.for_reader(current_user).all_files(), root)
    response = send_file(
        archive, mimetype="application/zip", as_attachment=True, download_name=f"{root}.zip"
    )
    response.headers["Cache-Control"] = PRIVATE
    return response


@bp.get("/plenaries/action-items.csv")
def action_items() -> ResponseReturnValue:
    """The action items of every plenary the user may read, as CSV."""
    items = readable_action_items(current_user)
    body = action_items_csv(items, utcnow().date(), _item_url)
    return _download(body, "text/csv", "echri-action-items.csv")


@bp.get("/plenaries/<int:number>/action-items.csv")
def plenary_action_items(number: int) -> ResponseReturnValue:
    """One plenary's action items, as CSV."""
    plenary = load_plenary(number)
    items = readable_action_items(current_user, plenary)
    body = action_items_csv(items, utcnow().date(), _item_url)
    return _download(body, "text/csv", f"echri-plenary-{plenary.number}-action-items.csv")


@bp.get("/plenaries/<int:number>/minutes.md")
def plenary_minutes(number: int) -> ResponseReturnValue:
    """The plenary's record with the minutes the user may read, as one Markdown file."""
    plenary = load_plenary(number, current=True)
    body = minutes_markdown(plenary, current_user, utcnow().date())
    return _download(body, "text/markdown", f"echri-plenary-{plenary.number}-minutes.md")
