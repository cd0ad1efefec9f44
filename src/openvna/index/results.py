"""Query result rows as DICOM JSON datasets (PS3.18 §10.6.3.3, Tables 10.6.3-3/4/5).

Each level contributes its stored JSON filtered to the required return attributes, the match and
include fields, plus the attributes the archive computes (PS3.4 C.3.4 counts, ModalitiesInStudy,
InstanceAvailability, RetrieveURL with the base marker of docs/internals.md). Required attributes
without a value are returned as ``{"vr": ...}`` (PS3.18 F.2.5: present, no Value).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from openvna.dicom.json import BASE_MARKER
from openvna.index.levels import REQUIRED, SERIES_TAGS, STUDY_TAGS, tag_hex, vr_of

__all__ = [
    "HIGHER_KEYS",
    "LevelPart",
    "instance_columns",
    "instance_computed",
    "series_computed",
    "study_computed",
]

Json = dict[str, Any]
HIGHER_KEYS = frozenset(tag_hex(t) for t in STUDY_TAGS | SERIES_TAGS)
_MODALITIES = "00080061"  # ModalitiesInStudy
_SOP_CLASSES = "00080062"  # SOPClassesInStudy
_AVAILABILITY = "00080056"  # InstanceAvailability
_RETRIEVE_URL = "00081190"  # RetrieveURL
_AVAILABLE_TS = "00083002"  # AvailableTransferSyntaxUID
_PATIENT_STUDIES = "00201200"  # NumberOfPatientRelatedStudies
_PATIENT_SERIES = "00201202"  # NumberOfPatientRelatedSeries
_PATIENT_INSTANCES = "00201204"  # NumberOfPatientRelatedInstances
_STUDY_SERIES = "00201206"  # NumberOfStudyRelatedSeries
_STUDY_INSTANCES = "00201208"  # NumberOfStudyRelatedInstances
_SERIES_INSTANCES = "00201209"  # NumberOfSeriesRelatedInstances


def _online() -> Json:
    return {"vr": "CS", "Value": ["ONLINE"]}


def _element(vr: str, values: Iterable[Any]) -> Json:
    listed = [v for v in values if v is not None and v != ""]
    return {"vr": vr, "Value": listed} if listed else {"vr": vr}


def _url(path: str) -> Json:
    return {"vr": "UR", "Value": [BASE_MARKER + path]}


def study_computed(row: Any, patient_counts: bool) -> Json:
    """ModalitiesInStudy, SOPClassesInStudy, counts, availability and RetrieveURL of a study."""
    out = {
        _MODALITIES: _element("CS", row.modalities.split("\\")),
        _SOP_CLASSES: _element("UI", row.sop_classes.split("\\")),
        _STUDY_SERIES: _element("IS", [row.study_num_series]),
        _STUDY_INSTANCES: _element("IS", [row.study_num_instances]),
        _AVAILABILITY: _online(),
        _RETRIEVE_URL: _url(f"/studies/{row.study_uid}"),
    }
    if patient_counts:
        out[_PATIENT_STUDIES] = _element("IS", [row.patient_studies])
        out[_PATIENT_SERIES] = _element("IS", [row.patient_series])
        out[_PATIENT_INSTANCES] = _element("IS", [row.patient_instances])
    return out


def series_computed(row: Any) -> Json:
    return {
        _SERIES_INSTANCES: _element("IS", [row.series_num_instances]),
        _RETRIEVE_URL: _url(f"/studies/{row.study_uid}/series/{row.series_uid}"),
    }


def instance_computed(row: Any) -> Json:
    path = f"/studies/{row.study_uid}/series/{row.series_uid}/instances/{row.sop_uid}"
    return {
        _AVAILABILITY: _online(),
        _RETRIEVE_URL: _url(path),
        _AVAILABLE_TS: _element("UI", [row.transfer_syntax]),
    }


def instance_columns(row: Any) -> Json:
    """The instance attributes the index keeps as columns, so most queries never parse JSON."""
    return {
        "00080016": _element("UI", [row.sop_class_uid]),
        "00080018": _element("UI", [row.sop_uid]),
        "00200013": _element("IS", [row.instance_number]),
        "00280010": _element("US", [row.rows]),
        "00280011": _element("US", [row.columns]),
        "00280100": _element("US", [row.bits_allocated]),
        "00280008": _element("IS", [row.number_of_frames]),
    }


def instance_only(metadata: Json) -> Json:
    """The attributes of an instance that are not kept at the study or series level."""
    return {k: v for k, v in metadata.items() if k not in HIGHER_KEYS}


class LevelPart:
    """How one level (study, series or instance) contributes to a result dataset."""

    def __init__(self, level: str, required: bool, everything: bool) -> None:
        self.required = tuple(tag_hex(t) for t in REQUIRED[level]) if required else ()
        self.vrs = {tag_hex(t): vr_of(t) for t in REQUIRED[level]}
        self.everything = everything

    def add(self, out: Json, source: Json, computed: Json, wanted: frozenset[str]) -> None:
        """Add to ``out`` the wanted attributes (all with ``everything``) and the required ones,
        keeping what a lower level already put there (RetrieveURL is one tag at every level)."""
        keys = source.keys() | computed.keys() if self.everything else wanted
        for key in keys:
            value = computed.get(key) or source.get(key)
            if value is not None:
                out.setdefault(key, value)
        for key in self.required:
            if key not in out:
                out[key] = computed.get(key) or source.get(key) or {"vr": self.vrs[key]}


def load(data: bytes) -> Json:
    """Parse stored level JSON (orjson: microseconds for a study row)."""
    result: Json = orjson.loads(data)
    return result
