"""`flask digests send --period daily|weekly`: the email digests, for cron."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import AppGroup

from portal.feeds.digests import send_digests
from portal.models import DigestPeriod

digests_cli = AppGroup("digests", help="Email digests of new and changed documents.")


def _site_root() -> str | None:
    """The scheme and host of BASE_URL (None: SERVER_NAME or localhost, in development)."""
    base = current_app.config.get("BASE_URL")
    if not base:
        return None
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}"


@digests_cli.command("send")
@click.option(
    "--period",
    required=True,
    type=click.Choice([DigestPeriod.DAILY.value, DigestPeriod.WEEKLY.value]),
    help="Send the digests of users who chose this period.",
)
def send_command(period: str) -> None:
    """Send each user with this period the documents they follow that changed since their
    last digest and that they may read now. Safe to run again: nothing is sent twice."""
    chosen = DigestPeriod(period)

    def progress(user_ids: list[int]) -> Iterator[int]:
        with click.progressbar(user_ids, label=f"Sending {period} digests") as bar:
            yield from bar

    # Links in the mails are built on BASE_URL, as if for a request to the portal itself.
    with current_app.test_request_context(base_url=_site_root()):
        report = send_digests(chosen, progress=progress)
    click.echo(f"Sent {report.sent} digests; {report.empty} users had nothing new.")
    if report.failed:
        click.echo(f"Could not send to users {', '.join(report.failed)} (see the log).", err=True)
        raise SystemExit(1)
