"""The Archive: one store behind every door (Orthanc's ServerContext::Store, in small).

Store order (dicom-server's StoreOrchestrator): parse the header → validate → write the blob under
a fresh key → index in one transaction → only then drop a replaced blob. A failure at any step
removes what this call wrote, so nothing is half-stored and nothing stored before is lost.

A batch (``batch``, ``store_files``: the Part 10 instances of one STOW-RS request) prepares each
instance as it is added (parse, validate, fsync: ``archive.batch``), then runs each remaining step
for all of them before the next: the blob moves (one directory fsync per directory), then one
index transaction (one commit and one recount of each touched series, study and patient).

Beside the store, the services every door shares: ``find`` (a ``Query`` at any level, streamed),
``retrieve`` (``StoredInstance`` and ``Content``: files, frames, bulk data, the zero-copy path and
the transcoding seam), ``metadata`` and ``delete``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import BinaryIO

from pydicom import Dataset

from openvna.archive.batch import Prepared, StoreBatch
from openvna.archive.ingest import Checked, check, place
from openvna.archive.integrity import CheckReport, recover
from openvna.archive.integrity import check as check_integrity
from openvna.archive.outcome import (
    CANNOT_UNDERSTAND,
    DATASET_DOES_NOT_MATCH_SOP_CLASS,
    DUPLICATE_SOP_INSTANCE,
    OUT_OF_RESOURCES,
    InstanceUIDs,
    Origin,
    StoreOutcome,
    StoreStatus,
)
from openvna.archive.retrieve import (
    Content,
    StoredInstance,
    Transcoder,
    instance_in,
    transcodable,
)
from openvna.archive.spool import (
    ENCODING_ERRORS,
    add_missing_preamble,
    spool_dataset,
    spool_stream,
)
from openvna.dicom.query import Query
from openvna.errors import OutOfResources
from openvna.index import AddResult, Index, Matches
from openvna.index.inventory import IndexedBlob
from openvna.settings import DuplicatePolicy, Validation
from openvna.storage import BlobStore, Flushing

__all__ = ["Archive"]

log = logging.getLogger("openvna.archive")


class Archive:
    """The only way into the index and the blob store for every door (docs/internals.md)."""

    def __init__(
        self,
        index: Index,
        blobs: BlobStore,
        duplicates: DuplicatePolicy = DuplicatePolicy.REPLACE,
        transcoder: Transcoder | None = None,
        validation: Validation = Validation.STRICT,
    ) -> None:
        self.index = index
        self.blobs = blobs
        self.duplicates = duplicates
        self.transcoder = transcoder
        self.validation = validation

    def close(self) -> None:
        self.index.close()

    def spool_dir(self) -> Path:
        """Where a door puts an instance's bytes as they arrive, for ``store_files``: on the
        blobs' filesystem, so that storing is a rename."""
        return self.blobs.spool_dir()

    # -- store ---------------------------------------------------------------------------------

    def store_file(
        self, path: Path, origin: Origin, expect_study: str | None = None
    ) -> StoreOutcome:
        """Store a Part 10 file; takes ownership of ``path`` (moved into the store or removed)."""
        return self.store_files([path], origin, expect_study)[0]

    def store_stream(
        self, source: BinaryIO, origin: Origin, expect_study: str | None = None
    ) -> StoreOutcome:
        """Store a Part 10 instance read from ``source`` (``openvna import``: a file the caller
        keeps). A spool that is full is this instance's failure (A700), not an error."""
        try:
            path = spool_stream(self.spool_dir(), source)
        except OutOfResources as exc:
            return StoreOutcome.failed(OUT_OF_RESOURCES, exc.message)
        return self.store_file(path, origin, expect_study)

    def batch(self, origin: Origin, expect_study: str | None = None) -> StoreBatch:
        """A batch to add Part 10 spool files to as they arrive, then ``finish`` (see
        ``archive.batch``): each is checked and flushed while the request goes on."""
        return StoreBatch(
            partial(self._prepare, expect_study=expect_study),
            partial(self._store_prepared, origin=origin),
        )

    def store_files(
        self, paths: Sequence[Path], origin: Origin, expect_study: str | None = None
    ) -> list[StoreOutcome]:
        """Store Part 10 files (the instances of one STOW-RS request, an association's C-STOREs);
        takes ownership of every path. Outcomes come in the order of ``paths``; failures of
        the index are handled as ``StoreBatch.finish`` says."""
        batch = self.batch(origin, expect_study)
        for path in paths:
            batch.add(path)
        return batch.finish()

    def _prepare(self, path: Path, expect_study: str | None) -> Prepared:
        """Check one file and flush it to disk: all the work of an instance that needs no other
        instance. The write-back starts first and runs while the file is checked (a C-STORE
        otherwise waited ~0.8 ms for its fsync after the check, with two associations storing);
        a file the check repaired is flushed again, and one it refuses is never fsynced. A full
        disk is this instance's failure (A700)."""
        try:
            early: Flushing | None = self.blobs.flush(path)
        except OutOfResources:
            early = None  # met again below, and answered with the instance's UIDs
        result, repaired = self._check(path, expect_study)
        if not isinstance(result, Checked):
            return result
        try:
            flushing = early if early is not None and not repaired else self.blobs.flush(path)
        except OutOfResources as exc:
            return StoreOutcome.failed(OUT_OF_RESOURCES, exc.message, **result.uids)
        record = dataclasses.replace(result.record, checksum=flushing.checksum)
        return dataclasses.replace(result, record=record, flushing=flushing)

    def _store_prepared(self, prepared: list[Prepared], origin: Origin) -> list[StoreOutcome]:
        """One transaction's worth: once their bytes are on disk, place the valid instances'
        blobs and index them together."""
        prepared = [_durable(item) for item in prepared]
        valid = [item for item in prepared if isinstance(item, Checked)]
        # From before the blobs are placed until the index has them, they are in flight: a
        # sweep leaves them alone, and a crash meanwhile leaves them findable (integrity).
        with self.blobs.placing([item.record.blob_key for item in valid]):
            placed = place(self.blobs, valid)
            indexed = iter(self._index([p for p in placed if isinstance(p, Checked)], origin))
        placed_in_order = iter(placed)
        outcomes = []
        for item in prepared:
            step = next(placed_in_order) if isinstance(item, Checked) else item
            outcomes.append(next(indexed) if isinstance(step, Checked) else step)
        return outcomes

    def _check(self, path: Path, expect_study: str | None) -> tuple[Checked | StoreOutcome, bool]:
        """``check``, with the one repair the archive makes: a Part 10 file sent without its
        preamble is checked again once the preamble is added (``spool.add_missing_preamble``);
        whether it was repaired. The repair is looked for only when the file fails, so valid
        files pay nothing."""
        lenient = self.validation is Validation.LENIENT
        result = check(path, expect_study, lenient)
        repaired = isinstance(result, StoreOutcome) and add_missing_preamble(path)
        if repaired:
            result = check(path, expect_study, lenient)
        if isinstance(result, StoreOutcome):
            # The spool file's name means nothing to the sender.
            message = result.message.replace(path.name, "the file")
            return dataclasses.replace(result, message=message), repaired
        return result, repaired

    def store_dataset(
        self, ds: Dataset, origin: Origin, expect_study: str | None = None
    ) -> StoreOutcome:
        """Store a dataset built in memory (STOW metadata + bulk data, demo, generated objects).

        A value that cannot be encoded is this instance's failure (C000), as is a full spool
        (A700): the caller gets an outcome, never an exception, for what is wrong with one
        instance.
        """
        uids = InstanceUIDs(
            sop_class_uid=str(ds.get("SOPClassUID", "") or ""),
            sop_instance_uid=str(ds.get("SOPInstanceUID", "") or ""),
        )
        try:
            path = spool_dataset(self.spool_dir(), ds)
        except OutOfResources as exc:
            return StoreOutcome.failed(OUT_OF_RESOURCES, exc.message, **uids)
        except ENCODING_ERRORS as exc:
            message = f"cannot encode the dataset: {exc}"
            return StoreOutcome.failed(CANNOT_UNDERSTAND, message, **uids)
        return self.store_file(path, origin, expect_study)

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
        if item.flaws:
            # Lenient validation: stored, and the sender and the log say what is wrong.
            log.warning(
                "stored %s with flaws: %s",
                uids["sop_instance_uid"],
                item.flaws,
                extra={"door": origin.door, "remote": origin.remote},
            )
            message = f"stored despite: {item.flaws}"
            return StoreOutcome(
                status, warning_reason=DATASET_DOES_NOT_MATCH_SOP_CLASS, message=message, **uids
            )
        return StoreOutcome(status, **uids)

    # -- find, retrieve, delete ------------------------------------------------------------------

    def find(self, query: Query) -> Matches:
        """The matches of ``query``, read as the caller iterates (QIDO-RS reads one page,
        C-FIND streams and may stop), with ``count()`` and the unsupported keys."""
        return self.index.find(query)

    def retrieve(
        self, study: str, series: str | None = None, sop: str | None = None
    ) -> list[StoredInstance]:
        """The stored instances of a study, series or instance, ordered by series and instance
        number; NotFound names the missing UID (PS3.18 §10.4.3, PS3.4 C.4.2.3.1: A701/A801)."""
        blobs = self.blobs
        return [
            StoredInstance(location, blobs) for location in self.index.locate(study, series, sop)
        ]

    def transcodable(self, instances: Sequence[StoredInstance]) -> frozenset[str]:
        """The transfer syntaxes every one of ``instances`` can be sent in."""
        return transcodable(instances, self.transcoder)

    def instance_in(self, instance: StoredInstance, transfer_syntax: str | None) -> Content | bytes:
        """The instance's Part 10 file in ``transfer_syntax`` (None: as stored)."""
        return instance_in(instance, transfer_syntax, self.transcoder)

    def metadata(self, study: str, series: str | None = None, sop: str | None = None) -> bytes:
        return self.index.metadata(study, series, sop)

    # -- integrity -------------------------------------------------------------------------------

    def recover(self) -> int:
        """Remove what processes that died left (``archive.integrity.recover``)."""
        return recover(self.index, self.blobs)

    def check(self, repair: bool = False, verify_checksums: bool = False) -> CheckReport:
        """The index and the blob store compared (``openvna check``); ``repair`` quarantines
        strays and removes rows whose blob is gone; ``verify_checksums`` reads every blob."""
        return check_integrity(self.index, self.blobs, repair, self._remove_row, verify_checksums)

    def _remove_row(self, row: IndexedBlob) -> None:
        """The row of an instance whose blob is gone (nothing to delete on disk)."""
        self.index.delete(row.study, row.series, row.sop)

    def delete(self, study: str, series: str | None = None, sop: str | None = None) -> int:
        """Remove rows first, then blobs: a crash in between leaves orphan files, never rows
        pointing at missing files. Returns the number of instances removed."""
        keys = self.index.delete(study, series, sop)
        for key in keys:
            self.blobs.delete(key)
        return len(keys)


def _durable(item: Prepared) -> Prepared:
    """``item`` once its fsync has ended (run here, its write-back under way since it was
    prepared); a full disk met by that fsync is its failure (A700)."""
    if isinstance(item, Checked) and item.flushing is not None:
        try:
            item.flushing.wait()
        except OutOfResources as exc:
            return StoreOutcome.failed(OUT_OF_RESOURCES, exc.message, **item.uids)
    return item
