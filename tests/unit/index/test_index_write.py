"""Index.add_instance and Index.delete: keep/replace, moves, counts, concurrency."""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import orjson
import pytest

from openvna.dicom.query import parse_qido
from openvna.errors import InvalidDicom, NotFound
from openvna.index import AddResult, Index, InstanceRecord, create_index, write
from tests.databases import POSTGRES

Make = Callable[..., InstanceRecord]


def study(index: Index, uid: str, *params: tuple[str, str]) -> dict[str, Any]:
    query = [("StudyInstanceUID", uid), *params]
    (ds,) = index.find(parse_qido("STUDY", query)).page().datasets
    return ds


def counts(index: Index, uid: str) -> tuple[int, int]:
    ds = study(index, uid)
    return ds["00201206"]["Value"][0], ds["00201208"]["Value"][0]


def series_counts(index: Index, study_uid: str) -> dict[str, int]:
    result = index.find(parse_qido("SERIES", [], study_uid=study_uid)).page()
    return {ds["0020000E"]["Value"][0]: ds["00201209"]["Value"][0] for ds in result.datasets}


def stored_description(index: Index, sop: str) -> str:
    (location,) = index.locate("1.2.3", sop=sop)
    metadata = orjson.loads(index.metadata("1.2.3", location.series_uid, sop))
    return str(metadata[0]["00081030"]["Value"][0])


def test_add_new_instance(index: Index, make_record: Make) -> None:
    result = index.add_instance(make_record("1.2.3.1.1"), replace=False)
    assert result == AddResult(existed=False, old_blob_key=None, stored=True)
    assert index.count_instances() == 1
    assert counts(index, "1.2.3") == (1, 1)


def test_existing_instance_is_kept_without_replace(index: Index, make_record: Make) -> None:
    index.add_instance(make_record("1.2.3.1.1", StudyDescription="FIRST"), replace=False)
    again = make_record("1.2.3.1.1", StudyDescription="SECOND", blob_key="other")
    assert index.add_instance(again, replace=False) == AddResult(True, None, False)
    assert stored_description(index, "1.2.3.1.1") == "FIRST"
    assert index.locate("1.2.3")[0].blob_key == "1.2.3/1.2.3.1/1.2.3.1.1.dcm"
    assert counts(index, "1.2.3") == (1, 1)


def test_replace_returns_the_old_blob_key(index: Index, make_record: Make) -> None:
    index.add_instance(make_record("1.2.3.1.1", StudyDescription="FIRST"), replace=False)
    newer = make_record("1.2.3.1.1", StudyDescription="SECOND", blob_key="new-key")
    result = index.add_instance(newer, replace=True)
    assert result == AddResult(True, "1.2.3/1.2.3.1/1.2.3.1.1.dcm", True)
    assert stored_description(index, "1.2.3.1.1") == "SECOND"
    assert index.locate("1.2.3")[0].blob_key == "new-key"
    assert counts(index, "1.2.3") == (1, 1)
    same_key = make_record("1.2.3.1.1", blob_key="new-key")
    assert index.add_instance(same_key, replace=True) == AddResult(True, None, True)


def test_newest_instance_wins_the_study_attributes(index: Index, make_record: Make) -> None:
    index.add_instance(make_record("1.2.3.1.1", StudyDescription="OLD"), replace=False)
    index.add_instance(
        make_record("1.2.3.1.2", StudyDescription="NEW", PatientName="ROE^JANE"), replace=False
    )
    ds = study(index, "1.2.3", ("includefield", "StudyDescription"))
    assert ds["00081030"]["Value"] == ["NEW"]
    assert ds["00100010"]["Value"] == [{"Alphabetic": "ROE^JANE"}]
    assert index.find(parse_qido("STUDY", [("PatientName", "DOE")])).page().datasets == []


def test_counts_and_modalities_follow_adds_and_deletes(index: Index, make_record: Make) -> None:
    for n in range(3):
        index.add_instance(make_record(f"1.2.3.1.{n}"), replace=False)
    mr = make_record(
        "1.2.3.2.1", series="1.2.3.2", Modality="MR", SOPClassUID="1.2.840.10008.5.1.4.1.1.4"
    )
    index.add_instance(mr, replace=False)
    assert counts(index, "1.2.3") == (2, 4)
    assert series_counts(index, "1.2.3") == {"1.2.3.1": 3, "1.2.3.2": 1}
    ds = study(index, "1.2.3")
    assert ds["00080061"]["Value"] == ["CT", "MR"]
    assert len(ds["00080062"]["Value"]) == 2

    assert index.delete("1.2.3", "1.2.3.2") == ["1.2.3/1.2.3.2/1.2.3.2.1.dcm"]
    assert counts(index, "1.2.3") == (1, 3)
    ds = study(index, "1.2.3")
    assert ds["00080061"]["Value"] == ["CT"]
    assert ds["00080062"]["Value"] == ["1.2.840.10008.5.1.4.1.1.2"]
    assert index.find(parse_qido("STUDY", [("ModalitiesInStudy", "MR")])).page().datasets == []

    assert index.delete("1.2.3", "1.2.3.1", "1.2.3.1.0") == ["1.2.3/1.2.3.1/1.2.3.1.0.dcm"]
    assert counts(index, "1.2.3") == (1, 2)
    assert series_counts(index, "1.2.3") == {"1.2.3.1": 2}

    assert sorted(index.delete("1.2.3")) == [
        "1.2.3/1.2.3.1/1.2.3.1.1.dcm",
        "1.2.3/1.2.3.1/1.2.3.1.2.dcm",
    ]
    assert index.count_instances() == 0
    assert index.find(parse_qido("STUDY", [])).page().datasets == []
    assert index.find(parse_qido("SERIES", [])).page().datasets == []


def test_deleting_the_last_instance_removes_series_and_study(
    index: Index, make_record: Make
) -> None:
    index.add_instance(make_record("1.2.3.1.1"), replace=False)
    index.delete("1.2.3", "1.2.3.1", "1.2.3.1.1")
    with pytest.raises(NotFound, match=r"study 1\.2\.3 not found"):
        index.locate("1.2.3")


def test_instance_moved_to_another_study(index: Index, make_record: Make) -> None:
    index.add_instance(make_record("9.1", "1.1", "1.1.1"), replace=False)
    index.add_instance(make_record("9.2", "1.1", "1.1.1"), replace=False)
    index.add_instance(make_record("9.3", "2.2", "2.2.1"), replace=False)
    moved = make_record("9.2", "2.2", "2.2.1", blob_key="moved")
    assert index.add_instance(moved, replace=True).old_blob_key == "1.1/1.1.1/9.2.dcm"
    assert counts(index, "1.1") == (1, 1)
    assert counts(index, "2.2") == (1, 2)
    assert sorted(loc.sop_uid for loc in index.locate("2.2")) == ["9.2", "9.3"]

    last = make_record("9.1", "2.2", "2.2.2", blob_key="moved-too")
    index.add_instance(last, replace=True)
    with pytest.raises(NotFound, match=r"study 1\.1 not found"):
        index.locate("1.1")
    assert counts(index, "2.2") == (2, 3)
    assert index.count_instances() == 3


def test_series_moved_to_another_study(index: Index, make_record: Make) -> None:
    index.add_instance(make_record("9.1", "1.1", "5.5"), replace=False)
    index.add_instance(make_record("9.2", "1.1", "5.5"), replace=False)
    index.add_instance(make_record("9.3", "2.2", "5.5"), replace=False)
    with pytest.raises(NotFound, match=r"study 1\.1 not found"):
        index.locate("1.1")
    assert counts(index, "2.2") == (1, 3)
    assert len(index.locate("2.2", "5.5")) == 3


def test_patient_counts(index: Index, make_record: Make) -> None:
    index.add_instance(make_record("9.1", "1.1", "1.1.1"), replace=False)
    index.add_instance(make_record("9.2", "1.1", "1.1.2"), replace=False)
    index.add_instance(make_record("9.3", "2.2", "2.2.1"), replace=False)
    index.add_instance(make_record("9.4", "3.3", "3.3.1", PatientID="OTHER"), replace=False)
    asked = ("includefield", "00201200,00201202,00201204")
    ds = study(index, "1.1", asked)
    assert [ds[k]["Value"][0] for k in ("00201200", "00201202", "00201204")] == [2, 3, 3]
    index.delete("2.2")
    ds = study(index, "1.1", asked)
    assert [ds[k]["Value"][0] for k in ("00201200", "00201202", "00201204")] == [1, 2, 2]
    other = study(index, "3.3", asked)
    assert other["00201200"]["Value"] == [1]


def test_empty_patient_id_is_allowed(index: Index, make_record: Make) -> None:
    index.add_instance(make_record("9.1", "1.1", "1.1.1", PatientID=""), replace=False)
    index.add_instance(make_record("9.2", "2.2", "2.2.1", PatientID=None), replace=False)
    assert index.count_instances() == 2
    ds = study(index, "2.2")
    assert ds["00100020"] == {"vr": "LO"}


def test_missing_uid_is_invalid_dicom(index: Index, make_record: Make) -> None:
    with pytest.raises(InvalidDicom) as caught:
        index.add_instance(make_record("9.1", SeriesInstanceUID=None), replace=False)
    assert caught.value.attribute == "SeriesInstanceUID"
    assert index.count_instances() == 0


def test_concurrent_stores_into_one_new_study(index: Index, make_record: Make) -> None:
    records = [
        make_record(f"7.{c}.{n}", "7.7", f"7.7.{n % 3}", InstanceNumber=n)
        for c in range(4)
        for n in range(10)
    ]
    start = threading.Barrier(4)

    def client(c: int) -> list[AddResult]:
        start.wait()
        return [index.add_instance(r, replace=False) for r in records[c * 10 : (c + 1) * 10]]

    with ThreadPoolExecutor(4) as pool:
        results = [r for batch in pool.map(client, range(4)) for r in batch]
    assert all(r.stored for r in results)
    assert index.count_instances() == 40
    assert counts(index, "7.7") == (3, 40)
    assert series_counts(index, "7.7") == {"7.7.0": 16, "7.7.1": 12, "7.7.2": 12}
    ds = study(index, "7.7", ("includefield", "NumberOfPatientRelatedInstances"))
    assert ds["00201204"]["Value"] == [40]


def test_concurrent_stores_of_one_instance(index: Index, make_record: Make) -> None:
    start = threading.Barrier(4)

    def client(c: int) -> AddResult:
        start.wait()
        return index.add_instance(
            make_record("8.1", "8.8", "8.8.1", blob_key=f"k{c}"), replace=False
        )

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(client, range(4)))
    assert sum(r.stored for r in results) == 1
    assert index.count_instances() == 1
    assert counts(index, "8.8") == (1, 1)


def test_odd_values_are_stored_and_kept_verbatim_in_metadata(
    index: Index, make_record: Make
) -> None:
    base = make_record("9.1")
    odd = {
        "00081030": {"vr": "LO", "Value": ["A\x00B"]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "X" * 5000}]},
        "00200013": {"vr": "IS", "Value": [2**40]},
        "00080016": {"vr": "UI", "Value": ["1." + "2" * 80]},
    }
    record = replace(base, metadata={**base.metadata, **odd})
    assert index.add_instance(record, replace=False).stored
    ds = study(index, "1.2.3", ("includefield", "StudyDescription"))
    assert ds["00081030"]["Value"] == ["A\x00B"]
    found = index.find(parse_qido("INSTANCE", [], study_uid="1.2.3")).page().datasets[0]
    assert found["00200013"] == {"vr": "IS"}
    (stored,) = orjson.loads(index.metadata("1.2.3"))
    assert stored["00200013"]["Value"] == [2**40]


def test_batch_add_in_one_transaction(index: Index, make_record: Make) -> None:
    records = [make_record(f"1.2.3.1.{n}", InstanceNumber=n) for n in range(5)]
    records.append(make_record("1.2.3.1.0", blob_key="again"))  # a duplicate inside the batch
    results = index.add_instances(records, replace=False)
    assert [r.stored for r in results] == [True] * 5 + [False]
    assert counts(index, "1.2.3") == (1, 5)
    moved = make_record("1.2.3.1.4", "4.4", "4.4.1", blob_key="moved")
    index.add_instances([moved, make_record("4.4.1.1", "4.4", "4.4.1")], replace=True)
    assert counts(index, "1.2.3") == (1, 4)
    assert counts(index, "4.4") == (1, 2)


def test_batch_of_series_interleaved_keeps_the_newest_attributes(
    index: Index, make_record: Make
) -> None:
    """A batch's later instances of one series reuse its rows only while nothing else wrote
    them: the study and patient attributes are those of the batch's last instance."""
    records = [
        make_record("1.2.3.1.1", StudyDescription="FIRST"),
        make_record("1.2.3.1.2", StudyDescription="FIRST"),
        make_record("1.2.3.2.1", "1.2.3", "1.2.3.2", StudyDescription="SECOND", Modality="MR"),
        make_record("1.2.3.1.3", StudyDescription="FIRST"),
    ]
    assert all(r.stored for r in index.add_instances(records, replace=True))
    ds = study(index, "1.2.3", ("includefield", "StudyDescription"))
    assert ds["00081030"]["Value"] == ["FIRST"]
    assert ds["00080061"]["Value"] == ["CT", "MR"]
    assert counts(index, "1.2.3") == (2, 4)
    assert series_counts(index, "1.2.3") == {"1.2.3.1": 3, "1.2.3.2": 1}


def _snapshot(index: Index) -> list[Any]:
    """Everything a client can see: studies, series, counts, attributes, instance metadata."""
    state: list[Any] = []
    for ds in index.find(parse_qido("STUDY", [("includefield", "all")])).page().datasets:
        uid = ds["0020000D"]["Value"][0]
        series = index.find(parse_qido("SERIES", [("includefield", "all")], study_uid=uid)).page()
        metadata = sorted(orjson.loads(index.metadata(uid)), key=lambda m: str(m["00080018"]))
        state.append((ds, sorted(series.datasets, key=str), metadata))
    return sorted(state, key=str)


def test_a_batch_ends_as_the_same_stores_one_by_one(index: Index, make_record: Make) -> None:
    """Interleaved series, a series moving between studies, attributes changing mid-batch,
    an instance stored twice: one transaction leaves what single stores leave."""
    rng = random.Random(5)
    records = [
        make_record(
            f"7.{rng.randrange(30)}",
            rng.choice(["7.100", "7.200"]),
            rng.choice(["7.100.1", "7.100.2", "7.200.1"]),
            StudyDescription=rng.choice(["A", "A", "A", "B"]),
            PatientName=rng.choice(["DOE^JOHN", "DOE^JOHN", "ROE^JANE"]),
            Modality=rng.choice(["CT", "MR"]),
            blob_key=f"key-{n}",
        )
        for n in range(40)
    ]
    index.add_instances(records, replace=True)
    batched = _snapshot(index)
    for study_uid in ("7.100", "7.200"):
        with contextlib.suppress(NotFound):
            index.delete(study_uid)
    assert index.count_instances() == 0
    for record in records:
        index.add_instance(record, replace=True)
    assert _snapshot(index) == batched


def _prefill(index: Index, make: Make) -> None:
    index.add_instances(
        [
            make("5.1", "5.100", "5.100.1", blob_key="old-1"),
            make("5.2", "5.100", "5.100.1", blob_key="old-2"),
            make("5.3", "5.100", "5.100.2", Modality="MR", blob_key="old-3"),
            make("5.4", "5.200", "5.200.1", PatientID="P2", blob_key="old-4"),
        ],
        replace=False,
    )


def _mixed_batch(make: Make) -> list[InstanceRecord]:
    """New, replaced and moved instances, a series moving to another study with a stored and
    a pending instance, and SOP Instance UIDs stored twice (new ones and indexed ones)."""
    return [
        make("5.10", "5.100", "5.100.1", blob_key="b0"),
        make("5.1", "5.100", "5.100.1", StudyDescription="AGAIN", blob_key="b1"),
        make("5.11", "5.100", "5.100.2", Modality="MR", blob_key="b2"),
        make("5.2", "5.300", "5.300.1", PatientID="P3", blob_key="b3"),
        make("5.10", "5.100", "5.100.1", InstanceNumber=7, blob_key="b4"),
        make("5.12", "5.200", "5.100.2", Modality="MR", PatientID="P2", blob_key="b5"),
        make("5.4", "5.200", "5.200.1", PatientID="P2", blob_key="b6"),
        make("5.4", "5.200", "5.200.1", PatientID="P2", StudyDescription="LAST", blob_key="b7"),
        make("5.1", "5.100", "5.100.1", StudyDescription="AGAIN", blob_key="b1"),
    ]


def _stored(index: Index) -> list[Any]:
    """_snapshot and where each instance's blob is."""
    studies = [
        ds["0020000D"]["Value"][0] for ds in index.find(parse_qido("STUDY", [])).page().datasets
    ]
    blobs = sorted((loc.sop_uid, loc.blob_key) for uid in studies for loc in index.locate(uid))
    return [_snapshot(index), blobs]


@pytest.mark.parametrize("lookup_chunk", [2, 500])
@pytest.mark.parametrize("replace_policy", [True, False])
def test_a_mixed_batch_answers_as_the_same_stores_one_by_one(
    index: Index,
    make_record: Make,
    monkeypatch: pytest.MonkeyPatch,
    replace_policy: bool,
    lookup_chunk: int,
) -> None:
    monkeypatch.setattr("openvna.index.write._LOOKUP_CHUNK", lookup_chunk)
    _prefill(index, make_record)
    records = _mixed_batch(make_record)
    batched = index.add_instances(records, replace=replace_policy)
    if replace_policy:
        assert batched == [
            AddResult(False, None, True),
            AddResult(True, "old-1", True),
            AddResult(False, None, True),
            AddResult(True, "old-2", True),
            AddResult(True, "b0", True),
            AddResult(False, None, True),
            AddResult(True, "old-4", True),
            AddResult(True, "b6", True),
            AddResult(True, None, True),
        ]
        assert counts(index, "5.300") == (1, 1)
    else:
        kept = AddResult(True, None, False)
        new = AddResult(False, None, True)
        assert batched == [new, kept, new, kept, kept, new, kept, kept, kept]
    assert series_counts(index, "5.200") == {"5.200.1": 1, "5.100.2": 3}
    assert series_counts(index, "5.100") == {"5.100.1": 2 if replace_policy else 3}
    state = _stored(index)
    for study_uid in ("5.100", "5.200", "5.300"):
        with contextlib.suppress(NotFound):
            index.delete(study_uid)
    _prefill(index, make_record)
    assert [index.add_instance(r, replace=replace_policy) for r in records] == batched
    assert _stored(index) == state


@pytest.mark.parametrize("replace_policy", [True, False])
def test_concurrent_batches_of_the_same_instances(
    index: Index, make_record: Make, replace_policy: bool
) -> None:
    """Every blob but the one indexed is answered as replaced or not stored (none is lost),
    whatever the order the batches commit in."""
    start = threading.Barrier(4)

    def client(c: int) -> list[AddResult]:
        records = [
            make_record(f"8.{n}", "8.8", f"8.8.{n % 2}", blob_key=f"k{c}.{n}") for n in range(10)
        ]
        start.wait()
        return index.add_instances(records, replace=replace_policy)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(client, range(4)))
    for n in range(10):
        (indexed,) = [loc.blob_key for loc in index.locate("8.8", sop=f"8.{n}")]
        answers = [batch[n] for batch in results]
        assert sum(not a.existed for a in answers) == 1
        if replace_policy:
            old_keys = sorted(a.old_blob_key for a in answers if a.existed)
            assert sorted([*old_keys, indexed]) == [f"k{c}.{n}" for c in range(4)]
        else:
            assert [f"k{c}.{n}" for c, a in enumerate(answers) if a.stored] == [indexed]
    assert counts(index, "8.8") == (2, 10)


# PostgreSQL only: SQLite writers take turns (BEGIN IMMEDIATE), so no store can come between one
# transaction's lookup and its insert there.
@pytest.mark.parametrize("index_db_url", [POSTGRES], indirect=True)
@pytest.mark.parametrize("replace_policy", [True, False])
def test_an_instance_stored_between_lookup_and_insert_is_found_on_the_next_attempt(
    index: Index,
    index_db_url: str,
    make_record: Make,
    monkeypatch: pytest.MonkeyPatch,
    replace_policy: bool,
) -> None:
    other = create_index(index_db_url)
    lookup = write._find_instances
    lookups: list[Any] = []

    def lookup_then_store_elsewhere(*args: Any) -> Any:
        found = lookup(*args)
        lookups.append(dict(found))
        if len(lookups) == 1:
            other.add_instance(make_record("9.1", blob_key="first"), replace=False)
        return found

    monkeypatch.setattr(write, "_find_instances", lookup_then_store_elsewhere)
    try:
        records = [make_record("9.1", blob_key="second"), make_record("9.2")]
        results = index.add_instances(records, replace=replace_policy)
    finally:
        other.close()
    first = AddResult(True, "first", True) if replace_policy else AddResult(True, None, False)
    assert results == [first, AddResult(False, None, True)]
    # This store's lookup, the other store's, this store's second attempt (which found 9.1).
    assert [sorted(found) for found in lookups] == [[], [], ["9.1"]]
    assert counts(index, "1.2.3") == (1, 2)


def test_failed_batch_leaves_nothing(index: Index, make_record: Make) -> None:
    records = [make_record("1.2.3.1.1"), make_record("1.2.3.1.2", SOPInstanceUID=None)]
    with pytest.raises(InvalidDicom):
        index.add_instances(records, replace=False)
    assert index.count_instances() == 0
    assert index.find(parse_qido("STUDY", [])).page().datasets == []


def test_concurrent_stores_and_deletes_for_one_patient(index: Index, make_record: Make) -> None:
    for n in range(5):
        index.add_instance(make_record(f"6.0.{n}", "6.0", "6.0.1"), replace=False)
    start = threading.Barrier(4)

    def client(c: int) -> None:
        start.wait()
        if c == 0:
            index.delete("6.0")
            return
        for n in range(8):
            record = make_record(f"6.{c}.{n}", f"6.{c}", f"6.{c}.1")
            index.add_instance(record, replace=bool(n % 2))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(client, range(4)))
    assert index.count_instances() == 24
    asked = ("includefield", "00201200,00201202,00201204")
    ds = study(index, "6.1", asked)
    assert [ds[k]["Value"][0] for k in ("00201200", "00201202", "00201204")] == [3, 3, 24]
