"""OHIF served by openvna, opened through IHE Invoke Image Display in headless Chromium: the
images are drawn (non-blank canvas pixels), a 100-slice CT scrolls, window/level follows a drag,
the IID page works inside an iframe of another origin that ``frame_ancestors`` allows (and is
blocked for one it does not), and without the key nothing but a credentials page is shown."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from playwright.sync_api import FrameLocator, Locator, Page

from openvna.demo.patients import JOE_STUDY_UID
from tests.browser.conftest import CT100_UID, KEY, TIMEOUT_MS, parent_port, pixels
from tests.processes import free_port

pytestmark = pytest.mark.browser

IID = "/IHEInvokeImageDisplay"


def _until(check: Callable[[], bool], what: str, seconds: float = TIMEOUT_MS / 1000) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    pytest.fail(f"timed out waiting until {what}")


def _drawn(image: np.ndarray) -> bool:
    """An image, not a blank or uniform canvas: a spread of grey levels."""
    return bool(image.std() > 12 and np.ptp(image) > 80)


def _viewport(page: Page | FrameLocator) -> Locator:
    """The active viewport's canvas once it shows an image (the onboarding tour dismissed)."""
    canvas = page.locator("canvas.cornerstone-canvas").first
    canvas.wait_for(state="visible", timeout=TIMEOUT_MS)
    skip = page.get_by_text("Skip all")
    if skip.count() and skip.first.is_visible():
        skip.first.click()
    _until(lambda: _drawn(pixels(canvas)), "the viewport shows an image")
    return canvas


def _slice_label(page: Page) -> str:
    return page.get_by_text("/100", exact=False).first.inner_text()


def test_iid_study_draws_the_chest_image(page: Page, demo_server) -> None:
    base, _ = demo_server
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    started = time.monotonic()
    page.goto(f"{base}{IID}?requestType=STUDY&studyUID={JOE_STUDY_UID}&apikey={KEY}")
    _viewport(page)
    print(f"first image {time.monotonic() - started:.2f} s after the IID URL was opened")
    assert "apikey" not in page.url
    assert page.url.startswith(f"{base}/viewer/viewer?StudyInstanceUIDs={JOE_STUDY_UID}")
    assert failed == []


def test_iid_patient_opens_the_patients_studies(page: Page, demo_server) -> None:
    base, _ = demo_server
    page.goto(f"{base}{IID}?requestType=PATIENT&patientID=siimjoe&apikey={KEY}")
    _viewport(page)
    assert JOE_STUDY_UID in page.url
    assert page.get_by_text("XR CHEST PA AND LATERAL").first.is_visible()


def test_a_100_slice_ct_scrolls(page: Page, demo_server) -> None:
    base, _ = demo_server
    page.goto(f"{base}{IID}?requestType=STUDY&accessionNumber=CT100&apikey={KEY}")
    canvas = _viewport(page)
    before = pixels(canvas)
    label = _slice_label(page)
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(12):
        page.mouse.wheel(0, 120)
        time.sleep(0.05)
    _until(lambda: _slice_label(page) != label, "the slice number changes")
    _until(
        lambda: float(np.abs(pixels(canvas) - before).mean()) > 1.0,
        "the viewport shows another slice",
    )
    assert CT100_UID in page.url


def test_dragging_changes_window_and_level(page: Page, demo_server) -> None:
    base, _ = demo_server
    page.goto(f"{base}{IID}?requestType=STUDY&accessionNumber=CT100&apikey={KEY}")
    canvas = _viewport(page)
    overlay = page.get_by_text("W:", exact=False).first.locator("xpath=..")  # "W: 700 L: 200"
    window_before = overlay.inner_text()
    before = pixels(canvas)
    box = canvas.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x + 15 * step, y + 8 * step)
    page.mouse.up()
    _until(lambda: overlay.inner_text() != window_before, "the W/L overlay changes")
    assert "L:" in window_before
    _until(
        lambda: float(np.abs(pixels(canvas) - before).mean()) > 2.0,
        "the pixels are redrawn with the new window",
    )


@pytest.fixture
def embedding_origin() -> Iterator[Callable[[int, str], str]]:
    """Serve a page that holds the IID URL in an iframe, on a port (another origin)."""
    servers: list[ThreadingHTTPServer] = []

    def start(port: int, iid_url: str) -> str:
        html = (
            "<!doctype html><title>EHR</title><h1>EHR page</h1>"
            f"<iframe id='viewer' src='{iid_url}' width='1100' height='760'></iframe>"
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(html)))
                self.end_headers()
                self.wfile.write(html)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{port}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_iid_in_an_iframe_of_an_allowed_origin(page: Page, demo_server, embedding_origin) -> None:
    base, parent = demo_server
    iid = f"{base}{IID}?requestType=STUDY&studyUID={JOE_STUDY_UID}&apikey={KEY}"
    page.goto(embedding_origin(parent_port(), iid))
    assert parent.rstrip("/") != base
    _viewport(page.frame_locator("#viewer"))


def test_iid_in_an_iframe_of_another_origin_is_refused(
    page: Page, demo_server, embedding_origin
) -> None:
    base, _ = demo_server
    iid = f"{base}{IID}?requestType=STUDY&studyUID={JOE_STUDY_UID}&apikey={KEY}"
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "frame-ancestors" in m.text else None)
    page.goto(embedding_origin(free_port(), iid))
    _until(lambda: bool(blocked), "chromium reports the frame-ancestors refusal", 20)
    assert page.locator("canvas").count() == 0


def test_without_the_key_only_a_credentials_page(page: Page, demo_server) -> None:
    base, _ = demo_server
    response = page.goto(f"{base}{IID}?requestType=STUDY&studyUID={JOE_STUDY_UID}")
    assert response is not None and response.status == 401
    assert page.locator("canvas").count() == 0
    assert page.get_by_role("heading", name="Credentials required").is_visible()
    refused = page.request.get(f"{base}/dicomweb/studies/{JOE_STUDY_UID}/metadata")
    assert refused.status == 401
    viewer = page.request.get(f"{base}/viewer/viewer?StudyInstanceUIDs={JOE_STUDY_UID}")
    assert viewer.status == 401
    page.fill("input[name=apikey]", KEY)
    page.click("button[type=submit]")
    _viewport(page)
    assert "apikey" not in page.url
    allowed = page.request.get(f"{base}/dicomweb/studies/{JOE_STUDY_UID}/metadata")
    assert allowed.status == 200  # the session cookie, not the key
