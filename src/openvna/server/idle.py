"""Give the heap's free memory back to the kernel once a process has gone idle.

The supervisor starts every listener process with glibc's malloc keeping freed blocks up to 8 MB
in its heap and 32 MB free at the heap's top (``supervisor.MALLOC_SETTINGS``): a STOW-RS request
then reuses the pages the last one freed instead of faulting new ones in (~100 page faults a
512 KB instance otherwise). The price was that what a burst freed stayed resident: after the
bench's ingest rows, an HTTP worker kept ~25-30 MB it no longer used, a DIMSE process ~8 MB, and
the tree's memory while retrieving the 1 GB study was 303 MB (bench/RESULTS.md).

A thread of each process looks at the process's CPU time once a ``PERIOD``; when a period used
less than ``IDLE_CPU`` of it and the process has worked since the last trim, it calls glibc's
``malloc_trim(0)``, which returns free pages of every arena to the kernel (madvise). A busy
process is never trimmed, so the hot path keeps its reused pages; an idle one shrinks within
two periods of its last request. Without glibc (no ``malloc_trim``), nothing starts.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
from collections.abc import Callable

__all__ = ["IDLE_CPU", "PERIOD", "release_when_idle"]

PERIOD = 1.0  # seconds between two looks at the process's CPU time
# CPU seconds a period may use and still count as idle: a DIMSE process with no association
# uses ~22 ms a second (its UPS event poller and reactor timers); a busy one, most of a core.
IDLE_CPU = 0.05


def release_when_idle() -> threading.Thread | None:
    """Start the trimming thread of this process (a daemon); None without glibc."""
    trim = _malloc_trim()
    if trim is None:
        return None
    thread = threading.Thread(
        target=_watch, args=(trim, time.process_time), name="openvna-trim", daemon=True
    )
    thread.start()
    return thread


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    return trim


def _watch(trim: Callable[[int], int], cpu: Callable[[], float]) -> None:
    last = cpu()
    worked = False
    while True:
        time.sleep(PERIOD)
        now = cpu()
        if now - last >= IDLE_CPU:
            worked = True
        elif worked:
            trim(0)
            worked = False
        last = cpu()  # after the trim: its own CPU is not the process working again
