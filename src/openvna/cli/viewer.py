"""``openvna viewer install``: fetch the pinned OHIF viewer that the server serves at /viewer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openvna.cli.options import ConfigOption, settings_or_exit

__all__ = ["register"]

viewer_app = typer.Typer(help="The OHIF viewer served at /viewer.", no_args_is_help=True)


@viewer_app.command()
def install(
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Install directory (default: viewer.dir, else ~/.local/share/openvna)."
        ),
    ] = None,
    version: Annotated[
        str | None, typer.Option(help="@ohif/app version (default: pinned).")
    ] = None,
    registry: Annotated[str | None, typer.Option(help="npm registry URL.")] = None,
    config: ConfigOption = None,
) -> None:
    """Download @ohif/app from the npm registry, check its SHA-512 against the registry's
    integrity, unpack its dist/ for /viewer. Idempotent; no node needed."""
    from openvna.web.iid.ohif import (
        OHIF_PACKAGE,
        OHIF_VERSION,
        REGISTRY,
        ViewerInstallError,
        default_dir,
    )
    from openvna.web.iid.ohif import install as install_viewer

    settings = settings_or_exit(config, None)
    root = directory or settings.viewer.dir or default_dir()
    wanted = version or OHIF_VERSION
    typer.echo(f"installing {OHIF_PACKAGE}@{wanted} into {root} ...")
    try:
        path = install_viewer(root, wanted, registry or REGISTRY)
    except ViewerInstallError as exc:
        typer.echo(f"openvna: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"viewer installed: {path} (served at /viewer)")


def register(app: typer.Typer) -> None:
    app.add_typer(viewer_app, name="viewer")
