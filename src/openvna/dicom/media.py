"""Accept header parsing and media type negotiation for DICOMweb (PS3.18 §8.7).

An Accept header is a list of media ranges with parameters (RFC 9110 §12.5.1). DICOMweb adds
meaning to two of them: ``type`` names the media type of the parts of ``multipart/related``
(PS3.18 §8.7.3.5.1) and ``transfer-syntax`` the encoding of DICOM and bulk data payloads (PS3.18
§8.7.3.5.2; ``*`` means "as stored"). A resource describes what it can deliver as a list of
``Offer`` values, in the server's order of preference; ``negotiate`` picks the one the client
values most (RFC 9110 §12.5.1: the most specific matching range gives an offer its quality,
q=0 forbids it, ties go to the server's preference).

Leniency (PS3.18 §8.7.8 lets the origin server choose when nothing is acceptable, RFC 9110
§12.5.1 lets it ignore an unusable header): when no range matches, a single part range such as
``application/dicom`` is read as ``multipart/related; type=application/dicom`` before giving up,
because many clients send the bare part type for study and series resources. Aliases from earlier
editions of PS3.18 and from common clients (``image/dicom+jpeg``, ``image/x-jls`` ...) are
accepted for the standard names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Final

from openvna.errors import BadRequest, NotAcceptable

__all__ = [
    "ANY",
    "EXPLICIT_VR_LITTLE_ENDIAN",
    "LOSSY_SYNTAXES",
    "NATIVE_SYNTAXES",
    "MediaRange",
    "Offer",
    "media_type_of_frames",
    "negotiate",
    "parse_accept",
    "requested_name",
]

ANY: Final = "*"
MULTIPART: Final = "multipart/related"
EXPLICIT_VR_LITTLE_ENDIAN: Final = "1.2.840.10008.1.2.1"
# Little-endian native encodings: their pixel bytes are already what PS3.18 Table 8.7.3-4 asks of
# uncompressed bulk data (Little Endian octets), whatever the VR encoding of the header.
NATIVE_SYNTAXES: Final = frozenset({"1.2.840.10008.1.2", EXPLICIT_VR_LITTLE_ENDIAN})

# PS3.18 Table 8.7.3-5: the media type of each compressed transfer syntax's bit stream.
_FRAME_MEDIA: Final = MappingProxyType(
    {
        "1.2.840.10008.1.2.4.50": "image/jpeg",
        "1.2.840.10008.1.2.4.51": "image/jpeg",
        "1.2.840.10008.1.2.4.57": "image/jpeg",
        "1.2.840.10008.1.2.4.70": "image/jpeg",
        "1.2.840.10008.1.2.4.80": "image/jls",
        "1.2.840.10008.1.2.4.81": "image/jls",
        "1.2.840.10008.1.2.4.90": "image/jp2",
        "1.2.840.10008.1.2.4.91": "image/jp2",
        "1.2.840.10008.1.2.4.92": "image/jpx",
        "1.2.840.10008.1.2.4.93": "image/jpx",
        "1.2.840.10008.1.2.4.201": "image/jphc",
        "1.2.840.10008.1.2.4.202": "image/jphc",
        "1.2.840.10008.1.2.4.203": "image/jphc",
        "1.2.840.10008.1.2.4.110": "image/jxl",
        "1.2.840.10008.1.2.4.111": "image/jxl",
        "1.2.840.10008.1.2.4.112": "image/jxl",
        "1.2.840.10008.1.2.5": "image/dicom-rle",
        "1.2.840.10008.1.2.4.100": "video/mpeg",
        "1.2.840.10008.1.2.4.101": "video/mpeg",
        "1.2.840.10008.1.2.4.102": "video/mp4",
        "1.2.840.10008.1.2.4.103": "video/mp4",
        "1.2.840.10008.1.2.4.104": "video/mp4",
        "1.2.840.10008.1.2.4.105": "video/mp4",
        "1.2.840.10008.1.2.4.106": "video/mp4",
        "1.2.840.10008.1.2.4.107": "video/H265",
        "1.2.840.10008.1.2.4.108": "video/H265",
    }
)
# Lossy syntaxes: PS3.18 §8.7.3.3 lets the server answer these as they are when the client did
# not name a transfer syntax, since the original pixels no longer exist.
LOSSY_SYNTAXES: Final = frozenset(
    {
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.81",
        "1.2.840.10008.1.2.4.91",
        "1.2.840.10008.1.2.4.93",
        "1.2.840.10008.1.2.4.203",
        "1.2.840.10008.1.2.4.110",
        "1.2.840.10008.1.2.4.112",
    }
    | {f"1.2.840.10008.1.2.4.{n}" for n in range(100, 109)}
)
# Names from earlier editions of PS3.18 (2014: image/dicom+jpeg ...) and from dicomweb-client.
_ALIASES: Final = MappingProxyType(
    {
        "image/dicom+jpeg": "image/jpeg",
        "image/dicom+rle": "image/dicom-rle",
        "image/x-dicom-rle": "image/dicom-rle",
        "image/dicom+jpeg-ls": "image/jls",
        "image/x-jls": "image/jls",
        "image/dicom+jp2": "image/jp2",
        "image/dicom+jpx": "image/jpx",
        "application/x-dicom": "application/dicom",
    }
)
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# RFC 9110 §12.4.2 qvalues, plus the ".2" form Java's HttpURLConnection sends.
_QVALUE = re.compile(r"^([01](\.[0-9]*)?|\.[0-9]+)$")


def media_type_of_frames(transfer_syntax: str) -> str:
    """The media type of the pixel data of one frame stored in ``transfer_syntax``.

    Native (uncompressed) pixel data is ``application/octet-stream`` (PS3.18 Table 8.7.3-4);
    compressed bit streams have their own types (Table 8.7.3-5).
    """
    return _FRAME_MEDIA.get(transfer_syntax, "application/octet-stream")


def _canonical(media_type: str) -> str:
    media_type = media_type.lower()
    return _ALIASES.get(media_type, media_type)


@dataclass(frozen=True)
class MediaRange:
    """One element of an Accept header: ``type/subtype`` (lower case), parameters, quality."""

    media_type: str
    params: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    q: float = 1.0

    @property
    def part_type(self) -> str | None:
        """The ``type`` parameter of a multipart range, canonical and lower case."""
        value = self.params.get("type")
        return _canonical(value) if value else None

    @property
    def transfer_syntax(self) -> str | None:
        return self.params.get("transfer-syntax") or None

    @property
    def is_multipart(self) -> bool:
        return self.media_type in (MULTIPART, "multipart/*")

    def specificity(self) -> tuple[int, int, int]:
        """Rank of precision: a concrete type beats a wildcard, a parameter adds precision."""
        named = self.part_type if self.is_multipart else self.media_type
        concrete = 0 if named in (None, "*/*") else (1 if named.endswith("/*") else 2)
        return (0 if self.media_type == "*/*" else 1, concrete, len(self.params))

    def as_multipart(self) -> MediaRange:
        """This single part range read as ``multipart/related; type=<it>`` (the lenient pass)."""
        params = {**self.params, "type": self.media_type}
        return replace(self, media_type=MULTIPART, params=MappingProxyType(params))

    def __str__(self) -> str:
        shown = "".join(f"; {name}={value}" for name, value in self.params.items())
        return self.media_type + shown + ("" if self.q == 1.0 else f"; q={self.q:g}")


@dataclass(frozen=True)
class Offer:
    """A representation the server can deliver.

    ``media_type`` is the type of the whole body, or of each part when ``multipart``.
    ``syntaxes`` are the transfer syntaxes the payload will carry (empty when the parameter does
    not apply, e.g. JSON metadata); a range naming one specific syntax matches only when that is
    the only one. ``default_ok`` tells whether a range without ``transfer-syntax`` is satisfied.
    """

    media_type: str
    multipart: bool = True
    syntaxes: frozenset[str] = frozenset()
    default_ok: bool = True

    def __str__(self) -> str:
        text = f'{MULTIPART}; type="{self.media_type}"' if self.multipart else self.media_type
        if self.syntaxes:
            text += "; transfer-syntax=" + "|".join(sorted(self.syntaxes))
        return text


def parse_accept(header: str | None) -> list[MediaRange]:
    """Parse an Accept header into media ranges; an absent or empty header accepts anything.

    Type, subtype and parameter names are case-insensitive (RFC 9110 §8.3.1), quoted and token
    values are equivalent (PS3.18 §8.7). A lone ``*`` (sent by some Java clients) means ``*/*``.
    Empty elements and parameters are skipped; a range that is not ``type/subtype`` or a
    malformed q-value is a 400 naming the culprit.
    """
    if header is None or not header.strip():
        return [MediaRange("*/*")]
    ranges = [_parse_range(element) for element in _split(header, ",") if element.strip()]
    return ranges or [MediaRange("*/*")]


def _split(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside double quotes (a quoted ``type`` may hold ``;`` or ``,``)."""
    pieces: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            pieces.append("".join(current))
            current = []
            continue
        current.append(char)
    pieces.append("".join(current))
    return pieces


def _parse_range(element: str) -> MediaRange:
    media_type, *raw_params = (piece.strip() for piece in _split(element, ";"))
    media_type = media_type.lower()
    if media_type == "*":
        media_type = "*/*"
    main, _, sub = media_type.partition("/")
    if not (_TOKEN.match(main) and _TOKEN.match(sub)) or (main == "*" and sub != "*"):
        raise BadRequest(f"malformed media range {element.strip()!r} in Accept", attribute="Accept")
    params: dict[str, str] = {}
    q = 1.0
    for raw in raw_params:
        name, sep, value = raw.partition("=")
        name, value = name.strip().lower(), _unquote(value.strip())
        if not name or not sep:
            continue
        if name == "q":
            q = _parse_q(value, element)
        else:
            params[name] = value
    return MediaRange(media_type, MappingProxyType(params), q)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _parse_q(value: str, element: str) -> float:
    if not _QVALUE.match(value) or float(value) > 1:
        raise BadRequest(
            f"malformed q-value {value!r} in Accept range {element.strip()!r}", attribute="Accept"
        )
    return float(value)


def negotiate(ranges: Sequence[MediaRange], offers: Sequence[Offer]) -> Offer:
    """Choose the offer the client values most; raise NotAcceptable (406) when there is none.

    A strict pass first; if nothing matches, single part ranges are read as multipart ranges of
    that part type (the lenient pass described in the module docstring).
    """
    chosen = _best(ranges, offers)
    if chosen is None:
        lenient = [r.as_multipart() if _is_single_part(r) else r for r in ranges]
        chosen = _best(lenient, offers)
    if chosen is None:
        raise NotAcceptable(_refusal(ranges, offers), attribute="Accept")
    return chosen


def requested_name(ranges: Sequence[MediaRange], offer: Offer) -> str:
    """The name to label ``offer`` with: the client's own when it asked by an alias only.

    A client that asks ``type=image/dicom+jpeg`` (the SIIM exercise, after PS3.18 2014) gets its
    parts labelled so, so that it recognises them; one that names the standard type, or only a
    wildcard, gets the standard name.
    """
    names = [
        (r.params.get("type", "") if r.is_multipart else r.media_type).lower()
        for r in ranges
        if r.q > 0
    ]
    wanted = offer.media_type.lower()
    if wanted in names:
        return offer.media_type
    aliases = [name for name in names if name != wanted and _ALIASES.get(name) == wanted]
    return aliases[0] if aliases else offer.media_type


def _is_single_part(media_range: MediaRange) -> bool:
    return not media_range.is_multipart and media_range.media_type != "*/*"


def _best(ranges: Sequence[MediaRange], offers: Sequence[Offer]) -> Offer | None:
    best: Offer | None = None
    best_q = 0.0
    for offer in offers:
        matching = [r for r in ranges if _type_matches(r, offer) and _syntax_matches(r, offer)]
        if not matching:
            continue
        q = max(matching, key=MediaRange.specificity).q
        if q > best_q:
            best, best_q = offer, q
    return best


def _wildcard_match(pattern: str | None, media_type: str) -> bool:
    if pattern in (None, "*/*", "*"):
        return True
    assert pattern is not None
    if pattern.endswith("/*"):
        return media_type.lower().startswith(pattern[:-1])
    return _canonical(pattern) == media_type.lower()


def _type_matches(media_range: MediaRange, offer: Offer) -> bool:
    if media_range.media_type == "*/*":
        return True
    if media_range.is_multipart:
        return offer.multipart and _wildcard_match(media_range.part_type, offer.media_type)
    return not offer.multipart and _wildcard_match(media_range.media_type, offer.media_type)


def _syntax_matches(media_range: MediaRange, offer: Offer) -> bool:
    wanted = media_range.transfer_syntax
    if not offer.syntaxes or wanted == ANY:
        return True
    if wanted is None:
        return offer.default_ok
    return offer.syntaxes == {wanted}


def _refusal(ranges: Sequence[MediaRange], offers: Sequence[Offer]) -> str:
    """A 406 message that names what was asked and what exists (RFC 9110 §15.5.7)."""
    asked = ", ".join(str(r) for r in ranges)
    available = "; or ".join(str(o) for o in offers) or "nothing"
    syntax_clash = _syntax_clash(ranges, offers)
    if syntax_clash:
        return syntax_clash + f"; available: {available}"
    return f"none of the acceptable media types ({asked}) can be served; available: {available}"


def _syntax_clash(ranges: Iterable[MediaRange], offers: Sequence[Offer]) -> str | None:
    """Explain a refusal due to the transfer syntax alone (the type itself was available)."""
    for media_range in ranges:
        lenient = media_range.as_multipart() if _is_single_part(media_range) else media_range
        for offer in offers:
            if not (offer.syntaxes and _type_matches(lenient, offer) and media_range.q > 0):
                continue
            stored = ", ".join(sorted(offer.syntaxes))
            wanted = media_range.transfer_syntax
            if wanted is None:
                wanted = f"the default of {offer.media_type} ({EXPLICIT_VR_LITTLE_ENDIAN})"
            return (
                f"transfer syntax {wanted} was requested but the data is stored as {stored} "
                "and transcoding is not available"
            )
    return None
