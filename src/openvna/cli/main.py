"""The ``openvna`` command: one sub-command family per module of this package.

Every command module is imported to build the command, ``serve`` included, whose process stays
alive as the supervisor of several workers. So command modules import at their top only typer,
settings and the errors; the archive stack (pydicom with numpy and Pillow, SQLAlchemy), rich and
uvicorn are imported inside the commands that use them.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated

import typer

from openvna.cli import check, demo, dump, import_, pixels, proxy, scu, serve, ups, viewer
from openvna.errors import ArchiveError

__all__ = ["app", "main"]

app = typer.Typer(
    name="openvna",
    help="openvna: an open imaging archive (DICOMweb, DIMSE, FHIR) and its toolkit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for module in (serve, demo, import_, dump, check, viewer, ups, pixels, scu, proxy):
    module.register(app)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"openvna {version('openvna')}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """openvna: an open imaging archive (DICOMweb, DIMSE, FHIR) and its toolkit."""


def main() -> None:
    """Run a command; an archive error (index unreachable, disk full...) is one line on stderr
    and exit status 1, not a traceback."""
    try:
        app()
    except ArchiveError as exc:
        typer.echo(f"openvna: {exc.message}", err=True)
        raise SystemExit(1) from exc
