"""``/api/remotes``: the registry of remote DICOM nodes (issue 9, "Remote nodes").

- ``GET /api/remotes``: every node, each with ``"configured": true`` when it comes from the
  settings (``dimse.remotes``) rather than from this API;
- ``GET /api/remotes/{aet}``: one node (404 when unknown);
- ``PUT /api/remotes/{aet}`` with ``{"host", "port", "store"?, "query"?, "retrieve"?}``: add (201)
  or replace (200) a node; ``POST /api/remotes`` with the ``aet`` in the body does the same;
- ``DELETE /api/remotes/{aet}``: remove a node added here (204; 404 when unknown, 400 for a node
  of the settings, which stays where it is configured).

The DIMSE processes read the same registry (``archive.remotes``, a file in the data directory) at
each association, so a node added here may associate, and receive C-MOVEs, at once.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openvna.archive.remotes import RemoteRegistry
from openvna.errors import BadRequest, NotFound
from openvna.settings import RemoteNode
from openvna.web.context import settings_of

__all__ = ["json_body", "json_response", "registry_of", "routes"]


def registry_of(request: Request) -> RemoteRegistry:
    state = request.app.state
    registry = getattr(state, "remotes", None)
    if not isinstance(registry, RemoteRegistry):
        dimse = settings_of(request).dimse
        registry = RemoteRegistry(
            dimse.remotes, settings_of(request).storage.data_dir, dimse.allow_unknown
        )
        state.remotes = registry
    return registry


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


def _shown(registry: RemoteRegistry, node: RemoteNode) -> dict[str, Any]:
    return {**node.model_dump(), "configured": registry.is_configured(node.aet)}


async def list_remotes(request: Request) -> Response:
    registry = registry_of(request)
    return json_response([_shown(registry, node) for node in registry.nodes()])


async def get_remote(request: Request) -> Response:
    registry = registry_of(request)
    aet = request.path_params["aet"]
    node = registry.get(aet)
    if node is None:
        raise NotFound(f"no remote node {aet}")
    return json_response(_shown(registry, node))


async def put_remote(request: Request) -> Response:
    body = await json_body(request)
    aet = request.path_params["aet"]
    if body.get("aet", aet) != aet:
        raise BadRequest(f"the body names {body['aet']!r}, the path {aet!r}", attribute="aet")
    return _stored(request, {**body, "aet": aet})


async def post_remote(request: Request) -> Response:
    return _stored(request, await json_body(request))


async def delete_remote(request: Request) -> Response:
    registry_of(request).delete(request.path_params["aet"])
    return Response(status_code=204)


def _stored(request: Request, body: dict[str, Any]) -> Response:
    try:
        node = RemoteNode.model_validate(body)
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(part) for part in problem["loc"])
        raise BadRequest(f"{field}: {problem['msg']}", attribute=field or None) from None
    registry = registry_of(request)
    created = registry.put(node)
    return json_response(_shown(registry, node), 201 if created else 200)


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


routes = [
    Route("/remotes", list_remotes, methods=["GET"]),
    Route("/remotes", post_remote, methods=["POST"]),
    Route("/remotes/{aet}", get_remote, methods=["GET"]),
    Route("/remotes/{aet}", put_remote, methods=["PUT"]),
    Route("/remotes/{aet}", delete_remote, methods=["DELETE"]),
]
