"""The demo images: same bytes every run, modules a viewer needs, pixels like their modality."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom import Dataset

from openvna.demo import demo_datasets, study_datasets
from openvna.demo.modalities import build_instance
from openvna.demo.patients import (
    CATALOGUE,
    JOE_PA_SERIES_UID,
    JOE_PA_SOP_UID,
    JOE_STUDY_UID,
    THOMPSON_STUDY_UID,
    Layout,
)
from openvna.dicom.part10 import part10_bytes, read_header
from tests.tools import require_tools

JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
# One instance of every series (the middle one), for the checks that need not see all 231.
SAMPLES = [
    pytest.param(study, series, series.count // 2, id=f"{study.accession}-{series.number}")
    for study in CATALOGUE
    for series in study.series
]
DIGEST_SCRIPT = """
import hashlib
from openvna.demo.modalities import build_instance
from openvna.demo.patients import CATALOGUE
from openvna.dicom.part10 import part10_bytes
for study in CATALOGUE:
    for series in study.series:
        ds = build_instance(study, series, series.count // 2)
        print(hashlib.sha256(part10_bytes(ds)).hexdigest())
"""


def _reread(ds: Dataset) -> Dataset:
    return pydicom.dcmread(io.BytesIO(part10_bytes(ds)))


def _study(uid: str):
    return next(study for study in CATALOGUE if study.uid == uid)


def _modality_values(ds: Dataset) -> np.ndarray:
    return ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def test_bytes_are_the_same_in_another_process():
    """Same bytes on every run: a fresh interpreter with another hash seed agrees."""
    here = [
        hashlib.sha256(part10_bytes(build_instance(study, series, index))).hexdigest()
        for study, series, index in (param.values for param in SAMPLES)
    ]
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", DIGEST_SCRIPT], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.split() == here


def test_whole_demo_is_small_and_complete():
    sizes = {}
    for ds in demo_datasets():
        sizes[ds.SOPInstanceUID] = len(ds.PixelData)
    assert len(sizes) == sum(study.instance_count for study in CATALOGUE)
    assert sum(sizes.values()) < 60 * 1024 * 1024


def test_joe_study_has_two_objects_and_the_pa_is_jpeg_baseline():
    datasets = [_reread(ds) for ds in study_datasets(_study(JOE_STUDY_UID))]
    assert len(datasets) == 2
    pa = next(ds for ds in datasets if ds.SOPInstanceUID == JOE_PA_SOP_UID)
    assert pa.SeriesInstanceUID == JOE_PA_SERIES_UID
    assert pa.file_meta.TransferSyntaxUID == JPEG_BASELINE
    assert (pa.PatientName, pa.PatientID, pa.Modality) == ("SIIM^Joe", "siimjoe", "CR")
    assert (pa.BitsAllocated, pa.BitsStored, pa.PhotometricInterpretation) == (8, 8, "MONOCHROME2")
    assert pa.LossyImageCompression == "01"


def test_joe_pa_jpeg_decodes_with_pylibjpeg_to_a_chest_image():
    study = _study(JOE_STUDY_UID)
    pa = _reread(build_instance(study, study.series[0], 0))
    fragment = pydicom.encaps.generate_frames(pa.PixelData, number_of_frames=1)
    stream = next(fragment)
    assert stream[:2] == b"\xff\xd8"
    assert b"\xff\xc0" in stream  # SOF0: baseline DCT, the only process .4.50 allows
    pa.pixel_array_options(decoding_plugin="pylibjpeg")
    pixels = pa.pixel_array
    assert pixels.shape == (512, 448)
    assert pixels.dtype == np.uint8
    # Dark lungs either side of a bright mediastinum and spine, air black at the top corners.
    assert pixels[200, 120] < pixels[200, 224] - 60
    assert pixels[200, 330] < pixels[200, 224] - 60
    assert pixels[2, 2] < 20


@pytest.mark.parametrize(("study", "series", "index"), SAMPLES)
def test_every_series_has_the_modules_a_viewer_needs(study, series, index):
    ds = _reread(build_instance(study, series, index))
    assert ds.Manufacturer == "openvna demo"
    assert ds.StudyInstanceUID == study.uid
    assert ds.SeriesNumber == series.number
    assert ds.InstanceNumber == index + 1
    assert ds.Modality == series.modality
    assert ds.PatientName == study.patient.name
    assert ds.AccessionNumber == study.accession
    assert ds.BodyPartExamined == series.body_part
    assert ds.file_meta.TransferSyntaxUID == series.transfer_syntax
    assert ds.pixel_array.shape == (series.rows, series.columns)
    if series.modality == "CR":
        assert ds.PatientOrientation in (["L", "F"], ["P", "F"])
        return
    assert ds.FrameOfReferenceUID == study.frame_of_reference_uid
    assert len(ds.ImageOrientationPatient) == 6
    assert len(ds.ImagePositionPatient) == 3
    assert [float(v) for v in ds.PixelSpacing] == [series.spacing] * 2
    assert "WindowCenter" in ds and "WindowWidth" in ds
    if series.layout is not Layout.LOCALIZER:
        assert float(ds.SliceThickness) == series.thickness
        assert "SliceLocation" in ds


def test_axial_ct_positions_run_head_to_feet_with_the_slice_spacing():
    study = _study(THOMPSON_STUDY_UID)
    series = study.series[1]
    z = [float(build_instance(study, series, i).ImagePositionPatient[2]) for i in (0, 1, 2)]
    assert z == [series.first, series.first - series.step, series.first - 2 * series.step]


def test_ct_values_are_hounsfield_units():
    study = _study(THOMPSON_STUDY_UID)
    series = study.series[2]  # portal venous
    index = 13  # z = -290 mm: through the liver and its lesion
    ds = _reread(build_instance(study, series, index))
    assert (ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType) == (1, -1024, "HU")
    hu = _modality_values(ds)
    assert hu.min() >= -1024
    assert hu.max() <= 3071
    assert abs(np.median(hu[:20, :20]) + 1000) < 30  # air outside the body
    liver = hu[120:124, 80:84]  # x ≈ -70 mm, y ≈ -10 mm
    assert 90 < liver.mean() < 140


def test_thompson_study_attributes_follow_the_quick_start_guide():
    study = _study(THOMPSON_STUDY_UID)
    ds = _reread(build_instance(study, study.series[1], 0))
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert (ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex) == (
        "THOMPSON^ALEX",
        "12345",
        "19670701",
        "M",
    )
    assert (ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.StudyID) == (
        "20130409",
        "131600",
        "11235813",
        "11235813",
    )
    assert ds.StudyDescription == "Abdomen CT"
    assert ds.ReferringPhysicianName == "SMITH^KAREN"
    assert {s.number for s in study.series} == {1, 2, 3, 4}


def test_pet_is_in_bqml_with_a_hot_lung_nodule():
    study = next(s for s in CATALOGUE if s.accession == "a956893214499959")
    series = study.series[1]
    ds = _reread(build_instance(study, series, 17))  # z = -137.5 mm, through the nodule
    assert ds.Units == "BQML"
    assert ds.DecayCorrection == "START"
    isotope = ds.RadiopharmaceuticalInformationSequence[0]
    dose = float(isotope.RadionuclideTotalDose)
    delay = 3810  # injection 08:45:00, series start 09:48:30
    decayed = dose * 0.5 ** (delay / float(isotope.RadionuclideHalfLife))
    suv = _modality_values(ds) * float(ds.PatientWeight) * 1000 / decayed
    nodule = suv[59:63, 32:36]  # x ≈ -92 mm, y ≈ -22 mm
    assert nodule.max() > 6
    assert np.median(suv[40:90, 40:90]) < 3
    assert suv[:10, :10].max() < 0.5


def test_instances_parse_as_part10_with_one_frame(tmp_path: Path):
    for study in CATALOGUE:
        ds = build_instance(study, study.series[-1], 0)
        path = tmp_path / f"{ds.SOPInstanceUID}.dcm"
        path.write_bytes(part10_bytes(ds))
        header = read_header(path)
        assert header.transfer_syntax == study.series[-1].transfer_syntax
        assert len(header.frames) == 1


@pytest.mark.parametrize(("study", "series", "index"), SAMPLES)
def test_every_series_passes_dciodvfy_without_errors(study, series, index, tmp_path: Path):
    require_tools("dciodvfy")
    path = tmp_path / "instance.dcm"
    path.write_bytes(part10_bytes(build_instance(study, series, index)))
    command = ["dciodvfy", "-new", str(path)]
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    report = (result.stdout + result.stderr).splitlines()
    errors = [line for line in report if line.startswith("Error")]
    assert errors == []
