"""QIDO-RS (PS3.18 §10.6): search studies, series and instances, in JSON or multipart XML.

The query string becomes the shared ``Query`` (``dicom.query.parse_qido``, with the return keys
of PS3.18 Tables 10.6.3-3/4/5); the archive finds one page of matches, and this door adds what
is QIDO-RS's own: each result's RetrieveURL (0008,1190) and the Warning header (§8.3.4.1-2).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from openvna.dicom.json import DicomJson
from openvna.dicom.query import Level, parse_qido
from openvna.web.context import archive_of, settings_of
from openvna.web.dicomweb.paths import path_uids
from openvna.web.dicomweb.representation import dicom_response, negotiate_dataset_format
from openvna.web.urls import dicomweb_base, resource_url

__all__ = ["search_instances", "search_series", "search_studies"]

_RETRIEVE_URL = "00081190"
_UID_KEYS = {
    Level.STUDY: ("0020000D",),
    Level.SERIES: ("0020000D", "0020000E"),
    Level.INSTANCE: ("0020000D", "0020000E", "00080018"),
}


async def search_studies(request: Request) -> Response:
    return await _search(request, Level.STUDY)


async def search_series(request: Request) -> Response:
    return await _search(request, Level.SERIES)


async def search_instances(request: Request) -> Response:
    return await _search(request, Level.INSTANCE)


async def _search(request: Request, level: Level) -> Response:
    study, series, _ = path_uids(request)
    media = negotiate_dataset_format(request)
    settings = settings_of(request).dicomweb
    query = parse_qido(
        level,
        list(request.query_params.multi_items()),
        study_uid=study,
        series_uid=series,
        default_limit=settings.qido_default_limit,
        max_limit=settings.qido_max_limit,
    )
    page = await run_in_threadpool(archive_of(request).find(query).page)
    base = dicomweb_base(request)
    for dataset in page.datasets:
        _add_retrieve_url(dataset, level, base)
    warnings = []
    if page.unsupported:
        names = ", ".join(page.unsupported)
        warnings.append(
            f"The following attributes are not supported for matching and were returned "
            f"without filtering: {names}"
        )
    if page.remaining > 0:
        warnings.append(f"There are {page.remaining} additional results that can be requested")
    return dicom_response(request, page.datasets, media, warnings)


def _add_retrieve_url(dataset: DicomJson, level: Level, base: str) -> None:
    """RetrieveURL (0008,1190) of the result's own level: required at every level (PS3.18
    Tables 10.6.3-3/4/5), the WADO-RS URL of the study, series or instance."""
    uids = [dataset[key]["Value"][0] for key in _UID_KEYS[level]]
    dataset[_RETRIEVE_URL] = {"vr": "UR", "Value": [resource_url(base, *uids)]}
