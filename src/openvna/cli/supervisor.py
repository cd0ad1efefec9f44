"""The supervisor of ``openvna serve --workers N``: uvicorn's process manager and nothing else.

``serve`` prepares the index (and the demo data) in its own process, then replaces itself with
this module (``os.execv``, same process id, same signals). So the long-lived parent of the
workers holds neither the archive's libraries (pydicom with numpy and Pillow, SQLAlchemy) nor
typer and pydantic: 26 MB resident, where the process that prepared the index held 98. It
reads what it needs from the settings the workers get, as plain JSON, and never opens the
archive.
"""

from __future__ import annotations

import json
import os
from typing import Any

from openvna.logs import configure_logging, uvicorn_log_config

__all__ = ["WORKER_APP", "WORKER_SETTINGS", "main", "run_uvicorn"]

# The environment variable through which ``serve`` hands the settings to the supervisor and the
# workers (uvicorn spawns fresh interpreters and calls the factory without arguments).
WORKER_SETTINGS = "_OPENVNA_WORKER_SETTINGS"
WORKER_APP = "openvna.cli.worker:worker_app"
# By name, so that the supervisor does not import it: uvicorn imports it in each worker.
_HTTP_PROTOCOL = "openvna.web.zerocopy:ZeroCopyHttpToolsProtocol"


def run_uvicorn(app: Any, host: str, port: int, **options: Any) -> None:
    """uvicorn as openvna runs it: JSON logs, no access log, the zero-copy HTTP protocol."""
    import uvicorn  # here: every command imports this module, for its names

    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=uvicorn_log_config(),
        access_log=False,
        server_header=False,
        http=_HTTP_PROTOCOL,
        **options,
    )


def main() -> None:
    server = json.loads(os.environ[WORKER_SETTINGS])["server"]
    configure_logging(server["log_level"])
    run_uvicorn(WORKER_APP, server["host"], server["port"], factory=True, workers=server["workers"])


if __name__ == "__main__":  # not when uvicorn's spawned workers re-run it as ``__mp_main__``
    main()
