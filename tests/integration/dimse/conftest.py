"""A live archive with both doors: DICOMweb (the shared live server) and the DIMSE SCP on the
same archive, each on a free loopback port, stopped at the end of the test."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from openvna.dimse.scp import start
from openvna.server.supervisor import listen
from tests.conftest import LiveServer

AE_TITLE = "OPENVNA"


@dataclass
class DimseNode:
    """The archive under test: its DIMSE address and its HTTP side."""

    host: str
    port: int
    web: LiveServer

    @property
    def archive(self) -> Any:
        return self.web.archive

    def dcmtk(
        self, tool: str, *args: str | Path, files: Iterable[str | Path] = (), timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run a DCMTK tool against this node: options, its host and port, then any files."""
        command = [tool, "-aec", AE_TITLE, *map(str, args), self.host, str(self.port)]
        command += map(str, files)
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def dimse_factory(
    live_server_factory: Callable[..., LiveServer],
) -> Iterator[Callable[..., DimseNode]]:
    """Start archives with their SCP (sections as for the live server, e.g. dimse={...})."""
    running: list[Any] = []

    def make(**sections: Any) -> DimseNode:
        web = live_server_factory(**sections)
        sock = listen("127.0.0.1", 0)
        server = start(web.settings, web.archive, sock)
        running.append((server, sock))
        return DimseNode("127.0.0.1", sock.getsockname()[1], web)

    yield make
    for server, sock in running:
        server.shutdown()
        server.server_close()
        sock.close()


@pytest.fixture
def storescp(tmp_path: Path) -> Iterator[tuple[str, int, Path]]:
    """DCMTK's storescp, bit-preserving, as the move destination DEST, once it listens."""
    # Imported here: scu_peers imports this module (free_port).
    from tests.integration.dimse.scu_peers import storescp as started

    with started(tmp_path / "received", "DEST") as peer:
        yield peer.aet, peer.port, peer.received


@pytest.fixture
def dimse(dimse_factory: Callable[..., DimseNode]) -> DimseNode:
    return dimse_factory()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
