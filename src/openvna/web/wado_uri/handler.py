"""The WADO-URI transaction (PS3.18 §9): one object, as a rendered image, as the Part 10 file
(in the asked transfer syntax, de-identified on request) or as its header in PS3.19 XML.

A thin adapter: parameters are checked by ``params.py``, objects found by the archive's
retrieve service, images made by the pixel service (``openvna.render``) in a worker thread.
"""

from __future__ import annotations

from typing import Final

import orjson
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from openvna.archive import Archive, Content, StoredInstance
from openvna.dicom.media import LOSSY_SYNTAXES
from openvna.dicom.xml import json_to_xml
from openvna.errors import BadRequest, NotAcceptable, NotFound
from openvna.render import Rendering, decodable, frame_count, header_of
from openvna.render.deidentify import deidentify
from openvna.render.images import DEFAULT_QUALITY, GIF
from openvna.render.presentation import apply_presentation
from openvna.web.context import archive_of
from openvna.web.multipart_out import ResponsePart, single_part_response
from openvna.web.rendering import RENDERER, image_response
from openvna.web.urls import dicomweb_base, expand
from openvna.web.wado_uri.params import DICOM, DICOM_XML, UriRequest, parse_request

__all__ = ["PATHS", "retrieve", "routes"]

# /wado is the usual base; the SIIM exercise (seed 000) calls it /wadouri.
PATHS: Final = ("/wado", "/wadouri")
EXPLICIT_LE: Final = "1.2.840.10008.1.2.1"


async def retrieve(request: Request) -> Response:
    """GET /wado?requestType=WADO&studyUID=...&seriesUID=...&objectUID=...[&...]"""
    wanted = parse_request(request.query_params, request.headers.get("accept"))
    archive = archive_of(request)
    instance = await to_thread.run_sync(_instance, archive, wanted)
    if wanted.content_type == DICOM:
        return await _dicom(archive, instance, wanted)
    if wanted.content_type == DICOM_XML:
        body = await to_thread.run_sync(archive.metadata, wanted.study, wanted.series, wanted.sop)
        (item,) = orjson.loads(expand(body, dicomweb_base(request)))
        xml = await to_thread.run_sync(json_to_xml, item)
        return Response(xml, media_type=f"{DICOM_XML}; charset=utf-8")
    data = await to_thread.run_sync(_render, archive, instance, wanted)
    return image_response(data, wanted.content_type)


def _instance(archive: Archive, wanted: UriRequest) -> StoredInstance:
    (instance,) = archive.retrieve(wanted.study, wanted.series, wanted.sop)
    return instance


async def _dicom(archive: Archive, instance: StoredInstance, wanted: UriRequest) -> Response:
    """The Part 10 file: ``transferSyntax`` when given (400 invalid, 406 unsupported,
    §9.4.2.4), else Explicit VR Little Endian (WU-13) when the pixels can be decoded without
    loss, else as stored (lossy data may keep its lossy syntax, PS3.18 §8.7.3.4)."""
    syntax = wanted.transfer_syntax
    stored = instance.transfer_syntax
    if syntax is None:
        syntax = EXPLICIT_LE if stored == EXPLICIT_LE or _decodes_losslessly(stored) else stored
    if syntax != stored and syntax not in archive.transcodable([instance]):
        raise NotAcceptable(
            f"instance {instance.sop_uid} is stored as {stored} and cannot be sent as {syntax}",
            attribute="transferSyntax",
        )
    body: Content | bytes = await to_thread.run_sync(archive.instance_in, instance, syntax)
    if wanted.anonymize:
        data = body.read() if isinstance(body, Content) else body
        body = await to_thread.run_sync(deidentify, data)
    part = ResponsePart(f"{DICOM}; transfer-syntax={syntax}", body)
    return single_part_response(part)


def _decodes_losslessly(stored: str) -> bool:
    return stored not in LOSSY_SYNTAXES and decodable(stored)


def _render(archive: Archive, instance: StoredInstance, wanted: UriRequest) -> bytes:
    """The rendered image: presentation state, region, viewport, annotation (WU-14)."""
    if instance.pixel_data is None:
        raise NotAcceptable(
            f"instance {instance.sop_uid} (SOP Class {instance.sop_class_uid}) has no image; "
            "ask contentType=application/dicom",
            attribute="contentType",
        )
    how = Rendering(
        media_type=wanted.content_type,
        quality=wanted.quality or DEFAULT_QUALITY,
        window=wanted.window,
        viewport=wanted.viewport,
        region=wanted.region,
        region_is_fraction=True,
        annotation=wanted.annotation,
    )
    if wanted.presentation is not None:
        series, sop = wanted.presentation
        try:
            (gsps,) = archive.retrieve(wanted.study, series, sop)
        except NotFound as exc:
            raise NotFound(f"presentation state {sop}: {exc.message}", uid=sop) from exc
        how = apply_presentation(how, header_of(gsps), instance.sop_uid)
    total = frame_count(instance, header_of(instance))
    if wanted.frame is not None:
        if total <= 1 or wanted.frame > total:
            raise BadRequest(
                f"frameNumber {wanted.frame}: instance {instance.sop_uid} has {total} frame(s)"
                + ("" if total > 1 else " and is not multi-frame (§9.4.1.2.10)"),
                attribute="frameNumber",
            )
        return RENDERER.render_frame(instance, wanted.frame, how)
    if wanted.content_type == GIF:
        return RENDERER.render_instance(instance, how)
    return RENDERER.render_frame(instance, 1, how)


routes: list[BaseRoute] = [Route(path, retrieve, methods=["GET"]) for path in PATHS]
