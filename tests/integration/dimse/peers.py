"""Helpers of the DIMSE tests: what a Part 10 file holds after its File Meta, a pynetdicom SCU,
and the instances the archive holds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from pydicom import Dataset, dcmread
from pydicom.data import get_testdata_file
from pynetdicom import AE, _config, build_context
from pynetdicom.association import Association
from pynetdicom.dsutils import split_dataset

from openvna.dicom.uid import generate_uid
from tests.integration.dimse.conftest import AE_TITLE, DimseNode
from tests.integration.test_wado import parts

ANY_SYNTAX = 'multipart/related; type="application/dicom"; transfer-syntax=*'


def dataset_bytes(data: bytes | Path) -> bytes:
    """The bytes of a Part 10 file after its preamble and File Meta group."""
    if isinstance(data, Path):
        data = data.read_bytes()
    offset = 132
    while data[offset : offset + 2] == b"\x02\x00":  # group 0002, explicit VR little endian
        vr = data[offset + 4 : offset + 6]
        if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT", b"UC", b"UR", b"OD", b"OF", b"OL", b"OV"):
            length = int.from_bytes(data[offset + 8 : offset + 12], "little")
            offset += 12 + length
        else:
            offset += 8 + int.from_bytes(data[offset + 6 : offset + 8], "little")
    return data[offset:]


def fresh_copy(name: str | Dataset, directory: Path, **attributes: Any) -> Path:
    """A pydicom test file (or a dataset) with fresh UIDs, saved in ``directory`` as it was
    encoded (its own transfer syntax)."""
    ds = dcmread(get_testdata_file(name)) if isinstance(name, str) else name
    ds.StudyInstanceUID = attributes.pop("StudyInstanceUID", None) or generate_uid()
    ds.SeriesInstanceUID = attributes.pop("SeriesInstanceUID", None) or generate_uid()
    ds.SOPInstanceUID = generate_uid()
    if not ds.get("Modality"):
        ds.Modality = "OT"  # Type 1: a test file without it would be refused as invalid
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path = directory / f"{ds.SOPInstanceUID}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def stored_file(node: DimseNode, ds: Dataset) -> bytes:
    """The stored Part 10 file, fetched by WADO-RS in its stored syntax."""
    url = (
        f"{node.web.dicomweb}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}"
    )
    response = httpx.get(url, headers={"Accept": ANY_SYNTAX}, timeout=30)
    assert response.status_code == 200, response.text
    [(_, data)] = parts(response)
    return data


def instance_count(node: DimseNode) -> int:
    return int(node.archive.index.count_instances())


@contextmanager
def association(
    node: DimseNode, contexts: list[Any], *, calling: str = "TESTSCU", **kwargs: Any
) -> Iterator[Association]:
    """A pynetdicom association with the node, released (or aborted) at the end."""
    ae = AE(calling)
    ae.maximum_pdu_size = 0
    ae.requested_contexts = contexts
    assoc = ae.associate(node.host, node.port, ae_title=AE_TITLE, **kwargs)
    assert assoc.is_established, "association rejected"
    try:
        yield assoc
    finally:
        if assoc.is_established:
            assoc.release()


def send_file(node: DimseNode, path: Path, *, calling: str = "TESTSCU") -> Dataset:
    """C-STORE one file as it lies on disk (pynetdicom sends its dataset bytes unchanged)."""
    meta, _ = split_dataset(path)
    context = build_context(meta.MediaStorageSOPClassUID, meta.TransferSyntaxUID)
    chunked = _config.STORE_SEND_CHUNKED_DATASET
    _config.STORE_SEND_CHUNKED_DATASET = True
    try:
        with association(node, [context], calling=calling) as assoc:
            return assoc.send_c_store(path)
    finally:
        _config.STORE_SEND_CHUNKED_DATASET = chunked
