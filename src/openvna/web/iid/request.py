"""The parameters of an Invoke Image Display request (IHE RAD TF-2 4.106, RAD-106).

Parsed into one value before anything is searched: a request that is malformed in any way is
refused whole with a sentence naming the parameter (STANDARDS.md IID-14), never half-served.
Parameter names are those of RAD TF-2 Table 4.106.4.1.2-1 (STANDARDS.md IID-01..11).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from openvna.dicom.uid import is_valid_uid

__all__ = ["IidError", "IidRequest", "parse_iid"]

_STUDY = frozenset({"studyUID", "accessionNumber"})
_PATIENT = frozenset(
    {"patientID", "lowerDateTime", "upperDateTime", "mostRecentResults", "modalitiesInStudy"}
)
_BOTH = frozenset({"requestType", "viewerType", "diagnosticQuality", "keyImagesOnly"})
# Taken by the API key check before the request reaches here (when keys are configured).
_TRANSPORT = frozenset({"apikey"})
_VIEWER_TYPES = frozenset({"IHE_BIR"})
_MODALITY = re.compile(r"^[A-Z0-9_ ]{1,16}$")


class IidError(Exception):
    """The request is malformed; the message says which parameter and why (a 400 page)."""


@dataclass(frozen=True)
class IidRequest:
    """A valid IID request. STUDY: ``study_uids`` or ``accessions``; PATIENT: ``patient_id``
    (CX.1) with its ``issuer`` (CX.4) and the optional filters."""

    request_type: str
    study_uids: tuple[str, ...] = ()
    accessions: tuple[str, ...] = ()
    patient_id: str = ""
    issuer: str = ""
    lower: datetime | None = None
    upper: datetime | None = None
    most_recent: int | None = None
    modalities: tuple[str, ...] = ()
    viewer_type: str = "IHE_BIR"
    diagnostic_quality: bool = False
    key_images_only: bool = False


def parse_iid(params: list[tuple[str, str]]) -> IidRequest:
    """Validate the query parameters; IidError names the first problem found."""
    given: dict[str, str] = {}
    for name, value in params:
        if name in _TRANSPORT:
            continue
        if name not in _STUDY | _PATIENT | _BOTH:
            raise IidError(f"unknown parameter '{name}'")
        if name in given:
            raise IidError(f"parameter '{name}' is given more than once")
        given[name] = value.strip()
    kind = given.get("requestType")
    if not kind:
        raise IidError("requestType is missing: it must be STUDY or PATIENT")
    if kind not in ("STUDY", "PATIENT"):
        raise IidError("requestType must be STUDY or PATIENT")
    wrong = sorted(set(given) & (_PATIENT if kind == "STUDY" else _STUDY))
    if wrong:
        raise IidError(f"{', '.join(wrong)} cannot be used with requestType={kind}")
    common = IidRequest(
        kind,
        viewer_type=_viewer_type(given.get("viewerType")),
        diagnostic_quality=_flag(given, "diagnosticQuality"),
        key_images_only=_flag(given, "keyImagesOnly"),
    )
    if kind == "STUDY":
        uids, accessions = _study_keys(given)
        return replace(common, study_uids=uids, accessions=accessions)
    return _patient(given, common)


def _study_keys(given: dict[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """studyUID xor accessionNumber, each a list (comma-separated; ';' as OHIF writes it)."""
    if ("studyUID" in given) == ("accessionNumber" in given):
        raise IidError("requestType=STUDY needs exactly one of studyUID and accessionNumber")
    if "studyUID" in given:
        uids = _items(given["studyUID"], "studyUID")
        for uid in uids:
            if not is_valid_uid(uid):
                raise IidError("studyUID holds a value that is not a valid DICOM UID")
        return uids, ()
    accessions = _items(given["accessionNumber"], "accessionNumber")
    if any(len(a) > 16 or "\\" in a for a in accessions):
        raise IidError("accessionNumber holds a value that is not an accession number (SH)")
    return (), accessions


def _patient(given: dict[str, str], common: IidRequest) -> IidRequest:
    raw = given.get("patientID", "")
    if not raw:
        raise IidError("requestType=PATIENT needs patientID (an HL7 CX: id^^^issuer)")
    parts = raw.split("^")
    patient_id = parts[0]
    issuer = _issuer(parts[3]) if len(parts) > 3 else ""
    if not patient_id or len(patient_id) > 64 or any(c in patient_id for c in "\\*?"):
        # an identifier, never a pattern: '*' would otherwise match every patient
        raise IidError("patientID does not start with a patient identifier (CX.1)")
    lower = _datetime(given, "lowerDateTime")
    upper = _datetime(given, "upperDateTime")
    if lower and upper and lower > upper:
        raise IidError("lowerDateTime is after upperDateTime")
    most_recent = None
    if "mostRecentResults" in given:
        text = given["mostRecentResults"]
        if not text.isdigit() or int(text) < 1:
            raise IidError("mostRecentResults must be a positive integer")
        most_recent = int(text)
    modalities: tuple[str, ...] = ()
    if "modalitiesInStudy" in given:
        modalities = _items(given["modalitiesInStudy"], "modalitiesInStudy")
        if not all(_MODALITY.match(m) for m in modalities):
            raise IidError("modalitiesInStudy holds a value that is not a modality code")
    return replace(
        common,
        patient_id=patient_id,
        issuer=issuer,
        lower=lower,
        upper=upper,
        most_recent=most_recent,
        modalities=modalities,
    )


def _issuer(authority: str) -> str:
    """CX.4 (HD): its namespace ID, else its universal ID (``&1.2.3&ISO``)."""
    namespace, _, rest = authority.partition("&")
    return namespace or rest.partition("&")[0]


def _items(text: str, name: str) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(i.strip() for i in re.split(r"[,;]", text) if i.strip()))
    if not items:
        raise IidError(f"{name} is empty")
    return items


def _datetime(given: dict[str, str], name: str) -> datetime | None:
    """An XML Schema dateTime (a date alone is taken as its midnight); the zone is ignored, as
    DICOM study dates are local."""
    if name not in given:
        return None
    try:
        return datetime.fromisoformat(given[name].replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        raise IidError(f"{name} is not a date-time such as 2024-01-31T08:00:00") from None


def _viewer_type(value: str | None) -> str:
    if value is None or value in _VIEWER_TYPES:
        return "IHE_BIR"
    raise IidError("viewerType is not offered here: use IHE_BIR or leave it out")


def _flag(given: dict[str, str], name: str) -> bool:
    value = given.get(name, "false").lower()
    if value not in ("true", "false"):
        raise IidError(f"{name} must be true or false")
    return value == "true"
