"""The criteria of a FHIR search as they are parsed, parameter by parameter: match terms of
the archive's ``Query``, narrowings by series or instance, and what makes a search match nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from openvna.archive import Archive
from openvna.dicom.json import DicomJson
from openvna.dicom.matching import MatchTerm, Range
from openvna.dicom.query import Changed, Query
from openvna.errors import BadRequest
from openvna.fhir.params import DateBounds, split_values

__all__ = ["Builder", "Criteria", "Handler", "build_criteria", "only_one"]


@dataclass(frozen=True)
class Criteria:
    """What a search selects: ``terms``, ``excluded`` and ``changed`` as in ``Query``;
    ``narrowings``, series- or instance-level queries, its ``holding``."""

    terms: tuple[MatchTerm, ...] = ()
    narrowings: tuple[Query, ...] = ()
    nothing: bool = False
    fuzzy: bool = False
    patient_checks: tuple[Callable[[DicomJson], bool], ...] = field(default=())
    excluded: tuple[tuple[MatchTerm, ...], ...] = ()
    changed: tuple[Changed, ...] = ()


class Builder:
    """The criteria as they are parsed, parameter by parameter."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.terms: list[MatchTerm] = []
        self.narrowings: list[Query] = []
        self.checks: list[Callable[[DicomJson], bool]] = []
        self.excluded: list[tuple[MatchTerm, ...]] = []
        self.changed: list[Changed] = []
        self.nothing = False
        self.fuzzy = False

    def criteria(self) -> Criteria:
        return Criteria(
            tuple(self.terms),
            tuple(self.narrowings),
            self.nothing,
            self.fuzzy,
            tuple(self.checks),
            tuple(self.excluded),
            tuple(self.changed),
        )

    def dates(self, bounds: DateBounds) -> None:
        """A date search's ranges (``params.date_bounds``): matched, or for ``ne`` excluded
        from what has a date at all (a missing date matches no date search)."""
        ranges = tuple(t for t in (bounds.date, bounds.time) if t is not None)
        if not bounds.outside:
            self.terms += ranges
            return
        date = bounds.date
        self.terms.append(Range(date.tag, date.keyword, date.vr, None, None))
        self.excluded.append(ranges)


Handler = Callable[[Builder, str, str | None, list[str]], None]


def build_criteria(
    archive: Archive,
    handlers: dict[str, Handler],
    criteria: list[tuple[str, str | None, str]],
) -> Criteria:
    built = Builder(archive)
    for name, modifier, raw in criteria:
        handlers[name](built, name, modifier, split_values(name, raw))
    return built.criteria()


def only_one(name: str, values: list[str]) -> str:
    """The one value of a parameter that cannot be ORed here."""
    if len(values) > 1:
        raise BadRequest(f"{name}: several values (OR) are not supported here")
    return values[0]
