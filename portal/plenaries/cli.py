"""`flask plenaries …`: the silence procedure, for cron."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.plenaries.services import adopt_minutes_due

plenaries_cli = AppGroup("plenaries", help="Plenaries and their minutes.")


@plenaries_cli.command("silence")
def silence_command() -> None:
    """Adopt circulated minutes whose comment deadline passed with no open objection."""
    adopted = adopt_minutes_due()
    for plenary in adopted:
        when = plenary.comment_deadline.strftime("%Y-%m-%d %H:%M UTC")
        click.echo(f"Adopted the minutes of plenary {plenary.number} ({plenary.title}) at {when}.")
    if not adopted:
        click.echo("No minutes were due for adoption by silence.")
