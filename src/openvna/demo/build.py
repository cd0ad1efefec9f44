"""pydicom Datasets for the demo catalogue: the modules each IOD requires, filled consistently.

The shared modules (SOP Common, Patient, General Study, Patient Study, General Series, General
Equipment, General Image, Image Pixel; PS3.3 C.12.1, C.7.1.1, C.7.2.1, C.7.2.2, C.7.3.1, C.7.5.1,
C.7.6.1, C.7.6.3) are written here; ``modalities`` adds the CT, PET and CR ones and the pixels.
"""

from __future__ import annotations

import hashlib
import threading

import numpy as np
import numpy.typing as npt
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import UID, JPEG2000Lossless, JPEGBaseline8Bit

from openvna.demo.patients import PatientSpec, SeriesSpec, StudySpec
from openvna.demo.pixels import jpeg_baseline

__all__ = ["MANUFACTURER", "add_time", "instance_rng", "set_pixels", "shared_modules"]

MANUFACTURER = "openvna demo"
# pylibjpeg-openjpeg's encoder crashes the process (SIGSEGV) when two threads encode at once
# (measured with 2.6.0); decoding in parallel is fine. Encodes are serialized here.
_J2K_ENCODER = threading.Lock()
_MODEL = {"CT": "Synthetic CT 64", "PT": "Synthetic PET", "CR": "Synthetic CR"}


def instance_rng(sop_uid: str) -> np.random.Generator:
    """A Generator seeded by the instance's UID: each image's noise is fixed, whatever order
    the images are made in."""
    digest = hashlib.sha256(sop_uid.encode("ascii")).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def add_time(hhmmss: str, seconds: int) -> str:
    """A TM value ``seconds`` after ``hhmmss`` (the demo's scans never cross midnight)."""
    total = int(hhmmss[:2]) * 3600 + int(hhmmss[2:4]) * 60 + int(hhmmss[4:6]) + seconds
    return f"{total // 3600:02d}{total // 60 % 60:02d}{total % 60:02d}"


def _age(patient: PatientSpec, on: str) -> str:
    """Patient's Age (AS, PS3.5 6.2) in whole years on the study date."""
    years = int(on[:4]) - int(patient.birth_date[:4])
    if on[4:] < patient.birth_date[4:]:
        years -= 1
    return f"{years:03d}Y"


def shared_modules(study: StudySpec, series: SeriesSpec, index: int, sop_class: str) -> Dataset:
    """The modules every demo image has, for instance ``index`` (0-based) of ``series``."""
    patient = study.patient
    sop_uid = study.sop_uid(series, index)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(sop_class)
    ds.file_meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    ds.file_meta.TransferSyntaxUID = UID(series.transfer_syntax)
    if patient.charset:
        ds.SpecificCharacterSet = patient.charset
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.InstanceCreationDate = study.date
    ds.InstanceCreationTime = add_time(series.time, index)
    _patient_and_study(ds, study)
    ds.Modality = series.modality
    ds.SeriesInstanceUID = study.series_uid(series)
    ds.SeriesNumber = series.number
    ds.SeriesDescription = series.description
    ds.SeriesDate = study.date
    ds.SeriesTime = series.time
    ds.BodyPartExamined = series.body_part
    ds.Manufacturer = MANUFACTURER
    ds.InstitutionName = study.institution
    ds.StationName = "DEMO01"
    ds.ManufacturerModelName = _MODEL[series.modality]
    ds.SoftwareVersions = "1"
    ds.InstanceNumber = index + 1
    ds.AcquisitionNumber = 1
    ds.ContentDate = study.date
    ds.ContentTime = add_time(series.time, index)
    ds.AcquisitionDate = study.date
    ds.AcquisitionTime = series.time
    ds.BurnedInAnnotation = "NO"
    return ds


def _patient_and_study(ds: Dataset, study: StudySpec) -> None:
    patient = study.patient
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    ds.PatientAge = _age(patient, study.date)
    ds.PatientSize = f"{patient.size_m:.2f}"
    ds.PatientWeight = f"{patient.weight_kg:.1f}"
    ds.StudyInstanceUID = study.uid
    ds.StudyDate = study.date
    ds.StudyTime = study.time
    ds.ReferringPhysicianName = study.referring
    ds.StudyID = study.study_id
    ds.AccessionNumber = study.accession
    ds.StudyDescription = study.description


def set_pixels(
    ds: Dataset,
    pixels: npt.NDArray[np.uint8] | npt.NDArray[np.uint16],
    *,
    bits_stored: int,
) -> None:
    """Image Pixel module (PS3.3 C.7.6.3) and the Pixel Data in the series' transfer syntax:
    native little endian, JPEG Baseline (8-bit pixels only, PS3.5 A.4.1) or JPEG 2000
    lossless."""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = pixels.dtype.itemsize * 8
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    syntax = ds.file_meta.TransferSyntaxUID
    if syntax == JPEGBaseline8Bit:
        jpeg = jpeg_baseline(pixels.astype(np.uint8, casting="safe"))
        ds.PixelData = encapsulate([jpeg])
        ds["PixelData"].VR = "OB"
        ds.LossyImageCompression = "01"
        ds.LossyImageCompressionRatio = f"{pixels.nbytes / len(jpeg):.2f}"
        ds.LossyImageCompressionMethod = "ISO_10918_1"
    elif syntax == JPEG2000Lossless:
        with _J2K_ENCODER:
            ds.compress(JPEG2000Lossless, pixels, generate_instance_uid=False)
    else:
        ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
        ds["PixelData"].VR = "OW" if ds.BitsAllocated > 8 else "OB"
