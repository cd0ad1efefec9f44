"""C-MOVE and C-GET (PS3.4 C.4.2, C.4.3) with DCMTK's movescu, getscu and storescp and with
pynetdicom: the stored files arrive byte for byte, sub-operation counts and statuses, unknown
destinations, absent studies, C-CANCEL, and identifiers that select nothing they should."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydicom import Dataset, dcmread
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, JPEGBaseline8Bit
from pynetdicom import AE, DEFAULT_TRANSFER_SYNTAXES, build_role, evt
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelGet as PatientRootGet,
)
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelGet as StudyRootGet,
)
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelMove as StudyRootMove,
)

from openvna.archive import Origin
from openvna.dicom.uid import generate_uid
from tests.factories import make_instance
from tests.integration.dimse.conftest import AE_TITLE, DimseNode
from tests.integration.dimse.peers import dataset_bytes, fresh_copy, stored_file
from tests.tools import needs_dcmtk

pytestmark = pytest.mark.integration


def store_study(node: DimseNode, count: int, tmp_path: Path, **attributes: Any) -> list[Dataset]:
    study, series = generate_uid(), generate_uid()
    stored = []
    for number in range(count):
        ds = make_instance(
            study_uid=study, series_uid=series, InstanceNumber=number + 1, **attributes
        )
        assert node.archive.store_dataset(ds, Origin.local()).ok
        stored.append(ds)
    return stored


@pytest.fixture
def with_dest(dimse_factory: Any, storescp: tuple[str, int, Path]) -> DimseNode:
    title, port, _ = storescp
    return dimse_factory(dimse={"remotes": [{"aet": title, "host": "127.0.0.1", "port": port}]})


def _movescu(node: DimseNode, study_uid: str, *options: str) -> subprocess.CompletedProcess[str]:
    """DCMTK's movescu (verbose, study root) moving a study to DEST."""
    return node.dcmtk(
        "movescu",
        "-v",
        "-S",
        *options,
        "-aem",
        "DEST",
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        f"StudyInstanceUID={study_uid}",
    )


@needs_dcmtk
def test_movescu_sends_the_study_byte_for_byte(with_dest, storescp, tmp_path) -> None:
    node: DimseNode = with_dest
    study = store_study(node, 3, tmp_path)
    jpeg = fresh_copy(
        "SC_rgb_small_odd_jpeg.dcm", tmp_path, StudyInstanceUID=study[0].StudyInstanceUID
    )
    study.append(dcmread(jpeg))
    assert node.archive.store_file(jpeg, Origin.local()).ok
    result = _movescu(node, study[0].StudyInstanceUID)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Received Final Move Response (Success)" in result.stdout + result.stderr
    received = sorted(storescp[2].iterdir())
    assert len(received) == 4
    # stored as sent, and moved as stored (the JPEG one in its own syntax)
    assert {dataset_bytes(path) for path in received} == {
        dataset_bytes(stored_file(node, ds)) for ds in study
    }


@needs_dcmtk
def test_move_to_an_unknown_destination_is_a801(dimse: DimseNode) -> None:
    study = store_study(dimse, 1, Path())
    result = dimse.dcmtk(
        "movescu",
        "-S",
        "-aem",
        "NOWHERE",
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        f"StudyInstanceUID={study[0].StudyInstanceUID}",
    )
    assert result.returncode != 0
    assert "MoveDestinationUnknown" in result.stdout + result.stderr  # DCMTK's name of A801


@needs_dcmtk
def test_move_of_an_absent_study_is_zero_suboperations(with_dest, storescp) -> None:
    result = _movescu(with_dest, generate_uid())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Received Final Move Response (Success)" in result.stdout + result.stderr
    assert list(storescp[2].iterdir()) == []


@needs_dcmtk
def test_getscu_at_each_level(dimse: DimseNode, tmp_path: Path) -> None:
    study = store_study(dimse, 3, tmp_path, patient_id="GETME")
    for number, keys in enumerate(
        [
            ["QueryRetrieveLevel=PATIENT", "PatientID=GETME"],
            ["QueryRetrieveLevel=STUDY", f"StudyInstanceUID={study[0].StudyInstanceUID}"],
            [
                "QueryRetrieveLevel=SERIES",
                f"StudyInstanceUID={study[0].StudyInstanceUID}",
                f"SeriesInstanceUID={study[0].SeriesInstanceUID}",
            ],
            [
                "QueryRetrieveLevel=IMAGE",
                f"StudyInstanceUID={study[0].StudyInstanceUID}",
                f"SeriesInstanceUID={study[0].SeriesInstanceUID}",
                f"SOPInstanceUID={study[1].SOPInstanceUID}",
            ],
        ]
    ):
        out = tmp_path / f"get{number}"
        out.mkdir()
        model = "-P" if number == 0 else "-S"
        arguments = [model, "-od", str(out)]
        for key in keys:
            arguments += ["-k", key]
        result = dimse.dcmtk("getscu", *arguments)
        assert result.returncode == 0, result.stdout + result.stderr
        expected = 1 if number == 3 else 3
        assert len(list(out.iterdir())) == expected, keys


def _get(
    node: DimseNode,
    identifier: Dataset,
    model: str,
    syntaxes: list[str] | list[list[str]],
    cancel_after: int = 0,
) -> tuple[list[int], list[bytes]]:
    """A pynetdicom C-GET: the statuses of its responses and the datasets received, as sent;
    a CT storage context for each of ``syntaxes`` (a syntax, or a list one context proposes)."""
    received: list[bytes] = []

    def on_store(event: Any) -> int:
        received.append(event.encoded_dataset(include_meta=False))
        return 0x0000

    ae = AE("GETTER")
    ae.maximum_pdu_size = 0
    ae.add_requested_context(model)
    for syntax in syntaxes:
        ae.add_requested_context(CTImageStorage, syntax)
    roles = [build_role(CTImageStorage, scp_role=True)]
    assoc = ae.associate(
        node.host,
        node.port,
        ae_title=AE_TITLE,
        ext_neg=roles,
        evt_handlers=[(evt.EVT_C_STORE, on_store)],
    )
    assert assoc.is_established
    statuses: list[int] = []
    try:
        for status, _ in assoc.send_c_get(identifier, model, msg_id=3):
            statuses.append(int(status.Status))
            if cancel_after and len(statuses) == cancel_after:
                assoc.send_c_cancel(3, query_model=model)
    finally:
        assoc.release()
    return statuses, received


@pytest.mark.parametrize(
    "syntaxes",
    [[ExplicitVRLittleEndian], [DEFAULT_TRANSFER_SYNTAXES]],
    ids=["explicit", "pynetdicom-defaults"],
)
def test_c_get_byte_for_byte_and_statuses(
    dimse: DimseNode, tmp_path: Path, syntaxes: list[str] | list[list[str]]
) -> None:
    """The stored instances as stored, with a pending status each. A requester proposing
    pynetdicom's default syntaxes in one context (implicit, explicit, deflated explicit, big
    endian) is accepted in explicit VR little endian; deflated was accepted before, and every
    sub-operation failed."""
    study = store_study(dimse, 3, tmp_path)
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study[0].StudyInstanceUID
    statuses, received = _get(dimse, identifier, StudyRootGet, syntaxes)
    assert statuses == [0xFF00, 0xFF00, 0xFF00, 0x0000]
    assert sorted(received) == sorted(dataset_bytes(stored_file(dimse, ds)) for ds in study)


def test_c_get_in_a_syntax_not_accepted_fails_the_suboperations(
    dimse: DimseNode, tmp_path: Path
) -> None:
    """No transcoder: an instance stored in explicit little endian cannot go over a context
    that accepted only JPEG baseline; every sub-operation fails (A702, PS3.4 C.4.3.1.4)."""
    study = store_study(dimse, 2, tmp_path)
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study[0].StudyInstanceUID
    statuses, received = _get(dimse, identifier, StudyRootGet, [JPEGBaseline8Bit])
    assert statuses[-1] == 0xA702
    assert received == []


def test_c_get_without_a_unique_key_selects_nothing(dimse: DimseNode, tmp_path: Path) -> None:
    store_study(dimse, 2, tmp_path)
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "PATIENT"
    identifier.PatientName = "*"  # not a unique key: would be the whole archive
    statuses, received = _get(dimse, identifier, PatientRootGet, [ExplicitVRLittleEndian])
    assert statuses[-1] >= 0xA000  # a failure
    assert received == []


def test_c_get_cancel(dimse: DimseNode, tmp_path: Path) -> None:
    study = store_study(dimse, 60, tmp_path)
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study[0].StudyInstanceUID
    statuses, received = _get(
        dimse, identifier, StudyRootGet, [ExplicitVRLittleEndian], cancel_after=1
    )
    assert statuses[-1] == 0xFE00
    assert len(received) < 60


def test_c_move_cancel(with_dest, storescp, tmp_path) -> None:
    node: DimseNode = with_dest
    study = store_study(node, 60, tmp_path)
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study[0].StudyInstanceUID
    ae = AE("MOVER")
    ae.add_requested_context(StudyRootMove)
    assoc = ae.associate(node.host, node.port, ae_title=AE_TITLE)
    assert assoc.is_established
    statuses = []
    try:
        for status, _ in assoc.send_c_move(identifier, "DEST", StudyRootMove, msg_id=5):
            statuses.append(int(status.Status))
            if len(statuses) == 1:
                assoc.send_c_cancel(5, query_model=StudyRootMove)
    finally:
        assoc.release()
    assert statuses[-1] == 0xFE00
    assert len(list(storescp[2].iterdir())) < 60


@needs_dcmtk
def test_movescu_cancel_stops_the_transfer(with_dest, storescp, tmp_path) -> None:
    """DCMTK's movescu sends C-CANCEL after its first pending response (PS3.4 C.4.2.3.2): the
    move ends with Cancel (FE00) before every instance has gone to the destination."""
    node: DimseNode = with_dest
    study = store_study(node, 60, tmp_path)
    result = _movescu(node, study[0].StudyInstanceUID, "--cancel", "1")
    output = result.stdout + result.stderr
    assert "Sending Cancel Request" in output, output[-1500:]
    assert "Received Final Move Response (Cancel: " in output, output[-1500:]
    assert len(list(storescp[2].iterdir())) < 60
