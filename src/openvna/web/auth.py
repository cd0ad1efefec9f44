"""API keys: the SIIM servers' ``apikey`` header, or ``Authorization: Bearer <key>``."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from openvna.web.errors import error_response

__all__ = ["ApiKeyMiddleware"]


Refusal = Callable[[Request, int, str], Response]


class ApiKeyMiddleware:
    """Refuse every HTTP request without a configured key (401). CORS preflights pass, and so
    do the ``open_paths`` (FHIR's ``/fhir/metadata``: R4 http.html#capabilities). A door whose
    protocol has its own error body names it in ``refusals`` by path prefix (FHIR answers an
    OperationOutcome)."""

    def __init__(
        self,
        app: ASGIApp,
        keys: list[str],
        open_paths: frozenset[str] = frozenset(),
        refusals: Mapping[str, Refusal] | None = None,
    ) -> None:
        self.app = app
        self.keys = [key.encode() for key in keys]
        self.open_paths = open_paths
        self.refusals = dict(refusals or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = None if scope["type"] != "http" else self._refusal(scope)
        if refusal is None or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        await self._answer(scope, refusal)(scope, receive, send)

    def _answer(self, scope: Scope, refusal: str) -> ASGIApp:
        path = scope["path"]
        for prefix, answer in self.refusals.items():
            if path == prefix or path.startswith(prefix + "/"):
                return answer(Request(scope), 401, refusal)
        return error_response(401, refusal)

    def _refusal(self, scope: Scope) -> str | None:
        """Why the request is refused, or None when it may pass. A key that was sent but is not
        one of ours is told apart from a missing one: the operator's fix differs."""
        headers = dict(scope["headers"])
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            return None
        offered = headers.get(b"apikey")
        authorization = headers.get(b"authorization", b"")
        if offered is None and authorization[:7].lower() == b"bearer ":
            offered = authorization[7:].strip()
        if offered is None:
            return "an API key is required: send it in the 'apikey' header or as a Bearer token"
        if any(hmac.compare_digest(offered, key) for key in self.keys):
            return None
        return "the API key is wrong: it is not one this server accepts"
