"""The registry of remote DICOM nodes: who may store, query and retrieve here, and where C-MOVE
sends (issue 9, "Remote nodes").

Two sources, one view: the nodes of the settings (``dimse.remotes``, read-only here) and those
added through the admin REST API, kept in ``remotes.json`` in the data directory so that every
process (the DIMSE and HTTP workers of one ``serve``) sees the same registry. A node added through
the API with the AE title of a configured one overrides it. The file is rewritten whole (a
temporary file and ``os.replace``) and read again when its modification time changes, so that a
node added through one process is known to the others at their next association.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import TypeAdapter, ValidationError

from openvna.errors import BadRequest, NotFound
from openvna.settings import RemoteNode

__all__ = ["REMOTES_FILE", "RemoteRegistry", "Right"]

REMOTES_FILE = "remotes.json"
Right = Literal["store", "query", "retrieve"]
_NODES = TypeAdapter(list[RemoteNode])


class RemoteRegistry:
    """Remote AEs by title; ``allow_unknown`` gives a title that is not listed every right."""

    def __init__(self, configured: Sequence[RemoteNode], data_dir: Path, allow_unknown: bool):
        self._configured = {node.aet: node for node in configured}
        self._path = Path(data_dir) / REMOTES_FILE
        self.allow_unknown = allow_unknown
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._added: dict[str, RemoteNode] = {}

    def nodes(self) -> list[RemoteNode]:
        """Every known node, configured ones first, by AE title."""
        added = self._read()
        merged = {**self._configured, **added}
        return [merged[aet] for aet in sorted(merged)]

    def get(self, aet: str) -> RemoteNode | None:
        return self._read().get(aet) or self._configured.get(aet)

    def may(self, aet: str, right: Right) -> bool:
        """Whether the node calling as ``aet`` has ``right``."""
        node = self.get(aet.strip())
        if node is None:
            return self.allow_unknown
        return bool(getattr(node, right))

    def is_configured(self, aet: str) -> bool:
        """A node of the settings file or environment (the API cannot remove those)."""
        return aet in self._configured and aet not in self._read()

    def put(self, node: RemoteNode) -> bool:
        """Add or replace a node; True when it was new."""
        with self._lock:
            added = dict(self._read_locked())
            new = node.aet not in added and node.aet not in self._configured
            added[node.aet] = node
            self._write(added)
        return new

    def delete(self, aet: str) -> None:
        """Remove a node added through the API; NotFound otherwise, BadRequest for a node of
        the settings (edit those where they are configured)."""
        with self._lock:
            added = dict(self._read_locked())
            if aet not in added:
                if aet in self._configured:
                    raise BadRequest(f"{aet} is configured in the settings (dimse.remotes)")
                raise NotFound(f"no remote node {aet}")
            del added[aet]
            self._write(added)

    def _read(self) -> dict[str, RemoteNode]:
        with self._lock:
            return self._read_locked()

    def _read_locked(self) -> dict[str, RemoteNode]:
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            self._seen, self._added = None, {}
            return self._added
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._seen:
            try:
                nodes = _NODES.validate_json(self._path.read_bytes())
            except (OSError, ValidationError, ValueError):
                nodes = []  # a file broken by hand: the configured nodes still hold
            self._added = {node.aet: node for node in nodes}
            self._seen = stamp
        return self._added

    def _write(self, added: dict[str, RemoteNode]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps([node.model_dump() for node in added.values()], indent=1)
        fd, name = tempfile.mkstemp(dir=self._path.parent, prefix=".remotes-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(body)
            os.replace(name, self._path)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        self._seen = None  # read back: another process may write at the same mtime tick
