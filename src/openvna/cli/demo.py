"""``openvna demo``: load the demo data set (the SIIM exercise's patients and THOMPSON^ALEX)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from openvna.cli.options import DEMO_API_KEY, ConfigOption, DataDirOption, settings_or_exit
from openvna.errors import ArchiveError

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["register"]


def demo(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Load the demo studies into the archive (again, harmlessly, if they are there).

    SIIM^Joe's chest radiographs carry the UIDs of the SIIM hands-on exercise; SIIM^Andy has a
    PET/CT and a total-body CT; THOMPSON^ALEX the abdomen CT of the DICOMweb quick start guide.
    """
    from rich.console import Console

    from openvna import demo as catalogue
    from openvna.runtime import build_archive

    settings = settings_or_exit(config, data_dir)
    console = Console()
    table = _table()
    archive = build_archive(settings)
    try:
        with console.status("Generating and storing the demo studies...") as status:
            for study in catalogue.CATALOGUE:
                status.update(f"Storing {study.patient.name}: {study.description}...")
                stored, present = catalogue.store_study(archive, study)
                patient = study.patient
                row = (patient.name, patient.patient_id, study.accession, study.description)
                table.add_row(*row, str(stored + present), str(stored))
    except ArchiveError as exc:
        typer.echo(f"openvna demo: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    finally:
        archive.close()
    console.print(table)
    total = sum(study.instance_count for study in catalogue.CATALOGUE)
    console.print(f"{total} instances in {settings.storage.data_dir}.")
    console.print(
        f"Serve them with [bold]openvna serve --demo[/bold] (API key {DEMO_API_KEY}), then "
        "GET /dicomweb/studies?PatientName=SIIM*"
    )


def _table() -> Table:
    from rich import box
    from rich.table import Table

    table = Table(title="Demo data", box=box.SIMPLE_HEAD)
    for column in ("Patient", "Patient ID", "Accession"):
        table.add_column(column, no_wrap=True)
    table.add_column("Study")
    table.add_column("Instances", justify="right")
    table.add_column("New", justify="right")
    return table


def register(app: typer.Typer) -> None:
    app.command()(demo)
