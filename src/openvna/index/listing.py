"""The instances of whole studies in one statement, for resources that list them all (FHIR
ImagingStudy.series.instance): the indexed columns and the stored JSON bytes, unparsed, so a
500-instance study costs one SELECT and no JSON parsing here (``read.page`` parses the study
and series JSON of every row, which a listing does not need)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from openvna.index.schema import instances, series, studies

__all__ = ["ListedInstance", "list_instances"]


@dataclass(frozen=True)
class ListedInstance:
    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str
    instance_number: int | None
    metadata: bytes  # DICOM JSON as stored (base-marked), for what has no column


def list_instances(conn: Connection, study_uids: Sequence[str]) -> list[ListedInstance]:
    """Every instance of the studies, by study, series number and instance number."""
    if not study_uids:
        return []
    stmt = (
        select(
            studies.c.study_uid,
            series.c.series_uid,
            instances.c.sop_uid,
            instances.c.sop_class_uid,
            instances.c.instance_number,
            instances.c.metadata,
        )
        .select_from(
            instances.join(series, series.c.pk == instances.c.series_fk).join(
                studies, studies.c.pk == instances.c.study_fk
            )
        )
        .where(studies.c.study_uid.in_(list(study_uids)))
        .order_by(
            instances.c.study_fk,
            series.c.series_number.asc().nulls_last(),
            series.c.pk,
            instances.c.instance_number.asc().nulls_last(),
            instances.c.pk,
        )
    )
    return [
        ListedInstance(
            row.study_uid,
            row.series_uid,
            row.sop_uid,
            row.sop_class_uid,
            row.instance_number,
            bytes(row.metadata),
        )
        for row in conn.execute(stmt)
    ]
