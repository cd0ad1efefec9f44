"""Bundle ``searchset`` (R4 bundle.html, search.html#return): total, self/next/previous links
that repeat the parameters the search used, fullUrl and search.mode of each entry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import orjson

__all__ = ["history_bundle", "searchset"]


def searchset(
    fhir_base: str,
    resource_type: str,
    used: Sequence[tuple[str, str]],
    *,
    total: int,
    offset: int,
    count: int,
    matches: Sequence[dict[str, Any]],
    included: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The Bundle of one page: ``offset`` and ``count`` are the page's place in the result."""
    kept = [(k, v) for k, v in used if k not in ("_offset", "_count")]

    def link(relation: str, at: int) -> dict[str, str]:
        query = urlencode([*kept, ("_count", str(count)), ("_offset", str(at))])
        return {"relation": relation, "url": f"{fhir_base}/{resource_type}?{query}"}

    links = [link("self", offset)]
    if offset + count < total and count > 0:
        links.append(link("next", offset + count))
    if offset > 0 and count > 0:
        links.append(link("previous", max(0, offset - count)))
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
    }
    entries = [_entry(fhir_base, r, "match") for r in matches]
    entries += [_entry(fhir_base, r, "include") for r in included]
    if entries:
        bundle["entry"] = entries
    return bundle


def _entry(fhir_base: str, resource: dict[str, Any], mode: str) -> dict[str, Any]:
    return {
        "fullUrl": f"{fhir_base}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": {"mode": mode},
    }


def history_bundle(
    fhir_base: str, resource_type: str, resource_id: str, versions: Sequence[Any]
) -> dict[str, Any]:
    """A Bundle of type history (R4 http.html#history): every version, newest first, each with
    its version-specific fullUrl and the request that made it."""
    entries = []
    for stored in versions:
        resource = orjson.loads(stored.json)
        url = f"{fhir_base}/{resource_type}/{resource_id}"
        entries.append(
            {
                "fullUrl": url,
                "resource": resource,
                "request": {
                    "method": "POST" if stored.version == 1 else "PUT",
                    "url": f"{resource_type}/{resource_id}"
                    if stored.version > 1
                    else resource_type,
                },
                "response": {
                    "status": "201 Created" if stored.version == 1 else "200 OK",
                    "etag": f'W/"{stored.version}"',
                    "lastModified": stored.last_updated,
                },
            }
        )
    return {
        "resourceType": "Bundle",
        "type": "history",
        "total": len(entries),
        "link": [
            {"relation": "self", "url": f"{fhir_base}/{resource_type}/{resource_id}/_history"}
        ],
        "entry": entries,
    }
