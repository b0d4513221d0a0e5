"""`flask search rebuild | prepare | status | catch-up`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

import click
from flask.cli import AppGroup

from portal.search import search_index

search_cli = AppGroup("search", help="The full-text search index.")


_procs = click.option(
    "--procs", default=min(os.cpu_count() or 1, 4), show_default=True, help="Indexing processes."
)


@search_cli.command("rebuild")
@_procs
def rebuild_command(procs: int) -> None:
    """Rebuild the index from the database, with a progress bar."""
    count = search_index().rebuild(_progress, procs=procs)
    click.echo(f"Indexed {count} documents.")


@search_cli.command("prepare")
@_procs
def prepare_command(procs: int) -> None:
    """Build the index (with a progress bar) if it is missing or of another layout, so that
    no web request waits for it; `make serve` runs this first."""
    count = search_index().prepare(_progress, procs=procs)
    click.echo("The search index is ready." if count is None else f"Indexed {count} documents.")


def _progress(documents: Iterable[Any], total: int) -> Iterator[Any]:
    with click.progressbar(documents, length=total, label="Indexing documents") as bar:
        yield from bar


@search_cli.command("status")
def status_command() -> None:
    """Documents in the database and the index, and changes the index has not applied."""
    status = search_index().status()
    click.echo(f"Documents in the database: {status.documents_in_database}")
    click.echo(f"Documents in the index:    {status.documents_in_index}")
    click.echo(f"Changes not yet applied:   {status.changes_behind}")


@search_cli.command("catch-up")
def catch_up_command() -> None:
    """Apply pending changes from the change log to this node's index."""
    applied = search_index().catch_up()
    click.echo(f"Applied {applied} changes.")
