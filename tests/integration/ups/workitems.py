"""Workitem datasets and HTTP helpers shared by the UPS-RS tests."""

from __future__ import annotations

from typing import Any

import httpx

JSON = {"Content-Type": "application/dicom+json", "Accept": "application/dicom+json"}


def workitem(
    label: str = "CT chest reading", patient_id: str = "P1", **extra: Any
) -> dict[str, Any]:
    """A workitem dataset with every Type 1 and Type 2 attribute of PS3.4 Table CC.2.5-3."""
    item: dict[str, Any] = {
        "00741000": {"vr": "CS", "Value": ["SCHEDULED"]},
        "00741200": {"vr": "CS", "Value": ["MEDIUM"]},
        "00741204": {"vr": "LO", "Value": [label]},
        "00741202": {"vr": "LO", "Value": ["READING"]},
        "00404005": {"vr": "DT", "Value": ["20261204090000"]},
        "00404041": {"vr": "CS", "Value": ["READY"]},
        "00081195": {"vr": "UI"},
        "00741210": {"vr": "SQ"},
        "00404025": {"vr": "SQ"},
        "00404026": {"vr": "SQ"},
        "00404027": {"vr": "SQ"},
        "00404018": {"vr": "SQ", "Value": [_code("R-1", "Reading")]},
        "00400400": {"vr": "LT"},
        "00404021": {"vr": "SQ"},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane"}]},
        "00100020": {"vr": "LO", "Value": [patient_id]},
        "00100030": {"vr": "DA"},
        "00100040": {"vr": "CS", "Value": ["F"]},
        "00101002": {"vr": "SQ"},
        "00380010": {"vr": "LO"},
        "00380014": {"vr": "SQ"},
        "00081080": {"vr": "LO"},
        "00081084": {"vr": "SQ"},
        "0040A370": {"vr": "SQ"},
        "00741002": {"vr": "SQ"},
        "00741216": {"vr": "SQ"},
    }
    item.update(extra)
    return item


def _code(value: str, meaning: str) -> dict[str, Any]:
    return {
        "00080100": {"vr": "SH", "Value": [value]},
        "00080102": {"vr": "SH", "Value": ["99OPENVNA"]},
        "00080104": {"vr": "LO", "Value": [meaning]},
    }


def completion() -> dict[str, Any]:
    """The Final State attributes COMPLETED needs (Table CC.2.5-3, P)."""
    return {
        "00741216": {
            "vr": "SQ",
            "Value": [
                {
                    "00404050": {"vr": "DT", "Value": ["20261204091000"]},
                    "00404051": {"vr": "DT", "Value": ["20261204092000"]},
                    "00404028": {"vr": "SQ"},
                    "00404019": {"vr": "SQ", "Value": [_code("R-1", "Reading")]},
                    "00404033": {"vr": "SQ"},
                }
            ],
        }
    }


def state_body(state: str, transaction: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"00741000": {"vr": "CS", "Value": [state]}}
    if transaction is not None:
        body["00081195"] = {"vr": "UI", "Value": [transaction]}
    return body


def create(client: httpx.Client, base: str, uid: str, **extra: Any) -> httpx.Response:
    return client.post(f"{base}/workitems?{uid}", json=workitem(**extra), headers=JSON)


def change_state(
    client: httpx.Client, base: str, uid: str, state: str, transaction: str | None
) -> httpx.Response:
    return client.put(
        f"{base}/workitems/{uid}/state", json=state_body(state, transaction), headers=JSON
    )
