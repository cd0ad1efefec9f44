"""Lookups for retrieval (WADO-RS, WADO-URI, C-MOVE/C-GET) and for deletion by UID.

An empty answer is diagnosed afterwards, so the common path stays one statement: NotFound names
the study if it is unknown, else the series within that study, else the instance (PS3.18 §10.4.3:
404 for an unknown target resource).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Dialect, and_, bindparam, select

from openvna.errors import NotFound
from openvna.index.records import InstanceLocation
from openvna.index.schema import instances, series, studies

__all__ = ["diagnose", "locate", "metadata", "target"]


def target(study: str, series_uid: str | None, sop: str | None) -> ColumnElement[bool]:
    """The WHERE clause selecting the instances of a study, series or single instance."""
    parts = [studies.c.study_uid == study]
    if series_uid is not None:
        parts.append(series.c.series_uid == series_uid)
    if sop is not None:
        parts.append(instances.c.sop_uid == sop)
    return and_(*parts)


def _joined() -> Any:
    return instances.join(series, series.c.pk == instances.c.series_fk).join(
        studies, studies.c.pk == instances.c.study_fk
    )


def _ordered(stmt: Any) -> Any:
    return stmt.order_by(
        series.c.series_number.asc().nulls_last(),
        series.c.pk,
        instances.c.instance_number.asc().nulls_last(),
        instances.c.pk,
    )


# In the order of InstanceLocation's fields: each row becomes one as it comes.
_LOCATION_COLUMNS = (
    studies.c.study_uid,
    series.c.series_uid,
    instances.c.sop_uid,
    instances.c.sop_class_uid,
    instances.c.transfer_syntax,
    instances.c.blob_key,
    instances.c.size,
    instances.c.frames,
    instances.c.pixel_vr,
    instances.c.pixel_offset,
    instances.c.pixel_length,
    instances.c.pixel_encapsulated,
)


def locate(
    conn: Connection, study: str, series_uid: str | None, sop: str | None
) -> list[InstanceLocation]:
    """Where each matching instance's bytes are, ordered by series and instance number."""
    rows = _rows(conn, "locate", study, series_uid, sop)
    if not rows:
        diagnose(conn, study, series_uid, sop)
    return list(map(InstanceLocation._make, rows))


def metadata(conn: Connection, study: str, series_uid: str | None, sop: str | None) -> bytes:
    """The instances' stored DICOM JSON as one JSON array, joined without parsing."""
    rows = _rows(conn, "metadata", study, series_uid, sop)
    if not rows:
        diagnose(conn, study, series_uid, sop)
    return b"[" + b",".join([row[0] for row in rows]) + b"]"


def _rows(
    conn: Connection, what: str, study: str, series_uid: str | None, sop: str | None
) -> list[Any]:
    """The rows of a retrieval query, through the driver's cursor with the SQL compiled once
    per dialect and resource level: SQLAlchemy's result layer cost 0.65 ms of 1.8 ms for the
    metadata of a 500-instance study, and most of the 7 ms of its locate (SQLite, measured)."""
    sql, positions = _sql(conn.dialect, what, series_uid is not None, sop is not None)
    values = {"study": study, "series": series_uid, "sop": sop}
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, tuple(values[name] for name in positions) if positions else values)
        rows: list[Any] = cursor.fetchall()
    finally:
        cursor.close()
    return rows


_SQL: dict[tuple[str, str, str, bool, bool], tuple[str, tuple[str, ...] | None]] = {}


def _sql(
    dialect: Dialect, what: str, by_series: bool, by_sop: bool
) -> tuple[str, tuple[str, ...] | None]:
    """The SELECT in the dialect's own SQL and parameter style, and the order of its
    parameters when that style is positional."""
    key = (dialect.name, dialect.paramstyle, what, by_series, by_sop)
    if key not in _SQL:
        _SQL[key] = _compile(dialect, what, by_series, by_sop)
    return _SQL[key]


def _compile(
    dialect: Dialect, what: str, by_series: bool, by_sop: bool
) -> tuple[str, tuple[str, ...] | None]:
    where = [studies.c.study_uid == bindparam("study")]
    if by_series:
        where.append(series.c.series_uid == bindparam("series"))
    if by_sop:
        where.append(instances.c.sop_uid == bindparam("sop"))
    columns = (instances.c.metadata,) if what == "metadata" else _LOCATION_COLUMNS
    stmt = _ordered(select(*columns).select_from(_joined()).where(*where))
    compiled = stmt.compile(dialect=dialect)
    if compiled.positional and compiled.positiontup:
        return str(compiled), tuple(compiled.positiontup)
    return str(compiled), None


def diagnose(conn: Connection, study: str, series_uid: str | None, sop: str | None) -> None:
    """Raise NotFound naming the first UID of the path that is not in the index."""
    study_pk = conn.execute(select(studies.c.pk).where(studies.c.study_uid == study)).scalar()
    if study_pk is None:
        raise NotFound(f"study {study} not found", uid=study)
    series_pk = None
    if series_uid is not None:
        series_pk = conn.execute(
            select(series.c.pk).where(
                series.c.series_uid == series_uid, series.c.study_fk == study_pk
            )
        ).scalar()
        if series_pk is None:
            raise NotFound(f"series {series_uid} not found in study {study}", uid=series_uid)
    where = (
        instances.c.series_fk == series_pk
        if series_pk is not None
        else instances.c.study_fk == study_pk
    )
    if sop is not None:
        parent = f"series {series_uid}" if series_uid is not None else f"study {study}"
        exists = conn.execute(
            select(instances.c.pk).where(where, instances.c.sop_uid == sop)
        ).scalar()
        if exists is None:
            raise NotFound(f"instance {sop} not found in {parent}", uid=sop)
