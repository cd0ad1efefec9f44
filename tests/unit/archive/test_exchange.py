"""archive.exchange: query identifiers from the doors' key forms, the rights an operation needs,
the node lookup, the files of stored instances and a retrieve over a fake SCU port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import Dataset

from openvna.archive import Archive, Origin
from openvna.archive.exchange import (
    identifier,
    needed_right,
    query_of,
    remote_of,
    require_level,
    retrieve,
    stored_paths,
)
from openvna.archive.remotes import RemoteRegistry
from openvna.archive.scu import Model, Progress, Remote, Transfer
from openvna.errors import BadRequest, Forbidden, InvalidUID, NotFound
from openvna.settings import RemoteNode
from tests.factories import make_instance

PACS = Remote("PACS", "127.0.0.1", 104)


def test_identifier_from_dcmtk_keys() -> None:
    ds = identifier("study", ["PatientName=SIIM*", "0020,000D", "StudyDate=20240101-"])
    assert ds.QueryRetrieveLevel == "STUDY"
    assert ds.PatientName == "SIIM*"
    assert ds.StudyInstanceUID in (None, "")
    assert ds.StudyDate == "20240101-"
    with pytest.raises(BadRequest, match="PatientNme"):
        identifier("STUDY", ["PatientNme=X"])


def test_query_of_keywords_lists_nulls_and_dicom_json() -> None:
    ds = query_of(
        "SERIES",
        {
            "Modality": ["CT", "MR"],
            "SeriesInstanceUID": None,
            "00100020": {"vr": "LO", "Value": ["P1"]},
            "0020000D": "1.2.3",
        },
    )
    assert ds.QueryRetrieveLevel == "SERIES"
    assert list(ds.Modality) == ["CT", "MR"]
    assert ds.PatientID == "P1"
    assert ds.StudyInstanceUID == "1.2.3"
    assert ds.SeriesInstanceUID in (None, "")
    for bad in ({"NotAKeyword": "x"}, {"PatientID": 3}, {"99999999": "x"}, {"Modality": [1]}):
        with pytest.raises(BadRequest):
            query_of("STUDY", bad)


@pytest.mark.parametrize(
    ("level", "model", "answer"),
    [("study", "study", ("STUDY", "study")), ("PATIENT", "patient", ("PATIENT", "patient"))],
)
def test_require_level(level: str, model: str, answer: tuple[str, Model]) -> None:
    assert require_level(level, model) == answer


@pytest.mark.parametrize(
    ("level", "model"), [("FOO", "study"), ("PATIENT", "study"), ("STUDY", "x")]
)
def test_require_level_refuses(level: str, model: str) -> None:
    with pytest.raises(BadRequest):
        require_level(level, model)


def test_rights_follow_the_instances() -> None:
    assert needed_right("store") == "retrieve"
    assert needed_right("get") == needed_right("retrieve") == "store"
    assert needed_right("move", "OPENVNA", "OPENVNA") == "store"
    assert needed_right("move", "ELSEWHERE", "OPENVNA") is None
    assert needed_right("echo") is needed_right("find") is None


def test_remote_of_names_the_node_and_checks_its_right(tmp_path: Path) -> None:
    nodes = [RemoteNode(aet="PACS", host="h", port=104, retrieve=False)]
    registry = RemoteRegistry(nodes, tmp_path, allow_unknown=True)
    assert remote_of(registry, "PACS", "store") == Remote("PACS", "h", 104)
    with pytest.raises(Forbidden, match="retrieve"):
        remote_of(registry, "PACS", "retrieve")
    with pytest.raises(NotFound):
        remote_of(registry, "OTHER", None)  # allow_unknown admits callers, not destinations


def test_stored_paths_of_studies_series_and_instances(archive: Archive) -> None:
    first = make_instance()
    second = make_instance(study_uid=first.StudyInstanceUID)
    for ds in (first, second):
        assert archive.store_dataset(ds, Origin.local()).ok
    study = {"StudyInstanceUID": first.StudyInstanceUID}
    assert len(stored_paths(archive, [study, study])) == 2  # each file once
    series = {**study, "SeriesInstanceUID": second.SeriesInstanceUID}
    [path] = stored_paths(archive, [series])
    assert path.is_file()
    one = {
        **study,
        "SeriesInstanceUID": first.SeriesInstanceUID,
        "SOPInstanceUID": first.SOPInstanceUID,
    }
    assert len(stored_paths(archive, [one])) == 1
    with pytest.raises(NotFound):
        stored_paths(archive, [{"StudyInstanceUID": "1.2.3"}])
    with pytest.raises(InvalidUID):
        stored_paths(archive, [{"StudyInstanceUID": "1.x"}])
    with pytest.raises(BadRequest):
        stored_paths(archive, [{**study, "SOPInstanceUID": first.SOPInstanceUID}])


class _FakeScu:
    """Two study matches; each C-MOVE moves two instances, the second fails one."""

    def __init__(self) -> None:
        self.moved: list[tuple[Dataset, str]] = []

    def echo(self, remote: Remote) -> int:
        return 0

    def find(self, remote: Remote, query: Dataset, model: Model) -> Iterator[Dataset]:
        assert "StudyInstanceUID" in query  # the unique key was asked for
        for uid in ("1.1", "1.2"):
            match = Dataset()
            match.PatientID = "P1"
            match.StudyInstanceUID = uid
            yield match

    def move(
        self,
        remote: Remote,
        query: Dataset,
        destination: str,
        model: Model,
        progress: Progress | None = None,
    ) -> Transfer:
        self.moved.append((query, destination))
        failed = len(self.moved) - 1
        result = Transfer(completed=2 - failed, failed=failed, failed_uids=["9.9"] * failed)
        if progress:
            progress(result, 2)
        return result

    def get(
        self, remote: Remote, query: Dataset, model: Model, progress: Progress | None = None
    ) -> Transfer:
        raise AssertionError("not used")

    def send(self, remote: Remote, paths: list[Path], progress: Progress | None = None) -> Transfer:
        raise AssertionError("not used")


def test_retrieve_moves_each_match_by_its_unique_keys() -> None:
    scu = _FakeScu()
    seen: list[tuple[int, int]] = []
    count, result = retrieve(
        scu,
        PACS,
        identifier("STUDY", ["PatientID=P1"]),
        "OPENVNA",
        "study",
        lambda transfer, total: seen.append((transfer.done, total)),
    )
    assert count == 2
    assert [(q.StudyInstanceUID, d) for q, d in scu.moved] == [
        ("1.1", "OPENVNA"),
        ("1.2", "OPENVNA"),
    ]
    assert all("PatientID" not in q for q, _ in scu.moved)  # not a Study Root level's key
    assert all(q.QueryRetrieveLevel == "STUDY" for q, _ in scu.moved)
    assert (result.completed, result.failed, result.failed_uids) == (3, 1, ["9.9"])
    assert not result.ok
    assert seen == [(2, 2), (4, 4)]
