"""The ``openvna`` command: one sub-command family per module of this package."""

from __future__ import annotations

import typer

from openvna.cli import demo, dump, import_, serve

__all__ = ["app", "main"]

app = typer.Typer(
    name="openvna",
    help="openvna: an open imaging archive (DICOMweb, DIMSE, FHIR) and its toolkit.",
    no_args_is_help=True,
    add_completion=False,
)
for module in (serve, demo, import_, dump):
    module.register(app)


def main() -> None:
    app()
