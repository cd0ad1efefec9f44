"""Per-instance store results as values (as Orthanc's StoreStatus, dicom-server's responses).

Failure and warning codes are those of PS3.18 Table 10.5.3-2 / PS3.4 Annex B.2.3 so that STOW-RS
(FailureReason 0008,1197; WarningReason 0008,1196) and C-STORE report the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TypedDict, Unpack

__all__ = ["InstanceUIDs", "Origin", "StoreOutcome", "StoreStatus"]

PROCESSING_FAILURE = 0x0110
DUPLICATE_SOP_INSTANCE = 0x0111
SOP_CLASS_NOT_SUPPORTED = 0x0122
OUT_OF_RESOURCES = 0xA700
DATASET_DOES_NOT_MATCH = 0xA900
# PS3.18 §10.5.3: an instance whose Study Instance UID differs from the target study.
STUDY_UID_MISMATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000
COERCION_OF_DATA_ELEMENTS = 0xB000
ELEMENTS_DISCARDED = 0xB006
DATASET_DOES_NOT_MATCH_SOP_CLASS = 0xB007


class StoreStatus(Enum):
    STORED = "stored"
    REPLACED = "replaced"
    KEPT_EXISTING = "kept-existing"
    FAILED = "failed"


@dataclass(frozen=True)
class Origin:
    """Who sent an instance, for the log and for later audit (Orthanc's DicomInstanceOrigin)."""

    door: str
    remote: str = ""

    @classmethod
    def http(cls, remote: str = "") -> Origin:
        return cls("dicomweb", remote)

    @classmethod
    def dimse(cls, calling_ae: str, address: str = "") -> Origin:
        """A C-STORE: the peer's AE title and address (PS3.7 §9.1.1)."""
        return cls("dimse", f"{calling_ae}@{address}" if address else calling_ae)

    @classmethod
    def local(cls, what: str = "import") -> Origin:
        return cls(what)


class InstanceUIDs(TypedDict, total=False):
    """The identifying UIDs an outcome reports, as keyword arguments of ``StoreOutcome``; any of
    them may be missing when an instance fails before it could be read."""

    sop_class_uid: str
    sop_instance_uid: str
    study_uid: str
    series_uid: str


@dataclass(frozen=True)
class StoreOutcome:
    status: StoreStatus
    sop_class_uid: str = ""
    sop_instance_uid: str = ""
    study_uid: str = ""
    series_uid: str = ""
    failure_reason: int | None = None
    warning_reason: int | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not StoreStatus.FAILED

    @classmethod
    def failed(cls, reason: int, message: str, **uids: Unpack[InstanceUIDs]) -> StoreOutcome:
        return cls(StoreStatus.FAILED, failure_reason=reason, message=message, **uids)
