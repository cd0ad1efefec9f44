"""Client-written resources (the FHIR facade's write-back), versioned in the index: the archive's
service for them, so the FHIR door never reaches the index itself (``index.resources``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial

from openvna.index import Index
from openvna.index.resources import (
    StoredResource,
    VersionConflict,
    WriteConflict,
    current,
    currents,
    history,
    linked,
    save,
    search,
    version,
)
from openvna.index.schema import utc_stamp

__all__ = ["ResourceStore", "StoredResource", "VersionConflict", "WriteConflict"]


class ResourceStore:
    """Versioned resources by (type, id), with search links (docs/internals.md)."""

    def __init__(self, index: Index) -> None:
        self.index = index

    def save(
        self,
        resource_type: str,
        resource_id: str,
        build: Callable[[int, str], bytes],
        links: Iterable[tuple[str, str]],
        *,
        expect_version: int | None = None,
    ) -> StoredResource:
        """Write the next version in one transaction: ``build(version, last_updated)`` makes its
        JSON; ``expect_version`` (If-Match; 0: must not exist) else VersionConflict (412)."""
        stamp = utc_stamp()
        listed = list(links)
        return self.index.run_write(
            partial(
                save,
                resource_type=resource_type,
                resource_id=resource_id,
                build=lambda number: build(number, stamp),
                links=listed,
                expect_version=expect_version,
                last_updated=stamp,
            )
        )

    def current(self, resource_type: str, resource_id: str) -> StoredResource | None:
        return self.index.run_read(
            partial(current, resource_type=resource_type, resource_id=resource_id)
        )

    def currents(
        self, resource_type: str, resource_ids: Sequence[str]
    ) -> dict[str, StoredResource]:
        return self.index.run_read(
            partial(currents, resource_type=resource_type, resource_ids=resource_ids)
        )

    def version(self, resource_type: str, resource_id: str, number: int) -> StoredResource | None:
        return self.index.run_read(
            partial(version, resource_type=resource_type, resource_id=resource_id, number=number)
        )

    def history(self, resource_type: str, resource_id: str) -> list[StoredResource]:
        return self.index.run_read(
            partial(history, resource_type=resource_type, resource_id=resource_id)
        )

    def search(
        self,
        resource_type: str,
        filters: Sequence[tuple[str, Sequence[str]]],
        limit: int,
        offset: int,
    ) -> tuple[int, list[StoredResource]]:
        return self.index.run_read(
            partial(
                search, resource_type=resource_type, filters=filters, limit=limit, offset=offset
            )
        )

    def linked(self, resource_type: str, name: str, values: Sequence[str]) -> list[tuple[str, str]]:
        return self.index.run_read(
            partial(linked, resource_type=resource_type, name=name, values=values)
        )
