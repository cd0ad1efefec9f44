"""C-FIND (PS3.4 C.4.1) with DCMTK's findscu: Patient Root and Study Root at every level, the
matching of QIDO-RS (the same answers to the same keys), return keys as asked, C-CANCEL, and
identifiers that cannot be matched."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydicom import Dataset, dcmread
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import build_context
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as StudyRootFind

from openvna.archive import Origin
from openvna.dicom.uid import generate_uid
from tests.factories import make_instance
from tests.integration.dimse.conftest import DimseNode
from tests.integration.dimse.peers import association
from tests.tools import needs_dcmtk

pytestmark = [pytest.mark.integration, needs_dcmtk]


@pytest.fixture
def stored(dimse: DimseNode) -> dict[str, list[Dataset]]:
    """Three patients, four studies, two series in the first, two instances in its first."""
    studies: dict[str, list[Dataset]] = {}
    plan = [
        ("SMITH^ANNA", "P1", "20240110", "CT", 3),
        ("SMITH^ANNA", "P1", "20240301", "MR", 1),
        ("JONES^BOB", "P2", "20231231", "CT", 1),
        ("MÜLLER^JÜRGEN", "P3", "20240215", "US", 1),
    ]
    for name, patient, date, modality, count in plan:
        study, series = generate_uid(), generate_uid()
        instances = []
        for number in range(count):
            ds = make_instance(
                study_uid=study,
                series_uid=series if number < 2 else generate_uid(),
                patient_name=name,
                patient_id=patient,
                study_date=date,
                modality=modality,
                InstanceNumber=number + 1,
                SpecificCharacterSet="ISO_IR 192",
            )
            outcome = dimse.archive.store_dataset(ds, Origin.local())
            assert outcome.ok, outcome.message
            instances.append(ds)
        studies[study] = instances
    return studies


def find(
    node: DimseNode, tmp_path: Path, model: str, *keys: str, extra: tuple[str, ...] = ()
) -> list[Dataset]:
    """findscu's responses, extracted to files and read back."""
    out = tmp_path / f"find-{len(list(tmp_path.iterdir()))}"
    out.mkdir()
    arguments: list[str] = [model, "-X", "-od", str(out), *extra]
    for key in keys:
        arguments += ["-k", key]
    result = node.dcmtk("findscu", *arguments)
    assert result.returncode == 0, result.stdout + result.stderr
    return [dcmread(path) for path in sorted(out.glob("rsp*.dcm"))]


def qido(node: DimseNode, path: str, **params: str) -> list[dict]:
    response = httpx.get(f"{node.web.dicomweb}/{path}", params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_study_root_study_level_answers_as_qido(dimse, stored, tmp_path) -> None:
    for key, qido_param in [
        ("PatientName=SMITH*", {"PatientName": "SMITH*"}),
        ("StudyDate=20240101-20240228", {"StudyDate": "20240101-20240228"}),
        ("ModalitiesInStudy=CT", {"ModalitiesInStudy": "CT"}),
        ("PatientID=P?", {"PatientID": "P?"}),
    ]:
        answers = find(
            dimse,
            tmp_path,
            "-S",
            "QueryRetrieveLevel=STUDY",
            key,
            "StudyInstanceUID",
            "NumberOfStudyRelatedInstances",
        )
        expected = {r["0020000D"]["Value"][0] for r in qido(dimse, "studies", **qido_param)}
        assert {a.StudyInstanceUID for a in answers} == expected, key
        assert expected
        for answer in answers:
            assert answer.QueryRetrieveLevel == "STUDY"
            assert answer.RetrieveAETitle == "OPENVNA"
            assert int(answer.NumberOfStudyRelatedInstances) == len(stored[answer.StudyInstanceUID])


def test_return_keys_are_those_asked(dimse, stored, tmp_path) -> None:
    [answer] = find(
        dimse,
        tmp_path,
        "-S",
        "QueryRetrieveLevel=STUDY",
        "PatientID=P2",
        "AccessionNumber",
        "StudyDescription",
    )
    keys = {element.keyword for element in answer}
    # the unique key of the level comes with them, and what the SCP adds (C.4.1.1.3.2)
    assert keys == {
        "QueryRetrieveLevel",
        "RetrieveAETitle",
        "PatientID",
        "AccessionNumber",
        "StudyDescription",
        "StudyInstanceUID",
    }
    assert answer.AccessionNumber == "ACC1"
    assert answer.StudyDescription in ("", None)  # asked, no value: present and empty


def test_patient_root_patient_level_and_utf8(dimse, stored, tmp_path) -> None:
    answers = find(dimse, tmp_path, "-P", "QueryRetrieveLevel=PATIENT", "PatientID", "PatientName")
    assert sorted(a.PatientID for a in answers) == ["P1", "P2", "P3"]
    muller = next(a for a in answers if a.PatientID == "P3")
    assert muller.SpecificCharacterSet == "ISO_IR 192"
    assert str(muller.PatientName) == "MÜLLER^JÜRGEN"
    [smith] = find(
        dimse, tmp_path, "-P", "QueryRetrieveLevel=PATIENT", "PatientName=SMITH^ANNA", "PatientID"
    )
    assert smith.PatientID == "P1"


def test_series_and_image_levels_in_both_models(dimse, stored, tmp_path) -> None:
    study = next(uid for uid, instances in stored.items() if len(instances) == 3)
    for model in ("-S", "-P"):
        patient = ("PatientID=P1",) if model == "-P" else ()
        series = find(
            dimse,
            tmp_path,
            model,
            "QueryRetrieveLevel=SERIES",
            *patient,
            f"StudyInstanceUID={study}",
            "SeriesInstanceUID",
            "Modality",
            "NumberOfSeriesRelatedInstances",
        )
        assert sorted(int(s.NumberOfSeriesRelatedInstances) for s in series) == [1, 2]
        assert {s.Modality for s in series} == {"CT"}
        first = next(s for s in series if int(s.NumberOfSeriesRelatedInstances) == 2)
        images = find(
            dimse,
            tmp_path,
            model,
            "QueryRetrieveLevel=IMAGE",
            *patient,
            f"StudyInstanceUID={study}",
            f"SeriesInstanceUID={first.SeriesInstanceUID}",
            "SOPInstanceUID",
            "InstanceNumber",
        )
        assert sorted(int(i.InstanceNumber) for i in images) == [1, 2]
        assert all(i.QueryRetrieveLevel == "IMAGE" for i in images)


def test_list_of_uids(dimse, stored, tmp_path) -> None:
    uids = list(stored)[:2]
    answers = find(
        dimse, tmp_path, "-S", "QueryRetrieveLevel=STUDY", f"StudyInstanceUID={uids[0]}\\{uids[1]}"
    )
    assert sorted(a.StudyInstanceUID for a in answers) == sorted(uids)


def test_no_match_is_success_without_responses(dimse, stored, tmp_path) -> None:
    assert find(dimse, tmp_path, "-S", "QueryRetrieveLevel=STUDY", "PatientName=NOBODY") == []


@pytest.fixture
def many(dimse: DimseNode, tmp_path: Path) -> int:
    """2000 instances of one series: enough matches that a C-CANCEL sent after the first
    response arrives before the SCP has sent the last one."""
    batch = dimse.archive.batch(Origin.local())
    study, series = generate_uid(), generate_uid()
    spool = Path(dimse.archive.spool_dir())
    for number in range(2000):
        ds = make_instance(study_uid=study, series_uid=series, InstanceNumber=number)
        path = spool / f"many-{number}.dcm"
        ds.save_as(path, enforce_file_format=True)
        batch.add(path)
    assert all(outcome.ok for outcome in batch.finish())
    return 2000


def test_findscu_cancel_stops_the_responses(dimse, many, tmp_path) -> None:
    """findscu --cancel 1 sends C-CANCEL after the first pending response: the SCP answers
    FE00 (PS3.4 C.4.1.2.3) and stops reading the matches."""
    out = tmp_path / "cancel"
    out.mkdir()
    result = dimse.dcmtk(
        "findscu",
        "-v",
        "-S",
        "--cancel",
        "1",
        "-X",
        "-od",
        str(out),
        "-k",
        "QueryRetrieveLevel=IMAGE",
        "-k",
        "SOPInstanceUID",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Cancel" in result.stdout + result.stderr
    assert len(list(out.glob("rsp*.dcm"))) < many


def test_cancel_with_pynetdicom(dimse, many) -> None:
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "IMAGE"
    identifier.SOPInstanceUID = ""
    with association(dimse, [build_context(StudyRootFind, ExplicitVRLittleEndian)]) as assoc:
        responses = assoc.send_c_find(identifier, StudyRootFind, msg_id=7)
        statuses = []
        for status, _ in responses:
            statuses.append(status.Status)
            if len(statuses) == 1:
                assoc.send_c_cancel(7, query_model=StudyRootFind)
        assert statuses[-1] == 0xFE00
        assert len(statuses) < many


def test_a_peer_that_aborts_mid_find_leaves_the_scp_serving(dimse, many) -> None:
    """pynetdicom aborts after the first pending response of a 2000-match C-FIND; the SCP
    stops answering it and the next association's C-FIND gets every match."""
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "IMAGE"
    identifier.SOPInstanceUID = ""
    with association(dimse, [build_context(StudyRootFind, ExplicitVRLittleEndian)]) as assoc:
        status, _ = next(assoc.send_c_find(identifier, StudyRootFind))
        assert status.Status == 0xFF00
        assoc.abort()
    with association(dimse, [build_context(StudyRootFind, ExplicitVRLittleEndian)]) as assoc:
        statuses = [status.Status for status, _ in assoc.send_c_find(identifier, StudyRootFind)]
    assert statuses.count(0xFF00) == many and statuses[-1] == 0x0000


def test_bad_identifiers(dimse, stored) -> None:
    with association(dimse, [build_context(StudyRootFind, ExplicitVRLittleEndian)]) as assoc:
        for level, key, value in [
            ("STUDY", "StudyDate", "2024-01-01-2024"),  # not a date range
            ("NOWHERE", "PatientID", ""),  # not a level
            ("STUDY", "StudyInstanceUID", "1.2.abc"),  # not a UID
        ]:
            identifier = Dataset()
            identifier.QueryRetrieveLevel = level
            setattr(identifier, key, value)
            [(status, _)] = list(assoc.send_c_find(identifier, StudyRootFind))
            assert status.Status == 0xA900, (key, status)
            assert status.ErrorComment
        # and the association goes on serving
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "STUDY"
        identifier.StudyInstanceUID = ""
        assert len(list(assoc.send_c_find(identifier, StudyRootFind))) == len(stored) + 1
