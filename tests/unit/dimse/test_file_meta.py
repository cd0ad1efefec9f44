"""The File Meta group a C-STORE's dataset is spooled behind (PS3.10 §7.1), encoded directly."""

from __future__ import annotations

import io

import pytest
from pydicom import dcmread
from pydicom.uid import UID
from pynetdicom.dsutils import create_file_meta, encode_file_meta

from openvna.dimse.store import file_meta

CT = "1.2.840.10008.5.1.4.1.1.2"


@pytest.mark.parametrize(
    ("sop_instance", "syntax"),
    [
        ("2.25.123456789012345678901234567890", "1.2.840.10008.1.2.1"),  # even lengths
        ("1.2.3.45", "1.2.840.10008.1.2.4.50"),  # odd instance UID
        ("1.2.3.4", "1.2.840.10008.1.2"),  # odd transfer syntax
    ],
)
def test_the_bytes_pynetdicom_encodes(sop_instance: str, syntax: str) -> None:
    expected = create_file_meta(
        sop_class_uid=UID(CT), sop_instance_uid=UID(sop_instance), transfer_syntax=UID(syntax)
    )
    assert file_meta(CT, sop_instance, syntax) == encode_file_meta(expected)


def test_read_back_by_pydicom() -> None:
    encoded = file_meta(CT, "1.2.3.45", "1.2.840.10008.1.2.4.50")
    meta = dcmread(io.BytesIO(bytes(128) + b"DICM" + encoded)).file_meta
    assert meta.FileMetaInformationGroupLength == len(encoded) - 12
    assert meta.MediaStorageSOPClassUID == CT
    assert meta.MediaStorageSOPInstanceUID == "1.2.3.45"
    assert meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.50"
