"""WADO-RS retrieve transactions (PS3.18 §10.4): instances, metadata, frames and bulk data.

Every check that can fail (UID syntax → 400, existence → 404, Accept and transfer syntax → 406)
runs before the StreamingResponse is built, because once the status line is sent an error can no
longer become a status. Stored bodies are streamed from the blob store by ``web.multipart_out``
with the Content-Length known from the index; frames in another encoding are made by the pixel
service (``openvna.render``) in a worker thread before the response starts.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response

from openvna.archive import Content, StoredInstance
from openvna.dicom.media import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    LOSSY_SYNTAXES,
    NATIVE_SYNTAXES,
    MediaRange,
    Offer,
    media_type_of_frames,
    negotiate,
    parse_accept,
    requested_name,
)
from openvna.errors import BadRequest, NotAcceptable
from openvna.render import decodable
from openvna.web.context import archive_of
from openvna.web.dicomweb.paths import resource_uids
from openvna.web.dicomweb.representation import (
    DatasetFormat,
    dicom_response,
    negotiate_dataset_format,
)
from openvna.web.dicomweb.transcoded import jpeg_frames_response, transcoded_response
from openvna.web.multipart_out import ResponsePart, multipart_response, single_part_response
from openvna.web.rendering import RENDERER
from openvna.web.urls import dicomweb_base, expand, resource_url

__all__ = [
    "parse_frame_list",
    "retrieve_bulkdata",
    "retrieve_frames",
    "retrieve_instances",
    "retrieve_metadata",
]

DICOM = "application/dicom"
OCTET_STREAM = "application/octet-stream"
JPEG = "image/jpeg"
PNG = "image/png"
PIXEL_DATA = "7FE00010"
# Frames the pixel service can make from any decodable frame (PS3.18 Table 8.7.3-5: the
# default syntax of each media type), in the server's order of preference.
_MADE_FRAMES = (
    ("image/jpeg", "1.2.840.10008.1.2.4.50"),
    ("image/jls", "1.2.840.10008.1.2.4.80"),
    ("image/jp2", "1.2.840.10008.1.2.4.90"),
    ("image/jphc", "1.2.840.10008.1.2.4.201"),
    ("image/dicom-rle", "1.2.840.10008.1.2.5"),
)


def _accept(request: Request) -> list[MediaRange]:
    return parse_accept(request.headers.get("accept"))


async def _retrieve(
    request: Request, study: str, series: str | None, sop: str | None
) -> list[StoredInstance]:
    """Resolve the resource in the archive (404 naming the missing UID comes from there)."""
    return await to_thread.run_sync(archive_of(request).retrieve, study, series, sop)


def _instance_url(base: str, instance: StoredInstance) -> str:
    return resource_url(base, instance.study_uid, instance.series_uid, instance.sop_uid)


# -- instances (PS3.18 §10.4.1.1.1-3) ----------------------------------------------------------


async def retrieve_instances(request: Request) -> Response:
    """Study, series or instance as Part 10 files, stored or transcoded (PS3.18 §8.7.3.5.2).

    ``transfer-syntax=*`` gets each instance as stored; a named syntax gets every instance in
    it, made by the archive's transcoder where needed (406 when some instance cannot be made);
    no syntax is Explicit VR Little Endian (§8.7.3.4), except for pixel data held only in a
    lossy form, which goes out as stored (the exception §8.7.3.4 makes). A single part
    ``application/dicom`` is honoured for an instance resource (PS3.18 §10.4.4) and read as
    multipart otherwise. Transcoded instances are made one at a time as the body streams.
    """
    study, series, sop = resource_uids(request)
    ranges = _accept(request)
    archive = archive_of(request)
    instances = await _retrieve(request, study, series, sop)
    stored = frozenset(instance.transfer_syntax for instance in instances)
    offered = archive.transcodable(instances)
    defaults = [_default_syntax(instance, offered) for instance in instances]
    transcoded_by_default = any(
        d != i.transfer_syntax for d, i in zip(defaults, instances, strict=True)
    )
    as_stored = Offer(DICOM, syntaxes=stored, default_ok=not transcoded_by_default)
    offers = [as_stored]
    default = None
    if transcoded_by_default:
        default = Offer(DICOM, syntaxes=frozenset(defaults) | {EXPLICIT_VR_LITTLE_ENDIAN})
        offers.append(default)
    offers += [Offer(DICOM, syntaxes=frozenset({s})) for s in sorted(offered - stored)]
    offers += [
        Offer(DICOM, syntaxes=frozenset({s}), default_ok=False)
        for s in sorted(stored)
        if len(stored) > 1 and s in offered
    ]
    if sop is not None:
        offers += [Offer(DICOM, False, o.syntaxes, o.default_ok) for o in offers]
    if any(instance.pixel_data is not None for instance in instances):
        offers.append(Offer(JPEG))  # seed 002: JPEGs of every image, after the DICOM offers
    chosen = negotiate(ranges, offers)
    if chosen.media_type == JPEG:
        return await jpeg_frames_response(instances, dicomweb_base(request))
    if chosen.syntaxes == as_stored.syntaxes and chosen.default_ok == as_stored.default_ok:
        targets = [instance.transfer_syntax for instance in instances]
    elif default is not None and chosen.syntaxes == default.syntaxes:
        targets = defaults
    else:
        (syntax,) = chosen.syntaxes
        targets = [syntax] * len(instances)
    base = dicomweb_base(request)
    if all(t == i.transfer_syntax for t, i in zip(targets, instances, strict=True)):
        parts = [
            ResponsePart(
                f"{DICOM}; transfer-syntax={instance.transfer_syntax}",
                instance.file(),
                _instance_url(base, instance),
            )
            for instance in instances
        ]
        return _respond(chosen, parts, DICOM)
    return await transcoded_response(
        archive, list(zip(instances, targets, strict=True)), base, chosen.multipart
    )


def _default_syntax(instance: StoredInstance, offered: frozenset[str]) -> str:
    """Explicit VR LE when the instance can be made so without keeping a lossy form out
    (§8.7.3.4); lossy data, or data nothing can decode, as stored."""
    stored = instance.transfer_syntax
    if stored in LOSSY_SYNTAXES or EXPLICIT_VR_LITTLE_ENDIAN not in offered:
        return stored
    return EXPLICIT_VR_LITTLE_ENDIAN


def _respond(chosen: Offer, parts: list[ResponsePart], media_type: str) -> Response:
    """One part alone when the negotiated offer is single part (§10.4.4), else multipart."""
    if not chosen.multipart:
        return single_part_response(parts[0])
    return multipart_response(parts, media_type)


# -- metadata (PS3.18 §10.4.1.1.4-6) -----------------------------------------------------------


async def retrieve_metadata(request: Request) -> Response:
    """The stored DICOM JSON of each instance, with the base marker replaced and no parse.

    XML (PS3.19) is built only when asked for, one NativeDicomModel document a part.
    """
    study, series, sop = resource_uids(request)
    media = negotiate_dataset_format(request)
    archive = archive_of(request)
    if media is DatasetFormat.XML:
        body = await to_thread.run_sync(archive.metadata, study, series, sop)
        return await to_thread.run_sync(dicom_response, request, orjson.loads(body), media)
    base = dicomweb_base(request)
    expanded = await to_thread.run_sync(lambda: expand(archive.metadata(study, series, sop), base))
    return Response(expanded, media_type=media.value)


# -- frames (PS3.18 §10.4.1.1.7) ---------------------------------------------------------------


async def retrieve_frames(request: Request) -> Response:
    """The requested frames in request order, one part each, as stored.

    Native pixel data goes out as Little Endian octets (PS3.18 Table 8.7.3-4), compressed frames
    as their bit stream in the media type of their transfer syntax (Table 8.7.3-5), the fragments
    of a frame joined without item delimiters (§8.7.3.3.2).
    """
    study, series, sop = resource_uids(request)
    assert sop is not None
    numbers = parse_frame_list(request.path_params["frames"])
    ranges = _accept(request)
    (instance,) = await _retrieve(request, study, series, sop)
    total = instance.frame_count
    beyond = [n for n in numbers if total and n > total]
    if beyond:
        raise BadRequest(
            f"instance {instance.sop_uid} has {total} frame(s); frame {beyond[0]} does not exist",
            attribute="frames",
        )
    frames = instance.frames(numbers)
    url = _instance_url(dicomweb_base(request), instance)
    return await _frames_response(ranges, instance, dict(zip(numbers, frames, strict=True)), url)


def parse_frame_list(text: str) -> list[int]:
    """A comma separated list of distinct 1-based frame numbers, in any order (PS3.18 §10.4.1.1.7
    and the frame-list of PS3.18 2017 §6.5.4); anything else is a 400 (Table 10.4.3-1: "errors
    in the request parameters")."""
    numbers: list[int] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item.isdigit() or not item.isascii() or int(item) < 1:
            raise BadRequest(
                f"frame list {text!r}: {item!r} is not a frame number (1, 2, ...)",
                attribute="frames",
            )
        if int(item) in numbers:
            raise BadRequest(f"frame list {text!r} names frame {item} twice", attribute="frames")
        numbers.append(int(item))
    return numbers


def _frame_offers(instance: StoredInstance, single: bool) -> tuple[list[Offer], set[Offer]]:
    """What the frames can be sent as, preferred first, and which of those offers are made by
    the pixel service rather than read as stored.

    Stored bytes first: native frames as octets, compressed ones in their own media type (and
    as octets for ``transfer-syntax=*`` or their own syntax named). Then what decoding makes:
    octet-stream without a syntax is native little endian, decompressed (PS3.18 Table 8.7.3-4),
    and the other compressed media types and PNG are encoded from the decoded frame.
    """
    stored = instance.transfer_syntax
    native = frozenset({EXPLICIT_VR_LITTLE_ENDIAN})
    offers: list[Offer] = []
    made: set[Offer] = set()
    if stored in NATIVE_SYNTAXES:
        offers.append(Offer(OCTET_STREAM, syntaxes=native))
    elif media_type_of_frames(stored) != OCTET_STREAM:
        syntaxes = frozenset({stored})
        offers.append(Offer(media_type_of_frames(stored), syntaxes=syntaxes))
        offers.append(Offer(OCTET_STREAM, syntaxes=syntaxes, default_ok=False))
    if decodable(stored):
        made_here = [Offer(OCTET_STREAM, syntaxes=native)] if stored not in NATIVE_SYNTAXES else []
        made_here += [
            Offer(media, syntaxes=frozenset({syntax}))
            for media, syntax in _MADE_FRAMES
            if media != media_type_of_frames(stored)
        ]
        made_here.append(Offer(PNG))
        offers += made_here
        made.update(made_here)
    if not offers:
        raise NotAcceptable(
            f"the pixel data of instance {instance.sop_uid} is stored as {stored}, which cannot "
            "be decoded into frames",
            uid=instance.sop_uid,
        )
    if single:
        singles = [Offer(o.media_type, False, o.syntaxes, o.default_ok) for o in offers]
        made.update(s for s, o in zip(singles, offers, strict=True) if o in made)
        offers += singles
    return offers, made


async def _frames_response(
    ranges: Sequence[MediaRange],
    instance: StoredInstance,
    frames: dict[int, Content],
    instance_url: str,
) -> Response:
    """Frame parts (Content-Location ``<instance>/frames/<n>``) in the negotiated media type;
    frames made by the pixel service are made in a worker thread, all before the response."""
    offers, made = _frame_offers(instance, single=len(frames) == 1)
    chosen = negotiate(ranges, offers)
    media_type = requested_name(ranges, chosen)
    syntax = next(iter(chosen.syntaxes), None)
    content_type = f"{media_type}; transfer-syntax={syntax}" if syntax else media_type
    bodies: list[bytes | Content] = list(frames.values())
    if chosen in made:
        bodies = list(await to_thread.run_sync(_make_frames, instance, list(frames), chosen))
    parts = [
        ResponsePart(content_type, body, f"{instance_url}/frames/{number}")
        for number, body in zip(frames, bodies, strict=True)
    ]
    return _respond(chosen, parts, media_type)


def _make_frames(instance: StoredInstance, numbers: list[int], offer: Offer) -> list[bytes]:
    if offer.media_type == PNG:
        return [RENDERER.frame_png(instance, n) for n in numbers]
    (syntax,) = offer.syntaxes
    target = None if syntax == EXPLICIT_VR_LITTLE_ENDIAN else syntax
    return [RENDERER.frame_as(instance, n, target) for n in numbers]


# -- bulk data (PS3.18 §10.4.1.1.8) ------------------------------------------------------------


async def retrieve_bulkdata(request: Request) -> Response:
    """The value of one bulk data attribute, as its BulkDataURI names it (tag/item/tag...).

    Bulk data is multipart/related; type="application/octet-stream" (PS3.18 §8.7.3.3); a single
    part octet-stream is honoured too, since this is a single response item (§10.4.4). Native
    Pixel Data is read by its span from the index; encapsulated Pixel Data goes out frame by frame
    like the frames resource (§8.7.3.3.2); other attributes, rare, are read with pydicom.
    """
    study, series, sop = resource_uids(request)
    assert sop is not None
    path = _parse_tag_path(request.path_params["path"])
    ranges = _accept(request)
    (instance,) = await _retrieve(request, study, series, sop)
    instance_url = _instance_url(dicomweb_base(request), instance)
    url = f"{instance_url}/bulkdata/{path}"
    body: bytes | Content
    if path == PIXEL_DATA and instance.pixel_data is not None:
        if instance.pixel_data.encapsulated:
            numbers = range(1, instance.frame_count + 1)
            frames = dict(zip(numbers, instance.frames(numbers), strict=True))
            return await _frames_response(ranges, instance, frames, instance_url)
        if instance.transfer_syntax not in NATIVE_SYNTAXES:
            raise NotAcceptable(
                f"the pixel data of instance {instance.sop_uid} is stored as "
                f"{instance.transfer_syntax} and transcoding is not available"
            )
        body = instance.pixel_value()
        syntaxes = frozenset({EXPLICIT_VR_LITTLE_ENDIAN})
    else:
        body = await to_thread.run_sync(instance.bulk_value, path)
        syntaxes = frozenset()
    offers = [Offer(OCTET_STREAM, syntaxes=syntaxes), Offer(OCTET_STREAM, False, syntaxes)]
    chosen = negotiate(ranges, offers)
    content_type = OCTET_STREAM
    if syntaxes:
        content_type += f"; transfer-syntax={EXPLICIT_VR_LITTLE_ENDIAN}"
    return _respond(chosen, [ResponsePart(content_type, body, url)], OCTET_STREAM)


def _parse_tag_path(text: str) -> str:
    """``tag[/item/tag]...`` with tags as 8 hex digits and 0-based items (docs/internals.md)."""
    steps = text.strip("/").upper().split("/")
    valid = len(steps) % 2 == 1 and all(
        (len(step) == 8 and all(c in "0123456789ABCDEF" for c in step))
        if i % 2 == 0
        else step.isdigit() and step.isascii()
        for i, step in enumerate(steps)
    )
    if not valid:
        raise BadRequest(
            f"bulk data path {text!r} is not tag[/item/tag]... (8 hex digits, 0-based items)",
            attribute="bulkdata",
        )
    return "/".join(steps)
