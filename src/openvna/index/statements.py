"""The write statements, compiled once per database driver and run with bound parameters.

SQLAlchemy spends more time constructing and cache-keying a statement than SQLite spends running
it (profiled: ~0.8 ms of Python per statement built per call against ~0.02 ms of SQLite), and
even a cached statement costs ~13 us of Python per ``Connection.execute`` (execution context,
parameter processing, result set-up), more than SQLite spends running most of these. So the
write path's statements are compiled here once and run on the transaction's DBAPI cursor
(``Cursor``), an IN list compiled for a few sizes (``in_list``). Counts are recomputed by single
UPDATE ... RETURNING statements with scalar subqueries.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from openvna.index.schema import (
    instances,
    patients,
    series,
    studies,
    study_modalities,
    study_reasons,
)

__all__ = ["Cursor", "Prepared", "Statements", "in_list", "statements_for"]

_TABLES = {"patients": patients, "studies": studies, "series": series}
_CONFLICT_KEYS = {
    "patients": ("patient_id", "issuer"),
    "studies": ("study_uid",),
    "series": ("series_uid",),
}


@dataclass(frozen=True)
class Prepared:
    """A statement's SQL for one driver, and the order of its parameters when the driver
    takes them by position (SQLite's ``?``); None when by name (psycopg's ``%(name)s``)."""

    sql: str
    names: tuple[str, ...] | None

    def bind(self, params: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        """The parameters as the driver takes them. No SQLAlchemy type processing: the
        drivers take these values (str, int, bool, bytes, None) as they are."""
        if self.names is None:
            return params
        return [params[name] for name in self.names]


class Cursor:
    """The DBAPI cursor of the connection's transaction. A driver error is raised as
    SQLAlchemy's (``DBAPIError.instance``, as ``Connection.execute`` raises it), so ``Index``
    translates both alike."""

    def __init__(self, conn: Connection) -> None:
        self._cursor: Any = conn.connection.cursor()  # the driver's own
        self._error: type[Exception] = conn.dialect.loaded_dbapi.Error

    def execute(self, statement: Prepared, params: Mapping[str, Any]) -> Any:
        """Run a statement; answers the cursor, to fetch its rows."""
        try:
            self._cursor.execute(statement.sql, statement.bind(params))
        except self._error as exc:
            raise DBAPIError.instance(statement.sql, params, exc, self._error) from exc
        return self._cursor

    def executemany(self, statement: Prepared, rows: Sequence[Mapping[str, Any]]) -> int:
        """Run a statement once per row; answers how many rows it changed."""
        try:
            self._cursor.executemany(statement.sql, [statement.bind(row) for row in rows])
        except self._error as exc:
            raise DBAPIError.instance(statement.sql, rows, exc, self._error) from exc
        return int(self._cursor.rowcount)

    def scalar(self, statement: Prepared, params: Mapping[str, Any]) -> Any:
        """The first column of the first row, None without rows."""
        row = self.execute(statement, params).fetchone()
        return row[0] if row is not None else None

    def close(self) -> None:
        self._cursor.close()


def _pk() -> Any:
    return bindparam("row_pk")


def in_list(name: str, values: Sequence[Any]) -> tuple[int, dict[str, Any]]:
    """``values`` as the parameters ``name0``, ``name1``... of a statement compiled for a
    list of ``size`` (answered): the next power of two, the list padded with its last value
    (IN ignores repeats), so that few sizes get compiled."""
    if not values:
        return 0, {}
    size = 1 << (len(values) - 1).bit_length()
    padded = [*values, *[values[-1]] * (size - len(values))]
    return size, {f"{name}{i}": value for i, value in enumerate(padded)}


def _listed(name: str, size: int) -> list[Any]:
    return [bindparam(f"{name}{i}") for i in range(size)]


class Statements:
    """Every statement of the write path for one database driver."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self.dialect = dialect.name
        self.series_study = self._compile(
            select(series.c.study_fk).where(series.c.series_uid == bindparam("uid"))
        )
        self.move_series_instances = self._compile(
            update(instances)
            .where(instances.c.series_fk == bindparam("series_pk"))
            .values(study_fk=bindparam("study_pk"))
        )
        self._recounts()
        self._deletes()

    def _compile(self, statement: ClauseElement, columns: Sequence[str] = ()) -> Prepared:
        """``columns``: those an INSERT or UPDATE sets from its parameters."""
        keys = list(columns) or None
        compiled = cast(SQLCompiler, statement.compile(dialect=self._dialect, column_keys=keys))
        if constants := [b.key for b in compiled.binds.values() if not b.required]:
            raise ValueError(f"Cursor would leave these constants unbound: {constants}")
        names = compiled.positiontup
        return Prepared(compiled.string, tuple(names) if names is not None else None)

    def _recounts(self) -> None:
        def count(table: Table, column: str, parent: Any) -> Any:
            return (
                select(func.count())
                .select_from(table)
                .where(table.c[column] == parent)
                .scalar_subquery()
            )

        self.recount_series = self._compile(
            update(series)
            .where(series.c.pk == _pk())
            .values(num_instances=count(instances, "series_fk", series.c.pk))
            .returning(series.c.num_instances)
        )
        # RETURNING num_instances, modalities, sop_classes, study_date; the study changed.
        self.recount_study = self._compile(
            update(studies)
            .where(studies.c.pk == _pk())
            .values(
                num_instances=count(instances, "study_fk", studies.c.pk),
                num_series=count(series, "study_fk", studies.c.pk),
                updated=bindparam("updated"),
            )
            .returning(
                studies.c.num_instances,
                studies.c.modalities,
                studies.c.sop_classes,
                studies.c.study_date,
            )
        )
        of_patient = studies.c.patient_fk == patients.c.pk

        def total(column: Any) -> Any:
            zero: Any = literal_column("0")  # in the SQL: Cursor binds no constants
            return select(func.coalesce(func.sum(column), zero)).where(of_patient).scalar_subquery()

        self.recount_patient = self._compile(
            update(patients)
            .where(patients.c.pk == _pk())
            .values(
                num_studies=select(func.count()).where(of_patient).scalar_subquery(),
                num_series=total(studies.c.num_series),
                num_instances=total(studies.c.num_instances),
            )
            .returning(patients.c.num_studies)
        )
        self.study_series_modalities = self._compile(
            select(series.c.modality).where(series.c.study_fk == _pk()).distinct()
        )
        self.study_sop_classes = self._compile(
            select(instances.c.sop_class_uid).where(instances.c.study_fk == _pk()).distinct()
        )
        self.study_modality_rows = self._compile(
            select(study_modalities.c.modality, study_modalities.c.study_date).where(
                study_modalities.c.study_fk == _pk()
            )
        )
        self.set_computed = self._compile(
            update(studies)
            .where(studies.c.pk == _pk())
            .values(modalities=bindparam("mods"), sop_classes=bindparam("classes"))
        )
        self.insert_modalities = self._compile(
            insert(study_modalities), ("study_fk", "modality", "study_date")
        )
        self.insert_reasons = self._compile(insert(study_reasons), ("study_fk", "code", "scheme"))

    def _deletes(self) -> None:
        self.delete_series = self._compile(delete(series).where(series.c.pk == _pk()))
        self.delete_study = self._compile(delete(studies).where(studies.c.pk == _pk()))
        self.delete_patient = self._compile(delete(patients).where(patients.c.pk == _pk()))
        self.delete_modalities = self._compile(
            delete(study_modalities).where(study_modalities.c.study_fk == _pk())
        )
        self.delete_reasons = self._compile(
            delete(study_reasons).where(study_reasons.c.study_fk == _pk())
        )

    def _insert(self, table: Table) -> Any:
        module = postgresql if self.dialect == "postgresql" else sqlite
        return module.insert(table)

    @functools.cache  # noqa: B019 - one Statements per driver, kept for the process
    def find_instances(self, size: int) -> Prepared:
        """The rows of ``size`` SOP Instance UIDs (see ``in_list``), locked on PostgreSQL."""
        return self._compile(
            select(
                instances.c.pk,
                instances.c.sop_uid,
                instances.c.series_fk,
                instances.c.study_fk,
                instances.c.blob_key,
            )
            .where(instances.c.sop_uid.in_(_listed("uid", size)))
            .order_by(instances.c.sop_uid)
            .with_for_update()
        )

    @functools.cache  # noqa: B019
    def study_patients(self, size: int) -> Prepared:
        """The patients of the study ``uid`` and of ``size`` more studies (``pk0``...)."""
        chosen = studies.c.study_uid == bindparam("uid")
        if size:
            chosen = chosen | studies.c.pk.in_(_listed("pk", size))
        return self._compile(select(studies.c.patient_fk).where(chosen))

    @functools.cache  # noqa: B019
    def lock(self, table: str, size: int) -> Prepared:
        """Lock ``size`` rows of ``table`` (``pk0``...), in pk order (PostgreSQL)."""
        target = _TABLES[table]
        chosen = target.c.pk.in_(_listed("pk", size))
        return self._compile(
            select(target.c.pk).where(chosen).order_by(target.c.pk).with_for_update()
        )

    @functools.cache  # noqa: B019
    def upsert(self, table: str, columns: tuple[str, ...]) -> Prepared:
        """INSERT ... ON CONFLICT DO UPDATE (the newest values win) RETURNING pk."""
        target = _TABLES[table]
        keys = _CONFLICT_KEYS[table]
        stmt = self._insert(target)
        changed = {c: stmt.excluded[c] for c in columns if c not in keys}
        upsert = stmt.on_conflict_do_update(index_elements=list(keys), set_=changed)
        return self._compile(upsert.returning(target.c.pk), columns)

    @functools.cache  # noqa: B019
    def insert_instances(self, columns: tuple[str, ...]) -> Prepared:
        """Insert instance rows (an executemany); a row of the same SOP Instance UID stays."""
        stmt = self._insert(instances).on_conflict_do_nothing(index_elements=["sop_uid"])
        return self._compile(stmt, columns)

    @functools.cache  # noqa: B019
    def update_instances(self, columns: tuple[str, ...]) -> Prepared:
        """Overwrite instance rows, each chosen by its ``target_pk`` (an executemany)."""
        return self._compile(
            update(instances)
            .where(instances.c.pk == bindparam("target_pk"))
            .values({c: bindparam(c) for c in columns})
        )


# One Statements per (database, driver), compiled by the dialect of the first connection that
# asks: every engine of a driver runs the same SQL text.
_BY_DRIVER: dict[tuple[str, str], Statements] = {}


def statements_for(conn: Connection) -> Statements:
    """The statements for the connection's database and driver."""
    dialect = conn.dialect
    key = (dialect.name, dialect.driver)
    found = _BY_DRIVER.get(key)
    if found is None:
        found = _BY_DRIVER.setdefault(key, Statements(dialect))
    return found
