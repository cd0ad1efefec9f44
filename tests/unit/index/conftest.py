"""Fixtures of the index tests: an empty index on SQLite and on PostgreSQL, and instance records.

The databases come from tests/databases.py (PostgreSQL: a schema of its own per test).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from openvna.index import Index, InstanceRecord, create_index
from tests.databases import ENGINES, database_url


@pytest.fixture(params=ENGINES)
def index_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database for the engine under test."""
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def index(index_db_url: str) -> Iterator[Index]:
    """An empty index, closed after the test."""
    idx = create_index(index_db_url)
    try:
        yield idx
    finally:
        idx.close()


@pytest.fixture(scope="module", params=ENGINES)
def module_index(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Index]:
    """An index shared by the tests of one module (for read-only tests over a fixed corpus)."""
    with database_url(request.param, tmp_path_factory.mktemp("index")) as url:
        idx = create_index(url)
        try:
            yield idx
        finally:
            idx.close()


def build_record(
    sop: str,
    study: str = "1.2.3",
    series: str = "1.2.3.1",
    *,
    blob_key: str | None = None,
    **attributes: Any,
) -> InstanceRecord:
    """A CT instance record; keyword arguments set (or, with None, remove) DICOM attributes."""
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.PatientName = "DOE^JOHN"
    ds.PatientID = "P1"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "M"
    ds.StudyDate = "20200101"
    ds.StudyTime = "120000"
    ds.AccessionNumber = "A1"
    ds.StudyID = "S1"
    ds.ReferringPhysicianName = "WELBY^MARCUS"
    ds.StudyDescription = "CT ABDOMEN"
    ds.Modality = "CT"
    ds.SeriesNumber = 1
    ds.SeriesDescription = "AXIAL"
    ds.InstanceNumber = 1
    ds.Rows = 4
    ds.Columns = 4
    ds.BitsAllocated = 16
    for keyword, value in attributes.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    return InstanceRecord(
        metadata=ds.to_json_dict(),
        transfer_syntax=ExplicitVRLittleEndian,
        blob_key=blob_key or f"{study}/{series}/{sop}.dcm",
        size=1000,
        frames=(((800, 32),),),
        pixel_data=None,
    )


@pytest.fixture(scope="session")
def make_record() -> Callable[..., InstanceRecord]:
    """``build_record`` as a fixture (conftest modules are not imported by tests)."""
    return build_record
