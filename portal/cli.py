"""The `flask` commands: users, content, states, demo, audit, backup."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from portal.access import CONTENT_LOADER
from portal.audit import verify_chain
from portal.auth.services import AccountError, create_user
from portal.backup.cli import backup_cli
from portal.content import document_files, load_content, plenary_files
from portal.demo import create_demo_accounts, demo_accounts
from portal.exports.cli import export_content_command
from portal.extensions import db
from portal.feeds.cli import digests_cli
from portal.models import Role, State
from portal.plenaries.cli import plenaries_cli
from portal.search import deferred_indexing, search_index

users_cli = AppGroup("users", help="Manage accounts.")
content_cli = AppGroup("content", help="Load the canonical content/ folder, or export one.")
content_cli.add_command(export_content_command)
states_cli = AppGroup("states", help="Subscribing states.")
demo_cli = AppGroup("demo", help="Demo accounts for a development database.")
audit_cli = AppGroup("audit", help="The tamper-evident audit trail.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--state", "state_code", help="ISO code of the state (government accounts).")
@click.option("--name", default="", help="Full name shown on the site.")
@click.option("--organisation", default=None, help="Organisation (industry, civil society).")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for (hidden) when not given.",
)
def create_user_command(
    email: str,
    role: str,
    state_code: str | None,
    name: str,
    organisation: str | None,
    password: str,
) -> None:
    """Create an approved account."""
    state = None
    if state_code:
        state = db.session.scalar(select(State).where(State.code == state_code.upper()))
        if state is None:
            raise click.BadParameter(f"no state with code {state_code!r}", param_hint="--state")
    try:
        user = create_user(
            email,
            name=name,
            role=Role(role),
            password=password,
            state=state,
            organisation=organisation,
            actor=CONTENT_LOADER,
        )
    except AccountError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    where = f" for {state.name}" if state else ""
    click.echo(f"Created {user.role.label.lower()} account {user.email}{where}.")


@content_cli.command("load")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def load_content_command(directory: Path | None) -> None:
    """Load states, commitments, documents and plenaries from DIRECTORY (default: content/)."""
    directory = directory or Path(current_app.config["CONTENT_DIR"])
    if not directory.is_dir():
        raise click.ClickException(f"{directory} is not a folder")
    files = document_files(directory) + plenary_files(directory)
    bar = click.progressbar(
        files,
        label=f"Loading {len(files)} documents and plenaries",
        item_show_func=lambda p: p.name if p else None,
    )
    # One index update at the end instead of one per file.
    with bar, deferred_indexing():
        report = load_content(directory, bar)
    applied = search_index().catch_up()
    if applied:
        click.echo(f"Search index: applied {applied} changes.")
    click.echo(
        f"States: {report.states}. Commitments: {report.commitments}. Documents: "
        f"{len(report.created)} created, {len(report.revised)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.errors)} skipped."
    )
    outcomes = [outcome for _, outcome in report.plenaries]
    click.echo(
        f"Plenaries: {outcomes.count('created')} created, {outcomes.count('revised')} updated, "
        f"{outcomes.count('unchanged')} unchanged."
    )
    for path, reason in report.errors:
        click.echo(f"  skipped {path}: {reason}", err=True)
    if report.errors:
        raise SystemExit(1)


@states_cli.command("list")
def list_states_command() -> None:
    """List the subscribing states."""
    for state in db.session.scalars(select(State).order_by(State.name)):
        click.echo(f"{state.code}  {state.name}  (joined {state.joined_on.isoformat()})")


@demo_cli.command("accounts")
def demo_accounts_command() -> None:
    """Create one demo account per role in a new development database, and print them."""
    if current_app.config["PRODUCTION"]:
        raise click.ClickException("demo accounts are never created in production")
    created = create_demo_accounts(current_app)
    accounts = created if created is not None else demo_accounts(current_app)
    if not accounts:
        click.echo("This database already has accounts; no demo accounts were created.")
        return
    verb = "Created" if created is not None else "Existing"
    click.secho(f"{verb} demo accounts (development only; password after the email):", bold=True)
    for account in accounts:
        state = f" {account.state}" if account.state else ""
        click.echo(f"  {account.role:<14}{state:<4} {account.email:<32} {account.password}")


@audit_cli.command("verify")
def verify_audit_command() -> None:
    """Recompute the audit hash chain; exit 1 naming the first broken event."""
    report = verify_chain(db.session)
    if report.intact:
        click.echo(
            f"Audit trail intact: {report.events} events, chain ends in {report.last_hash}."
        )
        return
    click.secho(f"Audit trail BROKEN after {report.events} intact events.", fg="red", err=True)
    click.echo(f"  {report.problem}", err=True)
    raise SystemExit(1)


def init_app(app: Flask) -> None:
    """Register the command groups."""
    for group in (users_cli, content_cli, states_cli, demo_cli, audit_cli, plenaries_cli):
        app.cli.add_command(group)
    app.cli.add_command(digests_cli)
    app.cli.add_command(backup_cli)
