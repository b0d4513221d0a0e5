"""Password rules: long enough, not common, not made of the account's own name or email."""

from __future__ import annotations

from functools import cache

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

MIN_LENGTH = 12
MAX_LENGTH = 1024
#: Shown under password fields, so people know the rules before they fail them.
PASSWORD_HINT = _l(
    "At least %(length)s characters; not a common password or your name or email.",
    length=MIN_LENGTH,
)


@cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of zxcvbn's list, lowercased (loaded once)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


def password_problem(password: str, *, email: str, name: str) -> str | None:
    """Why `password` is not acceptable for this account, as a sentence; None if it is fine."""
    if len(password) < MIN_LENGTH:
        return _("The password must be at least %(length)s characters long.", length=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("The password must be at most %(length)s characters long.", length=MAX_LENGTH)
    lowered = password.lower()
    if lowered in common_passwords():
        return _("This password is too common: choose one that others are unlikely to use.")
    if name.strip() and lowered.strip() == name.strip().lower():
        return _("The password must not be your name.")
    # Very short local parts ("jo@...") would forbid too many good passwords.
    local_part = email.strip().lower().partition("@")[0]
    if len(local_part) >= 3 and local_part in lowered:
        return _("The password must not contain your email address.")
    return None
