"""Builders of synthetic but realistic DICOM instances (CT, MR, CR, US, PT, XA multi-frame).

Each builder fills the mandatory modules of its IOD (PS3.3 A.3 CT Image, A.4 MR Image, A.2 CR
Image, A.14 X-Ray Angiographic Image) closely enough that both archives index them like images
from a modality: Patient, General Study, General Series, Frame of Reference, General Equipment,
General Image, Image Plane, Image Pixel and SOP Common. Pixel values come from a numpy generator
seeded by the caller, so the same seed always gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    generate_uid,
)

SOP_CLASSES = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "US": "1.2.840.10008.5.1.4.1.1.6.1",
    "PT": "1.2.840.10008.5.1.4.1.1.128",
    "XA": "1.2.840.10008.5.1.4.1.1.12.1",
}
BODY_PARTS = {"CT": "CHEST", "MR": "HEAD", "CR": "CHEST", "US": "ABDOMEN", "PT": "WHOLEBODY"}
COMPRESSIONS = {"rle": RLELossless, "j2k": JPEG2000Lossless}


def uid_for(seed: int, *parts: object) -> str:
    """A deterministic 2.25 UID (PS3.5 B.2) derived from the seed and a name."""
    return generate_uid(prefix=None, entropy_srcs=[str(seed), *map(str, parts)])


@dataclass(frozen=True)
class StudyHeader:
    """Patient and study attributes shared by every instance of one study."""

    study_uid: str
    patient_id: str
    patient_name: str
    birth_date: str
    sex: str
    study_date: str
    study_time: str
    accession: str
    description: str


@dataclass(frozen=True)
class SeriesHeader:
    """Series attributes: one modality per series (PS3.3 C.7.3.1)."""

    series_uid: str
    modality: str
    number: int
    description: str
    frame_of_reference: str


def phantom(size: int, rng: np.random.Generator) -> np.ndarray:
    """A body-like slice: an ellipse of soft tissue with a brighter core and scanner noise."""
    y, x = np.ogrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    body = (x / 0.85) ** 2 + (y / 0.65) ** 2 <= 1.0
    core = (x / 0.25) ** 2 + ((y + 0.1) / 0.3) ** 2 <= 1.0
    image = np.full((size, size), 24, dtype=np.int32)
    image[body] = 1040
    image[core] = 1300
    image += rng.integers(0, 40, size=(size, size), dtype=np.int32)
    return image.astype(np.uint16)


def _file_meta(sop_class: str, sop_uid: str, transfer_syntax: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "OPENVNA_BENCH"
    return meta


def _common(study: StudyHeader, series: SeriesHeader, sop_uid: str, number: int) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = SOP_CLASSES[series.modality]
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study.study_date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = study.study_time
    ds.AccessionNumber = study.accession
    ds.Modality = series.modality
    ds.Manufacturer = "OPENVNA BENCH"
    ds.InstitutionName = "Synthetic General Hospital"
    ds.ReferringPhysicianName = "REFERRER^ALEX"
    ds.StationName = f"{series.modality}01"
    ds.StudyDescription = study.description
    ds.SeriesDescription = series.description
    ds.ManufacturerModelName = "Phantom 3000"
    ds.PatientName = study.patient_name
    ds.PatientID = study.patient_id
    ds.PatientBirthDate = study.birth_date
    ds.PatientSex = study.sex
    ds.BodyPartExamined = BODY_PARTS.get(series.modality, "CHEST")
    ds.DeviceSerialNumber = "BENCH-0001"
    ds.SoftwareVersions = "1.0"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = study.study_uid
    ds.SeriesInstanceUID = series.series_uid
    ds.StudyID = study.accession[-6:]
    ds.SeriesNumber = series.number
    ds.InstanceNumber = number
    ds.FrameOfReferenceUID = series.frame_of_reference
    ds.PositionReferenceIndicator = ""
    return ds


def _pixel_module(ds: Dataset, pixels: np.ndarray, bits_stored: int = 12) -> None:
    """Image Pixel module (PS3.3 C.7.6.3) for unsigned 16-bit grayscale, one or more frames."""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.astype("<u2").tobytes()


def image(
    study: StudyHeader,
    series: SeriesHeader,
    number: int,
    pixels: np.ndarray,
    seed: int,
    compression: str | None = None,
) -> Dataset:
    """One single-frame image of the series' modality, optionally compressed losslessly."""
    sop_uid = uid_for(seed, series.series_uid, number)
    ds = _common(study, series, sop_uid, number)
    thickness = 1.0 if series.modality in {"CT", "PT"} else 3.0
    ds.SliceThickness = thickness
    ds.ImagePositionPatient = [-250.0, -250.0, round(-number * thickness, 2)]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.SliceLocation = round(-number * thickness, 2)
    ds.PixelSpacing = [0.976562, 0.976562]
    if series.modality == "CT":
        ds.KVP = 120
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        ds.RescaleType = "HU"
        ds.WindowCenter = 40
        ds.WindowWidth = 400
    elif series.modality == "MR":
        ds.ScanningSequence = "SE"
        ds.SequenceVariant = "NONE"
        ds.ScanOptions = ""
        ds.MRAcquisitionType = "2D"
        ds.EchoTime = 12
        ds.RepetitionTime = 500
        ds.MagneticFieldStrength = 1.5
    _pixel_module(ds, pixels)
    ds.file_meta = _file_meta(ds.SOPClassUID, sop_uid, ExplicitVRLittleEndian)
    if compression is not None:
        ds.compress(COMPRESSIONS[compression], encoding_plugin=_plugin(compression))
    return ds


def multiframe(
    study: StudyHeader,
    series: SeriesHeader,
    frames: np.ndarray,
    seed: int,
    compression: str | None = None,
) -> Dataset:
    """An X-Ray Angiographic cine run (PS3.3 A.14), frames advancing by Frame Time."""
    sop_uid = uid_for(seed, series.series_uid, "cine")
    ds = _common(study, series, sop_uid, 1)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "SINGLE PLANE"]
    ds.NumberOfFrames = frames.shape[0]
    ds.FrameTime = 66.7
    ds.FrameIncrementPointer = 0x00181063
    ds.PositionerMotion = "STATIC"
    ds.KVP = 80
    ds.RadiationSetting = "GR"
    _pixel_module(ds, frames, bits_stored=10)
    ds.file_meta = _file_meta(ds.SOPClassUID, sop_uid, ExplicitVRLittleEndian)
    if compression is not None:
        ds.compress(COMPRESSIONS[compression], encoding_plugin=_plugin(compression))
    return ds


def _plugin(compression: str) -> str:
    return "pylibjpeg" if compression == "j2k" else "pydicom"
