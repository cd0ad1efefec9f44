"""Matching a workitem's JSON in Python (ups.matching) means what the SQL matching means
(PS3.4 C.2.2.2): checked term by term against the shared QIDO-RS parser's terms."""

from __future__ import annotations

from typing import Any

import pytest

from openvna.ups import parse_search
from openvna.ups.matching import matches
from openvna.ups.model import State, creation_problems, final_state_problems

ITEM: dict[str, Any] = {
    "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane"}]},
    "00741204": {"vr": "LO", "Value": ["CT chest"]},
    "00404005": {"vr": "DT", "Value": ["20261204093000+0100"]},
    "00741000": {"vr": "CS", "Value": ["SCHEDULED"]},
    "00404018": {
        "vr": "SQ",
        "Value": [
            {"00080100": {"vr": "SH", "Value": ["R-1"]}},
            {"00080100": {"vr": "SH", "Value": ["R-2"]}},
        ],
    },
    "00400400": {"vr": "LT"},
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("PatientName=DOE", True),
        ("PatientName=doe^jane", True),
        ("PatientName=Do*", True),
        ("PatientName=JANE", False),
        ("ProcedureStepLabel=CT*", True),
        ("ProcedureStepLabel=ct*", False),
        ("ProcedureStepLabel=CT?chest", True),
        ("ProcedureStepState=SCHEDULED,COMPLETED", True),
        ("ProcedureStepState=COMPLETED", False),
        ("ScheduledProcedureStepStartDateTime=20261204-20261204", True),
        ("ScheduledProcedureStepStartDateTime=2026120410-", False),
        ("ScheduledProcedureStepStartDateTime=-202612040930", True),
        ("ScheduledWorkitemCodeSequence.CodeValue=R-2", True),
        ("ScheduledWorkitemCodeSequence.CodeValue=R-3", False),
        ("CommentsOnTheScheduledProcedureStep=", True),
        ("CommentsOnTheScheduledProcedureStep=x", False),
    ],
)
def test_terms(query: str, expected: bool) -> None:
    name, _, value = query.partition("=")
    assert matches(ITEM, parse_search([(name, value)]).terms) is expected


def test_required_attributes() -> None:
    assert any("Procedure Step Label" in p for p in creation_problems({}))
    problems = final_state_problems(ITEM, State.COMPLETED)
    assert any("Performed Procedure Sequence (0074,1216) has no item" in p for p in problems)
