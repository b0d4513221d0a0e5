"""The account page's personal access tokens: make one (shown once), revoke one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from portal.access import AccessDenied, can_hold_api_tokens, grantable_api_scopes
from portal.api.tokens import EXPIRY_DAYS, InvalidTokenRequest, issue_token, own_token, tokens_of
from portal.api.tokens import revoke_token as revoke_service
from portal.auth.views import account
from portal.extensions import db

bp = Blueprint("api_tokens", __name__, url_prefix="/account/tokens")
SCOPE_LABELS = {"read": _l("Read only"), "read write": _l("Read and write")}


class TokenForm(FlaskForm):
    """A new token: a name to recognise it by, its scopes, its lifetime."""

    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=100)])
    scopes = RadioField(_l("What it may do"), default="read", validators=[InputRequired()])
    days = RadioField(
        _l("Expires after"),
        choices=[SelectChoice(str(d), _l("%(n)s days", n=d)) for d in EXPIRY_DAYS],
        default="90",
        validators=[InputRequired()],
    )


class RevokeForm(FlaskForm):
    """Only the CSRF token: revoking needs no other input."""


def _token_form(user: Any) -> TokenForm:
    form = TokenForm()
    form.scopes.choices = [SelectChoice(s, SCOPE_LABELS[s]) for s in grantable_api_scopes(user)]
    return form


def token_panel() -> dict[str, Any]:
    """Context for templates/api/_account_tokens.html: the user's tokens and the forms."""

    def panel() -> dict[str, Any] | None:
        if not can_hold_api_tokens(current_user):
            return None
        return {
            "tokens": tokens_of(current_user),
            "form": g.get("token_form") or _token_form(current_user),
            "revoke_form": RevokeForm(),
            "scope_labels": SCOPE_LABELS,
        }

    return {"api_token_panel": panel}


@bp.post("")
@login_required
def create() -> ResponseReturnValue:
    """Make a token and show it once; errors are shown on the account page."""
    if not can_hold_api_tokens(current_user):
        raise AccessDenied("API tokens refused")
    form = _token_form(current_user)
    if form.validate_on_submit():
        try:
            issued = issue_token(
                current_user,
                current_user._get_current_object(),
                form.name.data or "",
                form.scopes.data or "",
                int(form.days.data or 0),
            )
        except InvalidTokenRequest as error:
            db.session.rollback()
            form.name.errors = [*form.name.errors, str(error)]
        else:
            db.session.commit()
            page = render_template("api/token_created.html", issued=issued, labels=SCOPE_LABELS)
            # The secret is in this page only: no cache may keep it.
            return page, 201, {"Cache-Control": "no-store"}
    g.token_form = form
    page = account()
    return (page[0] if isinstance(page, tuple) else page), 400


@bp.post("/<int:token_id>/revoke")
@login_required
def revoke(token_id: int) -> ResponseReturnValue:
    """Revoke one of the user's tokens at once."""
    token = own_token(current_user, token_id)
    if token is None:
        abort(404)
    if not RevokeForm().validate_on_submit():
        abort(400)
    if revoke_service(current_user, token):
        db.session.commit()
        flash(_("The token “%(name)s” was revoked.", name=token.name), "success")
    return redirect(url_for("auth.account", _anchor="api-tokens"))
