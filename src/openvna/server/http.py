"""The HTTP door's processes: the archive and its web app on uvicorn, for the single server
process, for the process that prepares the index before it becomes the supervisor, and for each
HTTP worker (the HTTP listener of ``server.supervisor``: ``serve`` runs the app built from the
settings in the environment on the listening socket the supervisor forked it with).

The top of this module imports only settings and logging, because every command imports it
(``cli.main`` builds the whole command); the archive stack (pydicom with numpy and Pillow,
SQLAlchemy, Starlette, uvicorn) is imported inside the functions: in the processes that run them,
or once in the supervisor (``preload``) for the workers it forks.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from openvna.logs import configure_logging, uvicorn_log_config
from openvna.server.supervisor import WORKER_SETTINGS
from openvna.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.applications import Starlette

    from openvna.archive import Archive
    from openvna.archive.scu import Scu

__all__ = ["preload", "run_uvicorn", "scu_maker", "serve", "settled", "worker_app"]

log = logging.getLogger("openvna")

_ORPHAN_CHECK = 0.5  # seconds between looks at whether the supervisor is still there
# By name, so that importing this module does not import uvicorn.
_HTTP_PROTOCOL = "openvna.server.zerocopy:ZeroCopyHttpToolsProtocol"


def worker_app() -> Starlette:
    """The app of one worker process, from the settings ``serve`` left in the environment."""
    from openvna.runtime import build_archive
    from openvna.web.app import create_app

    settings = Settings.model_validate_json(os.environ[WORKER_SETTINGS])
    configure_logging(settings.server.log_level)
    archive = build_archive(settings)
    return settled(create_app(settings, archive, scu_maker(settings, archive)))


def scu_maker(settings: Settings, archive: Archive) -> Callable[[], Scu]:
    """What builds the admin API's SCU: ``dimse.scu.DimseScu`` calling as this archive's AE
    title, imported only when a request first needs it (pynetdicom: 7 MB, 0.2 s)."""

    def make() -> Scu:
        from openvna.dimse.scu import DimseScu

        return DimseScu(settings.dimse.ae_title, settings.dimse.timeout, archive)

    return make


def settled(app: Starlette) -> Starlette:
    """The app, with every object made so far (the libraries' modules, tables and caches: about
    half a million) moved out of the garbage collector's sight. Requests that allocate many
    objects, such as a study retrieve's hundreds of parts, set off full collections, and each
    would traverse all of them again."""
    gc.collect()
    gc.freeze()
    return app


def run_uvicorn(
    app: Any, host: str, port: int, sock: socket.socket | None = None, shared: bool = False
) -> None:
    """uvicorn as openvna runs it: JSON logs, no access log, the zero-copy HTTP protocol; on
    ``sock`` when given, else on ``host`` and ``port``. A socket ``shared`` with other worker
    processes is accepted from by ``acceptor.SharedSocketServer``, so they share its
    connections; a process alone on its socket accepts at once."""
    import uvicorn  # here: every command imports this module, for its names

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=uvicorn_log_config(),
        access_log=False,
        server_header=False,
        http=_HTTP_PROTOCOL,
    )
    if shared and sock is not None:
        from openvna.server.acceptor import SharedSocketServer

        server: uvicorn.Server = SharedSocketServer(config, sock)
        server.run()
    else:
        server = uvicorn.Server(config)
        server.run(sockets=None if sock is None else [sock])
    if not server.started:
        sys.exit(3)  # as uvicorn.run: the server failed to start


def preload() -> None:
    """Import what a worker runs, in the supervisor that forks the workers (its listener
    contract): the archive, the app and uvicorn with the zero-copy protocol, and anyio's asyncio
    backend, which Starlette otherwise imports on the first request that runs in a thread
    (~0.1 s of that request after each start)."""
    import anyio._backends._asyncio  # noqa: F401
    import uvicorn  # noqa: F401

    import openvna.runtime
    import openvna.server.acceptor
    import openvna.server.zerocopy
    import openvna.web.app  # noqa: F401


def serve(sock: socket.socket, supervisor: int) -> None:
    """A worker of the supervisor (process ``supervisor``): serve the listening socket."""
    threading.Thread(target=_stop_when_orphaned, args=(supervisor,), daemon=True).start()
    app = worker_app()
    server = app.state.settings.server
    run_uvicorn(app, server.host, server.port, sock, shared=server.workers > 1)


def _stop_when_orphaned(supervisor: int) -> None:
    """A supervisor that was killed cannot stop its workers: each stops itself (uvicorn's
    graceful shutdown, as on SIGTERM) rather than keep the port."""
    while os.getppid() == supervisor:
        time.sleep(_ORPHAN_CHECK)
    log.warning("the supervisor (process %d) is gone: stopping", supervisor)
    os.kill(os.getpid(), signal.SIGTERM)
