"""``openvna import``: store DICOM files and folders (recursively) into the archive.

The work is in ``importing.py``, imported when the command runs, so that declaring the command
costs no more than typer. Exit status: 0 when every file was stored, 1 when any failed, 2 on a
usage error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openvna.cli.options import ConfigOption, DataDirOption, settings_or_exit

__all__ = ["register"]


def import_files(
    paths: Annotated[
        list[Path],
        typer.Argument(exists=True, help="DICOM files or folders (searched recursively)."),
    ],
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Store DICOM Part 10 files into the archive; print what was stored and what failed, why."""
    from openvna.cli import importing

    settings = settings_or_exit(config, data_dir)
    files = list(importing.files_under(paths))
    if not files:
        typer.echo("No files found.")
        return
    lines, failed = importing.import_files(settings, files)
    for line in lines:
        typer.echo(line)
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command(name="import")(import_files)
