"""The modality-specific modules of the demo images: CT (PS3.3 A.3), PET (A.21), CR (A.2).

Each builder takes the study, the series and the instance index and returns a complete Dataset
with its File Meta (transfer syntax included), ready for ``Archive.store_dataset``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from pydicom import Dataset
from pydicom.uid import (
    ComputedRadiographyImageStorage,
    CTImageStorage,
    JPEGBaseline8Bit,
    PositronEmissionTomographyImageStorage,
)

from openvna.demo.anatomy import Plane, Solid, body
from openvna.demo.build import add_time, instance_rng, set_pixels, shared_modules
from openvna.demo.patients import Layout, SeriesSpec, StudySpec
from openvna.demo.pixels import (
    CT_INTERCEPT,
    F18_HALF_LIFE,
    Radiograph,
    ct_pixels,
    decay_factor,
    pet_activity,
    projection,
    quantize,
)

__all__ = ["FDG_DOSE_BQ", "build_instance", "slice_plane"]

FDG_DOSE_BQ = 370_000_000  # 10 mCi, a usual adult FDG dose
_AXIAL = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
_CORONAL = ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0))
_SAGITTAL = ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0))
# Window centre/width pairs in HU by body part, with their names (PS3.3 C.11.2.1.2).
_CT_WINDOWS = {
    "CHEST": ((40, 400, "MEDIASTINUM"), (-600, 1500, "LUNG")),
    "ABDOMEN": ((40, 400, "ABDOMEN"), (60, 160, "LIVER")),
    "WHOLEBODY": ((40, 400, "SOFT TISSUE"), (500, 2000, "BONE")),
}


def _ds(value: float) -> str:
    """A DS value (at most 16 characters, PS3.5 6.2) without a negative zero."""
    return f"{value + 0.0:.6g}"


@lru_cache(maxsize=8)
def _solids(lesions: tuple[str, ...]) -> tuple[Solid, ...]:
    return body(lesions)


@lru_cache(maxsize=4)
def _density(lesions: tuple[str, ...], series: SeriesSpec, sop_uid: str) -> npt.NDArray[np.float64]:
    """The projection image of a radiograph or scout (read-only): the slowest demo image to
    make, so made once per process however often tests rebuild its instance."""
    density = projection(_radiograph_view(series), _solids(lesions), instance_rng(sop_uid))
    density.flags.writeable = False
    return density


def slice_plane(series: SeriesSpec, index: int) -> Plane:
    """Where slice ``index`` of an axial or coronal series lies: axial slices go from head to
    feet, coronal ones from front to back, each centred on the body's axis."""
    half = series.columns * series.spacing / 2 - series.spacing / 2
    if series.layout is Layout.AXIAL:
        top = -series.rows * series.spacing / 2 + series.spacing / 2
        origin = (-half, top, series.first - index * series.step)
        row, column = _AXIAL
    else:
        origin = (-half, series.first + index * series.step, series.top)
        row, column = _CORONAL
    spacing = (series.spacing, series.spacing)
    return Plane(origin, row, column, spacing, series.rows, series.columns)


def _radiograph_view(series: SeriesSpec) -> Radiograph:
    """The detector and the beam of a projection: PA and the CT scout look through the body
    front to back, the left lateral from right to left."""
    half = series.columns * series.spacing / 2 - series.spacing / 2
    spacing = (series.spacing, series.spacing)
    if series.layout is Layout.LATERAL:
        plane = Plane((0.0, -half, series.top), *_SAGITTAL, spacing, series.rows, series.columns)
        return Radiograph(plane, (1.0, 0.0, 0.0), (-190.0, 190.0))
    plane = Plane((-half, 0.0, series.top), *_CORONAL, spacing, series.rows, series.columns)
    return Radiograph(plane, (0.0, 1.0, 0.0), (-130.0, 130.0))


def _geometry(ds: Dataset, study: StudySpec, plane: Plane, thickness: float | None) -> None:
    """Frame of Reference and Image Plane modules (PS3.3 C.7.4.1, C.7.6.2)."""
    ds.FrameOfReferenceUID = study.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.PixelSpacing = [_ds(plane.spacing[0]), _ds(plane.spacing[1])]
    ds.ImageOrientationPatient = [_ds(v) for v in (*plane.row, *plane.column)]
    ds.ImagePositionPatient = [_ds(v) for v in plane.origin]
    ds.SliceThickness = None if thickness is None else _ds(thickness)
    normal = np.cross(plane.row, plane.column)
    ds.SliceLocation = _ds(float(np.dot(normal, plane.origin)))


def _windows(ds: Dataset, windows: tuple[tuple[float, float, str], ...]) -> None:
    ds.WindowCenter = [_ds(center) for center, _, _ in windows]
    ds.WindowWidth = [_ds(width) for _, width, _ in windows]
    ds.WindowCenterWidthExplanation = [name for _, _, name in windows]


def _ct_acquisition(ds: Dataset, series: SeriesSpec) -> None:
    """CT Image module (PS3.3 C.8.2.1) acquisition attributes and, after contrast, the
    Contrast/Bolus module (C.7.6.4)."""
    ds.PatientPosition = "HFS"  # General Series (C.7.3.1): required for CT
    ds.RescaleIntercept = str(CT_INTERCEPT)
    ds.RescaleSlope = "1"
    ds.KVP = "120"
    ds.XRayTubeCurrent = 180
    ds.ExposureTime = 500
    ds.GantryDetectorTilt = "0"
    ds.RotationDirection = "CW"
    ds.ConvolutionKernel = series.description.rsplit(" ", 1)[-1]
    ds.ReconstructionDiameter = _ds(series.columns * series.spacing)
    if series.contrast:
        ds.ContrastBolusAgent = "IOHEXOL 350"
        ds.ContrastBolusRoute = "IV"
        ds.ContrastBolusVolume = "100"


def _ct_slice(study: StudySpec, series: SeriesSpec, index: int) -> Dataset:
    ds = shared_modules(study, series, index, CTImageStorage)
    plane = slice_plane(series, index)
    rng = instance_rng(ds.SOPInstanceUID)
    pixels = ct_pixels(plane, _solids(study.lesions), rng, contrast=series.contrast)
    if series.layout is Layout.CORONAL:
        ds.ImageType = ["DERIVED", "SECONDARY", "REFORMATTED"]
        ds.DerivationDescription = "Coronal multiplanar reformat of the portal venous series"
    else:
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.RescaleType = "HU"  # not on the scout: its values are no CT numbers (C.8.2.1.1.1)
    _geometry(ds, study, plane, series.thickness)
    _ct_acquisition(ds, series)
    _windows(ds, _CT_WINDOWS[series.body_part])
    set_pixels(ds, pixels, bits_stored=12)
    return ds


def _ct_localizer(study: StudySpec, series: SeriesSpec, index: int) -> Dataset:
    """A CT scout: one projection, stored like a CT slice so its plane lines up with the axial
    series (a viewer draws the slice positions on it)."""
    ds = shared_modules(study, series, index, CTImageStorage)
    view = _radiograph_view(series)
    density = _density(study.lesions, series, ds.SOPInstanceUID)
    pixels = np.rint(density * 3000).astype(np.uint16)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    _geometry(ds, study, view.plane, None)
    _ct_acquisition(ds, series)
    _windows(ds, ((476, 3000, "SCOUT"),))
    set_pixels(ds, pixels, bits_stored=12)
    return ds


def _pet_series(ds: Dataset, study: StudySpec, series: SeriesSpec) -> None:
    """PET Series, PET Isotope and NM/PET Patient Orientation modules (PS3.3 C.8.9.1, C.8.9.2,
    C.8.4.6), with SNOMED CT codes for F-18, FDG, recumbent, supine and head first."""
    ds.Units = "BQML"
    ds.CountsSource = "EMISSION"
    ds.SeriesType = ["WHOLE BODY", "IMAGE"]
    ds.CorrectedImage = ["DECY", "ATTN", "SCAT", "DTIM", "RAN", "NORM"]
    ds.DecayCorrection = "START"
    ds.RandomsCorrectionMethod = "DLYD"
    ds.AttenuationCorrectionMethod = "CT-derived mu-map"
    ds.ScatterCorrectionMethod = "Model-based"
    ds.ReconstructionMethod = "OSEM 3i21s"
    ds.NumberOfSlices = series.count
    ds.CollimatorType = "NONE"
    isotope = Dataset()
    isotope.Radiopharmaceutical = "Fluorodeoxyglucose"
    isotope.RadiopharmaceuticalStartTime = study.time
    isotope.RadiopharmaceuticalStartDateTime = study.date + study.time
    isotope.RadionuclideTotalDose = str(FDG_DOSE_BQ)
    isotope.RadionuclideHalfLife = str(F18_HALF_LIFE)
    isotope.RadionuclidePositronFraction = "0.9673"
    isotope.RadionuclideCodeSequence = [_code("77004003", "^18^Fluorine")]
    isotope.RadiopharmaceuticalCodeSequence = [_code("35321007", "Fluorodeoxyglucose F^18^")]
    ds.RadiopharmaceuticalInformationSequence = [isotope]
    orientation = _code("102538003", "recumbent")
    orientation.PatientOrientationModifierCodeSequence = [_code("40199007", "supine")]
    ds.PatientOrientationCodeSequence = [orientation]
    ds.PatientGantryRelationshipCodeSequence = [_code("102540008", "headfirst")]


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "SCT"
    item.CodeMeaning = meaning
    return item


def _seconds_between(start: str, end: str) -> int:
    return sum(
        (int(end[i : i + 2]) - int(start[i : i + 2])) * unit
        for i, unit in ((0, 3600), (2, 60), (4, 1))
    )


def _pet_slice(study: StudySpec, series: SeriesSpec, index: int) -> Dataset:
    """A PET slice in Bq/ml, decay-corrected to the series start (DecayCorrection START), so
    SUVbw = value * weight / (dose decayed from injection to series start)."""
    ds = shared_modules(study, series, index, PositronEmissionTomographyImageStorage)
    plane = slice_plane(series, index)
    uptake = decay_factor(_seconds_between(study.time, series.time))
    bq_per_suv = FDG_DOSE_BQ * uptake / (study.patient.weight_kg * 1000.0)
    activity = pet_activity(
        plane, _solids(study.lesions), instance_rng(ds.SOPInstanceUID), bq_per_suv=bq_per_suv
    )
    stored, slope = quantize(activity)
    _pet_series(ds, study, series)
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    _geometry(ds, study, plane, series.thickness)
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = _ds(slope)
    ds.FrameReferenceTime = "0"
    ds.ActualFrameDuration = 120_000
    ds.ImageIndex = index + 1
    ds.DecayFactor = "1"
    ds.SliceSensitivityFactor = "1"
    _windows(ds, ((3 * bq_per_suv, 6 * bq_per_suv, "SUV 0-6"),))
    set_pixels(ds, stored, bits_stored=16)
    return ds


def _radiograph(study: StudySpec, series: SeriesSpec, index: int) -> Dataset:
    """A chest radiograph (CR Series and CR Image modules, PS3.3 C.8.1.1, C.8.1.2), PA or left
    lateral; 8-bit when it is to be stored as JPEG Baseline, 12-bit otherwise."""
    ds = shared_modules(study, series, index, ComputedRadiographyImageStorage)
    density = _density(study.lesions, series, ds.SOPInstanceUID)
    lateral = series.layout is Layout.LATERAL
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.ViewPosition = "LL" if lateral else "PA"
    ds.PatientOrientation = ["P", "F"] if lateral else ["L", "F"]
    ds.KVP = "125" if lateral else "110"
    ds.ExposureTime = 20 if lateral else 8
    ds.XRayTubeCurrent = 320
    ds.DistanceSourceToDetector = "1800"
    ds.ImagerPixelSpacing = [_ds(series.spacing), _ds(series.spacing)]
    if series.transfer_syntax == JPEGBaseline8Bit:
        pixels8 = np.rint(density * 255).astype(np.uint8)
        _windows(ds, ((128, 256, "NORMAL"),))
        set_pixels(ds, pixels8, bits_stored=8)
    else:
        _windows(ds, ((2048, 4096, "NORMAL"),))
        set_pixels(ds, np.rint(density * 4095).astype(np.uint16), bits_stored=12)
    ds.AcquisitionTime = add_time(series.time, -30)
    return ds


_BUILDERS: dict[tuple[str, Layout], Callable[[StudySpec, SeriesSpec, int], Dataset]] = {
    ("CT", Layout.AXIAL): _ct_slice,
    ("CT", Layout.CORONAL): _ct_slice,
    ("CT", Layout.LOCALIZER): _ct_localizer,
    ("PT", Layout.AXIAL): _pet_slice,
    ("CR", Layout.PA): _radiograph,
    ("CR", Layout.LATERAL): _radiograph,
}


def build_instance(study: StudySpec, series: SeriesSpec, index: int) -> Dataset:
    """Instance ``index`` (0-based) of ``series`` in ``study``, pixels and all."""
    return _BUILDERS[series.modality, series.layout](study, series, index)
