"""Streaming instances that the archive's transcoder makes (PS3.18 §8.7.3.5.2).

A transcoded instance's size is known only once it is made, so the body is chunked and made one
instance at a time in a worker thread: memory holds one instance, however large the study. The
first instance is made before the response starts, so that an instance the transcoder cannot
make (JPEG Baseline of 12-bit data...) is still a 406 status; a later failure can only end the
stream, which the client sees as a truncated multipart body.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence

from anyio import to_thread
from starlette.responses import Response, StreamingResponse

from openvna.archive import Archive, Content, StoredInstance
from openvna.web.multipart_out import ResponsePart, single_part_response, stream_content
from openvna.web.urls import resource_url

__all__ = ["transcoded_response"]

DICOM = "application/dicom"


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

    first = await make(0) if targets else None
    if not multipart and first is not None:
        return single_part_response(first)
    boundary = secrets.token_hex(16)

    async def body() -> AsyncIterator[bytes]:
        prefix = b""
        for index in range(len(targets)):
            part = first if index == 0 and first is not None else await make(index)
            yield prefix + part.header(boundary)
            if isinstance(part.body, Content):
                async for chunk in stream_content(part.body):
                    yield chunk
            else:
                yield part.body
            prefix = b"\r\n"
        yield (b"\r\n" if targets else b"") + f"--{boundary}--\r\n".encode()

    media_type = f'multipart/related; type="{DICOM}"; boundary={boundary}'
    return StreamingResponse(body(), media_type=media_type)
