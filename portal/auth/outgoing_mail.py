"""Account mails, sent only once the change they announce is committed.

A service queues a mail in the database session; it goes out after the commit and is
dropped on rollback, so nobody is told of an approval or sent a link that never happened.
"""

from __future__ import annotations

import logging

from flask import has_request_context, render_template
from flask_babel import force_locale, get_locale
from flask_login import current_user
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.i18n import DEFAULT_LOCALE, LANGUAGES
from portal.mail import send_mail

log = logging.getLogger("portal.mail")
_QUEUE_KEY = "mail_after_commit"


def send_after_commit(to: str, subject: str, template: str, **context: object) -> None:
    """Render `mail/<template>.txt` now and send it when the current transaction commits.

    `subject` may be a lazy string: both are rendered in the recipient's language.
    """
    with force_locale(_recipient_locale(context.get("user"))):
        body = render_template(f"mail/{template}.txt", **context)
        subject = str(subject)
    db.session.info.setdefault(_QUEUE_KEY, []).append((to, subject, body))


def _recipient_locale(recipient: object) -> str:
    """The account's chosen language; else the page's when they asked themselves; else English."""
    chosen = getattr(recipient, "locale", None)
    if chosen in LANGUAGES:
        return str(chosen)
    if has_request_context() and (
        recipient is None
        or not current_user.is_authenticated
        or getattr(current_user, "id", None) == getattr(recipient, "id", None)
    ):
        return str(get_locale() or DEFAULT_LOCALE)
    return DEFAULT_LOCALE


@event.listens_for(FlaskSession, "after_commit")
def _send_queued_mail(session: Session) -> None:
    for to, subject, body in session.info.pop(_QUEUE_KEY, []):
        try:
            send_mail(to, subject, body)
        except Exception:
            # The change is committed; a lost mail must not turn it into an error page.
            log.exception("could not send or keep the mail to %s (%s)", to, subject)


@event.listens_for(FlaskSession, "after_rollback")
def _drop_queued_mail(session: Session) -> None:
    session.info.pop(_QUEUE_KEY, None)
