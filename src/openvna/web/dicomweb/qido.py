"""QIDO-RS (PS3.18 §10.6): search studies, series and instances, in JSON or multipart XML."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from openvna.dicom.query import Level, parse_qido
from openvna.web.dicomweb.paths import path_uids
from openvna.web.dicomweb.representation import dicom_response, negotiate_dataset_format

__all__ = ["search_instances", "search_series", "search_studies"]


async def search_studies(request: Request) -> Response:
    return await _search(request, Level.STUDY)


async def search_series(request: Request) -> Response:
    return await _search(request, Level.SERIES)


async def search_instances(request: Request) -> Response:
    return await _search(request, Level.INSTANCE)


async def _search(request: Request, level: Level) -> Response:
    study, series, _ = path_uids(request)
    media = negotiate_dataset_format(request)
    settings = request.app.state.settings.dicomweb
    query = parse_qido(
        level,
        list(request.query_params.multi_items()),
        study_uid=study,
        series_uid=series,
        default_limit=settings.qido_default_limit,
        max_limit=settings.qido_max_limit,
    )
    result = await run_in_threadpool(request.app.state.archive.find, query)
    warnings = []
    if result.unsupported:
        names = ", ".join(result.unsupported)
        warnings.append(
            f"The following attributes are not supported for matching and were returned "
            f"without filtering: {names}"
        )
    if result.remaining > 0:
        warnings.append(f"There are {result.remaining} additional results that can be requested")
    return dicom_response(request, result.datasets, media, warnings)
