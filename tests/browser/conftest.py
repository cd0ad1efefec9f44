"""Fixtures of the browser tests: the Debian chromium driven by Playwright, the installed OHIF,
``openvna serve --demo`` (with a 100-slice CT added) and screenshots kept as artefacts.

Playwright's own browser downloads are never used: ``executable_path`` is the system chromium.
Every wait is bounded (``TIMEOUT_MS``) so a viewer that never draws fails instead of hanging.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, sync_playwright

from openvna.cli.options import DEMO_API_KEY
from openvna.demo import CATALOGUE, load_demo, store_study
from openvna.demo.patients import THOMPSON_STUDY_UID, StudySpec
from openvna.runtime import build_archive
from openvna.settings import load_settings
from openvna.web.iid.ohif import default_dir, install, installed
from tests.processes import serve_process

TIMEOUT_MS = 45_000
KEY = DEMO_API_KEY
CT100_UID = "2.25.301220417760914531146339217540351981001"
ARTEFACTS = Path(os.environ.get("OPENVNA_TEST_ARTEFACTS") or tempfile.gettempdir()) / (
    "openvna-browser-screenshots"
)


def ct100_study() -> StudySpec:
    """The demo's abdomen CT as one axial series of 100 slices (3 mm apart)."""
    abdomen = next(s for s in CATALOGUE if s.uid == THOMPSON_STUDY_UID)
    axial = replace(abdomen.series[1], count=100, first=-160.0, step=3.0, uid="", sop_uids=())
    return replace(abdomen, uid=CT100_UID, accession="CT100", series=(axial,))


@pytest.fixture(scope="session")
def viewer_dir() -> Path:
    """The installed OHIF (``openvna viewer install``, as .ci/run does); installed here if it
    is not there yet (it needs the npm registry)."""
    root = Path(os.environ.get("OPENVNA_VIEWER__DIR") or default_dir())
    if installed(root) is None:
        install(root)
    return root


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One chromium a module: sync Playwright runs its event loop on this thread while it is
    open, so it is closed before the tests of another module (asyncio.run) run here."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("the Debian chromium is needed: apt-get install chromium (as .ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=[
                "--no-sandbox",
                "--use-gl=angle",
                "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the demo and the 100-slice CT, made once: a loaded machine may
    take longer to generate them than a server start is given."""
    data = tmp_path_factory.mktemp("browser-demo")
    archive = build_archive(load_settings(None, {"storage": {"data_dir": data}}, environ={}))
    try:
        load_demo(archive)
        store_study(archive, ct100_study())
    finally:
        archive.close()
    return data


@pytest.fixture(scope="module")
def demo_server(
    tmp_path_factory: pytest.TempPathFactory, viewer_dir: Path, demo_data: Path
) -> Iterator[tuple[str, str]]:
    """``openvna serve --demo`` (over a copy of ``demo_data``: the explorer's tests change it),
    serving the installed viewer, whose IID page another origin may embed; yields (base URL,
    embedding origin)."""
    data = tmp_path_factory.mktemp("browser-data") / "data"
    shutil.copytree(demo_data, data)
    parent = f"http://127.0.0.1:{_parent_port()}"
    env = {
        "OPENVNA_VIEWER__DIR": str(viewer_dir),
        "OPENVNA_VIEWER__FRAME_ANCESTORS": f'["\'self\'", "{parent}"]',
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        with serve_process(data, "--demo", "--workers", "1", headers={"apikey": KEY}) as (url, _):
            yield url.removesuffix("/dicomweb"), parent
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_PARENT_PORT: list[int] = []


def _parent_port() -> int:
    from tests.processes import free_port

    if not _PARENT_PORT:
        _PARENT_PORT.append(free_port())
    return _PARENT_PORT[0]


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.set_default_navigation_timeout(TIMEOUT_MS)
    try:
        yield page
    finally:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        name = request.node.name.replace("/", "_").replace("[", "_").replace("]", "")
        try:
            page.screenshot(path=str(ARTEFACTS / f"{name}.png"))
        finally:
            context.close()


def pixels(target: Locator | Page) -> np.ndarray:
    """A screenshot of an element (or the page) as a grey array."""
    return np.asarray(Image.open(io.BytesIO(target.screenshot())).convert("L"), dtype=np.int16)


def parent_port() -> int:
    return _parent_port()
