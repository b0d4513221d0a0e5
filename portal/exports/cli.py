"""`flask content export DIRECTORY`: the content/ tree, for an archive or another portal."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import click

from portal.auth.services import find_user_by_email
from portal.exports.markdown_tree import EVERYTHING, ContentExport, TreeFile
from portal.models import Document, Plenary
from portal.plenaries.services import adopt_minutes_due


def write_folder(files: list[TreeFile], directory: Path) -> None:
    """Write tree files under `directory`, making folders as needed."""
    for file in files:
        target = directory / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if file.source is not None:
            shutil.copyfile(file.source, target)
        else:
            target.write_bytes(file.data or b"")


def _reader(as_visitor: bool, email: str | None) -> Any:
    if as_visitor and email:
        raise click.UsageError("choose --as-visitor or --as EMAIL, not both")
    if as_visitor:
        return None
    if email is None:
        return EVERYTHING
    user = find_user_by_email(email)
    if user is None:
        raise click.BadParameter(f"no account with email {email!r}", param_hint="--as")
    return user


def _label(item: Document | Plenary | None) -> str | None:
    if item is None:
        return None
    return item.slug if isinstance(item, Document) else f"plenary {item.number}"


@click.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--as-visitor", is_flag=True, help="Only what a visitor may read (published, public)."
)
@click.option("--as", "email", metavar="EMAIL", help="Only what this account may read.")
def export_content_command(directory: Path, as_visitor: bool, email: str | None) -> None:
    """Write states, commitments, documents and plenaries to DIRECTORY as a content/ tree.

    Without an option, everything (drafts and withdrawn documents too), as the secretariat
    reads it. `flask content load DIRECTORY` into an empty database reproduces the documents
    and plenaries. DIRECTORY must be new or empty.
    """
    if directory.exists() and any(directory.iterdir()):
        raise click.ClickException(f"{directory} is not empty: export into a new folder")
    reader = _reader(as_visitor, email)
    adopt_minutes_due()  # minutes whose silence deadline passed are adopted
    export = ContentExport.for_reader(reader)
    directory.mkdir(parents=True, exist_ok=True)
    write_folder(export.static_files(), directory)
    bar = click.progressbar(
        export.items(),
        length=export.count,
        label=f"Exporting {len(export.document_ids)} documents and "
        f"{len(export.plenary_ids)} plenaries",
        item_show_func=_label,
    )
    with bar:
        for item in bar:
            write_folder(export.files_of(item), directory)
    written = export.count - len(export.skipped)
    click.echo(f"Wrote {written} documents and plenaries to {directory}.")
    for warning in export.warnings:
        click.echo(f"  note: {warning}", err=True)
