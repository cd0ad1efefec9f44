"""The ways into the store that every door shares: batches beyond one transaction, a file sent
without its preamble, a stream, a dataset that cannot be encoded, a full spool."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from openvna.archive import Archive, Origin
from openvna.archive.batch import STORE_BATCH
from openvna.archive.outcome import (
    CANNOT_UNDERSTAND,
    OUT_OF_RESOURCES,
    PROCESSING_FAILURE,
    StoreStatus,
)
from openvna.dicom.part10 import part10_bytes, read_header
from openvna.errors import IndexUnavailable, OutOfResources
from tests.factories import make_instance
from tests.spool import spool_left


def _spool(archive: Archive, name: str, data: bytes) -> Path:
    path = archive.spool_dir() / name
    path.write_bytes(data)
    return path


def test_more_instances_than_a_batch_are_stored_in_several_transactions(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    add = archive.index.add_instances

    def counting(records: Any, **options: Any) -> Any:
        sizes.append(len(list(records)))
        return add(records, **options)

    monkeypatch.setattr(archive.index, "add_instances", counting)
    count = STORE_BATCH + 3
    paths = [
        _spool(archive, f"{n}.dcm", part10_bytes(make_instance(rows=2, columns=2)))
        for n in range(count)
    ]
    outcomes = archive.store_files(paths, Origin.local())
    assert sizes == [STORE_BATCH, 3]
    assert all(o.status is StoreStatus.STORED for o in outcomes)
    assert archive.index.count_instances() == count


def test_an_index_failure_after_a_stored_batch_fails_only_the_rest(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    add = archive.index.add_instances
    calls: list[int] = []

    def fail_second(records: Any, **options: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise IndexUnavailable("index unavailable: disk I/O error")
        return add(records, **options)

    monkeypatch.setattr(archive.index, "add_instances", fail_second)
    paths = [
        _spool(archive, f"{n}.dcm", part10_bytes(make_instance(rows=2, columns=2)))
        for n in range(STORE_BATCH + 2)
    ]
    outcomes = archive.store_files(paths, Origin.local())
    assert [o.ok for o in outcomes] == [True] * STORE_BATCH + [False] * 2
    assert {o.failure_reason for o in outcomes[STORE_BATCH:]} == {PROCESSING_FAILURE}
    assert "disk I/O error" in outcomes[-1].message
    assert archive.index.count_instances() == STORE_BATCH
    assert spool_left(archive.spool_dir()) == []


def test_an_index_failure_of_the_first_batch_propagates(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(records: Any, **options: Any) -> Any:
        raise IndexUnavailable("index unavailable: disk I/O error")

    monkeypatch.setattr(archive.index, "add_instances", fail)
    path = _spool(archive, "a.dcm", part10_bytes(make_instance()))
    with pytest.raises(IndexUnavailable):
        archive.store_files([path], Origin.local())
    assert not path.exists()


def test_a_file_without_its_preamble_is_stored_with_one(archive: Archive) -> None:
    ds = make_instance()
    headless = part10_bytes(ds)[128 + 4 :]  # File Meta first, as some clients send it
    outcome = archive.store_file(_spool(archive, "a.dcm", headless), Origin.local())
    assert outcome.status is StoreStatus.STORED
    (location,) = archive.index.locate(ds.StudyInstanceUID)
    stored = read_header(archive.blobs.path(location.blob_key))  # type: ignore[attr-defined]
    assert stored.dataset.SOPInstanceUID == ds.SOPInstanceUID
    # Its fsync and checksum are those of the repaired file, not of the one received (whose
    # fsync started before the check: Archive._prepare).
    assert archive.check(verify_checksums=True).findings == []


def test_garbage_is_not_taken_for_a_file_without_preamble(archive: Archive) -> None:
    outcome = archive.store_file(_spool(archive, "a.dcm", b"\x02\x00 garbage" * 30), Origin.local())
    assert outcome.failure_reason == CANNOT_UNDERSTAND
    assert archive.index.count_instances() == 0


def test_a_stream_is_stored_and_left_to_its_owner(archive: Archive) -> None:
    ds = make_instance()
    source = io.BytesIO(part10_bytes(ds))
    outcome = archive.store_stream(source, Origin.local())
    assert outcome.status is StoreStatus.STORED
    assert not source.closed
    assert archive.index.count_instances() == 1


def test_a_dataset_that_cannot_be_encoded_is_a_failed_outcome(archive: Archive) -> None:
    ds = make_instance()
    ds.Rows = 70000  # US holds 0..65535
    outcome = archive.store_dataset(ds, Origin.local())
    assert outcome.failure_reason == CANNOT_UNDERSTAND
    assert outcome.sop_instance_uid == ds.SOPInstanceUID
    assert "cannot encode" in outcome.message
    assert spool_left(archive.spool_dir()) == []


def test_a_full_spool_is_an_out_of_resources_outcome(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*_: Any, **__: Any) -> Any:
        raise OutOfResources("cannot write to the spool: No space left on device")

    monkeypatch.setattr("openvna.archive.service.spool_dataset", full)
    monkeypatch.setattr("openvna.archive.service.spool_stream", full)
    ds = make_instance()
    assert archive.store_dataset(ds, Origin.local()).failure_reason == OUT_OF_RESOURCES
    outcome = archive.store_stream(io.BytesIO(part10_bytes(ds)), Origin.local())
    assert outcome.failure_reason == OUT_OF_RESOURCES
    assert archive.index.count_instances() == 0


def test_a_batch_prepares_each_instance_before_it_is_finished(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STOW-RS hands each part over as it arrives (from the thread that splits the body): its
    check and fsync run while the request goes on, and ``finish`` is left with moving and
    indexing."""
    prepared: list[Path] = []
    prepare = archive._prepare

    def recording(path: Path, expect_study: str | None) -> Any:
        result = prepare(path, expect_study)
        prepared.append(path)
        return result

    monkeypatch.setattr(archive, "_prepare", recording)
    batch = archive.batch(Origin.local())
    paths = [_spool(archive, f"{n}.dcm", part10_bytes(make_instance())) for n in range(3)]
    for number, path in enumerate(paths, 1):
        batch.add(path)
        assert prepared == paths[:number]  # prepared as it came, before finish
    assert archive.index.count_instances() == 0
    assert [o.status for o in batch.finish()] == [StoreStatus.STORED] * 3


def test_an_abandoned_batch_leaves_nothing(archive: Archive) -> None:
    batch = archive.batch(Origin.local())
    paths = [_spool(archive, f"{n}.dcm", part10_bytes(make_instance())) for n in range(3)]
    for path in paths:
        batch.add(path)
    batch.abandon()
    assert spool_left(archive.spool_dir()) == []
    assert archive.index.count_instances() == 0
