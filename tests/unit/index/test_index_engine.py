"""create_index: engine settings, schema reuse, error translation and the indexes queries use."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydicom import Dataset
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.dialects import postgresql, sqlite

from openvna.dicom.query import Query, parse_qido
from openvna.errors import IndexUnavailable
from openvna.index import Index, InstanceRecord, create_index
from openvna.index import read as index_read
from openvna.index.schema import SCHEMA_VERSION, utc_stamp
from tests.databases import PG_URL, require_pg


def test_sqlite_runs_in_wal_with_case_sensitive_like(tmp_path: Path) -> None:
    index = create_index(f"sqlite:///{tmp_path / 'i.sqlite'}")
    try:
        with index.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("SELECT 'a' LIKE 'A'")).scalar() == 0
    finally:
        index.close()


def test_reopening_keeps_the_data(
    index_db_url: str, make_record: Callable[..., InstanceRecord]
) -> None:
    first = create_index(index_db_url)
    first.add_instance(make_record("1.2.3.1.1"), replace=False)
    first.close()
    again = create_index(index_db_url)
    try:
        assert again.count_instances() == 1
    finally:
        again.close()


def test_unreachable_postgresql_is_index_unavailable() -> None:
    with pytest.raises(IndexUnavailable, match=r"127\.0\.0\.1:1"):
        create_index("postgresql+psycopg://nobody:secret@127.0.0.1:1/none?connect_timeout=2")


def test_password_is_not_in_the_message() -> None:
    with pytest.raises(IndexUnavailable) as caught:
        create_index("postgresql+psycopg://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
    assert "secret" not in caught.value.message


def test_bad_url_is_index_unavailable() -> None:
    with pytest.raises(IndexUnavailable, match="invalid index URL"):
        create_index("nonsense://")


def test_operational_errors_become_index_unavailable(tmp_path: Path) -> None:
    broken = Index(create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'i.sqlite'}"))
    with pytest.raises(IndexUnavailable, match="index unavailable"):
        broken.count_instances()
    with pytest.raises(IndexUnavailable):
        broken.find(parse_qido("STUDY", [])).page()


# Study searches that DESIGN.md measured and the index each must use.
PLANNED = [
    ([("PatientID", "P1")], "ix_studies_patient_id"),
    ([("PatientName", "DOE")], "ix_studies_patient_name"),
    ([("PatientName", "DO*")], "ix_studies_patient_name"),
    ([("StudyDate", "20200101-20201231")], "ix_studies_date"),
    ([("StudyDate", "20200314-20200316"), ("StudyTime", "1200-1300")], "ix_studies_date"),
    ([("ModalitiesInStudy", "CT")], "study_modalities"),
    ([("AccessionNumber", "A1")], "ix_studies_accession"),
]


def _sql(index: Index, query: Query) -> str:
    plan = index_read.plan(query)
    stmt = index_read._statement(query, plan, patient_counts=False, parse=False)
    dialect = (
        postgresql.dialect() if index.engine.dialect.name == "postgresql" else sqlite.dialect()
    )
    return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


@pytest.mark.parametrize(("params", "index_name"), PLANNED)
def test_study_searches_use_an_index(
    index: Index,
    make_record: Callable[..., InstanceRecord],
    params: list[tuple[str, str]],
    index_name: str,
) -> None:
    for n in range(30):
        record = make_record(f"1.{n}.1.1", f"1.{n}", f"1.{n}.1", PatientID=f"P{n}")
        index.add_instance(record, replace=False)
    sql = _sql(index, parse_qido("STUDY", params))
    with index.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET enable_seqscan = off"))
            conn.execute(text("ANALYZE"))
            plan = "\n".join(conn.execute(text("EXPLAIN " + sql)).scalars())
        else:
            rows = conn.execute(text("EXPLAIN QUERY PLAN " + sql)).all()
            plan = "\n".join(str(row[-1]) for row in rows)
    assert index_name in plan, plan
    assert "Seq Scan" not in plan, plan
    assert "SCAN studies" not in plan, plan


def test_in_memory_sqlite_is_one_database_for_all_threads(
    make_record: Callable[..., InstanceRecord],
) -> None:
    index = create_index("sqlite://")
    try:
        worker = threading.Thread(
            target=index.add_instance, args=(make_record("1.2.3.1.1"),), kwargs={"replace": False}
        )
        worker.start()
        worker.join()
        assert index.count_instances() == 1
    finally:
        index.close()


def test_sqlite_directory_is_created(tmp_path: Path) -> None:
    index = create_index(f"sqlite:///{tmp_path / 'new' / 'dir' / 'i.sqlite'}")
    index.close()
    assert (tmp_path / "new" / "dir" / "i.sqlite").exists()


@pytest.mark.postgres
def test_missing_postgresql_schema_is_index_unavailable() -> None:
    require_pg()
    url = PG_URL
    with pytest.raises(IndexUnavailable, match=r"no schema has been selected"):
        create_index(f"{url}?options=-csearch_path%3Dno_such_schema")


@pytest.mark.parametrize(
    ("tampering", "message"),
    [
        ("UPDATE openvna_schema SET version = 999", "schema version 999; this openvna needs"),
        ("DROP TABLE openvna_schema", "created by an older openvna"),
    ],
)
def test_an_index_of_another_schema_is_refused_clearly(tmp_path, tampering, message) -> None:
    url = f"sqlite:///{tmp_path / 'index.sqlite'}"
    create_index(url).close()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(tampering))
    engine.dispose()
    with pytest.raises(IndexUnavailable, match=message):
        create_index(url)
    create_index(url.replace("index.sqlite", "fresh.sqlite")).close()


# What each older schema version lacked, undone on a new index to make one of that version.
_DOWNGRADES = {
    3: ("DROP INDEX ix_instances_study", "CREATE INDEX ix_instances_study ON instances (study_fk)"),
    2: (
        "DROP INDEX ix_studies_updated",
        "ALTER TABLE studies DROP COLUMN updated",
        "DROP INDEX ix_series_body_part",
        "ALTER TABLE series DROP COLUMN body_part",
        "DROP TABLE study_reasons",
    ),
    1: ("ALTER TABLE instances DROP COLUMN checksum",),
}


@pytest.mark.parametrize("version", [1, 2, 3])
def test_an_older_index_is_brought_up_to_date(
    index_db_url: str, make_record: Callable[..., InstanceRecord], version: int
) -> None:
    """Version 1 had no instance checksum: the column is added in place, old rows keep NULL.
    Version 2 had no study change time, series body part nor study reasons: old studies get the
    migration's moment and a study that changes afterwards its own; the codes are read from the
    stored JSON. Version 3's study index lacked the SOP Class: the recount then read the rows."""
    reason = Dataset()
    reason.CodeValue, reason.CodingSchemeDesignator, reason.CodeMeaning = "R1", "SCT", "Pain"
    record = make_record(
        "1.2.3.1.1",
        "1.2.3.1",
        "1.2.3.1.0",
        BodyPartExamined="CHEST",
        ReasonForPerformedProcedureCodeSequence=[reason],
    )
    first = create_index(index_db_url)
    first.add_instance(record, replace=False)
    with first.engine.begin() as conn:
        for step in range(SCHEMA_VERSION - 1, version - 1, -1):
            for statement in _DOWNGRADES[step]:
                conn.execute(text(statement))
        conn.execute(text(f"UPDATE openvna_schema SET version = {version}"))
    first.close()
    before = utc_stamp()
    again = create_index(index_db_url)
    try:
        with again.engine.connect() as conn:
            assert conn.execute(text("SELECT version FROM openvna_schema")).scalar() == 4
            assert conn.execute(text("SELECT checksum FROM instances")).all() == [(None,)]
            assert _study_index_columns(conn) == ["study_fk", "sop_class_uid"]
            (migrated,) = conn.execute(text("SELECT updated FROM studies")).scalars()
            assert conn.execute(text("SELECT body_part FROM series")).all() == [("CHEST",)]
            reasons = conn.execute(text("SELECT code, scheme FROM study_reasons")).all()
            assert reasons == [("R1", "SCT")]
        assert migrated <= utc_stamp()
        if version < 3:  # the change time came with version 3: the migration's moment
            assert before <= migrated
        with again.engine.begin() as conn:
            conn.execute(text("UPDATE studies SET updated = '2000-01-01T00:00:00.000Z'"))
        again.add_instance(make_record("1.2.3.1.2", "1.2.3.2", "1.2.3.2.0"), replace=False)
        again.add_instance(make_record("1.2.3.1.3", "1.2.3.1", "1.2.3.1.0"), replace=False)
        assert again.count_instances() == 3
        with again.engine.connect() as conn:
            changed = dict(conn.execute(text("SELECT study_uid, updated FROM studies")).all())
        assert changed["1.2.3.1"] >= migrated and changed["1.2.3.2"] >= migrated
    finally:
        again.close()


def _study_index_columns(conn: Any) -> list[str]:
    (found,) = [
        i for i in inspect(conn).get_indexes("instances") if i["name"] == "ix_instances_study"
    ]
    return list(found["column_names"])
