"""Viewer bench (issue 11): how long after the IID URL is opened the OHIF viewer served by openvna
shows the first image of the 500-slice bench CT, in headless Chromium (the Debian ``chromium``
driven by Playwright), on loopback.

    python -m bench.viewer [--runs 5] [--slices 500]

The CT is the bench's ``big`` study (512x512 16-bit, ``bench/dataset.py``), imported into a
fresh data directory; ``openvna serve`` runs with one HTTP worker and an API key, the viewer as
installed by ``openvna viewer install``. Each run is a new browser context (cold cache, new
session cookie). "First image" is when the active viewport's canvas shows an image: a spread of
grey levels in a screenshot of it. "First image drawn" is the same test made inside the page on
the canvas's own pixels every 50 ms: a screenshot needs a new frame from a renderer that is busy
fetching and decoding the next slices, so it can see the image a second or more after it was
drawn. The timeline of one run (app scripts, first QIDO-RS, series metadata, first frame) shows
where the time goes. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import Browser, sync_playwright

from bench.dataset import SEED, Writer, write_ct
from bench.servers import Process, free_port, wait_http

KEY = "bench-viewer-key"
TIMEOUT = 90.0


def _drawn(png: bytes) -> bool:
    image = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.int16)
    return bool(image.std() > 12 and np.ptp(image) > 80)


# Records (epoch ms) when the first cornerstone canvas first holds an image, by _drawn's test.
_DRAWN_IN_PAGE = """
(() => {
  const poll = () => {
    const canvas = document.querySelector("canvas.cornerstone-canvas");
    if (canvas && canvas.width > 0) {
      const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0, sum = 0, squares = 0, low = 255, high = 0;
      for (let i = 0; i < data.length; i += 4 * 97) {
        const v = (data[i] * 299 + data[i + 1] * 587 + data[i + 2] * 114) / 1000;
        n++; sum += v; squares += v * v; low = Math.min(low, v); high = Math.max(high, v);
      }
      if (Math.sqrt(squares / n - (sum / n) ** 2) > 12 && high - low > 80) {
        window.__firstImageDrawn = performance.timeOrigin + performance.now();
        return;
      }
    }
    setTimeout(poll, 50);
  };
  poll();
})();
"""


def _open(browser: Browser, url: str) -> dict[str, float]:
    """One cold open: seconds to the first image, and to the milestones on the way."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.add_init_script(_DRAWN_IN_PAGE)
    marks: dict[str, float] = {}
    started, wall = time.monotonic(), time.time()

    def seen(request_url: str) -> None:
        now = time.monotonic() - started
        for name, part in (
            ("app bundle", "/viewer/app.bundle."),
            ("first QIDO-RS", "/dicomweb/studies"),
            ("series metadata", "/metadata"),
            ("first frame", "/frames/"),
        ):
            if part in request_url and name not in marks:
                marks[name] = now

    page.on("requestfinished", lambda request: seen(request.url))
    page.goto(url)
    canvas = page.locator("canvas.cornerstone-canvas").first
    canvas.wait_for(timeout=TIMEOUT * 1000)
    while not _drawn(canvas.screenshot()):
        if time.monotonic() - started > TIMEOUT:
            break  # counted as a run without a first image
        time.sleep(0.02)
    else:
        marks["first image"] = time.monotonic() - started
        drawn = page.evaluate("window.__firstImageDrawn")
        if drawn:
            marks["first image drawn"] = drawn / 1000 - wall
    context.close()
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--slices", type=int, default=500)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="openvna-bench-viewer-"))
    openvna = [sys.executable, "-m", "openvna"]
    try:
        writer = Writer(work / "files", "big")
        study = write_ct(writer, "big", args.slices, np.random.default_rng(SEED)).uid
        data = work / "data"
        subprocess.run(
            [*openvna, "import", str(work / "files"), "--data-dir", str(data)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run([*openvna, "viewer", "install"], check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        env = {
            "OPENVNA_AUTH__API_KEYS": f'["{KEY}"]',
            "OPENVNA_DIMSE__PROCESSES": "0",
            "OPENVNA_INDEX__URL": "",
        }
        server = Process.spawn(
            "openvna",
            [*openvna, "serve", "--port", str(port), "--data-dir", str(data), "--workers", "1"],
            work / "openvna.log",
            env=env,
        )
        try:
            wait_http(server, port, "/fhir/metadata")  # open even with keys
            url = (
                f"http://127.0.0.1:{port}/IHEInvokeImageDisplay?requestType=STUDY"
                f"&studyUID={study}&apikey={KEY}"
            )
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=shutil.which("chromium"),
                    args=[
                        "--no-sandbox",
                        "--use-gl=angle",
                        "--use-angle=swiftshader",
                        "--enable-unsafe-swiftshader",
                    ],
                )
                runs = [_open(browser, url) for _ in range(args.runs)]
                browser.close()
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()[0]
    shown = sum("first image" in run for run in runs)
    print(
        f"{args.slices}-slice CT, {args.runs} cold opens ({shown} showed an image within "
        f"{TIMEOUT:.0f} s), load average {load:.1f}\n"
    )
    print("| from opening the IID URL to | median s | min s | max s |")
    print("| --- | --- | --- | --- |")
    milestones = ("app bundle", "first QIDO-RS", "series metadata", "first frame")
    for name in (*milestones, "first image drawn", "first image"):
        values = [run[name] for run in runs if name in run]
        if values:
            print(
                f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} "
                f"| {max(values):.2f} |"
            )


if __name__ == "__main__":
    main()
