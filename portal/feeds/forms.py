"""The subscriptions form: what to follow, and how often to send a digest."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import RadioField, SelectChoice, SubmitField

from portal.documents.forms import MultiCheckboxField
from portal.extensions import db
from portal.feeds.subscriptions import Following
from portal.models import Commitment, DigestPeriod, DocumentType, State, User

PERIOD_LABELS = {
    DigestPeriod.NONE: _l("No email"),
    DigestPeriod.DAILY: _l("Daily"),
    DigestPeriod.WEEKLY: _l("Weekly"),
}


class SubscriptionsForm(FlaskForm):
    """States, commitments and document types followed, and the digest period."""

    states = MultiCheckboxField(_l("States"))
    commitments = MultiCheckboxField(_l("Commitments"))
    types = MultiCheckboxField(_l("Document types"))
    period = RadioField(
        _l("Email digest"),
        choices=[SelectChoice(p.value, label) for p, label in PERIOD_LABELS.items()],
        default=DigestPeriod.NONE.value,
    )
    save = SubmitField(_l("Save subscriptions"))

    def following(self) -> Following:
        """What the submitted form follows."""
        return Following(
            states=set(self.states.data or []),
            commitments=set(self.commitments.data or []),
            types=set(self.types.data or []),
        )


def subscriptions_form(user: User, follows: Following) -> SubscriptionsForm:
    """The form with every state, commitment and type to choose from, and the user's choices
    as its defaults (a submitted form keeps what was submitted)."""
    form = SubscriptionsForm()
    form.states.choices = [
        SelectChoice(s.code, s.name) for s in db.session.scalars(select(State).order_by(State.name))
    ]
    form.commitments.choices = [
        SelectChoice(str(c.number), f"{c.number}. {c.title}")
        for c in db.session.scalars(select(Commitment).order_by(Commitment.number))
    ]
    form.types.choices = [SelectChoice(t.value, t.label) for t in DocumentType]
    if not form.is_submitted():
        form.states.data = sorted(follows.states)
        form.commitments.data = sorted(follows.commitments, key=int)
        form.types.data = sorted(follows.types)
        form.period.data = user.digest_period.value
    return form
