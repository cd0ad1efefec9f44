"""The FHIR route table under ``/fhir`` (R4 http.html). Every method reaches the handlers, which
answer 405 with an OperationOutcome for the interactions openvna does not offer."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from openvna.web.fhir import handlers

__all__ = ["routes"]

_ALL = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]

routes: list[BaseRoute] = [
    Route("/metadata", handlers.capabilities, methods=_ALL),
    Route("/{type}", handlers.resource_type, methods=_ALL),
    Route("/{type}/_search", handlers.search, methods=_ALL),
    Route("/{type}/{id}", handlers.resource, methods=_ALL),
    Route("/{type}/{id}/_history", handlers.history, methods=_ALL),
    Route("/{type}/{id}/_history/{vid}", handlers.history, methods=_ALL),
    Route("/{path:path}", handlers.not_found, methods=_ALL),
]
