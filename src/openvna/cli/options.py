"""Options and settings loading shared by the commands that open an archive."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from openvna.settings import Settings, SettingsError, load_settings

__all__ = ["DEMO_API_KEY", "ConfigOption", "DataDirOption", "settings_or_exit"]

# The key of the SIIM hackathon servers, required by ``serve --demo`` as there.
DEMO_API_KEY = "HackathonOrientationSession"

DataDirOption = Annotated[
    Path | None, typer.Option(help="Data directory (blobs and SQLite index).")
]
ConfigOption = Annotated[
    Path | None, typer.Option(help="Settings file (TOML); OPENVNA_* variables override it.")
]


def settings_or_exit(
    config: Path | None, data_dir: Path | None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Load settings, or print what is wrong (field path and reason) and exit with status 2."""
    merged: dict[str, Any] = {k: v for k, v in (overrides or {}).items() if v}
    if data_dir is not None:
        merged["storage"] = {"data_dir": data_dir}
    try:
        return load_settings(config, merged)
    except SettingsError as exc:
        typer.echo(f"openvna: {exc}", err=True)
        raise typer.Exit(2) from exc
