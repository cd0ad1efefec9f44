"""Endpoint resources (R4 endpoint.html) for the archive's DICOMweb services and its IID viewer.

An EHR takes an ImagingStudy's Study Instance UID and its Endpoint and retrieves with WADO-RS
(STANDARDS.md §1.2): ``address`` is the service's base URL as the client reaches it (EP-04), to
which the client appends ``/studies/{StudyInstanceUID}``; for IID (IHE RAD TF-2 4.106) the
client adds ``?requestType=STUDY&studyUID=…`` (EP-05).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openvna.fhir.ids import ENDPOINT_IDS

__all__ = ["CONNECTION_TYPES", "Bases", "endpoint", "endpoints"]

CONNECTION_TYPES = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"

# id -> (connectionType code, name, payload text, payload MIME types)
_SERVICES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "wado-rs": ("dicom-wado-rs", "DICOM WADO-RS", "DICOM WADO-RS", ("application/dicom",)),
    "qido-rs": ("dicom-qido-rs", "DICOM QIDO-RS", "DICOM QIDO-RS", ("application/dicom+json",)),
    "stow-rs": ("dicom-stow-rs", "DICOM STOW-RS", "DICOM STOW-RS", ("application/dicom",)),
    "wado-uri": (
        "dicom-wado-uri",
        "DICOM WADO-URI",
        "DICOM WADO-URI",
        ("application/dicom", "image/jpeg", "image/png"),
    ),
    "iid": ("ihe-iid", "IHE Invoke Image Display", "IHE IID", ("text/html",)),
}
assert tuple(_SERVICES) == ENDPOINT_IDS


@dataclass(frozen=True)
class Bases:
    """Public URLs as the client reaches them, made by the web layer (``web/urls.py``)."""

    dicomweb: str
    wado_uri: str
    iid: str
    fhir: str


def endpoint(endpoint_id: str, bases: Bases) -> dict[str, Any] | None:
    """The Endpoint of one service; None for an unknown id."""
    found = _SERVICES.get(endpoint_id)
    if found is None:
        return None
    code, name, payload, mime_types = found
    address = {"wado-uri": bases.wado_uri, "iid": bases.iid}.get(endpoint_id, bases.dicomweb)
    return {
        "resourceType": "Endpoint",
        "id": endpoint_id,
        "status": "active",
        "connectionType": {"system": CONNECTION_TYPES, "code": code},
        "name": name,
        "payloadType": [{"text": payload}],
        "payloadMimeType": list(mime_types),
        "address": address,
    }


def endpoints(bases: Bases) -> list[dict[str, Any]]:
    """Every Endpoint, in id order of ``ENDPOINT_IDS``."""
    return [e for e in (endpoint(i, bases) for i in ENDPOINT_IDS) if e is not None]
