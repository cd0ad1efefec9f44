"""Writing the index: add (insert, keep or replace) and delete, with counts recomputed in the
same transaction so the computed attributes of PS3.4 C.3.4 (NumberOfStudyRelatedSeries ...,
ModalitiesInStudy, SOPClassesInStudy) are right after every change.

Upserts use INSERT ... ON CONFLICT on both engines. On PostgreSQL the first statement of a store
locks the patient row and the second the study row, so concurrent stores into one study
serialise there and every recount sees the instances committed before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Table, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from openvna.index.extract import Rows, extract
from openvna.index.records import AddResult, InstanceRecord
from openvna.index.schema import instances, patients, series, studies, study_modalities

__all__ = ["add_instance", "delete_instances", "recount"]


def add_instance(conn: Connection, record: InstanceRecord, replace: bool) -> AddResult:
    """Index one instance; with ``replace`` an existing row of the same SOP Instance UID is
    overwritten (also when it moved to another series or study), else left as it is."""
    rows = extract(record)
    existing = conn.execute(
        select(instances.c.pk, instances.c.series_fk, instances.c.study_fk, instances.c.blob_key)
        .where(instances.c.sop_uid == rows.sop_uid)
        .with_for_update()
    ).first()
    if existing is not None and not replace:
        return AddResult(existed=True, old_blob_key=None, stored=False)
    old = _previous_parents(conn, rows, existing)
    patient_pk = _upsert(conn, patients, rows.patient, ("patient_id", "issuer"))
    study_pk = _upsert(conn, studies, {**rows.study, "patient_fk": patient_pk}, ("study_uid",))
    series_pk = _upsert(conn, series, {**rows.series, "study_fk": study_pk}, ("series_uid",))
    values = {**rows.instance, "series_fk": series_pk, "study_fk": study_pk}
    if old["series_study"] not in (None, study_pk):
        # The series moved to another study: its instances follow (the study_fk copy).
        conn.execute(
            update(instances).where(instances.c.series_fk == series_pk).values(study_fk=study_pk)
        )
    if existing is not None:
        conn.execute(update(instances).where(instances.c.pk == existing.pk).values(values))
    elif not _insert_instance(conn, values, replace):
        return AddResult(existed=True, old_blob_key=None, stored=False)
    recount(
        conn,
        series_pks={series_pk, *old["series"]},
        study_pks={study_pk, *old["studies"]},
        patient_pks={patient_pk, *old["patients"]},
    )
    old_key = existing.blob_key if existing is not None else None
    return AddResult(
        existed=existing is not None,
        old_blob_key=old_key if old_key != record.blob_key else None,
        stored=True,
    )


def _previous_parents(conn: Connection, rows: Rows, existing: Any) -> dict[str, Any]:
    """Rows whose counts a store may change besides its own parents: the former series and
    study of a moved instance, the former study of a moved series, the former patients."""
    old_series: set[int] = set()
    old_studies: set[int] = set()
    if existing is not None:
        old_series.add(existing.series_fk)
        old_studies.add(existing.study_fk)
    series_study = conn.execute(
        select(series.c.study_fk).where(series.c.series_uid == rows.series_uid)
    ).scalar()
    if series_study is not None:
        old_studies.add(series_study)
    condition = studies.c.study_uid == rows.study_uid
    if old_studies:
        condition = condition | studies.c.pk.in_(old_studies)
    old_patients = set(conn.execute(select(studies.c.patient_fk).where(condition)).scalars())
    return {
        "series": old_series,
        "studies": old_studies,
        "patients": old_patients,
        "series_study": series_study,
    }


def _insert(conn: Connection, table: Table) -> Any:
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def _upsert(conn: Connection, table: Table, values: dict[str, Any], keys: tuple[str, ...]) -> int:
    """Insert or update (the newest instance's attributes win); return the row's pk."""
    stmt = _insert(conn, table).values(values)
    changed = {k: stmt.excluded[k] for k in values if k not in keys}
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=changed)
    return int(conn.execute(stmt.returning(table.c.pk)).scalar_one())


def _insert_instance(conn: Connection, values: dict[str, Any], replace: bool) -> bool:
    """Insert the instance row; a concurrent store of the same SOP instance is kept (or
    overwritten with ``replace``). Answers whether this record's row is in place."""
    stmt = _insert(conn, instances).values(values)
    if replace:
        changed = {k: stmt.excluded[k] for k in values if k != "sop_uid"}
        stmt = stmt.on_conflict_do_update(index_elements=["sop_uid"], set_=changed)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=["sop_uid"])
    return conn.execute(stmt.returning(instances.c.pk)).first() is not None


def recount(
    conn: Connection,
    *,
    series_pks: Iterable[int],
    study_pks: Iterable[int],
    patient_pks: Iterable[int],
) -> None:
    """Recompute counts and computed attributes bottom-up; drop rows left without instances."""
    for pk in sorted(series_pks):
        _recount_series(conn, pk)
    for pk in sorted(study_pks):
        _recount_study(conn, pk)
    for pk in sorted(patient_pks):
        _recount_patient(conn, pk)


def _count(conn: Connection, table: Table, **where: int) -> int:
    stmt = select(func.count()).select_from(table)
    for column, value in where.items():
        stmt = stmt.where(table.c[column] == value)
    return int(conn.execute(stmt).scalar_one())


def _recount_series(conn: Connection, pk: int) -> None:
    count = _count(conn, instances, series_fk=pk)
    if count:
        conn.execute(update(series).where(series.c.pk == pk).values(num_instances=count))
    else:
        conn.execute(delete(series).where(series.c.pk == pk))


def _recount_study(conn: Connection, pk: int) -> None:
    conn.execute(delete(study_modalities).where(study_modalities.c.study_fk == pk))
    num_instances = _count(conn, instances, study_fk=pk)
    if not num_instances:
        conn.execute(delete(studies).where(studies.c.pk == pk))
        return
    modalities = sorted(
        set(conn.execute(select(series.c.modality).where(series.c.study_fk == pk)).scalars()) - {""}
    )
    sop_classes = sorted(
        set(
            conn.execute(
                select(instances.c.sop_class_uid).where(instances.c.study_fk == pk).distinct()
            ).scalars()
        )
        - {""}
    )
    conn.execute(
        update(studies)
        .where(studies.c.pk == pk)
        .values(
            num_series=_count(conn, series, study_fk=pk),
            num_instances=num_instances,
            modalities="\\".join(modalities),
            sop_classes="\\".join(sop_classes),
        )
    )
    if modalities:
        date = conn.execute(select(studies.c.study_date).where(studies.c.pk == pk)).scalar_one()
        conn.execute(
            insert(study_modalities),
            [{"study_fk": pk, "modality": m, "study_date": date} for m in modalities],
        )


def _recount_patient(conn: Connection, pk: int) -> None:
    totals = conn.execute(
        select(func.count(), func.sum(studies.c.num_series), func.sum(studies.c.num_instances))
        .select_from(studies)
        .where(studies.c.patient_fk == pk)
    ).one()
    if not totals[0]:
        conn.execute(delete(patients).where(patients.c.pk == pk))
        return
    conn.execute(
        update(patients)
        .where(patients.c.pk == pk)
        .values(num_studies=totals[0], num_series=totals[1], num_instances=totals[2])
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
