"""Run a coroutine to its end from a synchronous test, whatever the test's thread is doing."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a thread of its own: on the main thread it fails when a session
    fixture keeps an event loop running there (Playwright's sync API does, for the browser
    tests sharing an xdist worker)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
