"""`openvna serve` says where the explorer and the viewer are when it starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.processes import free_port

pytestmark = pytest.mark.integration


def _listening_line(data: Path, viewer: Path) -> dict[str, object]:
    port = free_port()
    env = {**os.environ, "OPENVNA_INDEX__URL": "", "OPENVNA_VIEWER__DIR": str(viewer)}
    command = [sys.executable, "-m", "openvna", "serve", "--port", str(port), "--workers", "1"]
    process = subprocess.Popen(
        [*command, "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    found: list[dict[str, object]] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if '"openvna listening"' in line:
                found.append(json.loads(line))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(60)
    process.terminate()
    process.wait(20)
    assert found, "no 'openvna listening' line within a minute"
    line = found[0]
    assert line["explorer"] == f"http://127.0.0.1:{port}/ui"
    line["port"] = port
    return line


def test_urls_of_explorer_and_viewer(tmp_path: Path) -> None:
    viewer = tmp_path / "viewer"
    (viewer / "1.0.0").mkdir(parents=True)
    (viewer / "1.0.0" / "index.html").write_text("<!doctype html>")
    (viewer / "current").write_text("1.0.0")
    line = _listening_line(tmp_path / "data", viewer)
    assert line["viewer"] == f"http://127.0.0.1:{line['port']}/viewer/"


def test_a_missing_viewer_says_how_to_install_it(tmp_path: Path) -> None:
    line = _listening_line(tmp_path / "data", tmp_path / "no-viewer")
    assert line["viewer"] == "not installed: openvna viewer install"
