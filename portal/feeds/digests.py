"""Email digests: new and changed documents a user follows and may read when it is sent.

A digest covers a window of time that starts where the user's last one ended
(`digest_sent_at`, or one period back) and ends DIGEST_SETTLE_SECONDS before now, so a
change whose transaction is still committing goes into the next window, not into none.
Changes are read from the audit trail (every change to a document appends an event in the
same transaction). Access is checked at send time only: a user whose role changed since a
document changed gets what they may read now; deactivated and unapproved accounts get nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from flask import current_app, render_template
from flask_babel import force_locale, ngettext
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload, selectinload

from portal.access import Action, can, can_subscribe, syndicated_documents
from portal.auth.tokens import claim_once
from portal.clock import as_utc, utcnow
from portal.extensions import db
from portal.feeds.subscriptions import followed_documents, following
from portal.feeds.unsubscribe import unsubscribe_token
from portal.mail import external_url, send_mail
from portal.models import AuditEvent, DigestPeriod, Document, Subscription, User

log = logging.getLogger("portal.digests")

PERIODS = {DigestPeriod.DAILY: dt.timedelta(days=1), DigestPeriod.WEEKLY: dt.timedelta(weeks=1)}
#: A digest never reaches further back than this many periods (a long-dormant account).
MAX_PERIODS_BACK = 4
#: Documents listed in one digest; more are summed up with a link to the portal.
MAX_ENTRIES = 100
DEFAULT_SETTLE_SECONDS = 60


@dataclass(frozen=True)
class DigestEntry:
    """One document in a digest, and whether it was published within the window."""

    document: Document
    new: bool


@dataclass
class Digest:
    """One user's digest for one window."""

    user: User
    since: dt.datetime
    until: dt.datetime
    entries: list[DigestEntry]
    more: int = 0

    @property
    def new(self) -> list[DigestEntry]:
        """Entries published within the window."""
        return [e for e in self.entries if e.new]

    @property
    def changed(self) -> list[DigestEntry]:
        """Entries published earlier and changed within the window."""
        return [e for e in self.entries if not e.new]


@dataclass
class DigestReport:
    """What one run of `send_digests` did."""

    sent: int = 0
    empty: int = 0
    failed: list[str] = field(default_factory=list)


def window_end(now: dt.datetime) -> dt.datetime:
    """Where a digest made `now` ends: DIGEST_SETTLE_SECONDS before now."""
    settle = current_app.config.get("DIGEST_SETTLE_SECONDS", DEFAULT_SETTLE_SECONDS)
    return now - dt.timedelta(seconds=settle)


def window_start(user: User, period: DigestPeriod, until: dt.datetime) -> dt.datetime:
    """Where `user`'s digest starts: the end of their last one, at most a few periods back."""
    length = PERIODS[period]
    earliest = until - length * MAX_PERIODS_BACK
    last = as_utc(user.digest_sent_at)
    return max(last, earliest) if last is not None else until - length


def _changed_in(since: dt.datetime, until: dt.datetime) -> Select[tuple[int | None]]:
    """Ids of the documents changed within the window (SQL, used inside the digest's query)."""
    return select(AuditEvent.object_id).where(
        AuditEvent.object_type == Document.__name__,
        AuditEvent.occurred_at > since,
        AuditEvent.occurred_at <= until,
    )


def _published_in(ids: list[int], since: dt.datetime, until: dt.datetime) -> set[int]:
    """Which of these documents were published within the window."""
    events = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_type == Document.__name__,
            AuditEvent.object_id.in_(ids),
            AuditEvent.occurred_at > since,
            AuditEvent.occurred_at <= until,
        )
    )
    return {e.object_id for e in events if e.object_id is not None and _publishes(e)}


def _publishes(event: AuditEvent) -> bool:
    """Did this event publish its document (created published, or moved to published)?"""
    details = event.details or {}
    if event.action == "document.create":
        return details.get("status") == "published"
    if event.action in ("document.update", "document.restore"):
        status = (details.get("changes") or {}).get("status")
        return event.action == "document.restore" or (
            isinstance(status, list) and status[-1:] == ["published"]
        )
    return False


def compose_digest(user: User, period: DigestPeriod, until: dt.datetime) -> Digest | None:
    """`user`'s digest for the window ending `until`, or None when there is nothing to send
    (nothing followed, nothing new they may read now, or an account that may not subscribe)."""
    if not can_subscribe(user) or period not in PERIODS:
        return None
    follows = following(user)
    if not follows:
        return None
    since = window_start(user, period, until)
    if since >= until:
        return None
    documents = db.session.scalars(
        select(Document)
        .where(
            Document.id.in_(_changed_in(since, until)),
            syndicated_documents(user),
            followed_documents(follows),
        )
        .order_by(Document.updated_at.desc(), Document.id.desc())
        .options(joinedload(Document.state), selectinload(Document.commitments))
    ).unique()
    # The SQL condition and the per-document rule are the same policy; both must agree.
    readable = [d for d in documents if can(user, Action.READ, d)]
    if not readable:
        return None
    shown = readable[:MAX_ENTRIES]
    published_now = _published_in([d.id for d in shown], since, until)
    entries = [DigestEntry(d, d.id in published_now) for d in shown]
    return Digest(user, since, until, entries, more=max(len(readable) - MAX_ENTRIES, 0))


def _render(digest: Digest, period: DigestPeriod) -> tuple[str, str, str, dict[str, str]]:
    """Subject, plain text, HTML and list headers of a digest, in the user's language."""
    user = digest.user
    unsubscribe_url = external_url("feeds.unsubscribe_page", token=unsubscribe_token(user))
    with force_locale(user.locale or current_app.config.get("BABEL_DEFAULT_LOCALE", "en")):
        count = len(digest.entries) + digest.more
        if period is DigestPeriod.DAILY:
            subject = ngettext(
                "Your daily ECHRI digest: %(num)d document",
                "Your daily ECHRI digest: %(num)d documents",
                count,
            )
        else:
            subject = ngettext(
                "Your weekly ECHRI digest: %(num)d document",
                "Your weekly ECHRI digest: %(num)d documents",
                count,
            )
        context = {
            "digest": digest,
            "period": period,
            "unsubscribe_url": unsubscribe_url,
            "subscriptions_url": external_url("feeds.subscriptions"),
            "documents_url": external_url("documents.index"),
            "document_url": lambda d: external_url("documents.show", slug=d.slug),
        }
        text = render_template("mail/digest.txt", **context)
        html = render_template("mail/digest.html", **context)
    headers = {
        # RFC 2369 and RFC 8058: mail clients offer a one-click "unsubscribe" button.
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return subject, text, html, headers


def send_digest(user: User, period: DigestPeriod, until: dt.datetime) -> bool:
    """Send `user`'s digest for the window ending `until`; True if a mail went out.

    The window is claimed in the same transaction that records it: of two runs at once only
    one sends, and `digest_sent_at` moves only once the mail is queued (sent, or kept in the
    outbox). A failure to send rolls the claim back, so the next run covers the window again.
    """
    digest = compose_digest(user, period, until)
    if digest is None:
        return False
    subject, text, html, headers = _render(digest, period)
    previous = user.digest_sent_at
    unchanged = (
        User.digest_sent_at.is_(None) if previous is None else User.digest_sent_at == previous
    )
    if not claim_once(User, user.id, unchanged, digest_sent_at=until):
        db.session.rollback()
        return False
    try:
        send_mail(user.email, subject, text, html=html, headers=headers, background=False)
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    return True


def due_users(period: DigestPeriod) -> list[int]:
    """Ids of active, approved accounts with this digest period that follow something."""
    return list(
        db.session.scalars(
            select(User.id)
            .where(
                User.digest_period == period,
                User.active.is_(True),
                User.approved.is_(True),
                User.id.in_(select(Subscription.user_id)),
            )
            .order_by(User.id)
        )
    )


Progress = Callable[[list[int]], Iterator[int]]


def send_digests(
    period: DigestPeriod, now: dt.datetime | None = None, progress: Progress = iter
) -> DigestReport:
    """Send every due digest of `period` (for cron); safe to run again: a window already sent
    is never sent twice. `progress` wraps the list of user ids (a progress bar)."""
    until = window_end(now or utcnow())
    report = DigestReport()
    for user_id in progress(due_users(period)):
        user = db.session.get(User, user_id)
        if user is None:
            continue
        try:
            sent = send_digest(user, period, until)
        except Exception:
            log.exception("digest for user %s could not be sent", user_id)
            db.session.rollback()
            report.failed.append(str(user_id))
            continue
        if sent:
            report.sent += 1
        else:
            report.empty += 1
            db.session.rollback()  # end the read-only transaction before the next user
    return report
