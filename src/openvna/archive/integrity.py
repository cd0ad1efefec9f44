"""The store's integrity: what a crash left behind, and the index and blob store compared.

``recover`` runs whenever an archive is opened (every server process, every command): it
removes the spool of processes that died and the blobs they were placing that the index never
got (``storage.inflight`` keeps exactly those). It reads only what the dead left, so it costs
nothing on a clean start.

``check`` (``openvna check``) compares everything: index rows whose blob is missing or of
another size, and blobs no row names (strays: left by a crash before this recovery existed, or
copied in by hand). It is safe on a live server's data directory: it lists the blobs first,
then the keys live processes are placing, then the index, so a store that completes meanwhile
is in the index or in flight when looked for, never taken for a stray. ``repair`` quarantines
strays (``quarantine/`` in the data directory, for the operator to re-import or delete) and
removes rows whose blob is gone (the object cannot be served; its metadata alone is not the
object). A blob of the wrong size is reported, not repaired: which side is right needs a person.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from openvna.archive.ingest import sop_of_key
from openvna.index import Index
from openvna.index.inventory import IndexedBlob, indexed_blobs, indexed_keys
from openvna.storage import BlobStore

__all__ = ["CheckReport", "Finding", "Problem", "check", "recover"]

log = logging.getLogger("openvna.archive")


class Problem(Enum):
    MISSING_BLOB = "missing blob"
    WRONG_SIZE = "wrong size"
    CHECKSUM_MISMATCH = "checksum mismatch"
    STRAY_BLOB = "stray blob"


@dataclass(frozen=True)
class Finding:
    """One disagreement between the index and the blob store, and what repair did about it."""

    problem: Problem
    key: str
    detail: str
    repaired: str = ""


@dataclass
class CheckReport:
    instances: int = 0
    blobs: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def unrepaired(self) -> list[Finding]:
        return [finding for finding in self.findings if not finding.repaired]


def recover(index: Index, blobs: BlobStore) -> int:
    """Remove what dead processes left: their spool files, and the blobs they were placing
    that the index does not name. Returns how many blobs were removed."""
    found = blobs.leftovers()
    removed = 0
    if found.placing:
        sops = [sop_of_key(key) for key in found.placing]
        kept = index.run_read(lambda conn: indexed_keys(conn, sops))
        for key in found.placing:
            if key not in kept:
                blobs.delete(key)
                removed += 1
    blobs.clear_leftovers(found)
    if found.paths or removed:
        log.info(
            "removed what stopped processes left",
            extra={"spool_entries": len(found.paths), "stray_blobs": removed},
        )
    return removed


def check(
    index: Index,
    blobs: BlobStore,
    repair: bool = False,
    remove_row: Callable[[IndexedBlob], None] | None = None,
    verify_checksums: bool = False,
) -> CheckReport:
    """Compare the index with the blob store; with ``repair`` fix what can be fixed
    (``remove_row`` deletes an instance's row: the archive's delete); ``verify_checksums``
    reads every blob and compares its checksum with the one taken at ingest (a mismatch is
    reported, not repaired: the bytes are damaged and only a copy elsewhere can help)."""
    on_disk = dict(blobs.inventory())
    in_flight = blobs.in_flight()
    rows = index.run_read(indexed_blobs)
    report = CheckReport(instances=len(rows), blobs=len(on_disk))
    named = set()
    for row in rows:
        named.add(row.key)
        size = on_disk.get(row.key)
        where = f"instance {row.sop} (study {row.study}, series {row.series})"
        if size is None:
            repaired = ""
            if repair and remove_row is not None:
                remove_row(row)
                repaired = "row removed"
            detail = f"{where}: blob {row.key} is missing"
            report.findings.append(Finding(Problem.MISSING_BLOB, row.key, detail, repaired))
        elif size != row.size:
            detail = f"{where}: blob {row.key} holds {size} bytes, the index says {row.size}"
            report.findings.append(Finding(Problem.WRONG_SIZE, row.key, detail))
        elif verify_checksums and row.checksum is not None:
            now = blobs.checksum(row.key)
            if now != row.checksum:
                detail = f"{where}: blob {row.key} has checksum {now}, at ingest {row.checksum}"
                report.findings.append(Finding(Problem.CHECKSUM_MISMATCH, row.key, detail))
    for key, size in sorted(on_disk.items()):
        if key in named or key in in_flight:
            continue
        repaired = ""
        if repair:
            kept = blobs.quarantine(key)
            repaired = f"quarantined to {kept}" if kept else "removed"
        detail = f"blob {key} ({size} bytes) is named by no index row"
        report.findings.append(Finding(Problem.STRAY_BLOB, key, detail, repaired))
    return report
