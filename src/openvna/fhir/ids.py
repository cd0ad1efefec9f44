"""Logical ids of the resources derived from the archive: stable, readable and reversible.

FHIR ids are ``[A-Za-z0-9\\-\\.]{1,64}`` (R4 datatypes.html#id). They are computed from the stored
DICOM only, never from a counter or a row key, so every process and every restart (and a
re-import of the same files) gives the same id, and an id read back leads to the same entity:

- **Patient**: the Patient ID (0010,0020) itself when it has no issuer (0010,0021) and is a valid
  FHIR id (the SIIM exercise's ``Patient/siimjoe``); otherwise ``p.`` and the URL-safe Base64 of
  ``issuer`` + US (0x1F) + ``patient ID`` (``-`` and ``.`` for ``+`` and ``/``, no padding), which
  decodes back to the pair. A bare Patient ID that itself looks like ``p.…`` is tried as a Patient
  ID first. A pair too long for 64 characters has no id of its own (``None``): such a patient is
  served only through its studies' ``subject.identifier``.
- **ImagingStudy**: the Accession Number (0008,0050) when it is a valid FHIR id and no other
  stored study carries it (``ImagingStudy/a257132503242682`` in the SIIM exercise: what an EHR
  knows the study by); otherwise the Study Instance UID, which is always a valid id (UI: digits
  and dots, at most 64). A read tries the Study Instance UID first, then the accession number.
  An accession number that a second study later shares stops being an id: both studies are then
  served under their UIDs (the UID is the definitive identifier, PS3.3 C.7.2.1).
- **Endpoint**: one fixed id per DICOMweb service (``ENDPOINT_IDS``).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

__all__ = [
    "ENDPOINT_IDS",
    "PatientKey",
    "is_fhir_id",
    "parse_patient_id",
    "patient_id",
    "study_id",
]

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_SEPARATOR = "\x1f"
_ENCODED = "p."
_TO_ID = bytes.maketrans(b"+/", b"-.")
_FROM_ID = bytes.maketrans(b"-.", b"+/")

# connectionType codes of http://terminology.hl7.org/CodeSystem/endpoint-connection-type, and the
# fixed ids openvna serves them under.
ENDPOINT_IDS = ("wado-rs", "qido-rs", "stow-rs", "wado-uri", "iid")


def is_fhir_id(text: str) -> bool:
    """Whether ``text`` is a valid logical id (R4 datatypes.html#id)."""
    return bool(_ID.match(text))


@dataclass(frozen=True)
class PatientKey:
    """A patient as the index knows it: Patient ID and Issuer of Patient ID ('' when none)."""

    patient_id: str
    issuer: str = ""


def patient_id(key: PatientKey) -> str | None:
    """The logical id of a patient (see the module docstring); None when it cannot have one."""
    if not key.issuer and is_fhir_id(key.patient_id):
        return key.patient_id
    raw = f"{key.issuer}{_SEPARATOR}{key.patient_id}".encode()
    encoded = _ENCODED + base64.b64encode(raw).rstrip(b"=").translate(_TO_ID).decode()
    return encoded if len(encoded) <= 64 else None


def parse_patient_id(text: str) -> list[PatientKey]:
    """The patients an id may stand for, the likeliest first: the bare Patient ID, then the
    decoded pair of an encoded id. Empty when ``text`` is not a valid id at all."""
    if not is_fhir_id(text):
        return []
    keys = [PatientKey(text)]
    if text.startswith(_ENCODED):
        body = text[len(_ENCODED) :].encode().translate(_FROM_ID)
        try:
            raw = base64.b64decode(body + b"=" * (-len(body) % 4), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return keys
        issuer, separator, value = raw.partition(_SEPARATOR)
        if separator and value:
            keys.append(PatientKey(value, issuer))
    return keys


def study_id(study_uid: str, accession: str, shared: bool) -> str:
    """The logical id of a study: its accession number when that is a valid id and no other
    study shares it (``shared``), else its Study Instance UID."""
    if accession and not shared and is_fhir_id(accession):
        return accession
    return study_uid
