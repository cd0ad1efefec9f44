"""``openvna proxy --dicomweb URL``: a DIMSE SCP in front of a DICOMweb server (issue 9, seed 003):
C-ECHO here, C-FIND as QIDO-RS, C-GET/C-MOVE as WADO-RS then C-STORE, C-STORE as STOW-RS."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from openvna.cli.options import ConfigOption, DataDirOption, settings_or_exit

__all__ = ["register"]


def proxy(
    dicomweb: Annotated[str, typer.Option(help="Root URL of the DICOMweb server behind.")],
    header: Annotated[
        list[str] | None,
        typer.Option(help="'Name: value' added to every request (e.g. 'apikey: K'); repeatable."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="DIMSE port (default dimse.port).")] = None,
    aet: Annotated[str | None, typer.Option(help="AE title (default dimse.ae_title).")] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run a DIMSE SCP that answers from a DICOMweb server (remote nodes: dimse.remotes)."""
    from openvna.archive.remotes import RemoteRegistry
    from openvna.dimse.proxy import DicomwebBackend, serve_proxy
    from openvna.logs import configure_logging
    from openvna.server.supervisor import listen

    settings = settings_or_exit(config, data_dir)
    configure_logging(settings.server.log_level)
    headers = []
    for item in header or []:
        name, separator, value = item.partition(":")
        if not separator or not name.strip():
            typer.echo(f"openvna: --header {item!r}: expected 'Name: value'", err=True)
            raise typer.Exit(2)
        headers.append((name.strip(), value.strip()))
    dimse = settings.dimse
    remotes = RemoteRegistry(dimse.remotes, settings.storage.data_dir, dimse.allow_unknown)
    title = aet or dimse.ae_title
    try:
        sock = listen(host, dimse.port if port is None else port)
    except OSError as exc:
        typer.echo(f"openvna: cannot listen on {host}:{port}: {exc.strerror}", err=True)
        raise typer.Exit(1) from exc
    server = serve_proxy(DicomwebBackend(dicomweb, tuple(headers)), remotes, title, sock)
    bound = sock.getsockname()[1]
    typer.echo(f"openvna proxy: {title}@{host}:{bound} -> {dicomweb}", err=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    server.server_close()
    sock.close()


def register(app: typer.Typer) -> None:
    app.command("proxy")(proxy)
