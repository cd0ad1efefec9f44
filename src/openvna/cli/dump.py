"""``openvna dump``: print a DICOM file as the DICOM JSON (PS3.18 F) or XML (PS3.19 A) model.

The file goes through the same code as ingest (``read_header`` then ``dataset_to_json``), so the
output is exactly the metadata the archive would store for it, with file URIs for bulk data.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from openvna.errors import ArchiveError

__all__ = ["dump_model", "register"]

_PIXEL_TAG_BY_VR = {"OF": "7FE00008", "OD": "7FE00009"}
_HELP = (
    "Print FILE as PS3.18 DICOM JSON (default) or PS3.19 Native DICOM Model XML.\n\n"
    "Binary values of 1024 bytes or less are InlineBinary (base64). Larger ones, and Pixel Data "
    "always, are BulkDataURI values of the form file:///abs/path.dcm#<tag path>: the tag in 8 "
    "hex digits, inside sequences preceded by the sequence tags and 0-based item indexes, as "
    "in file:///x.dcm#00880200/0/7FE00010. The File Meta group (0002) is not part of either "
    "model and is not printed. Exit status 1 when FILE is not a complete DICOM Part 10 file."
)


def dump_model(path: Path) -> dict[str, Any]:
    """The JSON model of the file at ``path``, bulk data as ``file://<path>#<tag path>`` URIs."""
    from openvna.dicom.json import dataset_to_json
    from openvna.dicom.part10 import read_header

    header = read_header(path)
    base = path.resolve().as_uri()
    model = dataset_to_json(header.dataset, lambda tag_path: f"{base}#{tag_path}")
    if header.pixel_data is not None:
        tag = _PIXEL_TAG_BY_VR.get(header.pixel_data.vr, "7FE00010")
        model[tag] = {"vr": header.pixel_data.vr, "BulkDataURI": f"{base}#{tag}"}
    return model


def dump(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="A DICOM Part 10 file."),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the DICOM JSON model (the default).")
    ] = False,
    as_xml: Annotated[
        bool, typer.Option("--xml", help="Print the Native DICOM Model XML document.")
    ] = False,
) -> None:
    """Print FILE as PS3.18 DICOM JSON or PS3.19 Native DICOM Model XML (see _HELP)."""
    if as_json and as_xml:
        raise typer.BadParameter("give either --json or --xml, not both")
    try:
        model = dump_model(file)
    except ArchiveError as exc:
        typer.echo(f"openvna dump: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    if as_xml:
        from openvna.dicom.xml import json_to_xml

        sys.stdout.buffer.write(json_to_xml(model, lines=True))
        sys.stdout.buffer.flush()
    else:
        typer.echo(json.dumps(model, indent=2, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    """Add the ``dump`` command to the ``openvna`` application."""
    app.command("dump", help=_HELP)(dump)
