"""`nurture campaigns sync|export`: personas and campaigns as files."""
from __future__ import annotations

from pathlib import Path

import click

from app.cli import main, pass_services


def sync_campaigns(services, directory: Path) -> dict:
    """Load DIRECTORY into the database, or print every problem and change nothing."""
    from app.domain.campaigns.sync import SyncError, sync_directory

    with services.sessions() as session:
        try:
            counts = sync_directory(session, directory, templates_dir=services.config.templates_dir,
                                    postal_address=services.config.postal_address, now=services.now())
        except SyncError as exc:
            for problem in exc.problems:
                click.echo(problem, err=True)
            raise click.ClickException(f"{len(exc.problems)} problem(s) in {directory}; nothing was applied") from None
        session.commit()
    return counts


@main.group()
def campaigns() -> None:
    """Personas and campaigns as files."""


@campaigns.command("sync")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@pass_services
def campaigns_sync(services, directory: Path | None) -> None:
    """Validate DIRECTORY (default campaigns/) and load it; nothing is applied if anything is wrong."""
    counts = sync_campaigns(services, directory or services.config.campaigns_dir)
    click.echo("synced: " + ", ".join(f"{v} {k} changed" for k, v in counts.items()))


@campaigns.command("export")
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
@pass_services
def campaigns_export(services, directory: Path | None) -> None:
    """Write personas, campaigns and the agreement from the database to DIRECTORY (default campaigns/)."""
    from app.domain.campaigns.export import export_library

    target = directory or services.config.campaigns_dir
    with services.sessions() as session:
        counts = export_library(session, target)
    click.echo(f"exported to {target}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
