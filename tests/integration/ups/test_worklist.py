"""Modality Worklist C-FIND (PS3.4 Annex K) answered from scheduled workitems, asked by DCMTK's
``findscu -W`` as a modality asks, and by pynetdicom; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest
from pydicom import Dataset
from pynetdicom import AE

from tests.integration.dimse.conftest import AE_TITLE, DimseNode
from tests.integration.ups.workitems import JSON, change_state, workitem
from tests.tools import needs_dcmtk

MWL = "1.2.840.10008.5.1.4.31"


def _code(value: str, meaning: str) -> dict[str, Any]:
    return {
        "00080100": {"vr": "SH", "Value": [value]},
        "00080102": {"vr": "SH", "Value": ["99OPENVNA"]},
        "00080104": {"vr": "LO", "Value": [meaning]},
    }


def _schedule(
    node: DimseNode, uid: str, station: str, modality: str, accession: str, **extra: Any
) -> None:
    item = workitem(
        label=f"{modality} abdomen",
        patient_id=f"PID-{accession}",
        **{
            "00404025": {"vr": "SQ", "Value": [_code(station, f"{station} room")]},
            "00404026": {"vr": "SQ", "Value": [_code(modality, modality)]},
            "0040A370": {
                "vr": "SQ",
                "Value": [
                    {
                        "0020000D": {"vr": "UI", "Value": [uid + ".1"]},
                        "00080050": {"vr": "SH", "Value": [accession]},
                        "00401001": {"vr": "SH", "Value": ["RP" + accession]},
                        "00321060": {"vr": "LO", "Value": [f"{modality} of the abdomen"]},
                    }
                ],
            },
            **extra,
        },
    )
    answer = httpx.post(f"{node.web.dicomweb}/workitems?{uid}", json=item, headers=JSON)
    assert answer.status_code == 201, answer.text


@pytest.fixture
def scheduled(dimse: DimseNode) -> DimseNode:
    _schedule(dimse, "1.2.3.10", "CT1", "CT", "A10")
    _schedule(dimse, "1.2.3.11", "MR1", "MR", "A11")
    _schedule(dimse, "1.2.3.12", "CT1", "CT", "A12")
    # a claimed workitem is no longer on the worklist
    assert (
        change_state(
            httpx.Client(), dimse.web.dicomweb, "1.2.3.12", "IN PROGRESS", "1.2.3.99"
        ).status_code
        == 200
    )
    return dimse


@needs_dcmtk
def test_findscu_pulls_the_worklist_of_a_modality(scheduled: DimseNode, tmp_path: Path) -> None:
    keys = [
        "ScheduledProcedureStepSequence[0].Modality=CT",
        "ScheduledProcedureStepSequence[0].ScheduledStationAETitle",
        "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20261201-20261231",
        "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime",
        "ScheduledProcedureStepSequence[0].ScheduledProcedureStepDescription",
        "ScheduledProcedureStepSequence[0].ScheduledProcedureStepID",
        "PatientName",
        "PatientID",
        "AccessionNumber",
        "StudyInstanceUID",
        "RequestedProcedureID",
        "RequestedProcedureDescription",
    ]
    options = ["-W", "-X", "-od", str(tmp_path)]
    for key in keys:
        options += ["-k", key]
    result = scheduled.dcmtk("findscu", *options)
    assert result.returncode == 0, result.stderr
    [response] = [pydicom.dcmread(path) for path in sorted(tmp_path.glob("rsp*.dcm"))]
    assert response.AccessionNumber == "A10"
    assert response.PatientID == "PID-A10"
    assert str(response.PatientName) == "Doe^Jane"
    assert response.StudyInstanceUID == "1.2.3.10.1"
    assert response.RequestedProcedureID == "RPA10"
    assert response.RequestedProcedureDescription == "CT of the abdomen"
    step = response.ScheduledProcedureStepSequence[0]
    assert step.Modality == "CT"
    assert step.ScheduledStationAETitle == "CT1"
    assert step.ScheduledProcedureStepStartDate == "20261204"
    assert step.ScheduledProcedureStepStartTime == "090000"
    assert step.ScheduledProcedureStepDescription == "CT abdomen"
    assert step.ScheduledProcedureStepID == "1.2.3.10"[-16:]
    assert "ScheduledPerformingPhysicianName" not in step  # only the asked keys come back


def test_pynetdicom_worklist_by_station_and_refusal(scheduled: DimseNode) -> None:
    ae = AE("MODALITY")
    ae.add_requested_context(MWL)
    assoc = ae.associate(scheduled.host, scheduled.port, ae_title=AE_TITLE)
    assert assoc.is_established
    try:
        query = Dataset()
        query.PatientID = ""
        step = Dataset()
        step.ScheduledStationAETitle = "MR1"
        step.ScheduledProcedureStepStatus = ""
        query.ScheduledProcedureStepSequence = [step]
        found = [(s.Status, i) for s, i in assoc.send_c_find(query, MWL)]
        assert [status for status, _ in found] == [0xFF00, 0x0000]
        identifier = found[0][1]
        assert identifier.PatientID == "PID-A11"
        assert (
            identifier.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus == "SCHEDULED"
        )
        bad = Dataset()
        bad.PatientBirthDate = "not-a-date"
        statuses = [s.Status for s, _ in assoc.send_c_find(bad, MWL)]
        assert statuses == [0xA900]
    finally:
        assoc.release()
