"""QIDO-RS / C-FIND searches: one SELECT per page (plus a COUNT when the page is full).

Hierarchical and relational searches (PS3.18 Table 10.6.1-1) share one statement shape: the
query level's table joined to its parents, so study terms also match at the series and instance
levels, and results carry the parents' attributes (§10.6.3.3). Order is stable (studies newest
first, then series and instances by number, then insertion) so limit/offset pages do not shift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, select

from openvna.dicom.matching import Single, Universal
from openvna.dicom.query import Level, Query
from openvna.index import results
from openvna.index.levels import COMPUTED, MATCH_COLUMNS, NESTED_MATCH_COLUMNS, tag, tag_hex
from openvna.index.records import FindResult
from openvna.index.schema import instances, patients, series, studies, study_modalities
from openvna.index.sqlmatch import condition

__all__ = ["find"]

_DEPTH = {"STUDY": 0, "SERIES": 1, "INSTANCE": 2}
_TABLES = {"STUDY": studies, "SERIES": series, "INSTANCE": instances}
_PATIENT_COUNT_KEYS = frozenset(
    tag_hex(tag(k))
    for k in (
        "NumberOfPatientRelatedStudies",
        "NumberOfPatientRelatedSeries",
        "NumberOfPatientRelatedInstances",
    )
)
_INSTANCE_COLUMN_KEYS = frozenset(
    {"00080016", "00080018", "00200013", "00280010", "00280011", "00280100", "00280008"}
)
_TIMEZONE = tag_hex(tag("TimezoneOffsetFromUTC"))
_COMPUTED_KEYS = frozenset(tag_hex(t) for t in COMPUTED)


@dataclass(frozen=True)
class _Plan:
    where: list[ColumnElement[bool]]
    modality_join: str | None
    wanted: frozenset[str]
    unsupported: list[str]


def find(conn: Connection, query: Query) -> FindResult:
    """Run ``query``; return its page of datasets and the number of further matches."""
    plan = _plan(query)
    wanted = plan.wanted
    patient_counts = query.level == Level.STUDY and (
        query.include_all or bool(wanted & _PATIENT_COUNT_KEYS)
    )
    parse_instances = query.level == Level.INSTANCE and (
        query.include_all
        or bool(wanted - _INSTANCE_COLUMN_KEYS - results.HIGHER_KEYS - _COMPUTED_KEYS)
    )
    stmt = _statement(query, plan, patient_counts, parse_instances)
    rows = conn.execute(stmt.limit(query.limit).offset(query.offset)).all()
    remaining = 0
    if len(rows) == query.limit:  # a full page (or limit=0): count what lies beyond it
        counted = stmt.order_by(None).with_only_columns(func.count()).scalar_subquery()
        total = int(conn.execute(select(counted)).scalar_one())
        remaining = max(0, total - query.offset - len(rows))
    build = _Builder(query, wanted, patient_counts)
    return FindResult([build(row) for row in rows], remaining, plan.unsupported)


def _plan(query: Query) -> _Plan:
    depth = _DEPTH[query.level]
    where: list[ColumnElement[bool]] = []
    if query.study_uid is not None:
        where.append(studies.c.study_uid == query.study_uid)
    if query.series_uid is not None:
        where.append(series.c.series_uid == query.series_uid)
    modality_join = None
    unsupported: list[str] = []
    for term in query.terms:
        found = (
            MATCH_COLUMNS.get(term.tag)
            if term.sequence is None
            else NESTED_MATCH_COLUMNS.get((term.sequence, term.tag))
        )
        if isinstance(term, Universal):
            continue
        if found is None or _DEPTH[found[0]] > depth:
            unsupported.append(term.keyword)
            continue
        level, column, kind = found
        if kind == "modalities":
            if isinstance(term, Single):
                modality_join = term.value
            else:
                matching = select(study_modalities.c.study_fk).where(
                    condition(study_modalities.c.modality, "text", term, False)
                )
                where.append(studies.c.pk.in_(matching))
            continue
        where.append(condition(_TABLES[level].c[column], kind, term, query.fuzzymatching))
    wanted = frozenset(tag_hex(t) for t in query.includefields) | {
        tag_hex(t.tag if t.sequence is None else t.sequence) for t in query.terms
    }
    return _Plan(where, modality_join, wanted, unsupported)


def _statement(query: Query, plan: _Plan, patient_counts: bool, parse: bool) -> Select[Any]:
    columns: list[Any] = [
        studies.c.study_uid,
        studies.c.json.label("study_json"),
        studies.c.num_series.label("study_num_series"),
        studies.c.num_instances.label("study_num_instances"),
        studies.c.modalities,
        studies.c.sop_classes,
    ]
    source: Any = studies
    if query.level != Level.STUDY:
        columns += [
            series.c.series_uid,
            series.c.json.label("series_json"),
            series.c.num_instances.label("series_num_instances"),
        ]
        source = series.join(studies, studies.c.pk == series.c.study_fk)
    if query.level == Level.INSTANCE:
        columns += [
            instances.c.sop_uid,
            instances.c.sop_class_uid,
            instances.c.instance_number,
            instances.c.rows,
            instances.c.columns,
            instances.c.bits_allocated,
            instances.c.number_of_frames,
            instances.c.transfer_syntax,
        ]
        if parse:
            columns.append(instances.c.metadata)
        source = instances.join(series, series.c.pk == instances.c.series_fk).join(
            studies, studies.c.pk == series.c.study_fk
        )
    if patient_counts:
        columns += [
            patients.c.num_studies.label("patient_studies"),
            patients.c.num_series.label("patient_series"),
            patients.c.num_instances.label("patient_instances"),
        ]
        source = source.join(patients, patients.c.pk == studies.c.patient_fk)
    if plan.modality_join is not None:
        source = source.join(
            study_modalities,
            (study_modalities.c.study_fk == studies.c.pk)
            & (study_modalities.c.modality == plan.modality_join),
        )
    order = _order(query.level, plan.modality_join is not None)
    return select(*columns).select_from(source).where(*plan.where).order_by(*order)


def _order(level: Level, modality_join: bool) -> list[Any]:
    if level == Level.STUDY and modality_join:
        # The same order, read from the (modality, study_date, study) index of the side table.
        return [study_modalities.c.study_date.desc(), study_modalities.c.study_fk.desc()]
    if level == Level.STUDY:
        return [studies.c.study_date.desc(), studies.c.pk.desc()]
    if level == Level.SERIES:
        return [series.c.study_fk, series.c.series_number.asc().nulls_last(), series.c.pk]
    return [
        instances.c.study_fk,
        instances.c.series_fk,
        instances.c.instance_number.asc().nulls_last(),
        instances.c.pk,
    ]


class _Builder:
    """Turns one result row into its dataset: query level first, then its parents."""

    def __init__(self, query: Query, wanted: frozenset[str], patient_counts: bool) -> None:
        depth = _DEPTH[query.level]
        everything = query.include_all
        self.depth = depth
        self.wanted = wanted
        self.patient_counts = patient_counts
        # Relational searches add the parents' required attributes (PS3.18 §10.6.3.3).
        self.study = results.LevelPart(
            "STUDY", depth == 0 or query.study_uid is None, everything and depth == 0
        )
        self.series = results.LevelPart(
            "SERIES",
            depth == 1 or (depth == 2 and query.series_uid is None),
            everything and depth == 1,
        )
        self.instance = results.LevelPart("INSTANCE", True, everything)
        self.uids = {"0020000D"} if depth >= 1 else set()
        if depth == 2:
            self.uids.add("0020000E")

    def __call__(self, row: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        study_json = results.load(row.study_json)
        timezone = {_TIMEZONE: study_json[_TIMEZONE]} if _TIMEZONE in study_json else {}
        wanted = self.wanted | self.uids
        if self.depth == 2:
            source = (
                results.instance_only(results.load(row.metadata))
                if "metadata" in row._fields
                else {}
            )
            source = {**timezone, **source, **results.instance_columns(row)}
            self.instance.add(out, source, results.instance_computed(row), wanted)
        if self.depth >= 1:
            source = {**timezone, **results.load(row.series_json)}
            self.series.add(out, source, results.series_computed(row), wanted)
        computed = results.study_computed(row, self.patient_counts)
        self.study.add(out, study_json, computed, wanted)
        return dict(sorted(out.items()))
