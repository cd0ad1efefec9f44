"""``openvna render``, ``openvna transcode`` and ``openvna uid``: the dcm4che-style toolkit of
seed 003 (dcm2jpg, dcm2dcm, a UID generator) over the archive's own pixel service, so a file
renders and converts exactly as the archive's doors serve it. Exit status 0 on success, 1 when
the file cannot be read, decoded or converted (one line on stderr), 2 on a usage error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Final, TypeVar

import typer

from openvna.errors import ArchiveError

__all__ = ["SYNTAX_NAMES", "register"]

T = TypeVar("T")

# Short names for --to, beside the UIDs themselves.
SYNTAX_NAMES: Final = {
    "explicit": "1.2.840.10008.1.2.1",
    "jpeg": "1.2.840.10008.1.2.4.50",
    "jpeg-ls": "1.2.840.10008.1.2.4.80",
    "jls": "1.2.840.10008.1.2.4.80",
    "j2k": "1.2.840.10008.1.2.4.90",
    "jpeg2000": "1.2.840.10008.1.2.4.90",
    "rle": "1.2.840.10008.1.2.5",
}
_IMAGE_TYPES: Final = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
}

InputFile = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A DICOM file.")
]


def render(
    file: InputFile,
    output: Annotated[Path, typer.Option("-o", "--output", help="out.jpg, out.png or out.gif")],
    frame: Annotated[int, typer.Option("--frame", min=1, help="The frame (1-based).")] = 1,
    window: Annotated[
        str | None,
        typer.Option("--window", help="center,width[,linear|linear-exact|sigmoid]"),
    ] = None,
    size: Annotated[
        str | None, typer.Option("--size", help="WxH: fit into this box, aspect kept")
    ] = None,
    quality: Annotated[int, typer.Option("--quality", min=1, max=100)] = 90,
) -> None:
    """Render a frame of FILE as JPEG, PNG or GIF (by the output's suffix), like dcm2jpg: the
    file's window (or --window), rescale, MONOCHROME1 inversion, colour as stored."""
    media_type = _IMAGE_TYPES.get(output.suffix.lower())
    if media_type is None:
        raise typer.BadParameter(
            f"{output.name}: the output must end in {', '.join(_IMAGE_TYPES)}", param_hint="-o"
        )
    from openvna.render import Rendering
    from openvna.render.files import file_instance
    from openvna.render.service import Renderer
    from openvna.web.rendering import parse_viewport, parse_window

    viewport = None
    if size is not None:
        width, sep, height = size.lower().partition("x")
        if not sep:
            raise typer.BadParameter(f"{size!r} is not WxH", param_hint="--size")
        viewport = _or_usage(lambda: parse_viewport(f"{width},{height}")[0], "--size")
    how = Rendering(
        media_type=media_type,
        quality=quality,
        window=_or_usage(lambda: parse_window(window), "--window"),
        viewport=viewport,
    )
    data = _or_fail(lambda: Renderer().render_frame(file_instance(file), frame, how))
    output.write_bytes(data)


def transcode(
    file: InputFile,
    to: Annotated[
        str,
        typer.Option("--to", help="A transfer syntax UID or: " + ", ".join(sorted(SYNTAX_NAMES))),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="The DICOM file to write.")],
) -> None:
    """Write FILE in another transfer syntax, frame by frame (lossy JPEG is marked so)."""
    from openvna.dicom.uid import is_valid_uid
    from openvna.render import PixelTranscoder
    from openvna.render.files import file_instance

    syntax = SYNTAX_NAMES.get(to.lower(), to)
    if not is_valid_uid(syntax):
        raise typer.BadParameter(f"{to!r} is neither a UID nor a known name", param_hint="--to")
    data = _or_fail(lambda: PixelTranscoder().transcode(file_instance(file), syntax))
    output.write_bytes(data)


def uid() -> None:
    """Print a new UID of the 2.25 form, derived from a random UUID (PS3.5 B.2)."""
    from openvna.dicom.uid import generate_uid

    typer.echo(generate_uid())


def _or_usage(make: Callable[[], T], option: str) -> T:
    try:
        return make()
    except ArchiveError as exc:
        raise typer.BadParameter(exc.message, param_hint=option) from exc


def _or_fail(make: Callable[[], T]) -> T:
    try:
        return make()
    except ArchiveError as exc:
        typer.echo(f"openvna: {exc.message}", err=True)
        raise typer.Exit(1) from exc


def register(app: typer.Typer) -> None:
    app.command(name="render")(render)
    app.command(name="transcode")(transcode)
    app.command(name="uid")(uid)
