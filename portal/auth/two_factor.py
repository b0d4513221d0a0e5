"""Two-factor sign-in: TOTP codes from an authenticator app, and one-time recovery codes."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select, update

from portal.audit import record_event
from portal.auth.services import end_sessions
from portal.auth.tokens import claim_once
from portal.extensions import db
from portal.models import RecoveryCode, User

ISSUER = "ECHRI Practice Portal"
RECOVERY_CODES = 10
#: Codes one step either side of now are accepted (clocks drift; people type slowly).
VALID_WINDOW = 1


def new_secret() -> str:
    """A fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// link an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_code_svg(uri: str) -> Markup:
    """The QR code of `uri` as inline SVG (no image file, no script)."""
    title = _("QR code for your authenticator app")
    svg = segno.make(uri, error="m").svg_inline(scale=4, title=title)
    return Markup(svg)  # segno escapes the title and draws only paths


def _matching_counter(secret: str, code: str, after: int | None) -> int | None:
    """The time step `code` belongs to, if it is within the window and newer than `after`."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = int(time.time()) // totp.interval
    for counter in range(now - VALID_WINDOW, now + VALID_WINDOW + 1):
        if (after is None or counter > after) and hmac.compare_digest(
            totp.generate_otp(counter), code
        ):
            return counter
    return None


def _hash_code(code: str) -> str:
    return hashlib.sha256("".join(code.lower().split()).replace("-", "").encode()).hexdigest()


def _void_recovery_codes(user: User) -> None:
    db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .values(used_at=dt.datetime.now(dt.UTC))
    )


def _new_recovery_codes(user: User) -> list[str]:
    _void_recovery_codes(user)
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash_code(c)) for c in codes)
    return codes


def enable(user: User, secret: str, code: str) -> list[str] | None:
    """Turn on two-factor sign-in if `code` proves the app holds `secret`.

    Returns the new recovery codes (shown once), or None if the code is wrong. Other
    sessions of the account end: they were not signed in with the second factor.
    """
    counter = _matching_counter(secret, code, None)
    if counter is None:
        return None
    user.totp_secret = secret
    user.totp_last_counter = counter
    user.totp_enabled_at = dt.datetime.now(dt.UTC)
    end_sessions(user)
    codes = _new_recovery_codes(user)
    record_event(user, "user.two_factor_enable", user)
    return codes


def disable(user: User) -> None:
    """Turn off two-factor sign-in and void the recovery codes."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_counter = None
    _void_recovery_codes(user)
    end_sessions(user)
    record_event(user, "user.two_factor_disable", user)


def regenerate_recovery_codes(user: User) -> list[str]:
    """Replace all recovery codes (the old ones stop working)."""
    codes = _new_recovery_codes(user)
    record_event(user, "user.recovery_codes_regenerate", user)
    return codes


def verify(user: User, code: str) -> bool:
    """Check a sign-in code: a TOTP code not used before, or an unused recovery code.

    Each is accepted once: the TOTP time step is remembered, a recovery code is spent
    with a conditional UPDATE so two requests racing cannot both use it.
    """
    if not user.two_factor_enabled or not user.totp_secret:
        return False
    counter = _matching_counter(user.totp_secret, code, user.totp_last_counter)
    if counter is not None:
        unused = User.totp_last_counter.is_(None) | (User.totp_last_counter < counter)
        spent = claim_once(User, user.id, unused, totp_last_counter=counter)
        user.totp_last_counter = counter
        return spent
    recovery = db.session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash_code(code),
            RecoveryCode.used_at.is_(None),
        )
    )
    if recovery is None:
        return False
    if claim_once(
        RecoveryCode, recovery.id, RecoveryCode.used_at.is_(None), used_at=dt.datetime.now(dt.UTC)
    ):
        record_event(user, "user.recovery_code_use", user)
        return True
    return False


def recovery_codes_left(user: User) -> int:
    """Unused recovery codes of the user."""
    return len(
        db.session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )
