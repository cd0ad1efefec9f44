"""FHIR content negotiation (R4 http.html#mime-type, #parameters): ``_format`` overrides
``Accept``; JSON by default; ``text/xml`` (the SIIM exercise) and ``application/xml`` mean
FHIR XML; anything the server cannot produce is 406 (STANDARDS.md RS-06)."""

from __future__ import annotations

from enum import StrEnum

from starlette.requests import Request

from openvna.errors import NotAcceptable

__all__ = ["Format", "negotiate", "pretty"]


class Format(StrEnum):
    JSON = "application/fhir+json"
    XML = "application/fhir+xml"


_NAMES = {
    "json": Format.JSON,
    "application/json": Format.JSON,
    "application/fhir+json": Format.JSON,
    "application/json+fhir": Format.JSON,
    "text/json": Format.JSON,
    "xml": Format.XML,
    "text/xml": Format.XML,
    "application/xml": Format.XML,
    "application/fhir+xml": Format.XML,
    "application/xml+fhir": Format.XML,
}
_ANY = frozenset({"*/*", "application/*", "text/*"})


def negotiate(request: Request) -> Format:
    """The format of the answer; NotAcceptable (406) when neither ``_format`` nor ``Accept``
    names one this server writes."""
    given = request.query_params.get("_format")
    if given is not None:
        # An unencoded ``+`` (``_format=application/fhir+xml``) arrives as a space.
        chosen = _NAMES.get(given.split(";")[0].strip().lower().replace(" ", "+"))
        if chosen is None:
            raise NotAcceptable(f"_format={given!r}: only JSON and XML are supported")
        return chosen
    accept = request.headers.get("accept", "").strip()
    if not accept:
        return Format.JSON
    ranked: list[tuple[float, int, Format]] = []
    for position, item in enumerate(accept.split(",")):
        media, *parameters = (p.strip() for p in item.split(";"))
        quality = _quality(parameters)
        media = media.lower()
        if quality <= 0:
            continue
        if media in _NAMES:
            ranked.append((quality, -position, _NAMES[media]))
        elif media in _ANY:
            ranked.append((quality, -position - 1000, Format.JSON))
    if not ranked:
        raise NotAcceptable(f"Accept: {accept!r}: only FHIR JSON and XML are produced")
    return max(ranked)[2]


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def pretty(request: Request) -> bool:
    """``_pretty=true`` (R4 http.html#parameters)."""
    return request.query_params.get("_pretty", "").lower() == "true"
