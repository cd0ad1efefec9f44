"""The Archive: one store behind every door (Orthanc's ServerContext::Store, in small).

Store order (dicom-server's StoreOrchestrator): parse the header → validate → write the blob under
a fresh key → index in one transaction → only then drop a replaced blob. A failure at any step
removes what this call wrote, so nothing is half-stored and nothing stored before is lost.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from pathlib import Path

from pydicom import Dataset

from openvna.archive.outcome import (
    CANNOT_UNDERSTAND,
    DATASET_DOES_NOT_MATCH,
    DUPLICATE_SOP_INSTANCE,
    STUDY_UID_MISMATCH,
    Origin,
    StoreOutcome,
    StoreStatus,
)
from openvna.dicom.json import BASE_MARKER, dataset_to_json
from openvna.dicom.part10 import Header, read_header, write_part10
from openvna.dicom.query import Query
from openvna.dicom.uid import is_valid_uid
from openvna.errors import InvalidDicom
from openvna.index import FindResult, Index, InstanceLocation, InstanceRecord
from openvna.settings import DuplicatePolicy
from openvna.storage import BlobStore

__all__ = ["Archive"]

log = logging.getLogger("openvna.archive")

_IDENTIFYING = (
    ("StudyInstanceUID", "study_uid"),
    ("SeriesInstanceUID", "series_uid"),
    ("SOPInstanceUID", "sop_instance_uid"),
    ("SOPClassUID", "sop_class_uid"),
)


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
        try:
            return self._store(path, origin, expect_study)
        finally:
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

    def _store(self, path: Path, origin: Origin, expect_study: str | None) -> StoreOutcome:
        try:
            header = read_header(path)
        except InvalidDicom as exc:
            return StoreOutcome.failed(CANNOT_UNDERSTAND, exc.message)
        uids = {
            field: str(header.dataset.get(keyword, "") or "") for keyword, field in _IDENTIFYING
        }
        for keyword, field in _IDENTIFYING:
            if not is_valid_uid(uids[field]):
                message = f"{keyword} is missing or not a valid UID: {uids[field][:80]!r}"
                return StoreOutcome.failed(DATASET_DOES_NOT_MATCH, message, **uids)
        if expect_study is not None and uids["study_uid"] != expect_study:
            message = (
                f"StudyInstanceUID {uids['study_uid']} of instance {uids['sop_instance_uid']} "
                f"differs from the study {expect_study} of the request"
            )
            return StoreOutcome.failed(STUDY_UID_MISMATCH, message, **uids)
        record = self._record(path, header, uids)
        replace = self.duplicates is DuplicatePolicy.REPLACE
        try:
            result = self.index.add_instance(record, replace=replace)
        except BaseException:
            self.blobs.delete(record.blob_key)
            raise
        if not result.stored:
            self.blobs.delete(record.blob_key)
            if self.duplicates is DuplicatePolicy.REJECT:
                message = f"SOP Instance {uids['sop_instance_uid']} is already stored"
                return StoreOutcome.failed(DUPLICATE_SOP_INSTANCE, message, **uids)
            return StoreOutcome(StoreStatus.KEPT_EXISTING, message="already stored; kept", **uids)
        if result.old_blob_key and result.old_blob_key != record.blob_key:
            self.blobs.delete(result.old_blob_key)
        log.debug("stored %s from %s", uids["sop_instance_uid"], origin.door)
        status = StoreStatus.REPLACED if result.existed else StoreStatus.STORED
        return StoreOutcome(status, **uids)

    def _record(self, path: Path, header: Header, uids: dict[str, str]) -> InstanceRecord:
        """Write the blob under a fresh key (a replaced blob stays until the index commits)."""
        prefix = (
            f"{BASE_MARKER}/studies/{uids['study_uid']}/series/{uids['series_uid']}"
            f"/instances/{uids['sop_instance_uid']}/bulkdata/"
        )
        metadata = dataset_to_json(header.dataset, lambda tag_path: prefix + tag_path)
        if header.pixel_data is not None:
            metadata["7FE00010"] = {"vr": header.pixel_data.vr, "BulkDataURI": prefix + "7FE00010"}
        key = (
            f"{uids['study_uid']}/{uids['series_uid']}/"
            f"{uids['sop_instance_uid']}.{secrets.token_hex(4)}.dcm"
        )
        size = self.blobs.put_file(key, path)
        return InstanceRecord(
            metadata=metadata,
            transfer_syntax=header.transfer_syntax,
            blob_key=key,
            size=size,
            frames=header.frames,
            pixel_data=header.pixel_data,
        )

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
