"""The bench runner when a server dies mid-row: the reference is restarted, openvna fails the run.

Debian 12's Orthanc with its GDCM plugin segfaults after a few JPEG 2000 transcodes; CI's smoke
run must go on measuring (and pass) when the reference dies, yet still fail when openvna does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench import report, runner, servers
from bench.registry import Context, Measurement, Target
from bench.report import Row

# A child that dies the way Orthanc does: by SIGSEGV.
SEGFAULT = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]


def _dead_server(name: str, tmp_path: Path) -> servers.Server:
    process = servers.Process.spawn(name, SEGFAULT, tmp_path / f"{name}.log")
    process.popen.wait(10)
    return servers.Server(name, 1, "/dicomweb", process, tmp_path)


def _row(func_result: list[float] | None) -> Row:
    def func(ctx: Context, server: servers.Server, rep: int) -> list[float]:
        if func_result is None:
            raise ConnectionResetError("Remote end closed connection without response")
        return func_result

    return Row(Measurement("row", Target(">= 1x", ratio=1.0), "MB/s", True, func))


def test_a_dead_process_says_which_signal_killed_it(tmp_path: Path) -> None:
    server = _dead_server("orthanc", tmp_path)
    assert server.process.death() == "signal 11 (SIGSEGV)"


def test_the_reference_dying_is_noted_and_restarted_not_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    restarted: list[str] = []
    monkeypatch.setattr(servers, "restart_orthanc", lambda s: restarted.append(s.name))
    server = _dead_server("orthanc", tmp_path)
    row = _row(None)
    runner.run_rep(None, row.measurement, server, 0, row)  # type: ignore[arg-type]
    assert restarted == ["orthanc"]
    assert row.crashes == {"orthanc": ["signal 11 (SIGSEGV)"]}
    assert report.failed([row]) == []
    assert report._cell(row, "orthanc") == "died 1x"
    text = report.markdown([row], {"date": "now"})
    assert "[orthanc]: the server died (signal 11 (SIGSEGV)) and was restarted" in text


def test_openvna_dying_fails_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servers, "restart_orthanc", lambda s: pytest.fail("must not restart"))
    server = _dead_server("openvna", tmp_path)
    row = _row(None)
    runner.run_rep(None, row.measurement, server, 0, row)  # type: ignore[arg-type]
    assert row.crashes == {}
    assert report.failed([row]) == [
        "row [openvna]: ConnectionResetError: Remote end closed connection without response"
    ]


def test_finished_repetitions_keep_their_figure_beside_the_deaths(tmp_path: Path) -> None:
    server = _dead_server("orthanc", tmp_path)
    row = _row([2.0, 4.0])
    runner.run_rep(None, row.measurement, server, 0, row)  # type: ignore[arg-type]
    row.crashes["orthanc"] = ["signal 11 (SIGSEGV)"]
    assert report._cell(row, "orthanc").endswith(", died 1x")
    assert row.stats("orthanc") is not None


def _waits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scans: bool) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(runner, "_skips_recently_freed", lambda path: scans)
    monkeypatch.setattr(runner.time, "sleep", slept.append)
    notes: list[str] = []
    runner.wait_for_freed_inodes(tmp_path, notes)
    assert len(notes) == len(slept)
    return slept


def test_a_run_after_a_recent_clean_up_waits_until_the_freed_inodes_are_old_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / runner._FREED_STAMP).write_text(f"{runner.time.time() - 50}\n")
    [slept] = _waits(tmp_path, monkeypatch, scans=True)
    assert runner.FREED_INODES_WAIT - 50 - 2 < slept <= runner.FREED_INODES_WAIT - 50


def test_no_wait_without_a_recent_clean_up_or_on_a_file_system_that_does_not_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _waits(tmp_path, monkeypatch, scans=True) == []  # no earlier run
    (tmp_path / runner._FREED_STAMP).write_text(f"{runner.time.time() - 120}\n")
    assert _waits(tmp_path, monkeypatch, scans=True) == []  # long ago
    (tmp_path / runner._FREED_STAMP).write_text(f"{runner.time.time()}\n")
    assert _waits(tmp_path, monkeypatch, scans=False) == []  # journaled ext4, tmpfs...


def test_a_path_on_no_block_device_is_not_taken_for_one_that_scans() -> None:
    assert not runner._skips_recently_freed(Path("/proc"))
