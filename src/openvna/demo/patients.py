"""The demo catalogue: three patients, four studies, fixed names, dates and UIDs.

Two patients reproduce the SIIM hackathon server that the hands-on exercise (shared seed 000)
was written against: SIIM^Joe's study and its JPEG instance keep the exercise's exact UIDs, and
SIIM^Andy makes the ``SIIM*`` search return more than one patient. THOMPSON^ALEX is the patient
of the "DICOMweb Quick Start Guide" (seed 002), with that guide's study UID, accession and
referring physician. UIDs not given by those texts are derived from names (PS3.5 B.2), so they
are the same on every machine and every run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum
from typing import TypedDict

from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
)

__all__ = [
    "ANDY",
    "CATALOGUE",
    "JOE",
    "JOE_PA_SERIES_UID",
    "JOE_PA_SOP_UID",
    "JOE_STUDY_UID",
    "THOMPSON",
    "THOMPSON_STUDY_UID",
    "Layout",
    "PatientSpec",
    "SeriesSpec",
    "StudySpec",
    "demo_uid",
]

_NAMESPACE = uuid.UUID("5d0c3f52-8d0e-4b8e-9a51-0a7e0c1d2b63")


def demo_uid(*parts: str) -> str:
    """A UID from a name (``2.25.`` + a UUID version 5, PS3.5 B.2): stable across runs."""
    return f"2.25.{uuid.uuid5(_NAMESPACE, '/'.join(parts)).int}"


class Layout(Enum):
    """How a series' images are laid out in the patient (and so which pixels they hold)."""

    AXIAL = "axial"  # a stack of transverse slices, head to feet
    CORONAL = "coronal"  # a stack of coronal reformats, front to back
    LOCALIZER = "localizer"  # a CT scout: one AP projection
    PA = "pa"  # a posteroanterior chest radiograph
    LATERAL = "lateral"  # a left lateral chest radiograph


@dataclass(frozen=True)
class PatientSpec:
    name: str
    patient_id: str
    birth_date: str
    sex: str
    weight_kg: float
    size_m: float
    charset: str | None = None


@dataclass(frozen=True)
class SeriesSpec:
    """One series: ``first`` and ``step`` place the slices (mm along the stacking axis), ``top``
    is the z of the first row of coronal and projection images."""

    number: int
    modality: str
    description: str
    body_part: str
    layout: Layout
    time: str
    rows: int
    columns: int
    spacing: float
    count: int = 1
    first: float = 0.0
    step: float = 0.0
    top: float = 0.0
    thickness: float = 0.0
    contrast: bool = False
    transfer_syntax: str = ExplicitVRLittleEndian
    uid: str = ""
    sop_uids: tuple[str, ...] = ()


@dataclass(frozen=True)
class StudySpec:
    uid: str
    patient: PatientSpec
    accession: str
    study_id: str
    date: str
    time: str
    description: str
    referring: str
    institution: str
    series: tuple[SeriesSpec, ...]
    lesions: tuple[str, ...] = ()

    def series_uid(self, series: SeriesSpec) -> str:
        return series.uid or demo_uid(self.uid, "series", str(series.number))

    def sop_uid(self, series: SeriesSpec, index: int) -> str:
        if index < len(series.sop_uids):
            return series.sop_uids[index]
        return demo_uid(self.uid, "series", str(series.number), "instance", str(index + 1))

    @property
    def frame_of_reference_uid(self) -> str:
        """One frame of reference per study: the scans of a PET/CT share one (PS3.3 C.7.4.1)."""
        return demo_uid(self.uid, "frame-of-reference")

    @property
    def instance_count(self) -> int:
        return sum(series.count for series in self.series)


JOE = PatientSpec("SIIM^Joe", "siimjoe", "19750315", "M", 82.0, 1.80)
ANDY = PatientSpec("SIIM^Andy", "TCGA-50-5072", "19480712", "M", 75.0, 1.76, "ISO_IR 100")
THOMPSON = PatientSpec("THOMPSON^ALEX", "12345", "19670701", "M", 79.0, 1.78, "ISO_IR 192")

JOE_STUDY_UID = "1.3.6.1.4.1.14519.5.2.1.7777.9002.198875685720513246512710453733"
JOE_PA_SERIES_UID = "1.3.6.1.4.1.14519.5.2.1.7777.9002.207203214132667549392101803048"
JOE_PA_SOP_UID = "1.3.6.1.4.1.14519.5.2.1.7777.9002.327873213718058651550666129029"
THOMPSON_STUDY_UID = "1.2.392.200036.9116.2.2.2.1762893313.1029997326.945873"


class _Acquisition(TypedDict):
    """The SeriesSpec fields a modality shares across the catalogue, passed with ``**``."""

    modality: str
    rows: int
    columns: int
    spacing: float


class _Radiograph(_Acquisition):
    body_part: str


_CT: _Acquisition = {"modality": "CT", "rows": 256, "columns": 256, "spacing": 1.5}
_CR: _Radiograph = {
    "modality": "CR",
    "body_part": "CHEST",
    "rows": 512,
    "columns": 448,
    "spacing": 0.8,
}

_JOE_CHEST = StudySpec(
    uid=JOE_STUDY_UID,
    patient=JOE,
    accession="a257132503242682",
    study_id="32503",
    date="20180528",
    time="093412",
    description="XR CHEST PA AND LATERAL",
    referring="WELBY^MARCUS",
    institution="SIIM Hackathon Hospital",
    lesions=("lung-nodule",),
    series=(
        SeriesSpec(
            1, description="PA", layout=Layout.PA, time="093501", uid=JOE_PA_SERIES_UID,
            sop_uids=(JOE_PA_SOP_UID,), top=20.0, transfer_syntax=JPEGBaseline8Bit, **_CR,
        ),
        SeriesSpec(2, description="LATERAL", layout=Layout.LATERAL, time="093629", top=20.0, **_CR),
    ),
)  # fmt: skip

_ANDY_PET_CT = StudySpec(
    uid=demo_uid("TCGA-50-5072", "a956893214499959"),
    patient=ANDY,
    accession="a956893214499959",
    study_id="1",
    date="20010618",
    time="084500",
    description="PET CT CHEST ABDOMEN",
    referring="MERRILL^ROBERT",
    institution="SIIM Hackathon Hospital",
    lesions=("lung-nodule", "mediastinal-node"),
    series=(
        SeriesSpec(
            2, description="CT ATTENUATION CORRECTION 5MM", body_part="CHEST", layout=Layout.AXIAL,
            time="094512", count=48, first=-10.0, step=7.5, thickness=5.0, **_CT,
        ),
        SeriesSpec(
            3, modality="PT", description="PET AC WB", body_part="CHEST", layout=Layout.AXIAL,
            time="094830", rows=128, columns=128, spacing=3.0, count=48, first=-10.0, step=7.5,
            thickness=7.5, transfer_syntax=ImplicitVRLittleEndian,
        ),
    ),
)  # fmt: skip

_ANDY_TOTAL_BODY = StudySpec(
    uid=demo_uid("TCGA-50-5072", "a411079800582267"),
    patient=ANDY,
    accession="a411079800582267",
    study_id="2",
    date="20020114",
    time="101530",
    description="CT TOTAL BODY WO CONTRAST",
    referring="MERRILL^ROBERT",
    institution="SIIM Hackathon Hospital",
    lesions=("lung-nodule",),
    series=(
        SeriesSpec(
            2, description="WB 5.0 B30f", body_part="WHOLEBODY", layout=Layout.AXIAL,
            time="102044", count=48, first=240.0, step=25.0, thickness=5.0,
            transfer_syntax=JPEG2000Lossless, **_CT,
        ),
    ),
)  # fmt: skip

_THOMPSON_ABDOMEN = StudySpec(
    uid=THOMPSON_STUDY_UID,
    patient=THOMPSON,
    accession="11235813",
    study_id="11235813",
    date="20130409",
    time="131600",
    description="Abdomen CT",
    referring="SMITH^KAREN",
    institution="My Hospital",
    lesions=("liver-lesion",),
    series=(
        SeriesSpec(
            1, description="Topogram 0.6 T20f", body_part="ABDOMEN", layout=Layout.LOCALIZER,
            time="131702", top=-40.0, **(_CT | {"rows": 320}),
        ),
        SeriesSpec(
            2, description="Abdomen 5.0 B30f", body_part="ABDOMEN", layout=Layout.AXIAL,
            time="131845", count=32, first=-160.0, step=10.0, thickness=5.0, **_CT,
        ),
        SeriesSpec(
            3, description="Abdomen PV 5.0 B30f", body_part="ABDOMEN", layout=Layout.AXIAL,
            time="132010", count=32, first=-160.0, step=10.0, thickness=5.0, contrast=True, **_CT,
        ),
        SeriesSpec(
            4, description="Abdomen PV COR 3.0", body_part="ABDOMEN", layout=Layout.CORONAL,
            time="132315", count=20, first=-95.0, step=10.0, top=-150.0, thickness=3.0,
            contrast=True, **(_CT | {"rows": 224}),
        ),
    ),
)  # fmt: skip

CATALOGUE: tuple[StudySpec, ...] = (
    _JOE_CHEST,
    _ANDY_PET_CT,
    _ANDY_TOTAL_BODY,
    _THOMPSON_ABDOMEN,
)
