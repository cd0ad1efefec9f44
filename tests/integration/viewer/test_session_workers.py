"""The session cookie is checked by every HTTP worker: one keyed entry, then requests spread
over the worker processes of `openvna serve --workers 2` all pass with the cookie alone."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from openvna.web.session import SESSION_COOKIE
from tests.processes import serve_process

pytestmark = pytest.mark.integration

KEY = "workers-session-key-42"


def test_a_cookie_from_one_worker_passes_on_every_worker(tmp_path: Path) -> None:
    environ = {"OPENVNA_AUTH__API_KEYS": f'["{KEY}"]'}
    with serve_process(
        tmp_path / "data", "--workers", "2", headers={"apikey": KEY}, environ=environ
    ) as (dicomweb, _):
        base = dicomweb.removesuffix("/dicomweb")
        entry = httpx.get(base + "/ui", params={"apikey": KEY})
        assert entry.status_code == 303
        cookie = {SESSION_COOKIE: entry.cookies[SESSION_COOKIE]}
        answers = set()
        for _ in range(40):  # fresh connections: the kernel spreads them over the workers
            response = httpx.get(dicomweb + "/studies", cookies=cookie)
            answers.add(response.status_code)
        assert answers == {200}
        assert httpx.get(dicomweb + "/studies").status_code == 401
