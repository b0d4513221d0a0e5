"""Account mails, sent only once the change they announce is committed.

A service queues a mail in the database session; it goes out after the commit and is
dropped on rollback, so nobody is told of an approval or sent a link that never happened.
"""

from __future__ import annotations

import logging

from flask import render_template
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.mail import send_mail

log = logging.getLogger("portal.mail")
_QUEUE_KEY = "mail_after_commit"


def send_after_commit(to: str, subject: str, template: str, **context: object) -> None:
    """Render `mail/<template>.txt` now and send it when the current transaction commits."""
    body = render_template(f"mail/{template}.txt", **context)
    db.session.info.setdefault(_QUEUE_KEY, []).append((to, subject, body))


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
