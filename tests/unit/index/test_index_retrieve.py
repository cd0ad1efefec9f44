"""Index.locate, Index.metadata and Index.delete: order, stored bytes, NotFound naming the UID."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import orjson
import pytest

from openvna.dicom.part10 import PixelDataLocation
from openvna.errors import NotFound
from openvna.index import Index, InstanceRecord, retrieve
from openvna.index.records import InstanceLocation

Make = Callable[..., InstanceRecord]


@pytest.fixture
def filled(index: Index, make_record: Make) -> Index:
    # Stored out of order: locate must sort by series number, then instance number.
    for series, number in (("1.2.3.2", 2), ("1.2.3.1", 1)):
        for n in (3, 1, 2):
            record = make_record(
                f"{series}.{n}", series=series, SeriesNumber=number, InstanceNumber=n
            )
            index.add_instance(record, replace=False)
    index.add_instance(make_record("4.5.6.1.1", "4.5.6", "4.5.6.1"), replace=False)
    return index


def test_locate_orders_by_series_then_instance_number(filled: Index) -> None:
    found = [loc.sop_uid for loc in filled.locate("1.2.3")]
    assert found == [
        "1.2.3.1.1",
        "1.2.3.1.2",
        "1.2.3.1.3",
        "1.2.3.2.1",
        "1.2.3.2.2",
        "1.2.3.2.3",
    ]
    assert [loc.sop_uid for loc in filled.locate("1.2.3", "1.2.3.2")] == [
        "1.2.3.2.1",
        "1.2.3.2.2",
        "1.2.3.2.3",
    ]
    (one,) = filled.locate("1.2.3", "1.2.3.1", "1.2.3.1.2")
    assert (one.study_uid, one.series_uid, one.sop_uid) == ("1.2.3", "1.2.3.1", "1.2.3.1.2")
    assert one.sop_class_uid == "1.2.840.10008.5.1.4.1.1.2"
    assert one.transfer_syntax == "1.2.840.10008.1.2.1"
    assert (one.blob_key, one.size) == ("1.2.3/1.2.3.1/1.2.3.1.2.dcm", 1000)


def test_frames_and_pixel_data_round_trip(index: Index, make_record: Make) -> None:
    frames = (((1000, 20), (1028, 30)), ((1066, 40),))
    record = replace(
        make_record("1.2.3.1.1"),
        frames=frames,
        pixel_data=PixelDataLocation("OB", 990, 200, True),
        size=4_000_000_000,
    )
    index.add_instance(record, replace=False)
    (loc,) = index.locate("1.2.3")
    assert loc.frames == frames
    assert loc.pixel_data == PixelDataLocation("OB", 990, 200, True)
    assert loc.size == 4_000_000_000


def test_locate_columns_are_the_fields_of_a_location() -> None:
    names = [column.name for column in retrieve._LOCATION_COLUMNS]
    assert names == [field.removesuffix("_json") for field in InstanceLocation._fields]


def test_no_pixel_data(index: Index, make_record: Make) -> None:
    index.add_instance(replace(make_record("1.2.3.1.1"), frames=()), replace=False)
    (loc,) = index.locate("1.2.3")
    assert (loc.frames, loc.pixel_data) == ((), None)


def test_metadata_is_the_stored_json_in_retrieval_order(filled: Index, make_record: Make) -> None:
    body = filled.metadata("1.2.3", "1.2.3.1")
    assert body.startswith(b"[{") and body.endswith(b"}]")
    parsed = orjson.loads(body)
    assert [ds["00080018"]["Value"][0] for ds in parsed] == ["1.2.3.1.1", "1.2.3.1.2", "1.2.3.1.3"]
    expected = make_record("1.2.3.1.1", series="1.2.3.1", SeriesNumber=1, InstanceNumber=1)
    assert parsed[0] == expected.metadata
    assert len(orjson.loads(filled.metadata("1.2.3"))) == 6
    (single,) = orjson.loads(filled.metadata("1.2.3", "1.2.3.2", "1.2.3.2.3"))
    assert single["00200013"]["Value"] == [3]


def test_metadata_keeps_the_base_marker_and_bulk_uris(index: Index, make_record: Make) -> None:
    record = make_record("1.2.3.1.1")
    uri = "{openvna-base}/studies/1.2.3/series/1.2.3.1/instances/1.2.3.1.1/bulkdata/7FE00010"
    metadata = {**record.metadata, "7FE00010": {"vr": "OW", "BulkDataURI": uri}}
    index.add_instance(replace(record, metadata=metadata), replace=False)
    assert uri.encode() in index.metadata("1.2.3")


@pytest.mark.parametrize(
    ("path", "message", "uid"),
    [
        (("9.9",), "study 9.9 not found", "9.9"),
        (("1.2.3", "9.9"), "series 9.9 not found in study 1.2.3", "9.9"),
        # A series that exists, but in another study, is not found in this one.
        (("1.2.3", "4.5.6.1"), "series 4.5.6.1 not found in study 1.2.3", "4.5.6.1"),
        (("1.2.3", "1.2.3.1", "9.9"), "instance 9.9 not found in series 1.2.3.1", "9.9"),
        (("1.2.3", "1.2.3.1", "1.2.3.2.1"), "instance 1.2.3.2.1 not found in series 1.2.3.1", None),
        (("1.2.3", None, "4.5.6.1.1"), "instance 4.5.6.1.1 not found in study 1.2.3", None),
    ],
)
def test_not_found_names_the_missing_uid(
    filled: Index, path: tuple[str | None, ...], message: str, uid: str | None
) -> None:
    for call in (filled.locate, filled.metadata, filled.delete):
        with pytest.raises(NotFound) as caught:
            call(*path)
        assert caught.value.message == message
        assert caught.value.uid == (uid or path[-1])
    assert filled.count_instances() == 7


def test_delete_returns_blob_keys(filled: Index) -> None:
    keys = filled.delete("1.2.3", "1.2.3.1", "1.2.3.1.2")
    assert keys == ["1.2.3/1.2.3.1/1.2.3.1.2.dcm"]
    assert len(filled.locate("1.2.3")) == 5
    assert sorted(filled.delete("1.2.3")) == sorted(
        f"1.2.3/{s}/{s}.{n}.dcm"
        for s in ("1.2.3.1", "1.2.3.2")
        for n in (1, 2, 3)
        if n != 2 or s != "1.2.3.1"
    )
    assert filled.count_instances() == 1
    with pytest.raises(NotFound):
        filled.metadata("1.2.3")
    assert [loc.sop_uid for loc in filled.locate("4.5.6")] == ["4.5.6.1.1"]
