"""A process that went idle gives its heap's free pages back (``server.idle``), which glibc
alone keeps under the supervisor's malloc settings when what was freed is not at the heap's
top."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from openvna.server.supervisor import MALLOC_SETTINGS

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists() or sys.platform != "linux", reason="reads /proc, glibc"
)

# 128 blocks of 1 MB from the heap (under the 8 MB mmap threshold), each followed by a small
# block that stays: once the big ones are freed, the free memory is in the middle of the heap,
# where no automatic trim reaches. The process then works for 0.3 s of CPU, as a request would
# (the allocations alone can take under ``IDLE_CPU`` in each period when the machine's memory is
# warm, and count as idle), and idles.
_CHILD = """
import sys, time
from openvna.server.idle import release_when_idle
trim = "--trim" in sys.argv
if trim:
    release_when_idle()
big, keep = [], []
for _ in range(128):
    big.append(bytearray(1 << 20))
    keep.append(bytearray(2048))
del big
start = time.process_time()
while time.process_time() - start < 0.3:
    pass
print("freed", flush=True)
time.sleep(60)
"""


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _idle_child(*args: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **MALLOC_SETTINGS},
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "freed"
    return child


def _rss_after(child: subprocess.Popen[str], seconds: float) -> int:
    """The child's smallest RSS over ``seconds`` (a deadline for a change, not a timing)."""
    deadline = time.monotonic() + seconds
    smallest = _rss_kb(child.pid)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        smallest = min(smallest, _rss_kb(child.pid))
    return smallest


def test_freed_memory_in_the_heap_goes_back_once_the_process_is_idle() -> None:
    kept, trimmed = _idle_child(), _idle_child("--trim")
    try:
        # Both hold the freed 128 MB at first; only the trimmed one lets it go.
        assert _rss_after(kept, 4) > 120_000
        assert _rss_after(trimmed, 4) < 80_000
    finally:
        for child in (kept, trimmed):
            child.kill()
            child.communicate()
