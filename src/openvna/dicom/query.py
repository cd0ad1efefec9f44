"""The ``Query`` value and the QIDO-RS query-string parser (PS3.18 §8.3.4, §10.6.1).

One value serves every door: QIDO-RS parses its query string here, C-FIND and FHIR search build the
same value, and the index turns it into one SQL statement. Matching semantics are those of PS3.4
C.2.2.2 (see ``openvna.dicom.matching``). What comes back is the door's choice, carried in the
value: ``return_keys`` (always returned, empty when the entity has no value: PS3.18 Tables
10.6.3-3/4/5 for QIDO-RS, the identifier's keys for C-FIND) and ``includefields`` (returned when
present).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from openvna.dicom.matching import MatchTerm, parse_term
from openvna.dicom.tags import keyword_of, parse_tag, vr_of
from openvna.dicom.uid import is_valid_uid
from openvna.errors import InvalidQuery

__all__ = [
    "QIDO_RETURN_KEYS",
    "Changed",
    "Level",
    "Query",
    "parse_qido",
    "qido_return_keys",
    "resolve_attribute",
]

# PS3.18 §8.3.3.1-2: media type and charset may travel as query parameters; the web layer reads
# them, the query ignores them.
_REQUEST_PARAMETERS = frozenset({"accept", "charset"})
_OPTIONS = frozenset({"limit", "offset", "fuzzymatching"})


class Level(StrEnum):
    """Query/retrieve level of the result entities (PS3.4 C.6.1.1). QIDO-RS has no PATIENT
    resource; C-FIND's Patient Root information model (C.6.1) and FHIR Patient search do."""

    PATIENT = "PATIENT"
    STUDY = "STUDY"
    SERIES = "SERIES"
    INSTANCE = "INSTANCE"


@dataclass(frozen=True)
class Changed:
    """A condition on when a study last changed in the index (``studies.updated``, UTC instants
    in the index's fixed-width text form): from ``start`` (included) to ``stop`` (excluded),
    None an open end; ``outside`` inverts it. No DICOM attribute holds this: the FHIR door's
    ``_lastUpdated`` (R4 search.html#lastUpdated) asks for it."""

    start: str | None
    stop: str | None
    outside: bool = False


@dataclass(frozen=True)
class Query:
    """A search: the level, the UIDs fixed by the resource path, the terms, what to return and
    the paging.

    ``return_keys`` come back in every result, empty when there is no value; ``includefields``
    only when there is one; ``include_all`` (``includefield=all``) returns every attribute of
    the query level. Every term also asks for its attribute (PS3.4 C.2.2.2.3). ``limit`` None
    is no limit (C-FIND); ``offset`` skips that many matches first. ``combined_datetime``: a
    date range and its time range match as one date-time range (``matching.combine_date_time``;
    QIDO-RS always, C-FIND when extended negotiation accepted it, PS3.4 C.5.1.1).

    Refinements no DICOM door makes, for FHIR search: ``excluded`` groups of terms, an entity
    matching every term of a group being left out (``ne`` of a date, ``gender=unknown``);
    ``changed``, conditions on the study's change time (``Changed``); ``holding``, SERIES- or
    INSTANCE-level queries of which a STUDY-level match must hold a match each (the studies of
    a series UID, of a body part).
    """

    level: Level
    terms: tuple[MatchTerm, ...] = ()
    study_uid: str | None = None
    series_uid: str | None = None
    return_keys: tuple[int, ...] = ()
    includefields: tuple[int, ...] = ()
    include_all: bool = False
    fuzzymatching: bool = False
    combined_datetime: bool = False
    limit: int | None = 1000
    offset: int = 0
    excluded: tuple[tuple[MatchTerm, ...], ...] = ()
    changed: tuple[Changed, ...] = ()
    holding: tuple[Query, ...] = ()


def resolve_attribute(text: str) -> tuple[int, str, str]:
    """``(tag, keyword, vr)`` of a keyword or 8-hex tag; InvalidQuery names unknown ones."""
    if "." in text:
        raise InvalidQuery(f"{text}: a sequence path is not allowed here", attribute=text)
    tag = parse_tag(text)
    keyword = keyword_of(tag)
    if not keyword:
        # Private attributes need their creator (PS3.18 §8.3.4.1), unknown ones have no VR.
        raise InvalidQuery(f"{text}: unknown or private attribute", attribute=text)
    return tag, keyword, vr_of(tag)


def parse_qido(
    level: Level | str,
    params: list[tuple[str, str]],
    study_uid: str | None = None,
    series_uid: str | None = None,
    default_limit: int = 1000,
    max_limit: int = 10000,
) -> Query:
    """Parse the query parameters of a QIDO-RS request (PS3.18 §8.3.4.1).

    Attributes come as keywords or 8-hex tags, each at most once; ``includefield`` may repeat or
    hold a comma-separated list or ``all``; ``limit`` is capped at ``max_limit``. Anything malformed
    raises InvalidQuery naming the parameter.
    """
    for name, uid in (("StudyInstanceUID", study_uid), ("SeriesInstanceUID", series_uid)):
        if uid is not None and not is_valid_uid(uid):
            raise InvalidQuery(f"{name}: {uid!r} is not a valid UID", attribute=name)
    options: dict[str, str] = {}
    includes: list[str] = []
    terms: dict[tuple[int | None, int], MatchTerm] = {}
    for name, value in params:
        key = name.strip()
        if key == "includefield":
            includes += (item.strip() for item in value.split(","))
        elif key in _OPTIONS:
            if key in options:
                raise InvalidQuery(f"{key}: given more than once", attribute=key)
            options[key] = value.strip()
        elif key.lower() not in _REQUEST_PARAMETERS:
            term = _term(key, value)
            if (term.sequence, term.tag) in terms:
                raise InvalidQuery(f"{term.keyword}: given more than once", attribute=term.keyword)
            terms[(term.sequence, term.tag)] = term
    return Query(
        level=Level(level),
        terms=tuple(terms.values()),
        study_uid=study_uid,
        series_uid=series_uid,
        return_keys=qido_return_keys(Level(level), study_uid, series_uid),
        includefields=tuple(
            dict.fromkeys(resolve_attribute(i)[0] for i in includes if i and i != "all")
        ),
        include_all="all" in includes,
        fuzzymatching=_boolean("fuzzymatching", options.get("fuzzymatching", "false")),
        # QIDO-RS matches a date range and its time range as one (PS3.4 C.2.2.2.5.4).
        combined_datetime=True,
        limit=min(_count("limit", options.get("limit", str(default_limit))), max_limit),
        offset=_count("offset", options.get("offset", "0")),
    )


def _keywords(text: str) -> tuple[int, ...]:
    return tuple(parse_tag(keyword) for keyword in text.split())


# PS3.18 Tables 10.6.3-3/4/5 (STANDARDS.md §6.4): returned at each level even when empty; the
# study level also carries SOPClassesInStudy (PS3.4 C.6.1.1.3), which the index computes for
# free. RetrieveURL (0008,1190), required at every level too, is the QIDO-RS door's to build.
QIDO_RETURN_KEYS: dict[Level, tuple[int, ...]] = {
    Level.STUDY: _keywords(
        """StudyDate StudyTime AccessionNumber InstanceAvailability ModalitiesInStudy
        ReferringPhysicianName TimezoneOffsetFromUTC PatientName PatientID
        PatientBirthDate PatientSex StudyInstanceUID StudyID NumberOfStudyRelatedSeries
        NumberOfStudyRelatedInstances SOPClassesInStudy"""
    ),
    Level.SERIES: _keywords(
        """Modality TimezoneOffsetFromUTC SeriesDescription SeriesInstanceUID
        SeriesNumber NumberOfSeriesRelatedInstances PerformedProcedureStepStartDate
        PerformedProcedureStepStartTime RequestAttributesSequence StudyInstanceUID"""
    ),
    Level.INSTANCE: _keywords(
        """SOPClassUID SOPInstanceUID InstanceAvailability TimezoneOffsetFromUTC
        InstanceNumber Rows Columns BitsAllocated NumberOfFrames StudyInstanceUID
        SeriesInstanceUID"""
    ),
}


def qido_return_keys(
    level: Level, study_uid: str | None, series_uid: str | None
) -> tuple[int, ...]:
    """The attributes a QIDO-RS result always carries: its level's required ones with the UIDs
    of its parents, and those of the parent levels not fixed by the resource path (a relational
    search, PS3.18 §10.6.3.3: series of all studies carry the study's required attributes)."""
    if level is Level.PATIENT:
        raise InvalidQuery("QIDO-RS has no patient level (PS3.18 Table 10.6.1-1)")
    keys = list(QIDO_RETURN_KEYS[level])
    if level is not Level.STUDY and study_uid is None:
        keys += QIDO_RETURN_KEYS[Level.STUDY]
    if level is Level.INSTANCE and series_uid is None:
        keys += QIDO_RETURN_KEYS[Level.SERIES]
    return tuple(dict.fromkeys(keys))


def _term(key: str, value: str) -> MatchTerm:
    """One match term; ``Sequence.Attribute`` names an attribute in the items of a sequence
    (one level of nesting, PS3.18 §8.3.4.1)."""
    if "." not in key:
        tag, keyword, vr = resolve_attribute(key)
        return parse_term(tag, keyword, vr, value)
    parent, _, child = key.partition(".")
    if "." in child:
        raise InvalidQuery(f"{key}: nested sequences are not supported", attribute=key)
    sequence, sequence_keyword, sequence_vr = resolve_attribute(parent)
    if sequence_vr != "SQ":
        raise InvalidQuery(f"{key}: {sequence_keyword} is not a sequence", attribute=key)
    tag, keyword, vr = resolve_attribute(child)
    return parse_term(tag, f"{sequence_keyword}.{keyword}", vr, value, sequence=sequence)


_COUNT_MAX = 2**63 - 1


def _count(name: str, value: str) -> int:
    """A limit or offset: both index engines take at most a signed 64-bit integer, so a larger
    one is the client's mistake (400), not the driver's OverflowError (500)."""
    if not (value.isascii() and value.isdigit()):
        raise InvalidQuery(f"{name}: {value!r} is not a non-negative integer", attribute=name)
    count = int(value)
    if count > _COUNT_MAX:
        raise InvalidQuery(
            f"{name}: {value} is out of range (at most {_COUNT_MAX})", attribute=name
        )
    return count


def _boolean(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise InvalidQuery(f"{name}: {value!r} is neither true nor false", attribute=name)
    return lowered == "true"
