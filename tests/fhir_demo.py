"""A live server over the demo data for the FHIR tests: the demo is loaded once per session into
a SQLite data directory, and each test serves a copy of it (with the SIIM exercise's API key)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from openvna.demo import load_demo
from openvna.runtime import build_archive
from openvna.settings import load_settings
from tests.conftest import LiveServer

API_KEY = "HackathonOrientationSession"
HEADERS = {"apikey": API_KEY}


@pytest.fixture(scope="session")
def fhir_demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fhir") / "demo"
    archive = build_archive(load_settings(None, {"storage": {"data_dir": root}}, environ={}))
    try:
        load_demo(archive)
    finally:
        archive.close()
    return root


@pytest.fixture
def fhir_server(
    live_server_factory: Callable[..., LiveServer], fhir_demo_dir: Path, tmp_path: Path
) -> LiveServer:
    data = tmp_path / "fhir-copy"
    shutil.copytree(fhir_demo_dir, data)
    return live_server_factory(
        storage={"data_dir": data},
        index={"url": f"sqlite:///{data / 'index.sqlite'}"},
        auth={"api_keys": [API_KEY]},
    )


def fhir(server: LiveServer) -> str:
    return server.url + "/fhir"


def get(server: LiveServer, path: str, **headers: str) -> httpx.Response:
    return httpx.get(fhir(server) + path, headers={**HEADERS, **headers})


def get_json(server: LiveServer, path: str, status: int = 200) -> Any:
    response = get(server, path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    return response.json()


def outcome(response: httpx.Response, status: int) -> dict[str, Any]:
    """Check an error answer: the status and an OperationOutcome body that validates."""
    from tests.fhir_check import validate

    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    validate(body)
    return body
