"""A bounded cache of rendered images: by entries and by bytes, least recently used out first.

Rendering a frame decodes it, runs the LUT pipeline and encodes it; the same frame with the same
parameters (a viewer's thumbnails, a grid of series) is asked for again and again, so the bytes
are kept. The bounds are both a count and a size, so neither many small thumbnails nor a few large
PNGs can grow the process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["RenderCache"]


class RenderCache:
    """Thread-safe LRU of ``bytes`` values bounded by ``max_entries`` and ``max_bytes``."""

    def __init__(self, max_entries: int = 2048, max_bytes: int = 64 << 20) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._items[key] = value
            self._bytes += len(value)
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size(self) -> int:
        """The bytes held."""
        return self._bytes
