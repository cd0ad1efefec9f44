"""Archive.retrieve: stored instances as objects every retrieving door reads (WADO-RS, WADO-URI,
C-GET/C-MOVE, rendering), tested against the service, not through HTTP."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit

from openvna.archive import Archive, Origin, StoredInstance
from openvna.dicom.part10 import part10_bytes
from openvna.errors import NotAcceptable, NotFound
from tests.factories import make_instance


def _store(archive: Archive, **attributes: object) -> StoredInstance:
    ds = make_instance(**attributes)  # type: ignore[arg-type]
    assert archive.store_dataset(ds, Origin.local()).ok
    (instance,) = archive.retrieve(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    return instance


def test_an_instance_reads_back_as_the_file_it_was_stored_as(archive: Archive) -> None:
    ds = make_instance(rows=4, columns=4)
    archive.store_dataset(ds, Origin.local())
    (instance,) = archive.retrieve(ds.StudyInstanceUID)
    assert (instance.sop_uid, instance.transfer_syntax) == (
        ds.SOPInstanceUID,
        ExplicitVRLittleEndian,
    )
    assert instance.file().read() == part10_bytes(ds)
    assert instance.file().filename is not None  # a filesystem store: sendfile can take it


def test_a_study_comes_in_series_then_instance_order(archive: Archive) -> None:
    first = make_instance(SeriesNumber=2, InstanceNumber=1)
    study = first.StudyInstanceUID
    second = make_instance(study_uid=study, SeriesNumber=1, InstanceNumber=2)
    third = make_instance(
        study_uid=study, series_uid=second.SeriesInstanceUID, SeriesNumber=1, InstanceNumber=1
    )
    for ds in (first, second, third):
        archive.store_dataset(ds, Origin.local())
    order = [i.sop_uid for i in archive.retrieve(study)]
    assert order == [third.SOPInstanceUID, second.SOPInstanceUID, first.SOPInstanceUID]


def test_frames_are_the_native_pixel_bytes_of_each_frame(archive: Archive) -> None:
    instance = _store(archive, rows=4, columns=4, frames=3)
    pixels = np.arange(4 * 4 * 3, dtype=np.uint16) % 4096
    frame_bytes = [pixels[n * 16 : (n + 1) * 16].tobytes() for n in range(3)]
    assert instance.frame_count == 3
    assert [c.read() for c in instance.frames([3, 1])] == [frame_bytes[2], frame_bytes[0]]
    assert instance.pixel_value().read() == b"".join(frame_bytes)


def test_a_frame_that_does_not_exist_is_not_found(archive: Archive) -> None:
    instance = _store(archive, rows=4, columns=4, frames=2)
    with pytest.raises(NotFound, match="has 2 frame"):
        instance.frames([1, 3])


def test_an_instance_without_pixel_data_has_no_frames(archive: Archive) -> None:
    ds = make_instance()
    del ds.PixelData
    archive.store_dataset(ds, Origin.local())
    (instance,) = archive.retrieve(ds.StudyInstanceUID)
    with pytest.raises(NotFound, match="no Pixel Data"):
        instance.frames([1])


def test_bulk_values_other_than_pixel_data_are_read_by_path(archive: Archive) -> None:
    value = bytes(range(256)) * 8
    instance = _store(archive, EncapsulatedDocument=value)
    assert instance.bulk_value("00420011") == value
    with pytest.raises(NotFound, match="no bulk data at 00420012"):
        instance.bulk_value("00420012")


def test_an_unknown_resource_names_what_is_missing(archive: Archive) -> None:
    instance = _store(archive)
    with pytest.raises(NotFound, match=r"1\.2\.3\.4"):
        archive.retrieve(instance.study_uid, "1.2.3.4")


class _FakeTranscoder:
    """Stands for the pixel pipeline: makes JPEG Baseline out of anything (here: a marked copy
    of the file), to show where transcoding hooks in."""

    def targets(self, stored: str) -> frozenset[str]:
        return frozenset({JPEGBaseline8Bit})

    def transcode(self, instance: StoredInstance, transfer_syntax: str) -> bytes:
        return b"made:" + transfer_syntax.encode() + b":" + instance.sop_uid.encode()


def test_a_transcoder_adds_the_syntaxes_it_can_make(archive: Archive) -> None:
    archive.transcoder = None  # the archive as the core builds it, before the pixel service
    instance = _store(archive)
    assert archive.transcodable([instance]) == {ExplicitVRLittleEndian}
    with pytest.raises(NotAcceptable, match=JPEGBaseline8Bit):
        archive.instance_in(instance, JPEGBaseline8Bit)
    archive.transcoder = _FakeTranscoder()
    assert archive.transcodable([instance]) == {ExplicitVRLittleEndian, JPEGBaseline8Bit}
    made = archive.instance_in(instance, JPEGBaseline8Bit)
    assert made == f"made:{JPEGBaseline8Bit}:{instance.sop_uid}".encode()
    stored = archive.instance_in(instance, None)
    assert not isinstance(stored, bytes)
    with stored.open() as handle:
        assert dcmread(handle).SOPInstanceUID == instance.sop_uid
