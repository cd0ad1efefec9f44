"""Whole studies listed for the doors that show them entire (the FHIR ImagingStudy): series,
instances (stored JSON left unparsed), change times, accession number counts and the
client-written resources linked to them, read in one transaction of the index
(``index.listing``, ``index.resources``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from openvna.index import Index
from openvna.index.listing import (
    ListedInstance,
    ListedSeries,
    accession_counts,
    change_times,
    list_instances,
    list_series,
)
from openvna.index.resources import linked

__all__ = ["ListedInstance", "ListedSeries", "StudyListing", "study_listing"]


@dataclass(frozen=True)
class StudyListing:
    series: list[ListedSeries]
    instances: list[ListedInstance]
    accession_counts: dict[str, int]
    links: list[tuple[str, str]]  # (value, resource id) of the resources linked by accession
    changed: dict[str, str]  # when each study last changed, by Study Instance UID


def study_listing(
    index: Index,
    study_uids: Sequence[str],
    *,
    instances: bool,
    accessions: Sequence[str],
    linked_type: str,
    link_name: str,
) -> StudyListing:
    """The studies' series (by series number), instances (by series, instance number) when
    asked, the counts of ``accessions`` among all studies, the ``linked_type`` resources
    whose ``link_name`` link is one of the accessions, and when each study last changed."""

    def read(conn: Connection) -> StudyListing:
        return StudyListing(
            list_series(conn, study_uids),
            list_instances(conn, study_uids) if instances else [],
            accession_counts(conn, accessions),
            linked(conn, linked_type, link_name, accessions),
            change_times(conn, study_uids),
        )

    return index.run_read(read)
