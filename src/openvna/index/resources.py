"""Resources written by clients (the FHIR facade's write-back, issue 10), versioned, in the index.

Three tables beside the DICOM ones, on the shared ``metadata`` so that ``create_index`` makes
them on SQLite and PostgreSQL alike:

- ``fhir_resources``: every version of every resource, its JSON as written (R4 http.html#vread);
- ``fhir_current``: the current version of each (type, id): the row a write checks and bumps in
  its transaction, so two writers cannot make the same version (the primary key refuses the
  second insert, the conditional update the second bump);
- ``fhir_links``: the search values of the current version (name, value), so search is a join
  on an indexed column and never parses JSON.

A write that adds or drops an ``accession`` link (a ServiceRequest's identifiers) changes the
ImagingStudy of the studies with that accession number (its ``basedOn``): their
``studies.updated`` is set in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Index,
    Integer,
    LargeBinary,
    Select,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from openvna.errors import ArchiveError
from openvna.index.schema import metadata, studies

__all__ = [
    "StoredResource",
    "VersionConflict",
    "WriteConflict",
    "current",
    "currents",
    "fhir_current",
    "fhir_links",
    "fhir_resources",
    "history",
    "linked",
    "save",
    "search",
    "version",
]

fhir_resources = Table(
    "fhir_resources",
    metadata,
    Column("pk", Integer, primary_key=True),
    Column("resource_type", String(40), nullable=False),
    Column("resource_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("last_updated", String(40), nullable=False),
    Column("json", LargeBinary, nullable=False),
    UniqueConstraint("resource_type", "resource_id", "version", name="uq_fhir_resource_version"),
)

fhir_current = Table(
    "fhir_current",
    metadata,
    Column("resource_type", String(40), primary_key=True),
    Column("resource_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("last_updated", String(40), nullable=False),
)

fhir_links = Table(
    "fhir_links",
    metadata,
    Column("pk", Integer, primary_key=True),
    Column("resource_type", String(40), nullable=False),
    Column("resource_id", String(64), nullable=False),
    Column("name", String(40), nullable=False),
    Column("value", String(256), nullable=False),
    Index("ix_fhir_links_value", "resource_type", "name", "value"),
    Index("ix_fhir_links_resource", "resource_type", "resource_id"),
)


class VersionConflict(ArchiveError):
    """The version a client based its write on is not the current one (R4 http.html#concurrency:
    412 Precondition Failed for If-Match)."""

    http_status = 412


class WriteConflict(ArchiveError):
    """Another writer made the same version first (R4 http.html#concurrency: 409 Conflict)."""

    http_status = 409


@dataclass(frozen=True)
class StoredResource:
    resource_type: str
    resource_id: str
    version: int
    last_updated: str
    json: bytes


def save(
    conn: Connection,
    resource_type: str,
    resource_id: str,
    build: Callable[[int], bytes],
    links: Iterable[tuple[str, str]],
    *,
    expect_version: int | None,
    last_updated: str,
) -> StoredResource:
    """Write the next version of a resource in the caller's (write) transaction. ``build`` makes
    the JSON from the new version number; ``expect_version`` (If-Match) must be the current
    version, or 0 for a resource that must not exist yet."""
    key = (
        fhir_current.c.resource_type == resource_type,
        fhir_current.c.resource_id == resource_id,
    )
    row = conn.execute(select(fhir_current.c.version).where(*key)).first()
    now = row.version if row is not None else 0
    if expect_version is not None and expect_version != now:
        raise VersionConflict(
            f"{resource_type}/{resource_id} is at version {now}, not {expect_version}"
        )
    number = now + 1
    data = build(number)
    try:
        if row is None:
            conn.execute(
                insert(fhir_current).values(
                    resource_type=resource_type,
                    resource_id=resource_id,
                    version=number,
                    last_updated=last_updated,
                )
            )
        else:
            bumped = conn.execute(
                update(fhir_current)
                .where(*key, fhir_current.c.version == now)
                .values(version=number, last_updated=last_updated)
            )
            if bumped.rowcount != 1:
                raise WriteConflict(f"{resource_type}/{resource_id} was changed meanwhile")
        conn.execute(
            insert(fhir_resources).values(
                resource_type=resource_type,
                resource_id=resource_id,
                version=number,
                last_updated=last_updated,
                json=data,
            )
        )
    except IntegrityError as exc:
        raise WriteConflict(f"{resource_type}/{resource_id} was changed meanwhile") from exc
    listed = list(dict.fromkeys(links))
    before = _values(conn, resource_type, resource_id, _ACCESSION)
    _relink(conn, resource_type, resource_id, listed)
    changed = before ^ {value for name, value in listed if name == _ACCESSION}
    if changed:
        conn.execute(
            update(studies)
            .where(studies.c.accession_number.in_(sorted(changed)))
            .values(updated=last_updated)
        )
    return StoredResource(resource_type, resource_id, number, last_updated, data)


_ACCESSION = "accession"


def _values(conn: Connection, resource_type: str, resource_id: str, name: str) -> set[str]:
    """The current values of one link of a resource."""
    found = conn.execute(
        select(fhir_links.c.value).where(
            fhir_links.c.resource_type == resource_type,
            fhir_links.c.resource_id == resource_id,
            fhir_links.c.name == name,
        )
    )
    return {row.value for row in found}


def _relink(
    conn: Connection, resource_type: str, resource_id: str, links: Sequence[tuple[str, str]]
) -> None:
    conn.execute(
        delete(fhir_links).where(
            fhir_links.c.resource_type == resource_type, fhir_links.c.resource_id == resource_id
        )
    )
    rows = [
        {"resource_type": resource_type, "resource_id": resource_id, "name": n, "value": v[:256]}
        for n, v in links
    ]
    if rows:
        conn.execute(insert(fhir_links), rows)


def current(conn: Connection, resource_type: str, resource_id: str) -> StoredResource | None:
    """The current version of a resource, or None."""
    stmt = _select().join(
        fhir_current,
        (fhir_current.c.resource_type == fhir_resources.c.resource_type)
        & (fhir_current.c.resource_id == fhir_resources.c.resource_id)
        & (fhir_current.c.version == fhir_resources.c.version),
    )
    row = conn.execute(
        stmt.where(
            fhir_current.c.resource_type == resource_type,
            fhir_current.c.resource_id == resource_id,
        )
    ).first()
    return _stored(row) if row is not None else None


def currents(
    conn: Connection, resource_type: str, resource_ids: Sequence[str]
) -> dict[str, StoredResource]:
    """The current versions of several resources of one type, by id."""
    if not resource_ids:
        return {}
    stmt = _select().join(
        fhir_current,
        (fhir_current.c.resource_type == fhir_resources.c.resource_type)
        & (fhir_current.c.resource_id == fhir_resources.c.resource_id)
        & (fhir_current.c.version == fhir_resources.c.version),
    )
    rows = conn.execute(
        stmt.where(
            fhir_current.c.resource_type == resource_type,
            fhir_current.c.resource_id.in_(list(resource_ids)),
        )
    ).all()
    return {row.resource_id: _stored(row) for row in rows}


def version(
    conn: Connection, resource_type: str, resource_id: str, number: int
) -> StoredResource | None:
    """One version of a resource (vread), or None."""
    row = conn.execute(
        _select().where(
            fhir_resources.c.resource_type == resource_type,
            fhir_resources.c.resource_id == resource_id,
            fhir_resources.c.version == number,
        )
    ).first()
    return _stored(row) if row is not None else None


def history(conn: Connection, resource_type: str, resource_id: str) -> list[StoredResource]:
    """Every version of a resource, newest first (R4 http.html#history)."""
    rows = conn.execute(
        _select()
        .where(
            fhir_resources.c.resource_type == resource_type,
            fhir_resources.c.resource_id == resource_id,
        )
        .order_by(fhir_resources.c.version.desc())
    ).all()
    return [_stored(row) for row in rows]


def search(
    conn: Connection,
    resource_type: str,
    filters: Sequence[tuple[str, Sequence[str]]],
    limit: int,
    offset: int,
) -> tuple[int, list[StoredResource]]:
    """Current resources whose links match every (name, any of values) filter, newest first,
    and how many match in all."""
    ids = select(fhir_current.c.resource_id).where(fhir_current.c.resource_type == resource_type)
    for name, values in filters:
        ids = ids.where(
            fhir_current.c.resource_id.in_(
                select(fhir_links.c.resource_id).where(
                    fhir_links.c.resource_type == resource_type,
                    fhir_links.c.name == name,
                    fhir_links.c.value.in_(list(values)),
                )
            )
        )
    matching = ids.subquery()
    total = int(conn.execute(select(func.count()).select_from(matching)).scalar_one())
    stmt = (
        _select()
        .join(
            fhir_current,
            (fhir_current.c.resource_type == fhir_resources.c.resource_type)
            & (fhir_current.c.resource_id == fhir_resources.c.resource_id)
            & (fhir_current.c.version == fhir_resources.c.version),
        )
        .where(
            fhir_current.c.resource_type == resource_type,
            fhir_current.c.resource_id.in_(select(matching.c.resource_id)),
        )
        .order_by(fhir_current.c.last_updated.desc(), fhir_current.c.resource_id)
        .limit(limit)
        .offset(offset)
    )
    return total, [_stored(row) for row in conn.execute(stmt).all()]


_LINKED = (
    select(fhir_links.c.value, fhir_links.c.resource_id)
    .where(
        fhir_links.c.resource_type == bindparam("resource_type"),
        fhir_links.c.name == bindparam("name"),
        fhir_links.c.value.in_(bindparam("values", expanding=True)),
    )
    .order_by(fhir_links.c.resource_id)
)


def linked(
    conn: Connection, resource_type: str, name: str, values: Sequence[str]
) -> list[tuple[str, str]]:
    """(value, resource id) of the current resources of a type linked by ``name`` to any of
    ``values``: the ServiceRequests of a page of studies' accession numbers, say (a statement
    built once: it runs on every ImagingStudy search)."""
    if not values:
        return []
    parameters = {"resource_type": resource_type, "name": name, "values": list(values)}
    return [(row.value, row.resource_id) for row in conn.execute(_LINKED, parameters)]


def _select() -> Select[Any]:
    return select(
        fhir_resources.c.resource_type,
        fhir_resources.c.resource_id,
        fhir_resources.c.version,
        fhir_resources.c.last_updated,
        fhir_resources.c.json,
    )


def _stored(row: Any) -> StoredResource:
    return StoredResource(
        row.resource_type, row.resource_id, row.version, row.last_updated, bytes(row.json)
    )
