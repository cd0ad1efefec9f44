"""What the index says is stored, for comparing with the blob store (``openvna check``, the
recovery of a crashed process's stores)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, select

from openvna.index.schema import instances, series, studies

__all__ = ["IndexedBlob", "indexed_blobs", "indexed_keys"]

# Keys looked up per statement (SQLite allows 32766 parameters; PostgreSQL more).
_CHUNK = 500


@dataclass(frozen=True)
class IndexedBlob:
    """One instance's row: its blob and size, and the UIDs that name it to an operator."""

    key: str
    size: int
    study: str
    series: str
    sop: str
    checksum: str | None


def indexed_blobs(conn: Connection) -> list[IndexedBlob]:
    """Every instance's blob key and size (a full scan: ``openvna check`` only)."""
    query = (
        select(
            instances.c.blob_key,
            instances.c.size,
            studies.c.study_uid,
            series.c.series_uid,
            instances.c.sop_uid,
            instances.c.checksum,
        )
        .join(series, series.c.pk == instances.c.series_fk)
        .join(studies, studies.c.pk == instances.c.study_fk)
    )
    return [IndexedBlob(*row) for row in conn.execute(query)]


def indexed_keys(conn: Connection, sops: Iterable[str]) -> set[str]:
    """The blob keys the index holds for the instances ``sops`` (by the unique SOP UID)."""
    wanted = sorted(set(sops))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = conn.execute(select(instances.c.blob_key).where(instances.c.sop_uid.in_(chunk)))
        found.update(row.blob_key for row in rows)
    return found
