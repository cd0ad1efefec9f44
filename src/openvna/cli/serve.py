"""``openvna serve``: the archive's HTTP server (DICOMweb), with the demo data on request."""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from starlette.applications import Starlette

from openvna.cli.options import ConfigOption, DataDirOption, settings_or_exit
from openvna.logs import configure_logging, uvicorn_log_config
from openvna.runtime import build_archive
from openvna.settings import Settings
from openvna.web.app import create_app
from openvna.web.zerocopy import ZeroCopyHttpToolsProtocol

__all__ = ["DEMO_API_KEY", "register"]

log = logging.getLogger("openvna")

DEMO_API_KEY = "HackathonOrientationSession"


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default 8080).")] = None,
    dimse_port: Annotated[
        int | None,
        typer.Option(help="DIMSE port (default 11112); kept in the settings for the DIMSE door."),
    ] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    workers: Annotated[
        int | None,
        typer.Option(help="HTTP worker processes (default 1); more serve concurrent clients."),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(help=f"Load the demo data set and require the API key {DEMO_API_KEY}."),
    ] = False,
) -> None:
    """Start the archive's HTTP server (DICOMweb at /dicomweb)."""
    overrides: dict[str, Any] = {"server": {}, "dimse": {}}
    if host is not None:
        overrides["server"]["host"] = host
    if port is not None:
        overrides["server"]["port"] = port
    if dimse_port is not None:
        overrides["dimse"]["port"] = dimse_port
    if workers is not None:
        overrides["server"]["workers"] = workers
    settings = settings_or_exit(config, data_dir, overrides)
    if demo and DEMO_API_KEY not in settings.auth.api_keys:
        settings.auth.api_keys.append(DEMO_API_KEY)
    configure_logging(settings.server.log_level)
    run(settings, demo=demo)


def run(settings: Settings, *, demo: bool = False) -> None:
    archive = build_archive(settings)
    try:
        if demo:
            from openvna.demo import load_demo

            stored = load_demo(archive)
            log.info("demo data loaded", extra={"instances": stored, "api_key": DEMO_API_KEY})
        _warn_if_open(settings)
        log.info(
            "openvna listening",
            extra={
                "dicomweb": f"http://{settings.server.host}:{settings.server.port}/dicomweb",
                "data_dir": str(Path(settings.storage.data_dir).resolve()),
                "index": settings.index_url.split("@")[-1],
                "workers": settings.server.workers,
            },
        )
        if settings.server.workers == 1:
            _serve(create_app(settings, archive), settings)
            return
    finally:
        archive.close()
    # Several processes: each builds its own archive from the same settings (uvicorn spawns
    # them and imports the factory by name); SQLite writes begin IMMEDIATE, so they share the
    # index safely.
    os.environ[_WORKER_SETTINGS] = settings.model_dump_json()
    _serve(f"{__name__}:worker_app", settings, factory=True, workers=settings.server.workers)


def worker_app() -> Starlette:
    """The app of one worker process, from the settings its parent left in the environment."""
    settings = Settings.model_validate_json(os.environ[_WORKER_SETTINGS])
    configure_logging(settings.server.log_level)
    return create_app(settings, build_archive(settings))


def _serve(app: Starlette | str, settings: Settings, **options: Any) -> None:
    uvicorn.run(
        app,
        host=settings.server.host,
        port=settings.server.port,
        log_config=uvicorn_log_config(),
        access_log=False,
        server_header=False,
        http=ZeroCopyHttpToolsProtocol,
        **options,
    )


_WORKER_SETTINGS = "_OPENVNA_WORKER_SETTINGS"


def _warn_if_open(settings: Settings) -> None:
    if settings.auth.api_keys:
        return
    host = settings.server.host
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        log.warning(
            "NO API KEYS CONFIGURED and listening on %s: anyone who can reach this address can "
            "read, store and delete every study. Set auth.api_keys (OPENVNA_AUTH__API_KEYS).",
            host,
        )


def register(app: typer.Typer) -> None:
    app.command()(serve)
