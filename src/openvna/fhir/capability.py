"""The CapabilityStatement at ``[base]/metadata`` (R4 http.html#capabilities): exactly the
resources, interactions and search parameters this server implements, read from the same tables
the search parser uses, so the two cannot disagree."""

from __future__ import annotations

from typing import Any

from openvna.fhir.search import INCLUDES, REVINCLUDES, SEARCH_PARAMETERS
from openvna.fhir.writeback import WRITABLE
from openvna.fhir.written import STORED_PARAMETERS

__all__ = ["FHIR_VERSION", "capability_statement"]

FHIR_VERSION = "4.0.1"
_SPEC = "http://hl7.org/fhir/SearchParameter"
_ENDPOINT_PARAMETERS = {"_id": ("token", "Logical id of the Endpoint")}
_COMMON = ("_count", "_sort", "_summary", "_elements", "_include", "_revinclude")


def capability_statement(fhir_base: str, software_version: str) -> dict[str, Any]:
    """What this server does, for ``fhir_base``."""
    resources = []
    tables = {**SEARCH_PARAMETERS, **STORED_PARAMETERS, "Endpoint": _ENDPOINT_PARAMETERS}
    for kind in sorted(tables):
        parameters = tables[kind]
        written = kind in WRITABLE
        codes = ["read", "search-type"]
        if written:
            codes += ["vread", "update", "create", "history-instance"]
        entry: dict[str, Any] = {
            "type": kind,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{kind}",
            "interaction": [{"code": code} for code in codes],
            "versioning": "versioned-update" if written else "no-version",
            "readHistory": written,
            "updateCreate": written,
            "searchParam": [
                {
                    "name": name,
                    "definition": f"{_SPEC}/{_definition(kind, name)}",
                    "type": kind_of,
                    "documentation": doc,
                }
                for name, (kind_of, doc) in parameters.items()
            ],
        }
        if kind in INCLUDES:
            entry["searchInclude"] = list(INCLUDES[kind])
        if kind in REVINCLUDES:
            entry["searchRevInclude"] = list(REVINCLUDES[kind])
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-01-01",
        "publisher": "openvna",
        "kind": "instance",
        "software": {"name": "openvna", "version": software_version},
        "implementation": {"description": "openvna FHIR facade", "url": fhir_base},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "application/fhir+xml", "json", "xml"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Search result parameters: " + ", ".join(_COMMON),
                "resource": resources,
            }
        ],
    }


def _definition(kind: str, name: str) -> str:
    if name == "imaging-study":
        return "DiagnosticReport-imaging-study"  # openvna's own (issue 10)
    if name.startswith("_"):
        return f"Resource-{name[1:]}"
    return f"{kind}-{name}"
