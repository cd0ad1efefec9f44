"""Fixtures of the index tests: an empty index on SQLite and on PostgreSQL, and instance records.

The PostgreSQL variant uses the server at OPENVNA_TEST_PG_URL (default: the local one with trust
auth, database ``test``), in a schema of its own per test (``search_path`` set through the URL's
``options``), dropped afterwards; it skips, saying so, when no server answers (fails instead
when OPENVNA_REQUIRE_PG is set, as in CI).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from openvna.index import Index, InstanceRecord, create_index

PG_URL = os.environ.get("OPENVNA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_PG_DSN = PG_URL.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="session")
def pg_problem() -> str | None:
    """None when PostgreSQL answers, else the skip reason."""
    try:
        psycopg.connect(_PG_DSN, connect_timeout=3).close()
    except psycopg.Error:
        return f"PostgreSQL not reachable at {PG_URL}"
    return None


ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextlib.contextmanager
def _database(engine: str, directory: Path, pg_problem: str | None) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{directory / 'index.sqlite'}"
        return
    if pg_problem:
        if os.environ.get("OPENVNA_REQUIRE_PG"):
            pytest.fail(pg_problem)
        pytest.skip(pg_problem)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_PG_DSN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(_PG_DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=ENGINES)
def index_db_url(
    request: pytest.FixtureRequest, tmp_path: Path, pg_problem: str | None
) -> Iterator[str]:
    """The URL of an empty database for the engine under test."""
    with _database(request.param, tmp_path, pg_problem) as url:
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
    pg_problem: str | None,
) -> Iterator[Index]:
    """An index shared by the tests of one module (for read-only tests over a fixed corpus)."""
    with _database(request.param, tmp_path_factory.mktemp("index"), pg_problem) as url:
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
