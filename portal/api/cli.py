"""`flask api token`: make a personal access token from the command line (CI, scripts)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.access import AccessDenied, SystemActor
from portal.api.tokens import EXPIRY_DAYS, InvalidTokenRequest, issue_token
from portal.auth.services import find_user_by_email
from portal.extensions import db

api_cli = AppGroup("api", help="The JSON API.")
COMMAND_LINE = SystemActor("command-line")


@api_cli.command("token")
@click.option("--email", required=True, help="The account the token acts as.")
@click.option("--scopes", default="read", type=click.Choice(["read", "read write"]))
@click.option("--days", default=30, type=click.Choice([str(d) for d in EXPIRY_DAYS]))
@click.option("--name", default="command line", help="A name to recognise the token by.")
def token_command(email: str, scopes: str, days: str, name: str) -> None:
    """Make a token for the account EMAIL and print it (it is shown only now)."""
    owner = find_user_by_email(email)
    if owner is None:
        raise click.ClickException(f"no account with email {email!r}")
    try:
        issued = issue_token(COMMAND_LINE, owner, name, scopes, int(days))
    except (InvalidTokenRequest, AccessDenied) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(issued.secret)
