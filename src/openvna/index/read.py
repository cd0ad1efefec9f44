"""QIDO-RS / C-FIND / FHIR searches: one SELECT per page, one COUNT when a door asks for it.

Hierarchical and relational searches (PS3.18 Table 10.6.1-1, PS3.4 C.4.1.2.2) share one statement
shape: the query level's table joined to its parents, so study terms also match at the series and
instance levels, and results carry the parents' attributes (§10.6.3.3). Order is stable (patients
by name, studies newest first, then series and instances by number, then insertion) so that
limit/offset pages do not shift. The patient level reads the patients table; patient attributes
kept only on the study rows (birth date, sex) match through the patient's studies. FHIR search
adds groups of terms that exclude (``NOT (...)``), conditions on a study's change time, and
the studies holding a matching series or instance (a subquery).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, func, not_, select

from openvna.dicom.json import DicomJson
from openvna.dicom.matching import (
    DateTimeRange,
    MatchTerm,
    Single,
    Universal,
    combine_date_time,
)
from openvna.dicom.query import Changed, Level, Query
from openvna.index import results
from openvna.index.levels import (
    COMPUTED,
    MATCH_COLUMNS,
    NESTED_MATCH_COLUMNS,
    PATIENT_TAGS,
    tag,
    tag_hex,
)
from openvna.index.schema import (
    instances,
    patients,
    series,
    studies,
    study_modalities,
    study_reasons,
)
from openvna.index.sqlmatch import condition, date_time_range

__all__ = ["Plan", "count", "page", "plan"]

_DEPTH = {Level.PATIENT: -1, Level.STUDY: 0, Level.SERIES: 1, Level.INSTANCE: 2}
_TABLES = {"STUDY": studies, "SERIES": series, "INSTANCE": instances}
# Patient level: columns of the patients table; other patient attributes match on study rows.
_PATIENT_COLUMNS = {
    tag("PatientID"): ("patient_id", "text"),
    tag("IssuerOfPatientID"): ("issuer", "text"),
    tag("PatientName"): ("patient_name_upper", "pn"),
}
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
class Plan:
    """What a query becomes before any SQL runs: its conditions, the attributes it wants and
    the match keys the index cannot match at its level (PS3.18 §8.3.4.1: returned unfiltered,
    with a warning)."""

    where: list[ColumnElement[bool]]
    modality_join: str | None
    wanted: frozenset[str]
    unsupported: list[str]


def plan(query: Query) -> Plan:
    """The conditions of ``query`` on the index's columns."""
    where: list[ColumnElement[bool]] = []
    if query.study_uid is not None:
        where.append(studies.c.study_uid == query.study_uid)
    if query.series_uid is not None:
        where.append(series.c.series_uid == query.series_uid)
    unsupported: list[str] = []
    modality_join = _term_conditions(query, query.terms, where, unsupported)
    for group in query.excluded:
        inside: list[ColumnElement[bool]] = []
        joined = _term_conditions(query, group, inside, unsupported)
        if joined is not None:
            inside.append(_in_modality(joined))
        if inside:
            where.append(not_(and_(*inside)))
    if query.level is not Level.PATIENT:
        where += [_changed_condition(changed) for changed in query.changed]
        where += [studies.c.pk.in_(_studies_holding(sub)) for sub in query.holding]
    wanted = frozenset(tag_hex(t) for t in (*query.includefields, *query.return_keys)) | {
        tag_hex(t.tag if t.sequence is None else t.sequence) for t in query.terms
    }
    return Plan(where, modality_join, wanted, unsupported)


def _term_conditions(
    query: Query,
    given: tuple[MatchTerm, ...],
    where: list[ColumnElement[bool]],
    unsupported: list[str],
) -> str | None:
    """Add the conditions of ``given`` to ``where`` and the keywords the index cannot match to
    ``unsupported``; answer the modality to join on, if one term asks for it."""
    modality_join = None
    terms = list(given)
    if query.combined_datetime:
        ranges, terms = combine_date_time(given)
        for moment in ranges:
            combined = _date_time_condition(query, moment)
            if combined is None:
                terms += [moment.date, moment.time]
            else:
                where.append(combined)
    for term in terms:
        if isinstance(term, Universal):
            continue
        found = _condition(query, term)
        if found is None:
            unsupported.append(term.keyword)
        elif isinstance(found, str):
            if modality_join is None:
                modality_join = found
            else:
                where.append(_in_modality(found))
        else:
            where.append(found)
    return modality_join


def _in_modality(modality: str) -> ColumnElement[bool]:
    """The studies with a series of ``modality``, as a condition (not a join)."""
    return studies.c.pk.in_(
        select(study_modalities.c.study_fk).where(study_modalities.c.modality == modality)
    )


def _studies_holding(sub: Query) -> Select[Any]:
    """The pks of the studies holding a match of ``sub`` (a series or instance query)."""
    found = _statement(sub, plan(sub), False, False)
    return found.with_only_columns(studies.c.pk).order_by(None)


def _changed_condition(changed: Changed) -> ColumnElement[bool]:
    """``Changed`` on the study's change time; a study with none (``''``) is in no range."""
    column = studies.c.updated
    inside: list[ColumnElement[bool]] = [column != ""]
    if changed.start is not None:
        inside.append(column >= changed.start)
    if changed.stop is not None:
        inside.append(column < changed.stop)
    if changed.outside:
        return and_(column != "", not_(and_(*inside)))
    return and_(*inside)


def _condition(query: Query, term: MatchTerm) -> ColumnElement[bool] | str | None:
    """The SQL condition of one term; a modality to join on (a single ModalitiesInStudy value
    reads the side table's index); None when the index cannot match it at this level."""
    if query.level is Level.PATIENT:
        return _patient_condition(query, term)
    found = (
        MATCH_COLUMNS.get(term.tag)
        if term.sequence is None
        else NESTED_MATCH_COLUMNS.get((term.sequence, term.tag))
    )
    if found is None or _DEPTH[Level(found[0])] > _DEPTH[query.level]:
        return None
    level, column, kind = found
    if kind == "reasons":
        on_reasons = condition(study_reasons.c[column], "text", term, False)
        return studies.c.pk.in_(select(study_reasons.c.study_fk).where(on_reasons))
    if kind != "modalities":
        return condition(_TABLES[level].c[column], kind, term, query.fuzzymatching)
    if isinstance(term, Single):
        return term.value
    matching = select(study_modalities.c.study_fk).where(
        condition(study_modalities.c.modality, "text", term, False)
    )
    return studies.c.pk.in_(matching)


def _date_time_condition(query: Query, moment: DateTimeRange) -> ColumnElement[bool] | None:
    """The pair as one date-time range, when the index keeps both on one row at this level;
    None leaves them to be matched (or reported unsupported) one by one."""
    if moment.date.sequence is not None:
        return None
    date_found, time_found = MATCH_COLUMNS.get(moment.date.tag), MATCH_COLUMNS.get(moment.time.tag)
    if date_found is None or time_found is None or date_found[0] != time_found[0]:
        return None
    if query.level is Level.PATIENT or _DEPTH[Level(date_found[0])] > _DEPTH[query.level]:
        return None
    table = _TABLES[date_found[0]]
    return date_time_range(table.c[date_found[1]], table.c[time_found[1]], moment)


def _patient_condition(query: Query, term: MatchTerm) -> ColumnElement[bool] | None:
    if term.sequence is None and term.tag in _PATIENT_COLUMNS:
        column, kind = _PATIENT_COLUMNS[term.tag]
        return condition(patients.c[column], kind, term, query.fuzzymatching)
    found = MATCH_COLUMNS.get(term.tag) if term.sequence is None else None
    if found is None or found[0] != "STUDY" or term.tag not in PATIENT_TAGS:
        return None
    on_studies = condition(studies.c[found[1]], found[2], term, query.fuzzymatching)
    return patients.c.pk.in_(select(studies.c.patient_fk).where(on_studies))


def page(conn: Connection, query: Query, plan: Plan, offset: int, limit: int) -> list[DicomJson]:
    """The datasets of matches ``offset`` to ``offset + limit``."""
    patient_counts = query.level is Level.PATIENT or (
        query.level is Level.STUDY
        and (query.include_all or bool(plan.wanted & _PATIENT_COUNT_KEYS))
    )
    parse_instances = query.level is Level.INSTANCE and (
        query.include_all
        or bool(plan.wanted - _INSTANCE_COLUMN_KEYS - results.HIGHER_KEYS - _COMPUTED_KEYS)
    )
    stmt = _statement(query, plan, patient_counts, parse_instances)
    rows = conn.execute(stmt.limit(limit).offset(offset)).all()
    build = _Builder(query, plan.wanted, patient_counts)
    return [build(row) for row in rows]


def count(conn: Connection, query: Query, plan: Plan) -> int:
    """How many entities match, whatever the paging."""
    stmt = _statement(query, plan, False, False)
    counted = stmt.order_by(None).with_only_columns(func.count()).scalar_subquery()
    return int(conn.execute(select(counted)).scalar_one())


def _statement(query: Query, plan: Plan, patient_counts: bool, parse: bool) -> Select[Any]:
    if query.level is Level.PATIENT:
        return _patient_statement(plan)
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
        columns += _patient_count_columns()
        source = source.join(patients, patients.c.pk == studies.c.patient_fk)
    if plan.modality_join is not None:
        source = source.join(
            study_modalities,
            (study_modalities.c.study_fk == studies.c.pk)
            & (study_modalities.c.modality == plan.modality_join),
        )
    order = _order(query.level, plan.modality_join is not None)
    return select(*columns).select_from(source).where(*plan.where).order_by(*order)


def _patient_count_columns() -> list[Any]:
    return [
        patients.c.num_studies.label("patient_studies"),
        patients.c.num_series.label("patient_series"),
        patients.c.num_instances.label("patient_instances"),
    ]


def _patient_statement(plan: Plan) -> Select[Any]:
    columns = [patients.c.json.label("patient_json"), *_patient_count_columns()]
    order = (patients.c.patient_name_upper, patients.c.pk)
    return select(*columns).where(*plan.where).order_by(*order)


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
        self.level = query.level
        self.patient_counts = patient_counts
        self.assemble = results.Assembler(query, wanted)

    def __call__(self, row: Any) -> DicomJson:
        if self.level is Level.PATIENT:
            return self.assemble([(results.load(row.patient_json), results.patient_computed(row))])
        study_json = results.load(row.study_json)
        timezone = {_TIMEZONE: study_json[_TIMEZONE]} if _TIMEZONE in study_json else {}
        levels: list[tuple[DicomJson, DicomJson]] = []
        if self.level is Level.INSTANCE:
            stored = (
                results.instance_only(results.load(row.metadata))
                if "metadata" in row._fields
                else {}
            )
            source = {**timezone, **stored, **results.instance_columns(row)}
            levels.append((source, results.instance_computed(row)))
        if self.level is not Level.STUDY:
            source = {**timezone, **results.load(row.series_json)}
            levels.append((source, results.series_computed(row)))
        levels.append((study_json, results.study_computed(row, self.patient_counts)))
        return self.assemble(levels)
