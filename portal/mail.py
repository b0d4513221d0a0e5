"""Outgoing mail: SMTP when MAIL_SERVER is set, otherwise the log and instance/outbox/.

A pilot runs without a mail server: each message is written to the outbox as an
.eml file (readable by any mail client) and its subject and recipient to the log.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import smtplib
import threading
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from flask import Flask, current_app, url_for

log = logging.getLogger("portal.mail")


def outbox_dir() -> Path:
    """Where messages go when no SMTP server is configured."""
    configured = current_app.config.get("MAIL_OUTBOX_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "outbox"


def _message(
    to: str,
    subject: str,
    body: str,
    html: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    config = current_app.config
    message = EmailMessage()
    message["From"] = config.get("MAIL_FROM", "ECHRI Practice Portal <no-reply@localhost>")
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="echri-portal")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    if headers:
        # A List-Unsubscribe address is one long word: folded at 78 characters it would be
        # RFC 2047-encoded, which mail clients do not read. RFC 5322 allows 998.
        message.policy = message.policy.clone(max_line_length=998)
    return message


def _write_to_outbox(message: EmailMessage) -> Path:
    directory = outbox_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    path = directory / f"{stamp}-{secrets.token_hex(4)}.eml"
    # Links in these messages are secrets: readable by the portal's user only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(message.as_bytes())
    return path


def _send_smtp(message: EmailMessage) -> None:
    config = current_app.config
    port = int(config.get("MAIL_PORT") or 587)
    smtp_class = smtplib.SMTP_SSL if config.get("MAIL_USE_SSL") else smtplib.SMTP
    with smtp_class(config["MAIL_SERVER"], port, timeout=20) as smtp:
        if config.get("MAIL_USE_TLS", True) and smtp_class is smtplib.SMTP:
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        smtp.send_message(message)


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute link for a mail, built on BASE_URL (never on the request's Host header,
    which a client chooses: a reset link must not point at someone else's server).
    """
    base = current_app.config.get("BASE_URL")
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)  # development: BASE_URL unset


def _deliver(app: Flask, message: EmailMessage) -> None:
    with app.app_context():
        try:
            _send_smtp(message)
            log.info("mail sent to %s: %s", message["To"], message["Subject"])
            return
        except (OSError, smtplib.SMTPException):
            log.exception("mail to %s could not be sent; kept in the outbox", message["To"])
        _write_to_outbox(message)


def send_mail(
    to: str,
    subject: str,
    body: str,
    *,
    html: str | None = None,
    headers: Mapping[str, str] | None = None,
    background: bool = True,
) -> None:
    """Send a plain-text message, with an optional HTML alternative and extra headers (or
    keep it in the outbox when there is no SMTP server).

    SMTP runs in a background thread: a request that sends mail (a reset link for an
    existing account) answers as fast as one that does not, and a failing server is
    logged, with the message kept in the outbox, rather than failing the request.
    `background=False` sends before returning (a CLI command that exits right after).
    """
    message = _message(to, subject, body, html, headers)
    if current_app.config.get("MAIL_SERVER") and not background:
        _deliver(current_app._get_current_object(), message)  # type: ignore[attr-defined]
        return
    if current_app.config.get("MAIL_SERVER"):
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        threading.Thread(target=_deliver, args=(app, message), daemon=True).start()
        return
    path = _write_to_outbox(message)
    log.info("mail to %s (%s) written to %s", to, subject, path)
