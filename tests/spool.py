"""What a store leaves in the spool."""

from __future__ import annotations

from pathlib import Path


def spool_left(directory: Path) -> list[Path]:
    """The files left under ``directory`` (a process's spool directory, the spool root, a data
    directory), but for the blank ``placing-*`` records the blob store keeps for its next
    batches (``storage.inflight.PlacingRecords``); a record that still names keys is listed."""
    return sorted(
        path
        for path in directory.rglob("*")
        if path.is_file() and not (path.name.startswith("placing-") and _blank(path))
    )


def _blank(path: Path) -> bool:
    return not path.read_bytes().strip()
