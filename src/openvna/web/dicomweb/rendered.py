"""WADO-RS rendered and thumbnail resources (PS3.18 §10.4.1.1.3, §8.3.5, §10.4.3.3.4).

``/rendered`` on a study or series renders its first image (the resource's instances in series
and instance order), on an instance its one frame or, as GIF, all of them animated, and on
frames each listed frame (one frame: a single image; several: multipart/related, one image a
part). ``/thumbnail`` at every level is one representative image, small and without patient
information. Decoding, LUTs and encoding run in a worker thread; the cache makes repeats cheap.
"""

from __future__ import annotations

from dataclasses import replace

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response

from openvna.archive import StoredInstance
from openvna.errors import NotFound
from openvna.render import Rendering
from openvna.render.images import DEFAULT_QUALITY
from openvna.render.service import THUMBNAIL
from openvna.web.context import archive_of
from openvna.web.dicomweb.paths import resource_uids
from openvna.web.dicomweb.wado import parse_frame_list
from openvna.web.multipart_out import ResponsePart, multipart_response
from openvna.web.rendering import (
    RENDERER,
    image_response,
    parse_annotations,
    parse_quality,
    parse_viewport,
    parse_window,
    rendered_type,
)
from openvna.web.urls import dicomweb_base, resource_url

__all__ = ["render_frames", "render_resource", "thumbnail"]


def rendering_of(request: Request) -> Rendering:
    """The query's rendering parameters (PS3.18 Table 8.3.5-1); 400 for malformed ones, 406 for
    a media type that cannot be rendered."""
    query = request.query_params
    viewport, region = parse_viewport(query.get("viewport"))
    return Rendering(
        media_type=rendered_type(query, request.headers.get("accept")),
        quality=parse_quality(query.get("quality")) or DEFAULT_QUALITY,
        window=parse_window(query.get("window")),
        viewport=viewport,
        region=region,
        annotation=parse_annotations(query.get("annotation")),
    )


async def _instances(request: Request) -> list[StoredInstance]:
    study, series, sop = resource_uids(request)
    return await to_thread.run_sync(archive_of(request).retrieve, study, series, sop)


async def render_resource(request: Request) -> Response:
    """A study, series or instance rendered: its first image (PS3.18 §10.4.1.1.3)."""
    how = rendering_of(request)
    instances = await _instances(request)
    imaged = [instance for instance in instances if instance.pixel_data is not None]
    if not imaged:
        raise NotFound("the resource has no image to render")
    data = await to_thread.run_sync(RENDERER.render_instance, imaged[0], how)
    return image_response(data, how.media_type)


async def render_frames(request: Request) -> Response:
    """The listed frames rendered: one image, or one part per frame in request order."""
    how = rendering_of(request)
    numbers = parse_frame_list(request.path_params["frames"])
    (instance,) = await _instances(request)

    def make() -> list[bytes]:
        return [RENDERER.render_frame(instance, number, how) for number in numbers]

    images = await to_thread.run_sync(make)
    if len(images) == 1:
        return image_response(images[0], how.media_type)
    url = resource_url(
        dicomweb_base(request), instance.study_uid, instance.series_uid, instance.sop_uid
    )
    parts = [
        ResponsePart(how.media_type, image, f"{url}/frames/{number}/rendered")
        for number, image in zip(numbers, images, strict=True)
    ]
    return multipart_response(parts, how.media_type)


async def thumbnail(request: Request) -> Response:
    """One small representative image, without annotation (PS3.18 §10.4.3.3.4)."""
    how = replace(rendering_of(request), annotation=frozenset())
    instances = await _instances(request)
    if "frames" in request.path_params:  # the first listed frame, small
        number = parse_frame_list(request.path_params["frames"])[0]
        small = replace(how, viewport=how.viewport or THUMBNAIL)
        data = await to_thread.run_sync(RENDERER.render_frame, instances[0], number, small)
    else:
        data = await to_thread.run_sync(RENDERER.thumbnail, instances, how)
    return image_response(data, how.media_type)
