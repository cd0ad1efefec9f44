"""Datasets built on demand with fresh UIDs and small pixels (as dicom-server's Samples.cs)."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import numpy as np
from pydicom import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from openvna.dicom.uid import generate_uid


def make_instance(
    *,
    study_uid: str | None = None,
    series_uid: str | None = None,
    patient_name: str = "DOE^JOHN",
    patient_id: str = "P1",
    modality: str = "CT",
    study_date: str = "20240102",
    rows: int = 8,
    columns: int = 8,
    frames: int = 1,
    **attributes: Any,
) -> Dataset:
    """A valid CT-like instance; any keyword attribute can be set or overridden."""
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyDate = study_date
    ds.StudyTime = "101500"
    ds.AccessionNumber = "ACC1"
    ds.StudyID = "1"
    ds.ReferringPhysicianName = "WHO^REFERRED"
    ds.Modality = modality
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = columns
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    pixels = np.arange(rows * columns * frames, dtype=np.uint16) % 4096
    ds.PixelData = pixels.tobytes()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ds.file_meta = Dataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def claiming_syntax(ds: Dataset, syntax: str) -> bytes:
    """``ds`` as an explicit VR little endian Part 10 file whose File Meta claims ``syntax``:
    pydicom refuses to write such a file (native pixels under a compressed syntax, an unknown
    syntax), so a private stand-in UID of the same length is written, then replaced."""
    stand_in = ("9." * len(syntax))[: len(syntax) - 1] + "9"
    ds.file_meta.TransferSyntaxUID = stand_in
    buffer = BytesIO()
    ds.save_as(buffer, implicit_vr=False, little_endian=True, enforce_file_format=True)
    data = buffer.getvalue()
    assert data.count(stand_in.encode()) == 1
    return data.replace(stand_in.encode(), syntax.encode())


def encapsulated(ds: Dataset, frames: list[bytes], syntax: str) -> Dataset:
    """``ds`` with ``frames`` as its encapsulated Pixel Data under ``syntax``."""
    ds.file_meta.TransferSyntaxUID = syntax
    ds.PixelData = encapsulate(frames)
    ds["PixelData"].VR = "OB"
    return ds
