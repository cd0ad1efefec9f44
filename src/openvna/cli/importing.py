"""The work of ``openvna import`` (declared in ``import_.py``, which imports this module only
when the command runs: it needs the archive stack).

Each file is copied into the blob store's spool directory and handed to ``Archive.store_file``,
the same store path as STOW-RS and C-STORE, so an imported file is validated and indexed the same
way.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from openvna.archive import Archive, Origin, StoreOutcome, StoreStatus
from openvna.archive.outcome import (
    CANNOT_UNDERSTAND,
    DATASET_DOES_NOT_MATCH,
    DUPLICATE_SOP_INSTANCE,
    OUT_OF_RESOURCES,
    PROCESSING_FAILURE,
    SOP_CLASS_NOT_SUPPORTED,
)
from openvna.errors import ArchiveError
from openvna.runtime import build_archive
from openvna.settings import Settings

__all__ = ["files_under", "import_files"]

# Failure reasons (PS3.4 B.2.3, PS3.18 Table 10.5.3-2) in words a person importing files reads.
_REASONS = {
    CANNOT_UNDERSTAND: "not DICOM or damaged",
    DATASET_DOES_NOT_MATCH: "missing or invalid UIDs",
    DUPLICATE_SOP_INSTANCE: "already stored (reject policy)",
    SOP_CLASS_NOT_SUPPORTED: "SOP class not supported",
    OUT_OF_RESOURCES: "out of resources",
    PROCESSING_FAILURE: "processing failure",
}
# A DICOMDIR (PS3.10 §8.6) indexes the files beside it; it is no instance to store.
_DICOMDIR = "DICOMDIR"
_SHOWN_FAILURES = 20


@dataclass
class _Tally:
    statuses: Counter[StoreStatus] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[Path, str]] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)

    def fail(self, path: Path, reason: str, message: str) -> None:
        self.statuses[StoreStatus.FAILED] += 1
        self.reasons[reason] += 1
        self.failures.append((path, message))

    def record(self, path: Path, outcome: StoreOutcome) -> None:
        if outcome.ok:
            self.statuses[outcome.status] += 1
            return
        code = outcome.failure_reason or 0
        reason = _REASONS.get(code, f"failure 0x{code:04X}")
        self.fail(path, reason, outcome.message)


def files_under(paths: list[Path]) -> Iterator[Path]:
    """Every file under ``paths``, in a stable order (folders walked recursively, sorted)."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for folder, dirs, names in os.walk(path):
            dirs.sort()
            for name in sorted(names):
                yield Path(folder) / name


def _import_file(archive: Archive, path: Path, tally: _Tally) -> None:
    """Store a copy of ``path`` (the file stays the user's)."""
    try:
        source = path.open("rb")
    except OSError as exc:
        tally.fail(path, "unreadable file", exc.strerror or str(exc))
        return
    try:
        with source:
            outcome = archive.store_stream(source, Origin.local("import"))
    except ArchiveError as exc:
        tally.fail(path, type(exc).__name__, exc.message)
        return
    tally.record(path, outcome)


def _import_all(archive: Archive, files: list[Path], console: Console) -> _Tally:
    tally = _Tally()
    columns = (
        TextColumn("Importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[failed]} failed"),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("import", total=len(files), failed=0)
        for path in files:
            if path.name.upper() == _DICOMDIR:
                tally.skipped.append(path)
            else:
                _import_file(archive, path, tally)
            failed = tally.statuses[StoreStatus.FAILED]
            progress.update(task, advance=1, failed=failed)
    return tally


def _summary(tally: _Tally, total: int) -> list[str]:
    statuses = tally.statuses
    done = [
        f"{statuses[StoreStatus.STORED]} stored",
        f"{statuses[StoreStatus.REPLACED]} replaced",
    ]
    if statuses[StoreStatus.KEPT_EXISTING]:
        done.append(f"{statuses[StoreStatus.KEPT_EXISTING]} already stored (kept)")
    lines = [f"{total} files: " + ", ".join(done) + "."]
    if tally.skipped:
        lines.append(f"{len(tally.skipped)} skipped: DICOMDIR ({len(tally.skipped)})")
    if tally.failures:
        grouped = ", ".join(f"{reason} ({n})" for reason, n in tally.reasons.most_common())
        lines.append(f"{len(tally.failures)} failed: {grouped}")
        for path, message in tally.failures[:_SHOWN_FAILURES]:
            lines.append(f"  {path}: {message}")
        if len(tally.failures) > _SHOWN_FAILURES:
            lines.append(f"  ... and {len(tally.failures) - _SHOWN_FAILURES} more")
    return lines


def import_files(settings: Settings, files: list[Path]) -> tuple[list[str], bool]:
    """Store ``files`` into the archive; the summary lines to print and whether any failed."""
    archive = build_archive(settings)
    try:
        tally = _import_all(archive, files, Console(stderr=True))
    finally:
        archive.close()
    return _summary(tally, len(files)), bool(tally.failures)
