"""The ASGI application: DICOMweb under /dicomweb, errors mapped once, API keys when configured."""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from openvna.archive import Archive
from openvna.archive.scu import Scu
from openvna.errors import ArchiveError
from openvna.settings import Settings
from openvna.web.admin import routes as admin_routes
from openvna.web.auth import ApiKeyMiddleware
from openvna.web.dicomweb.routes import routes as dicomweb_routes
from openvna.web.errors import handle_archive_error, handle_http_exception, handle_unexpected
from openvna.web.fhir import FHIR_PREFIX, outcome_response
from openvna.web.fhir import routes as fhir_routes
from openvna.web.iid import ENTRIES as BROWSER_ENTRIES
from openvna.web.iid import credentials_page
from openvna.web.iid import routes as browser_routes
from openvna.web.session import Sessions
from openvna.web.ui import routes as ui_routes
from openvna.web.urls import DICOMWEB_PREFIX
from openvna.web.wado_uri import routes as wado_uri_routes

__all__ = ["create_app"]

log = logging.getLogger("openvna.web")


class _TrailingSlash:
    """Serve ``/dicomweb/studies/?PatientName=...`` as ``/dicomweb/studies``: the SIIM exercise
    and many hand-typed URLs end resources with a slash, and curl does not follow redirects."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        trimmed = path.rstrip("/")
        if scope["type"] == "http" and trimmed and trimmed != path and trimmed not in _MOUNTS:
            scope = {**scope, "path": trimmed, "raw_path": trimmed.encode()}
        await self.app(scope, receive, send)


# Mount roots keep their slash: ``/fhir/`` trimmed to ``/fhir`` would be redirected back.
_MOUNTS = {DICOMWEB_PREFIX, FHIR_PREFIX}


def create_app(settings: Settings, archive: Archive, make_scu: Callable[[], Scu]) -> Starlette:
    """Build the app over an archive; the caller owns the archive's lifetime. ``make_scu``
    builds the SCU the admin API drives (``dimse.scu.DimseScu``: the web door may not import
    the DIMSE one), at its first use."""
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=["*"],
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=["Warning", "Content-Location", "Location"],
        ),
        Middleware(_TrailingSlash),
    ]
    if settings.auth.api_keys:
        middleware.append(
            Middleware(
                ApiKeyMiddleware,
                keys=settings.auth.api_keys,
                open_paths=frozenset({FHIR_PREFIX + "/metadata"}),
                refusals={
                    FHIR_PREFIX: outcome_response,
                    **dict.fromkeys(BROWSER_ENTRIES, credentials_page),
                },
                entries=BROWSER_ENTRIES,
                sessions=Sessions(
                    [key.encode() for key in settings.auth.api_keys],
                    settings.viewer.session_minutes,
                    settings.viewer.cookie_samesite,
                ),
            )
        )
    app = Starlette(
        routes=[
            Mount(DICOMWEB_PREFIX, routes=dicomweb_routes),
            Mount(FHIR_PREFIX, routes=fhir_routes),
            Mount("/api", routes=admin_routes),
            *wado_uri_routes,
            *browser_routes,
            *ui_routes,
        ],
        middleware=middleware,
        exception_handlers={
            ArchiveError: handle_archive_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
    )
    app.state.settings = settings
    app.state.archive = archive
    app.state.make_scu = make_scu
    return app
