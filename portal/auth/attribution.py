"""How a civil-society author's work is signed: their name, their organisation or a pseudonym.

Routes are added to the auth blueprint; the choice is shown on the account page. Who sees
the real name behind a signature is `portal.access.author_label`'s rule.
"""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, StringField
from wtforms.validators import InputRequired, Length, Optional

from portal.access import AccessDenied, can_choose_attribution
from portal.audit import record_event
from portal.auth.services import is_email_address
from portal.auth.views import account, bp
from portal.extensions import db
from portal.models import Attribution, User

PSEUDONYM_LENGTH = (2, 120)


class AttributionError(ValueError):
    """A signature that cannot be used; the message says why."""


class AttributionForm(FlaskForm):
    """Sign as name, organisation or pseudonym."""

    attribution = RadioField(
        "Sign my reviews and comments with",
        choices=[
            SelectChoice(Attribution.NAME.value, "My name"),
            SelectChoice(Attribution.ORGANISATION.value, "My organisation's name"),
            SelectChoice(Attribution.PSEUDONYM.value, "A pseudonym"),
        ],
        validators=[InputRequired()],
    )
    pseudonym = StringField(
        "Pseudonym",
        validators=[Optional(), Length(max=PSEUDONYM_LENGTH[1])],
        description="2 to 120 characters; not an email address.",
    )


def set_attribution(user: User, attribution: Attribution, pseudonym: str | None) -> None:
    """Change how `user`'s work is signed, and record it in the audit trail.

    Raises AccessDenied unless the user may choose, AttributionError for a bad pseudonym.
    """
    if not can_choose_attribution(user):
        raise AccessDenied("attribution refused")
    name = " ".join((pseudonym or "").split())
    if attribution is Attribution.PSEUDONYM:
        low, high = PSEUDONYM_LENGTH
        if not low <= len(name) <= high:
            raise AttributionError(_(
                "A pseudonym has %(low)s to %(high)s characters.",
                low=low,
                high=high,
            ))
        if is_email_address(name) or "@" in name:
            raise AttributionError(_("A pseudonym cannot be an email address."))
        if name.casefold() == user.name.casefold():
            raise AttributionError(_("A pseudonym cannot be your own name."))
    if attribution is Attribution.ORGANISATION and not user.organisation:
        raise AttributionError(_(
            "Your account names no organisation; ask the secretariat to add it.",
        ))
    user.attribution = attribution
    user.pseudonym = name if attribution is Attribution.PSEUDONYM else user.pseudonym
    record_event(user, "user.attribution", user, attribution=str(attribution), pseudonym=name)


@bp.context_processor
def attribution_choice() -> dict[str, Any]:
    """The account page's attribution form (with errors after a refused change)."""
    form = g.get("attribution_form")
    if form is None and can_choose_attribution(current_user):
        form = AttributionForm(
            attribution=current_user.attribution.value, pseudonym=current_user.pseudonym
        )
    return {"attribution_form": form}


@bp.post("/account/attribution")
@login_required
def change_attribution() -> ResponseReturnValue:
    """Save the signature choice; errors are shown on the account page."""
    if not can_choose_attribution(current_user):
        raise AccessDenied("attribution refused")
    form = AttributionForm()
    if form.validate_on_submit():
        try:
            set_attribution(
                current_user._get_current_object(),
                Attribution(form.attribution.data),
                form.pseudonym.data,
            )
        except AttributionError as error:
            db.session.rollback()
            form.pseudonym.errors = [*form.pseudonym.errors, str(error)]
        else:
            db.session.commit()
            flash(_("How your work is signed was saved."), "success")
            return redirect(url_for("auth.account"))
    g.attribution_form = form
    page = account()
    return (page[0] if isinstance(page, tuple) else page), 400
