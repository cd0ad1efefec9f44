"""Writing the index: add (insert, keep or replace) and delete, with counts recomputed in the
same transaction so the computed attributes of PS3.4 C.3.4 (NumberOfStudyRelatedSeries ...,
ModalitiesInStudy, SOPClassesInStudy) are right after every change.

Upserts use INSERT ... ON CONFLICT on both engines. On PostgreSQL the patient upsert locks the
patient row and the study upsert the study row, so concurrent stores into one study serialise
there and every recount sees the instances committed before it. Statements are built once per
dialect (``statements.py``) and executed with parameters: building them per call cost more than
running them. For the same reason a batch (a STOW-RS request) looks all its instances up in one
statement, which locks those found (PostgreSQL), and writes their rows after its parent rows,
new ones in one executemany and overwritten ones in another: each statement costs more Python
than SQLite spends on a row. A new row that meets one a concurrent transaction inserted after
the lookup makes the transaction start over (``InstancesRaced``), so every answer (existed, the
old blob key) is that of the rows it overwrote.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Connection, delete, select

from openvna.index.extract import Rows, extract
from openvna.index.records import AddResult, InstanceRecord
from openvna.index.schema import instances, studies, utc_stamp
from openvna.index.statements import Cursor, Statements, in_list, statements_for

__all__ = ["InstancesRaced", "add_instance", "add_instances", "delete_instances"]

# SOP Instance UIDs looked up per statement: far below SQLite's 32766 bound parameters.
_LOOKUP_CHUNK = 500


class InstancesRaced(Exception):
    """Another transaction inserted an instance this one had looked up and not found (only
    on PostgreSQL: SQLite writers take turns). The answers given for it would be wrong: the
    transaction must start over and find it (``Index`` does, as on a serialization failure)."""


class _Instance(NamedTuple):
    """An instance row as the transaction knows it: found by the lookup (``pk``) or left by a
    store of this batch (``pk`` that of the row it overwrites, None for a new row)."""

    pk: int | None
    series_fk: int
    study_fk: int
    blob_key: str


@dataclass
class _Touched:
    """The rows whose counts must be recomputed before the transaction commits."""

    series: set[int] = field(default_factory=set)
    studies: set[int] = field(default_factory=set)
    patients: set[int] = field(default_factory=set)
    # The values this transaction last wrote to each patient, study and series row, and the
    # row's pk, by (table, conflict key): writing the same values again would change nothing.
    written: dict[tuple[Any, ...], tuple[dict[str, Any], int]] = field(default_factory=dict)

    def held(self, table: str) -> set[int]:
        """The pks of the rows of ``table`` this transaction has upserted: on PostgreSQL it
        holds their locks since."""
        return {pk for key, (_, pk) in self.written.items() if key[0] == table}


def add_instance(conn: Connection, record: InstanceRecord, replace: bool) -> AddResult:
    """Index one instance; with ``replace`` an existing row of the same SOP Instance UID is
    overwritten (also when it moved to another series or study), else left as it is."""
    return add_instances(conn, [record], replace)[0]


def add_instances(
    conn: Connection, records: Iterable[InstanceRecord], replace: bool
) -> list[AddResult]:
    """Index several instances in the caller's transaction, recounting each parent once; the
    results and rows are those of storing them one by one, in order. Raises InstancesRaced
    when a concurrent transaction inserted one of them after the lookup."""
    batch = [(record, extract(record)) for record in records]
    sql = statements_for(conn)
    with contextlib.closing(Cursor(conn)) as cursor:
        writer = _Writer(cursor, sql, replace, [rows.sop_uid for _, rows in batch])
        results = [writer.store(record, rows) for record, rows in batch]
        writer.flush()
        _recount(cursor, sql, writer.touched)
    return results


class _Writer:
    """The stores of one batch. The batch's instances are looked up (and locked) first;
    ``instances`` then follows what each store leaves, so a UID stored twice finds its first
    store. Instance rows wait in ``pending``, by SOP Instance UID, and are written at the end
    by two statements (new rows, overwritten rows)."""

    def __init__(
        self, cursor: Cursor, sql: Statements, replace: bool, sop_uids: Sequence[str]
    ) -> None:
        self.cursor = cursor
        self.sql = sql
        self.replace = replace
        self.touched = _Touched()
        self.instances = _find_instances(cursor, sql, sop_uids)
        # The row each stored UID leaves: the pk of the row to overwrite (None: insert), values.
        self.pending: dict[str, tuple[int | None, dict[str, Any]]] = {}

    def store(self, record: InstanceRecord, rows: Rows) -> AddResult:
        """Store one instance (its row waits in ``pending``)."""
        existing = self.instances.get(rows.sop_uid)
        if existing is not None and not self.replace:
            return AddResult(existed=True, old_blob_key=None, stored=False)
        patient_pk, study_pk, series_pk = self._parents(rows, existing)
        target = existing.pk if existing is not None else None
        values = {**rows.instance, "series_fk": series_pk, "study_fk": study_pk}
        self.pending[rows.sop_uid] = (target, values)
        self.instances[rows.sop_uid] = _Instance(target, series_pk, study_pk, record.blob_key)
        self.touched.series.add(series_pk)
        self.touched.studies.add(study_pk)
        self.touched.patients.add(patient_pk)
        old_key = existing.blob_key if existing is not None else None
        return AddResult(
            existed=existing is not None,
            old_blob_key=old_key if old_key != record.blob_key else None,
            stored=True,
        )

    def flush(self) -> None:
        """Write the pending rows: overwrite the rows found, insert the others. The lookup
        found none of those: an insert that meets a row (ON CONFLICT DO NOTHING) met one a
        concurrent transaction inserted since, and raises InstancesRaced."""
        rows = self.pending.values()
        new = [values for target, values in rows if target is None]
        found = [{**values, "target_pk": target} for target, values in rows if target is not None]
        if new:
            inserted = self.cursor.executemany(self.sql.insert_instances(tuple(new[0])), new)
            if inserted != len(new):
                raise InstancesRaced("an instance of the batch was stored meanwhile")
        if found:
            columns = tuple(c for c in found[0] if c != "target_pk")
            self.cursor.executemany(self.sql.update_instances(columns), found)

    def _parents(self, rows: Rows, existing: _Instance | None) -> tuple[int, int, int]:
        """Upsert the patient, study and series rows of a new or replacing instance; return
        their pks. The rest of a STOW-RS request's study mostly repeats rows this transaction
        has just written: those upserts and parent lookups are skipped (see ``_known_parents``)."""
        series_study = _known_parents(rows, existing, self.touched)
        if series_study is None:
            series_study = self._previous_parents(rows, existing)
        patient_key = ("patients", rows.patient["patient_id"], rows.patient["issuer"])
        patient_pk = self._upsert(patient_key, rows.patient)
        study = {**rows.study, "patient_fk": patient_pk}
        study_key = ("studies", rows.study_uid)
        before = self.touched.written.get(study_key)
        study_pk = self._upsert(study_key, study)
        if before is None or before[0] != study:
            self._reasons(study_pk, rows.reasons)
        series_values = {**rows.series, "study_fk": study_pk}
        series_pk = self._upsert(("series", rows.series_uid), series_values)
        if series_study not in (None, study_pk):
            self._move_series(series_pk, study_pk)
        return patient_pk, study_pk, series_pk

    def _reasons(self, study_pk: int, reasons: tuple[tuple[str, str], ...]) -> None:
        """The study's reason rows follow its stored attributes, which the upsert replaced."""
        self.cursor.execute(self.sql.delete_reasons, {"row_pk": study_pk})
        if reasons:
            rows = [{"study_fk": study_pk, "code": c, "scheme": s} for c, s in reasons]
            self.cursor.executemany(self.sql.insert_reasons, rows)

    def _move_series(self, series_pk: int, study_pk: int) -> None:
        """The series moved to another study: its instances follow (the study_fk copy), the
        indexed ones, those the batch stored so far and their pending rows."""
        params = {"series_pk": series_pk, "study_pk": study_pk}
        self.cursor.execute(self.sql.move_series_instances, params)
        for sop_uid, row in self.instances.items():
            if row.series_fk == series_pk:
                self.instances[sop_uid] = row._replace(study_fk=study_pk)
        for _, values in self.pending.values():
            if values["series_fk"] == series_pk:
                values["study_fk"] = study_pk

    def _upsert(self, key: tuple[Any, ...], values: dict[str, Any]) -> int:
        """Insert or update (the newest instance's attributes win); return the row's pk. A
        row this transaction last wrote with the same values is not written again: it holds
        them (on PostgreSQL this transaction keeps the row locked since that write)."""
        known = self.touched.written.get(key)
        if known is not None and known[0] == values:
            return known[1]
        pk = int(self.cursor.scalar(self.sql.upsert(key[0], tuple(values)), values))
        self.touched.written[key] = (values, pk)
        return pk

    def _previous_parents(self, rows: Rows, existing: _Instance | None) -> int | None:
        """Note the rows whose counts a store may change besides its own parents: the former
        series and study of a moved instance, the former study of a moved series, the
        patients the study and those studies belonged to. Answers the series' current study,
        if any."""
        touched = self.touched
        old_studies: set[int] = set()
        if existing is not None:
            touched.series.add(existing.series_fk)
            old_studies.add(existing.study_fk)
        series_study = self.cursor.scalar(self.sql.series_study, {"uid": rows.series_uid})
        if series_study is not None:
            old_studies.add(series_study)
        touched.studies.update(old_studies)
        size, params = in_list("pk", sorted(old_studies))
        found = self.cursor.execute(
            self.sql.study_patients(size), {**params, "uid": rows.study_uid}
        )
        touched.patients.update(pk for (pk,) in found.fetchall())
        return int(series_study) if series_study is not None else None


def _find_instances(
    cursor: Cursor, sql: Statements, sop_uids: Sequence[str]
) -> dict[str, _Instance]:
    """The indexed rows of these SOP Instance UIDs, locked on PostgreSQL (in UID order, so
    two batches sharing instances cannot each hold a lock the other waits for)."""
    uids = sorted(set(sop_uids))
    found: dict[str, _Instance] = {}
    for start in range(0, len(uids), _LOOKUP_CHUNK):
        size, params = in_list("uid", uids[start : start + _LOOKUP_CHUNK])
        for pk, sop_uid, series_fk, study_fk, blob_key in cursor.execute(
            sql.find_instances(size), params
        ).fetchall():
            found[sop_uid] = _Instance(pk, series_fk, study_fk, blob_key)
    return found


def _known_parents(rows: Rows, existing: _Instance | None, touched: _Touched) -> int | None:
    """For an instance whose series and study rows this transaction has written, with the
    series in that study, and which is new or already in that series and study: note what
    ``_previous_parents`` would (the study, its patient) from those writes instead of asking
    the database, and answer the series' study. None when the database must be asked."""
    series_row = touched.written.get(("series", rows.series_uid))
    study_row = touched.written.get(("studies", rows.study_uid))
    if series_row is None or study_row is None:
        return None
    study_pk = study_row[1]
    if series_row[0]["study_fk"] != study_pk:
        return None
    if existing is not None and (existing.series_fk, existing.study_fk) != (
        series_row[1],
        study_pk,
    ):
        return None
    touched.studies.add(study_pk)
    touched.patients.add(study_row[0]["patient_fk"])
    return study_pk


def _recount(cursor: Cursor, sql: Statements, touched: _Touched) -> None:
    """Recompute counts and computed attributes bottom-up; drop rows left without instances;
    note when each study that remains changed (``studies.updated``, the moment of the recount).

    On PostgreSQL the rows are locked first, patients, studies, series (the order a store takes
    them), each lock in a statement of its own: an UPDATE that waited for a lock would count with
    the snapshot it started with and miss what the lock holder committed (READ COMMITTED). The
    rows this transaction upserted it holds already."""
    series_pks = sorted(touched.series)
    study_pks = sorted(touched.studies)
    patient_pks = sorted(touched.patients)
    if sql.dialect == "postgresql":
        for table, pks in (
            ("patients", patient_pks),
            ("studies", study_pks),
            ("series", series_pks),
        ):
            held = touched.held(table)
            if unlocked := [pk for pk in pks if pk not in held]:
                size, params = in_list("pk", unlocked)
                cursor.execute(sql.lock(table, size), params)
    for pk in series_pks:
        if not cursor.scalar(sql.recount_series, {"row_pk": pk}):
            cursor.execute(sql.delete_series, {"row_pk": pk})
    changed = utc_stamp()
    for pk in study_pks:
        _recount_study(cursor, sql, pk, changed)
    for pk in patient_pks:
        if not cursor.scalar(sql.recount_patient, {"row_pk": pk}):
            cursor.execute(sql.delete_patient, {"row_pk": pk})


def _recount_study(cursor: Cursor, sql: Statements, pk: int, changed: str) -> None:
    row_pk = {"row_pk": pk}
    counted = cursor.execute(sql.recount_study, {**row_pk, "updated": changed}).fetchone()
    if counted is None:
        return
    num_instances, stored_modalities, stored_classes, study_date = counted
    if not num_instances:
        cursor.execute(sql.delete_modalities, row_pk)
        cursor.execute(sql.delete_reasons, row_pk)
        cursor.execute(sql.delete_study, row_pk)
        return
    modalities = _joined(cursor.execute(sql.study_series_modalities, row_pk).fetchall())
    sop_classes = _joined(cursor.execute(sql.study_sop_classes, row_pk).fetchall())
    if (modalities, sop_classes) != (stored_modalities, stored_classes):
        cursor.execute(sql.set_computed, {**row_pk, "mods": modalities, "classes": sop_classes})
    wanted = {(m, study_date) for m in modalities.split("\\") if m}
    present = {tuple(r) for r in cursor.execute(sql.study_modality_rows, row_pk).fetchall()}
    if wanted != present:
        cursor.execute(sql.delete_modalities, row_pk)
        rows = [{"study_fk": pk, "modality": m, "study_date": d} for m, d in sorted(wanted)]
        if rows:
            cursor.executemany(sql.insert_modalities, rows)


def _joined(rows: Iterable[tuple[str]]) -> str:
    """Distinct non-empty values in order, joined as a multi-valued DICOM string."""
    return "\\".join(sorted({value for (value,) in rows} - {""}))


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
    touched = _Touched(
        series={r.series_fk for r in found},
        studies={r.study_fk for r in found},
        patients={r.patient_fk for r in found},
    )
    with contextlib.closing(Cursor(conn)) as cursor:
        _recount(cursor, statements_for(conn), touched)
    return [r.blob_key for r in found]
