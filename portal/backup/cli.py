"""`flask backup create PATH | restore PATH`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from portal.audit import verify_chain
from portal.backup import BackupError, create_backup
from portal.backup.restore import restore_backup
from portal.extensions import db

backup_cli = AppGroup("backup", help="Back up and restore the database and uploaded files.")
KEY_NOTE = (
    "The audit trail's hashes are keyed with AUDIT_KEY (by default SECRET_KEY): the portal "
    "that restores this archive must use the same key, or `flask audit verify` fails."
)


def _progress(items: Iterable[Any], length: int, label: str) -> Iterator[Any]:
    with click.progressbar(
        items, length=length, label=label, item_show_func=lambda item: getattr(item, "name", None)
    ) as bar:
        yield from bar


@backup_cli.command("create")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def create_command(path: Path) -> None:
    """Write every table and the uploaded files to PATH (.tar.gz); the site keeps running."""
    try:
        manifest = create_backup(path, _progress)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    rows = sum(entry["rows"] for entry in manifest["tables"].values())
    click.echo(
        f"Backed up {rows} rows of {len(manifest['tables'])} tables and "
        f"{len(manifest['files'])} files (schema revision {manifest['revision']}) to {path}."
    )
    click.echo(KEY_NOTE)


@backup_cli.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--ignore-audit-key",
    is_flag=True,
    help="Restore even if this portal's AUDIT_KEY did not seal the archive's audit trail.",
)
def restore_command(path: Path, ignore_audit_key: bool) -> None:
    """Restore PATH into this empty, migrated database and rebuild the search index."""
    click.echo(KEY_NOTE)
    try:
        report = restore_backup(path, _progress, check_audit_key=not ignore_audit_key)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f"Restored {sum(report.rows.values())} rows into {len(report.rows)} tables and "
        f"{report.files} files (schema revision {report.revision}); "
        f"indexed {report.indexed} documents."
    )
    chain = verify_chain(db.session)
    if not chain.intact:
        click.secho(f"Audit trail does not verify: {chain.problem}", fg="red", err=True)
        raise SystemExit(1)
    click.echo(f"Audit trail intact: {chain.events} events.")
