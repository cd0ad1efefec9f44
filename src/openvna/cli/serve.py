"""``openvna serve``: the archive's server (DICOMweb), with the demo data on request.

A thin command over ``openvna.server``: with several workers this process prepares the index
(and the demo), then becomes the supervisor of the listeners (``server.supervisor``), which holds
none of the libraries imported here or by the archive; with one, it serves HTTP itself.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from openvna.cli.options import DEMO_API_KEY, ConfigOption, DataDirOption, settings_or_exit
from openvna.logs import configure_logging
from openvna.server import http, supervisor
from openvna.settings import Settings

if TYPE_CHECKING:
    from openvna.archive import Archive

__all__ = ["register"]

log = logging.getLogger("openvna")


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default 8080).")] = None,
    dimse_port: Annotated[
        int | None, typer.Option(help="DIMSE port (default 11112; dimse.processes 0: none).")
    ] = None,
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
    demo_key: Annotated[
        bool,
        typer.Option(
            "--demo-key/--no-demo-key",
            help="With --demo, whether its API key is required (--no-demo-key: an open server, "
            "keys of the settings still apply).",
        ),
    ] = True,
) -> None:
    """Start the archive's HTTP server (DICOMweb at /dicomweb)."""
    overrides: dict[str, Any] = {"server": {}}
    if host is not None:
        overrides["server"]["host"] = host
    if port is not None:
        overrides["server"]["port"] = port
    if workers is not None:
        overrides["server"]["workers"] = workers
    if dimse_port is not None:
        overrides["dimse"] = {"port": dimse_port}
    settings = settings_or_exit(config, data_dir, overrides)
    if demo and demo_key and DEMO_API_KEY not in settings.auth.api_keys:
        settings.auth.api_keys.append(DEMO_API_KEY)
    configure_logging(settings.server.log_level)
    run(settings, demo=demo)


def run(settings: Settings, *, demo: bool = False) -> None:
    """Bind the ports, then open the index (and load the demo), then serve: a port in use is
    one line and exit status 1 before anything is loaded or said to be listening."""
    server = settings.server
    wanted = supervisor.listeners(json.loads(settings.model_dump_json()))
    try:
        bound = supervisor.bind(wanted)
    except supervisor.CannotListen as exc:
        typer.echo(f"openvna: {exc}", err=True)
        raise SystemExit(1) from exc
    if server.workers > 1 or len(bound) > 1:  # other doors' listeners need the supervisor
        _become_supervisor(settings, demo, bound)
    from openvna.web.app import create_app

    [(_, sock)] = bound
    archive = _prepare(settings, demo)
    try:
        _announce(settings)
        app = http.settled(create_app(settings, archive, http.scu_maker(settings, archive)))
        http.run_uvicorn(app, server.host, server.port, sock)
    finally:
        archive.close()
        sock.close()


def _prepare(settings: Settings, demo: bool) -> Archive:
    """The archive (its index created or checked), with the demo data stored when asked."""
    from openvna.runtime import build_archive

    archive = build_archive(settings)
    if not demo:
        return archive
    try:
        from openvna.demo import load_demo

        stored = load_demo(archive)
    except BaseException:
        archive.close()
        raise
    log.info("demo data loaded", extra={"instances": stored, "api_key": DEMO_API_KEY})
    return archive


def _become_supervisor(
    settings: Settings, demo: bool, bound: list[tuple[supervisor.Listener, socket.socket]]
) -> NoReturn:
    """Create or check the index (the workers then find it ready rather than racing to create
    it) and load the demo, here, so that errors end this command as in a single process; then
    replace this process by the supervisor of the workers, each of which builds its own archive
    from the same settings (SQLite writes begin IMMEDIATE, so they share the index), handing it
    the sockets bound already."""
    _prepare(settings, demo).close()
    _announce(settings)
    supervisor.hand_down(bound)
    os.environ[supervisor.WORKER_SETTINGS] = settings.model_dump_json()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(
        sys.executable,
        [sys.executable, "-m", supervisor.__name__],
        supervisor.supervisor_environment(os.environ),
    )


def _announce(settings: Settings) -> None:
    from openvna.web.iid.ohif import default_dir, installed

    _warn_if_open(settings)
    base = f"http://{settings.server.host}:{settings.server.port}"
    viewer = installed(settings.viewer.dir or default_dir())
    log.info(
        "openvna listening",
        extra={
            "dicomweb": f"{base}/dicomweb",
            "explorer": f"{base}/ui",
            "viewer": f"{base}/viewer/" if viewer else "not installed: openvna viewer install",
            "data_dir": str(Path(settings.storage.data_dir).resolve()),
            "index": settings.index_url.split("@")[-1],
            "workers": settings.server.workers,
            "dimse": f"{settings.dimse.ae_title}@{settings.server.host}:{settings.dimse.port}"
            if settings.dimse.processes
            else None,
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
