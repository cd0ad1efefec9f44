"""Streaming parts the pixel service makes: transcoded instances (PS3.18 §8.7.3.5.2) and the
JPEG frames of a study (``type=image/jpeg`` on a study, series or instance: seed 002).

A made part's size is known only once it is made, so the body is chunked and parts are made in
worker threads, ``AHEAD`` of them beside the one in hand (made together from the start, then the
next as each is sent): decoding overlaps sending and the other core, and memory holds at most
``AHEAD + 1`` instances, however large the study. The first part is awaited before the response
starts, so that one the service cannot make (JPEG Baseline of 12-bit data...) is still a 406
status; a later failure can only end the stream, after the parts before it, which the client
sees as a truncated multipart body.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any, Final

from anyio import to_thread
from starlette.responses import Response, StreamingResponse

from openvna.archive import Archive, Content, StoredInstance
from openvna.render import Rendering, frame_count, header_of
from openvna.web.multipart_out import ResponsePart, single_part_response, stream_content
from openvna.web.rendering import RENDERER
from openvna.web.urls import resource_url

__all__ = ["jpeg_frames_response", "transcoded_response"]

DICOM = "application/dicom"
JPEG = "image/jpeg"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
# Parts made ahead beside the one in hand (each in a worker thread of its own).
AHEAD: Final = 1


async def transcoded_response(
    archive: Archive,
    targets: Sequence[tuple[StoredInstance, str]],
    base: str,
    multipart: bool,
) -> Response:
    """Each instance in its target syntax (as stored when that is its own), streamed."""

    async def make(index: int) -> ResponsePart:
        instance, syntax = targets[index]
        wanted = None if syntax == instance.transfer_syntax else syntax
        body = await to_thread.run_sync(archive.instance_in, instance, wanted)
        url = resource_url(base, instance.study_uid, instance.series_uid, instance.sop_uid)
        return ResponsePart(f"{DICOM}; transfer-syntax={syntax}", body, url)

    if not multipart and targets:
        return single_part_response(await make(0))
    return await _stream(len(targets), make, DICOM)


async def jpeg_frames_response(instances: Sequence[StoredInstance], base: str) -> Response:
    """One JPEG per frame of every image, in series, instance and frame order: the stored bit
    stream when it is JPEG Baseline, else the frame rendered (header window, 8-bit), which is
    what a client asking JPEGs of a study can display (seed 002: "a multipart response of JPEGs
    representing each image in the study")."""
    counts = await to_thread.run_sync(
        lambda: [frame_count(i, header_of(i)) if i.pixel_data is not None else 0 for i in instances]
    )
    frames = [
        (instance, number)
        for instance, count in zip(instances, counts, strict=True)
        for number in range(1, count + 1)
    ]

    def make_one(index: int) -> ResponsePart:
        instance, number = frames[index]
        url = resource_url(base, instance.study_uid, instance.series_uid, instance.sop_uid)
        if instance.transfer_syntax == JPEG_BASELINE:
            (content,) = instance.frames([number])
            return ResponsePart(
                f"{JPEG}; transfer-syntax={JPEG_BASELINE}", content.read(), f"{url}/frames/{number}"
            )
        image = RENDERER.render_frame(instance, number, Rendering())
        return ResponsePart(JPEG, image, f"{url}/frames/{number}/rendered")

    async def make(index: int) -> ResponsePart:
        return await to_thread.run_sync(make_one, index)

    return await _stream(len(frames), make, JPEG)


async def _stream(
    count: int, make: Callable[[int], Coroutine[Any, Any, ResponsePart]], part_type: str
) -> Response:
    boundary = secrets.token_hex(16)
    ahead: deque[asyncio.Task[ResponsePart]] = deque(
        asyncio.create_task(make(index)) for index in range(min(AHEAD + 1, count))
    )
    if ahead:
        try:
            await ahead[0]
        except BaseException:
            _let_go(ahead)
            raise

    async def body() -> AsyncIterator[bytes]:
        try:
            for index in range(count):
                part = await ahead.popleft()
                yield (b"\r\n" if index else b"") + part.header(boundary)
                if isinstance(part.body, Content):
                    async for chunk in stream_content(part.body):
                        yield chunk
                else:
                    yield part.body
                del part  # sent: the next one may be made in its place
                if index + AHEAD + 1 < count:
                    ahead.append(asyncio.create_task(make(index + AHEAD + 1)))
        finally:
            _let_go(ahead)
        yield (b"\r\n" if count else b"") + f"--{boundary}--\r\n".encode()

    media_type = f'multipart/related; type="{part_type}"; boundary={boundary}'
    return StreamingResponse(body(), media_type=media_type)


def _unneeded(task: asyncio.Task[ResponsePart]) -> None:
    """A part made ahead in vain: its failure, if any, is no one's to report."""
    if not task.cancelled():
        task.exception()


def _let_go(ahead: deque[asyncio.Task[ResponsePart]]) -> None:
    """Parts made ahead that will not be sent (the first failed, or the client left)."""
    for task in ahead:
        task.cancel()
        task.add_done_callback(_unneeded)
