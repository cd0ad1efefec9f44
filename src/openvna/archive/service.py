"""The Archive: one store behind every door (Orthanc's ServerContext::Store, in small).

Store order (dicom-server's StoreOrchestrator): parse the header → validate → write the blob under
a fresh key → index in one transaction → only then drop a replaced blob. A failure at any step
removes what this call wrote, so nothing is half-stored and nothing stored before is lost.

A batch (``store_files``: the Part 10 instances of one STOW-RS request) runs each step for all its
instances before the next: the blob moves (one directory fsync per directory), then one index
transaction (one commit and one recount of each touched series, study and patient per batch).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pydicom import Dataset

from openvna.archive.ingest import Checked, check, place
from openvna.archive.outcome import (
    DUPLICATE_SOP_INSTANCE,
    Origin,
    StoreOutcome,
    StoreStatus,
)
from openvna.dicom.part10 import write_part10
from openvna.dicom.query import Query
from openvna.index import AddResult, FindResult, Index, InstanceLocation
from openvna.settings import DuplicatePolicy
from openvna.storage import BlobStore

__all__ = ["Archive"]

log = logging.getLogger("openvna.archive")


class Archive:
    def __init__(
        self, index: Index, blobs: BlobStore, duplicates: DuplicatePolicy = DuplicatePolicy.REPLACE
    ) -> None:
        self.index = index
        self.blobs = blobs
        self.duplicates = duplicates

    def close(self) -> None:
        self.index.close()

    # -- store ---------------------------------------------------------------------------------

    def store_file(
        self, path: Path, origin: Origin, expect_study: str | None = None
    ) -> StoreOutcome:
        """Store a Part 10 file; takes ownership of ``path`` (moved into the store or removed)."""
        return self.store_files([path], origin, expect_study)[0]

    def store_files(
        self, paths: Sequence[Path], origin: Origin, expect_study: str | None = None
    ) -> list[StoreOutcome]:
        """Store several Part 10 files as one batch; takes ownership of every path.

        Each instance is validated and answered on its own (outcomes in the order of
        ``paths``); the valid ones are indexed in one transaction, so an index failure stores
        none of them (their blobs are removed) and propagates.
        """
        try:
            checked = [check(path, expect_study) for path in paths]
            valid = [item for item in checked if isinstance(item, Checked)]
            placed = place(self.blobs, valid)
            indexed = iter(self._index([p for p in placed if isinstance(p, Checked)], origin))
            placed_in_order = iter(placed)
            outcomes = []
            for item in checked:
                step = next(placed_in_order) if isinstance(item, Checked) else item
                outcomes.append(next(indexed) if isinstance(step, Checked) else step)
            return outcomes
        finally:
            for path in paths:
                path.unlink(missing_ok=True)

    def store_dataset(
        self, ds: Dataset, origin: Origin, expect_study: str | None = None
    ) -> StoreOutcome:
        """Store a dataset built in memory (STOW metadata + bulk data, demo, generated objects)."""
        fd, name = tempfile.mkstemp(dir=self.blobs.spool_dir(), suffix=".dcm")
        os.close(fd)
        try:
            write_part10(ds, Path(name))
        except Exception:
            Path(name).unlink(missing_ok=True)
            raise
        return self.store_file(Path(name), origin, expect_study)

    def _index(self, ready: list[Checked], origin: Origin) -> list[StoreOutcome]:
        """Index the placed blobs in one transaction; on failure remove them all."""
        if not ready:
            return []
        replace = self.duplicates is DuplicatePolicy.REPLACE
        try:
            results = self.index.add_instances([item.record for item in ready], replace=replace)
        except BaseException:
            for item in ready:
                self.blobs.delete(item.record.blob_key)
            raise
        return [self._answer(i, r, origin) for i, r in zip(ready, results, strict=True)]

    def _answer(self, item: Checked, result: AddResult, origin: Origin) -> StoreOutcome:
        """The outcome of one indexed instance; drops the blob the index no longer needs."""
        uids = item.uids
        if not result.stored:
            self.blobs.delete(item.record.blob_key)
            if self.duplicates is DuplicatePolicy.REJECT:
                message = f"SOP Instance {uids['sop_instance_uid']} is already stored"
                return StoreOutcome.failed(DUPLICATE_SOP_INSTANCE, message, **uids)
            return StoreOutcome(StoreStatus.KEPT_EXISTING, message="already stored; kept", **uids)
        if result.old_blob_key and result.old_blob_key != item.record.blob_key:
            self.blobs.delete(result.old_blob_key)
        log.debug("stored %s from %s", uids["sop_instance_uid"], origin.door)
        status = StoreStatus.REPLACED if result.existed else StoreStatus.STORED
        return StoreOutcome(status, **uids)

    # -- find, retrieve, delete ------------------------------------------------------------------

    def find(self, query: Query) -> FindResult:
        return self.index.find(query)

    def locate(
        self, study: str, series: str | None = None, sop: str | None = None
    ) -> list[InstanceLocation]:
        return self.index.locate(study, series, sop)

    def metadata(self, study: str, series: str | None = None, sop: str | None = None) -> bytes:
        return self.index.metadata(study, series, sop)

    def delete(self, study: str, series: str | None = None, sop: str | None = None) -> int:
        """Remove rows first, then blobs: a crash in between leaves orphan files, never rows
        pointing at missing files. Returns the number of instances removed."""
        keys = self.index.delete(study, series, sop)
        for key in keys:
            self.blobs.delete(key)
        return len(keys)
