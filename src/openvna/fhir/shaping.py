"""``_summary`` and ``_elements`` (R4 search.html#summary, #elements): subsets of a resource,
marked with the SUBSETTED tag (R4 resource.html#tag) as the specification asks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["SUBSETTED", "shape"]

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
}
# Elements a subset keeps whatever is asked: the id and meta, and the mandatory (1..1) ones.
_MANDATORY = {
    "Patient": ("resourceType", "id", "meta"),
    "ImagingStudy": ("resourceType", "id", "meta", "status", "subject"),
    "DiagnosticReport": ("resourceType", "id", "meta", "status", "code"),
    "ServiceRequest": ("resourceType", "id", "meta", "status", "intent", "subject"),
    "Endpoint": (
        "resourceType",
        "id",
        "meta",
        "status",
        "connectionType",
        "payloadType",
        "address",
    ),
}


def shape(resource: dict[str, Any], summary: str | None, elements: Sequence[str]) -> dict[str, Any]:
    """The resource as ``_summary`` (true, text, data, false) or ``_elements`` ask. The elements
    openvna emits are all summary elements (Σ in R4) except ImagingStudy.series.instance."""
    kind = resource["resourceType"]
    keep = _MANDATORY.get(kind, ("resourceType", "id", "meta"))
    if summary == "text":
        return _tagged({k: v for k, v in resource.items() if k in keep})
    if summary == "true" and kind == "ImagingStudy" and "series" in resource:
        series = [{k: v for k, v in s.items() if k != "instance"} for s in resource["series"]]
        return _tagged({**resource, "series": series})
    if elements and summary in (None, "false", "data"):
        wanted = set(elements) | set(keep)
        return _tagged({k: v for k, v in resource.items() if k in wanted})
    return resource


def _tagged(resource: dict[str, Any]) -> dict[str, Any]:
    meta = dict(resource.get("meta", {}))
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    return {"resourceType": resource["resourceType"], "id": resource["id"], "meta": meta} | {
        k: v for k, v in resource.items() if k not in ("resourceType", "id", "meta")
    }
