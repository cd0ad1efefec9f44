"""The steps of one store, as functions the Archive chains: check a file, place its blob.

``check`` does all the CPU work of an instance (parse the header once, validate, build its
DICOM JSON with templated BulkDataURIs) before anything is written; ``place`` moves the blobs
of a batch under fresh keys (DESIGN.md "Data flow": temp file, fsync, rename), one directory
fsync per directory of the batch. Concurrent requests overlap their fsyncs; a pool of writer
threads within one request cost more CPU in GIL hand-offs than it saved (measured).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from openvna.archive.outcome import (
    CANNOT_UNDERSTAND,
    DATASET_DOES_NOT_MATCH,
    OUT_OF_RESOURCES,
    STUDY_UID_MISMATCH,
    InstanceUIDs,
    StoreOutcome,
)
from openvna.dicom.conformance import Flaw, FlawKind, flaws
from openvna.dicom.json import BASE_MARKER, dataset_to_json
from openvna.dicom.part10 import Header, read_header
from openvna.dicom.uid import is_valid_uid
from openvna.errors import InvalidDicom, OutOfResources
from openvna.index import InstanceRecord
from openvna.storage import BlobStore, Flushing

__all__ = ["Checked", "blob_key", "check", "place", "sop_of_key"]

_UIDField = Literal["study_uid", "series_uid", "sop_instance_uid", "sop_class_uid"]
_IDENTIFYING: tuple[tuple[str, _UIDField], ...] = (
    ("StudyInstanceUID", "study_uid"),
    ("SeriesInstanceUID", "series_uid"),
    ("SOPInstanceUID", "sop_instance_uid"),
    ("SOPClassUID", "sop_class_uid"),
)

# What pydicom raises when it cannot decode a raw value it has read.
_UNDECODABLE = (NotImplementedError, ValueError, KeyError, TypeError, UnicodeDecodeError)


@dataclass(frozen=True)
class Checked:
    """An instance ready to be written: its spool file, UIDs and index record (the record's
    size is set once the blob is in place); ``flaws`` says what is wrong with one that is
    stored anyway (lenient validation)."""

    path: Path
    uids: InstanceUIDs
    record: InstanceRecord
    flaws: str = ""
    flushing: Flushing | None = None  # its write-back and fsync, once the archive has started it


def check(path: Path, expect_study: str | None, lenient: bool = False) -> Checked | StoreOutcome:
    """Parse and validate one Part 10 file; a failed outcome names what is wrong with it.

    The conformance flaws (``dicom.conformance``) refuse it with 0xC000 (encoding) or 0xA900
    (data set), or with ``lenient`` let it through, described in ``Checked.flaws``."""
    try:
        header = read_header(path)
    except InvalidDicom as exc:
        return StoreOutcome.failed(CANNOT_UNDERSTAND, exc.message)
    try:
        uids = InstanceUIDs()
        for key, field in _IDENTIFYING:
            uids[field] = str(header.dataset.get(key, "") or "")
    except _UNDECODABLE as exc:
        message = f"an identifying attribute is unreadable: {exc}"
        return StoreOutcome.failed(CANNOT_UNDERSTAND, message[:300])
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
    try:
        found = flaws(path, header)
        if found and not lenient:
            encoding = any(flaw.kind is FlawKind.ENCODING for flaw in found)
            reason = CANNOT_UNDERSTAND if encoding else DATASET_DOES_NOT_MATCH
            return StoreOutcome.failed(reason, _described(found), **uids)
        return Checked(path, uids, _record(header, uids), _described(found))
    except _UNDECODABLE as exc:
        # The header parses but holds a value pydicom cannot decode (an unknown VR...): this
        # instance fails alone, not the batch it came with.
        message = f"an attribute of instance {uids['sop_instance_uid']} is unreadable: {exc}"
        return StoreOutcome.failed(CANNOT_UNDERSTAND, message[:300], **uids)


def _described(found: list[Flaw]) -> str:
    return "; ".join(flaw.text for flaw in found)


def _record(header: Header, uids: InstanceUIDs) -> InstanceRecord:
    """The index record: DICOM JSON with templated BulkDataURIs, a fresh blob key."""
    prefix = (
        f"{BASE_MARKER}/studies/{uids['study_uid']}/series/{uids['series_uid']}"
        f"/instances/{uids['sop_instance_uid']}/bulkdata/"
    )
    metadata = dataset_to_json(header.dataset, lambda tag_path: prefix + tag_path)
    if header.pixel_data is not None:
        metadata["7FE00010"] = {"vr": header.pixel_data.vr, "BulkDataURI": prefix + "7FE00010"}
    key = blob_key(uids)
    return InstanceRecord(
        metadata=metadata,
        transfer_syntax=header.transfer_syntax,
        blob_key=key,
        size=header.file_size,
        frames=header.frames,
        pixel_data=header.pixel_data,
    )


def blob_key(uids: InstanceUIDs) -> str:
    """``study/series/<sop>.<token>.dcm``: a fresh key per store, so a replaced blob stays
    valid until the index has committed its successor."""
    return (
        f"{uids['study_uid']}/{uids['series_uid']}/"
        f"{uids['sop_instance_uid']}.{secrets.token_hex(4)}.dcm"
    )


def sop_of_key(key: str) -> str:
    """The SOP Instance UID a ``blob_key`` was made for."""
    return key.rsplit("/", 1)[-1].rsplit(".", 2)[0]


def place(blobs: BlobStore, batch: Sequence[Checked]) -> list[Checked | StoreOutcome]:
    """Move every spool file of ``batch`` (each flushed when it was prepared: ``Archive.batch``)
    into the store, in one ``put_files`` call.

    An instance that finds no space fails alone (A700); any other error removes every blob the
    batch placed and propagates, so nothing is left half-stored.
    """
    sizes = blobs.put_files([(item.record.blob_key, item.path) for item in batch], flushed=True)
    errors = [s for s in sizes if isinstance(s, Exception) and not isinstance(s, OutOfResources)]
    if errors:
        for item, size in zip(batch, sizes, strict=True):
            if not isinstance(size, Exception):
                blobs.delete(item.record.blob_key)
        raise errors[0]
    results: list[Checked | StoreOutcome] = []
    for item, size in zip(batch, sizes, strict=True):
        if isinstance(size, OutOfResources):
            results.append(StoreOutcome.failed(OUT_OF_RESOURCES, size.message, **item.uids))
        elif isinstance(size, int):
            results.append(replace(item, record=replace(item.record, size=size)))
    return results
