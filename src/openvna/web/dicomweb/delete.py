"""Deletion of a study, series or instance (not in PS3.18; as dcm4chee and dicom-server do it)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from openvna.web.context import archive_of
from openvna.web.dicomweb.paths import resource_uids

__all__ = ["delete_resource"]


async def delete_resource(request: Request) -> Response:
    """Remove rows then blobs; 204 on success, 404 naming the missing level."""
    study, series, sop = resource_uids(request)
    await run_in_threadpool(archive_of(request).delete, study, series, sop)
    return Response(status_code=204)
