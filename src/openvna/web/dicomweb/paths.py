"""The UIDs of a DICOMweb resource path, each validated before it reaches a query or a file."""

from __future__ import annotations

from starlette.requests import Request

from openvna.dicom.uid import require_uid

__all__ = ["PathUIDs", "path_uids", "resource_uids"]

PathUIDs = tuple[str | None, str | None, str | None]

_NAMES = (
    ("study", "StudyInstanceUID"),
    ("series", "SeriesInstanceUID"),
    ("instance", "SOPInstanceUID"),
)


def path_uids(request: Request) -> PathUIDs:
    """(study, series, instance) from the route, None where the route has none; 400 if invalid
    (PS3.5 §9.1), so ``../../etc`` never becomes a blob key or a SQL value."""
    params = request.path_params
    study, series, sop = (
        require_uid(params[name], keyword) if name in params else None for name, keyword in _NAMES
    )
    return study, series, sop


def resource_uids(request: Request) -> tuple[str, str | None, str | None]:
    """``path_uids`` of a route under ``/studies/{study}`` (WADO-RS, DELETE), whose study is
    always there."""
    study, series, sop = path_uids(request)
    if study is None:
        raise TypeError(f"route {request.url.path} has no study: it is not a resource route")
    return study, series, sop
