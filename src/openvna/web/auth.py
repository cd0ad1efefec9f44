"""API keys: the SIIM servers' ``apikey`` header, or ``Authorization: Bearer <key>``."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from openvna.web.errors import error_response

__all__ = ["ApiKeyMiddleware"]


class ApiKeyMiddleware:
    """Refuse every HTTP request without a configured key (401). CORS preflights pass."""

    def __init__(self, app: ASGIApp, keys: list[str]) -> None:
        self.app = app
        self.keys = [key.encode() for key in keys]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        response = error_response(
            401, "an API key is required: send it in the 'apikey' header or as a Bearer token"
        )
        await response(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        headers = dict(scope["headers"])
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            return True
        offered = headers.get(b"apikey")
        authorization = headers.get(b"authorization", b"")
        if offered is None and authorization[:7].lower() == b"bearer ":
            offered = authorization[7:].strip()
        if offered is None:
            return False
        return any(hmac.compare_digest(offered, key) for key in self.keys)
