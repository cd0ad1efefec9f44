"""Shared fixtures: settings, an archive and a live server, each on SQLite and on PostgreSQL.

The databases come from tests/databases.py (PostgreSQL: the server at TEST_PG_URL, a schema of
its own per test; skipped, saying so, when no server answers, failed instead in CI).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from openvna.archive import Archive
from openvna.runtime import build_archive
from openvna.server.http import scu_maker
from openvna.server.zerocopy import ZeroCopyHttpToolsProtocol
from openvna.settings import Settings, load_settings
from openvna.web.app import create_app
from tests.databases import ENGINES, database_url
from tests.tools import dcmtk  # noqa: F401  (the fixture behind tests.tools.needs_dcmtk)

# An `openvna serve` that a test starts has no DIMSE listener (the default port 11112 would be
# shared by the tests running in parallel) unless it asks for one (tests/integration/dimse).
os.environ.setdefault("OPENVNA_DIMSE__PROCESSES", "0")


@pytest.fixture
def index_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty index URL for the engine under test (param 'sqlite' or 'postgresql')."""
    with database_url(getattr(request, "param", "sqlite"), tmp_path) as url:
        yield url


@pytest.fixture
def settings_factory(tmp_path: Path, index_url: str) -> Callable[..., Settings]:
    """Settings over a fresh data directory and index; keyword sections override."""

    def make(**sections: Any) -> Settings:
        base: dict[str, Any] = {
            "storage": {"data_dir": tmp_path / "data"},
            "index": {"url": index_url},
            "server": {"host": "127.0.0.1", "port": 0},
        }
        for name, values in sections.items():
            base[name] = {**base.get(name, {}), **values}
        return load_settings(None, base, environ={})

    return make


@pytest.fixture
def archive(settings_factory: Callable[..., Settings]) -> Iterator[Archive]:
    archive = build_archive(settings_factory())
    try:
        yield archive
    finally:
        archive.close()


@dataclass
class LiveServer:
    url: str
    archive: Archive
    settings: Settings

    @property
    def dicomweb(self) -> str:
        return self.url + "/dicomweb"

    @property
    def data_dir(self) -> Path:
        return Path(self.settings.storage.data_dir)


class _ThreadedServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test runner owns signals
        pass


@pytest.fixture
def live_server_factory(
    settings_factory: Callable[..., Settings],
) -> Iterator[Callable[..., LiveServer]]:
    """Start servers on 127.0.0.1, port 0; each stops by itself at the end of the test."""
    running: list[tuple[_ThreadedServer, threading.Thread, Archive]] = []

    def start(**sections: Any) -> LiveServer:
        settings = settings_factory(**sections)
        archive = build_archive(settings)
        config = uvicorn.Config(
            create_app(settings, archive, scu_maker(settings, archive)),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            access_log=False,
            http=ZeroCopyHttpToolsProtocol,  # the protocol ``openvna serve`` runs
        )
        server = _ThreadedServer(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        running.append((server, thread, archive))
        for _ in range(500):
            if server.started:
                break
            thread.join(0.01)
        else:
            raise RuntimeError("test server did not start")
        port = server.servers[0].sockets[0].getsockname()[1]
        return LiveServer(f"http://127.0.0.1:{port}", archive, settings)

    yield start
    for server, thread, archive in running:
        server.should_exit = True
        thread.join(10)
        archive.close()


@pytest.fixture
def live_server(live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    return live_server_factory()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that uses an index on both engines, through the index_url fixture; a test
    marked ``engines("sqlite")`` runs on the engines it names only."""
    if "index_url" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("engines")
    wanted = set(marker.args) if marker else {"sqlite", "postgresql"}
    engines = [e for e in ENGINES if (e if isinstance(e, str) else e.values[0]) in wanted]
    metafunc.parametrize("index_url", engines, indirect=True)
