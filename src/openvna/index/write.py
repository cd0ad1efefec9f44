"""Writing the index: add (insert, keep or replace) and delete, with counts recomputed in the
same transaction so the computed attributes of PS3.4 C.3.4 (NumberOfStudyRelatedSeries ...,
ModalitiesInStudy, SOPClassesInStudy) are right after every change.

Upserts use INSERT ... ON CONFLICT on both engines. On PostgreSQL the patient upsert locks the
patient row and the study upsert the study row, so concurrent stores into one study serialise
there and every recount sees the instances committed before it. Statements are built once per
dialect (``statements.py``) and executed with parameters: building them per call cost more than
running them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from openvna.index.extract import Rows, extract
from openvna.index.records import AddResult, InstanceRecord
from openvna.index.schema import instances, studies, study_modalities
from openvna.index.statements import Statements, statements_for

__all__ = ["add_instance", "add_instances", "delete_instances", "recount"]


@dataclass
class _Touched:
    """The rows whose counts must be recomputed before the transaction commits."""

    series: set[int] = field(default_factory=set)
    studies: set[int] = field(default_factory=set)
    patients: set[int] = field(default_factory=set)
    # The values this transaction last wrote to each patient, study and series row, and the
    # row's pk, by (table, conflict key): writing the same values again would change nothing.
    written: dict[tuple[Any, ...], tuple[dict[str, Any], int]] = field(default_factory=dict)


def add_instance(conn: Connection, record: InstanceRecord, replace: bool) -> AddResult:
    """Index one instance; with ``replace`` an existing row of the same SOP Instance UID is
    overwritten (also when it moved to another series or study), else left as it is."""
    return add_instances(conn, [record], replace)[0]


def add_instances(
    conn: Connection, records: Iterable[InstanceRecord], replace: bool
) -> list[AddResult]:
    """Index several instances in the caller's transaction, recounting each parent once."""
    sql = statements_for(conn)
    touched = _Touched()
    results = [_store(conn, sql, record, replace, touched) for record in records]
    recount(
        conn,
        series_pks=touched.series,
        study_pks=touched.studies,
        patient_pks=touched.patients,
    )
    return results


def _store(
    conn: Connection, sql: Statements, record: InstanceRecord, replace: bool, touched: _Touched
) -> AddResult:
    rows = extract(record)
    existing = conn.execute(sql.find_instance, {"uid": rows.sop_uid}).first()
    if existing is not None and not replace:
        return AddResult(existed=True, old_blob_key=None, stored=False)
    patient_pk, study_pk, series_pk = _parents(conn, sql, rows, existing, touched)
    values = {**rows.instance, "series_fk": series_pk, "study_fk": study_pk}
    if existing is not None:
        conn.execute(sql.update_instance(tuple(values)), {**values, "target_pk": existing.pk})
    else:
        inserted = conn.execute(sql.insert_instance(tuple(values), replace), values).first()
        if inserted is None:  # a concurrent store of the same instance came first
            return AddResult(existed=True, old_blob_key=None, stored=False)
    touched.series.add(series_pk)
    touched.studies.add(study_pk)
    touched.patients.add(patient_pk)
    old_key = existing.blob_key if existing is not None else None
    return AddResult(
        existed=existing is not None,
        old_blob_key=old_key if old_key != record.blob_key else None,
        stored=True,
    )


def _parents(
    conn: Connection, sql: Statements, rows: Rows, existing: Any, touched: _Touched
) -> tuple[int, int, int]:
    """Upsert the patient, study and series rows of a new or replacing instance; return their
    pks. The rest of a STOW-RS request's study mostly repeats rows this transaction has just
    written: those upserts and parent lookups are skipped (see ``_known_parents``)."""
    series_study = _known_parents(rows, existing, touched)
    if series_study is None:
        series_study = _previous_parents(conn, sql, rows, existing, touched)
    patient_key = ("patients", rows.patient["patient_id"], rows.patient["issuer"])
    patient_pk = _upsert(conn, sql, touched, patient_key, rows.patient)
    study = {**rows.study, "patient_fk": patient_pk}
    study_pk = _upsert(conn, sql, touched, ("studies", rows.study_uid), study)
    series_values = {**rows.series, "study_fk": study_pk}
    series_pk = _upsert(conn, sql, touched, ("series", rows.series_uid), series_values)
    if series_study not in (None, study_pk):
        # The series moved to another study: its instances follow (the study_fk copy).
        conn.execute(sql.move_series_instances, {"series_pk": series_pk, "study_pk": study_pk})
    return patient_pk, study_pk, series_pk


def _known_parents(rows: Rows, existing: Any, touched: _Touched) -> int | None:
    """For a new instance whose series and study rows this transaction has written, with the
    series in that study: note what ``_previous_parents`` would (the study, its patient) from
    those writes instead of asking the database, and answer the series' study. None when the
    database must be asked."""
    series_row = touched.written.get(("series", rows.series_uid))
    study_row = touched.written.get(("studies", rows.study_uid))
    if existing is not None or series_row is None or study_row is None:
        return None
    if series_row[0]["study_fk"] != study_row[1]:
        return None
    touched.studies.add(study_row[1])
    touched.patients.add(study_row[0]["patient_fk"])
    return study_row[1]


def _previous_parents(
    conn: Connection, sql: Statements, rows: Rows, existing: Any, touched: _Touched
) -> int | None:
    """Note the rows whose counts a store may change besides its own parents: the former
    series and study of a moved instance, the former study of a moved series, the patients
    the study and those studies belonged to. Answers the series' current study, if any."""
    old_studies: set[int] = set()
    if existing is not None:
        touched.series.add(existing.series_fk)
        old_studies.add(existing.study_fk)
    series_study = conn.execute(sql.series_study, {"uid": rows.series_uid}).scalar()
    if series_study is not None:
        old_studies.add(series_study)
    touched.studies.update(old_studies)
    params = {"uid": rows.study_uid, "pks": sorted(old_studies)}
    touched.patients.update(conn.execute(sql.study_patients, params).scalars())
    return int(series_study) if series_study is not None else None


def _upsert(
    conn: Connection,
    sql: Statements,
    touched: _Touched,
    key: tuple[Any, ...],
    values: dict[str, Any],
) -> int:
    """Insert or update (the newest instance's attributes win); return the row's pk. A row
    this transaction last wrote with the same values is not written again: it holds them (on
    PostgreSQL this transaction keeps the row locked since that write)."""
    known = touched.written.get(key)
    if known is not None and known[0] == values:
        return known[1]
    pk = int(conn.execute(sql.upsert(key[0], tuple(values)), values).scalar_one())
    touched.written[key] = (values, pk)
    return pk


def recount(
    conn: Connection,
    *,
    series_pks: Iterable[int],
    study_pks: Iterable[int],
    patient_pks: Iterable[int],
) -> None:
    """Recompute counts and computed attributes bottom-up; drop rows left without instances.

    On PostgreSQL the rows are locked first, patients, studies, series (the order a store takes
    them), each lock in a statement of its own: an UPDATE that waited for a lock would count with
    the snapshot it started with and miss what the lock holder committed (READ COMMITTED)."""
    sql = statements_for(conn)
    series_pks, study_pks, patient_pks = sorted(series_pks), sorted(study_pks), sorted(patient_pks)
    if sql.dialect == "postgresql":
        conn.execute(sql.lock_patients, {"pks": patient_pks})
        conn.execute(sql.lock_studies, {"pks": study_pks})
        conn.execute(sql.lock_series, {"pks": series_pks})
    for pk in series_pks:
        if not conn.execute(sql.recount_series, {"row_pk": pk}).scalar():
            conn.execute(sql.delete_series, {"row_pk": pk})
    for pk in study_pks:
        _recount_study(conn, sql, pk)
    for pk in patient_pks:
        if not conn.execute(sql.recount_patient, {"row_pk": pk}).scalar():
            conn.execute(sql.delete_patient, {"row_pk": pk})


def _recount_study(conn: Connection, sql: Statements, pk: int) -> None:
    counted = conn.execute(sql.recount_study, {"row_pk": pk}).first()
    if counted is None:
        return
    if not counted.num_instances:
        conn.execute(sql.delete_modalities, {"row_pk": pk})
        conn.execute(sql.delete_study, {"row_pk": pk})
        return
    modalities = "\\".join(
        sorted(set(conn.execute(sql.study_series_modalities, {"row_pk": pk}).scalars()) - {""})
    )
    sop_classes = "\\".join(
        sorted(set(conn.execute(sql.study_sop_classes, {"row_pk": pk}).scalars()) - {""})
    )
    if (modalities, sop_classes) != (counted.modalities, counted.sop_classes):
        conn.execute(sql.set_computed, {"row_pk": pk, "mods": modalities, "classes": sop_classes})
    wanted = {(m, counted.study_date) for m in modalities.split("\\") if m}
    present = {tuple(r) for r in conn.execute(sql.study_modality_rows, {"row_pk": pk})}
    if wanted != present:
        conn.execute(sql.delete_modalities, {"row_pk": pk})
        if wanted:
            conn.execute(
                insert(study_modalities),
                [{"study_fk": pk, "modality": m, "study_date": d} for m, d in sorted(wanted)],
            )


def delete_instances(conn: Connection, condition: Any) -> list[str]:
    """Delete the instances matching ``condition`` (a WHERE clause on ``instances``), recount
    their parents and return their blob keys."""
    found = conn.execute(
        select(
            instances.c.blob_key, instances.c.series_fk, instances.c.study_fk, studies.c.patient_fk
        )
        .join(studies, studies.c.pk == instances.c.study_fk)
        .where(condition)
    ).all()
    conn.execute(delete(instances).where(condition))
    recount(
        conn,
        series_pks={r.series_fk for r in found},
        study_pks={r.study_fk for r in found},
        patient_pks={r.patient_fk for r in found},
    )
    return [r.blob_key for r in found]
