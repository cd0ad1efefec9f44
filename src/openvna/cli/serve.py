"""``openvna serve``: the archive's HTTP server (DICOMweb), with the demo data on request.

With several workers this process prepares the index, then becomes their supervisor
(``supervisor.py``), which holds none of the libraries imported here or by the archive.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from openvna.cli import supervisor, worker
from openvna.cli.options import ConfigOption, DataDirOption, settings_or_exit
from openvna.cli.worker import DEMO_API_KEY
from openvna.logs import configure_logging
from openvna.settings import Settings

__all__ = ["DEMO_API_KEY", "register"]

log = logging.getLogger("openvna")


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default 8080).")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    workers: Annotated[
        int | None,
        typer.Option(help="HTTP worker processes (default 2); more serve concurrent clients."),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(help=f"Load the demo data set and require the API key {DEMO_API_KEY}."),
    ] = False,
) -> None:
    """Start the archive's HTTP server (DICOMweb at /dicomweb)."""
    overrides: dict[str, Any] = {"server": {}}
    if host is not None:
        overrides["server"]["host"] = host
    if port is not None:
        overrides["server"]["port"] = port
    if workers is not None:
        overrides["server"]["workers"] = workers
    settings = settings_or_exit(config, data_dir, overrides)
    if demo and DEMO_API_KEY not in settings.auth.api_keys:
        settings.auth.api_keys.append(DEMO_API_KEY)
    configure_logging(settings.server.log_level)
    run(settings, demo=demo)


def run(settings: Settings, *, demo: bool = False) -> None:
    server = settings.server
    if server.workers > 1:
        _become_supervisor(settings, demo)
    from openvna.web.app import create_app

    archive = worker.build(settings, demo=demo)
    try:
        _announce(settings)
        app = worker.settled(create_app(settings, archive))
        worker.run_uvicorn(app, server.host, server.port)
    finally:
        archive.close()


def _become_supervisor(settings: Settings, demo: bool) -> NoReturn:
    """Create or check the index (the workers then find it ready rather than racing to create
    it) and load the demo, here, so that errors end this command as in a single process; then
    replace this process by the supervisor of the workers, each of which builds its own archive
    from the same settings (SQLite writes begin IMMEDIATE, so they share the index)."""
    worker.build(settings, demo=demo).close()
    _announce(settings)
    os.environ[supervisor.WORKER_SETTINGS] = settings.model_dump_json()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", supervisor.__name__])


def _announce(settings: Settings) -> None:
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
