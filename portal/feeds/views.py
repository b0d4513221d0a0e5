"""Atom feeds (anonymous and private), the subscriptions page and unsubscribe links."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.access import can_subscribe
from portal.documents.listing import DocumentFilters
from portal.extensions import csrf, db
from portal.feeds.atom import AtomDocument, atom_document, describe_filters
from portal.feeds.delivery import feed_response, kept_anonymous_feed
from portal.feeds.forms import subscriptions_form
from portal.feeds.private_links import (
    create_feed_link,
    feed_link_owner,
    open_feed_link,
    revoke_feed_links,
)
from portal.feeds.selection import BadFilter, feed_documents, feed_filters
from portal.feeds.subscriptions import following, save_following
from portal.feeds.unsubscribe import unsubscribe, unsubscribing_user
from portal.mail import external_url
from portal.models import DigestPeriod, State

bp = Blueprint("feeds", __name__)


def _filters() -> tuple[DocumentFilters, State | None]:
    """The feed's filters, or 400/404 with a sentence for a value that names nothing."""
    try:
        return feed_filters(request.args)
    except BadFilter as error:
        abort(error.status, description=str(error))


def _feed(
    reader: Any, filters: DocumentFilters, state: State | None, self_url: str
) -> AtomDocument:
    described = describe_filters(filters, state)
    title = _("ECHRI Practice Portal: documents")
    return atom_document(
        reader,
        feed_documents(reader, filters),
        title=f"{title} ({described})" if described else title,
        self_url=self_url,
        alternate_url=external_url("documents.index", **filters.as_args()),
    )


@bp.get("/feeds/documents.atom")
def documents() -> ResponseReturnValue:
    """The public feed: published public documents, narrowed by type, state and commitment.

    It is the same for everyone, signed in or not (private feeds carry more)."""
    filters, state = _filters()
    args = filters.as_args()
    self_url = external_url("feeds.documents", **args)
    key = f"{get_locale()} {self_url}"  # the address: its host too, where BASE_URL is unset
    document = kept_anonymous_feed(key, lambda: _feed(None, filters, state, self_url))
    return feed_response(document, private=False)


@bp.get("/feeds/private/<token>/documents.atom")
def private_documents(token: str) -> ResponseReturnValue:
    """A private feed: what the link's owner may read at this moment (404 once revoked, or
    once the owner's account is deactivated)."""
    owner = feed_link_owner(token)
    if owner is None:
        abort(404)
    filters, state = _filters()
    self_url = external_url("feeds.private_documents", token=token, **filters.as_args())
    with force_locale(owner.locale or str(get_locale())):
        document = _feed(owner, filters, state, self_url)
    return feed_response(document, private=True)


def _subscriptions_page(new_link: str | None = None, status: int = 200) -> tuple[str, int]:
    allowed = can_subscribe(current_user)
    form = subscriptions_form(current_user, following(current_user)) if allowed else None
    return render_template(
        "feeds/subscriptions.html",
        allowed=allowed,
        form=form,
        feed_link=open_feed_link(current_user) if allowed else None,
        new_link=new_link,
        public_feed=url_for("feeds.documents"),
    ), status


@bp.get("/account/subscriptions")
@login_required
def subscriptions() -> ResponseReturnValue:
    """What the user follows, their digest period and their private feed link."""
    return _subscriptions_page()


@bp.post("/account/subscriptions")
@login_required
def save_subscriptions() -> ResponseReturnValue:
    """Save what the user follows and how often they want a digest."""
    if not can_subscribe(current_user):
        abort(403)
    form = subscriptions_form(current_user, following(current_user))
    if not form.validate():
        return _subscriptions_page(status=400)
    save_following(current_user, form.following(), DigestPeriod(form.period.data))
    db.session.commit()
    flash(_("Your subscriptions are saved."), "success")
    return redirect(url_for("feeds.subscriptions"))


@bp.post("/account/subscriptions/feed-link")
@login_required
def new_feed_link() -> ResponseReturnValue:
    """Make a private feed link (revoking the old one) and show it, once."""
    if not can_subscribe(current_user):
        abort(403)
    raw = create_feed_link(current_user)
    db.session.commit()
    body, status = _subscriptions_page(new_link=external_url("feeds.private_documents", token=raw))
    # The page holds the secret: no cache, shared or private, may keep it.
    return body, status, {"Cache-Control": "no-store"}


@bp.post("/account/subscriptions/feed-link/revoke")
@login_required
def revoke_feed_link() -> ResponseReturnValue:
    """Revoke the private feed link: its address answers 404 from now on."""
    revoke_feed_links(current_user)
    db.session.commit()
    flash(_("Your private feed link is revoked."), "success")
    return redirect(url_for("feeds.subscriptions"))


@bp.route("/digests/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" with no session
def unsubscribe_page(token: str) -> ResponseReturnValue:
    """GET asks to confirm (a link scanner must not unsubscribe anyone); POST unsubscribes."""
    user = unsubscribing_user(token)
    if user is None:
        abort(404, description=_("This unsubscribe link is not valid."))
    if request.method == "GET":
        return render_template("feeds/unsubscribe.html", token=token, done=False)
    unsubscribe(user)
    db.session.commit()
    return render_template("feeds/unsubscribe.html", token=token, done=True)
