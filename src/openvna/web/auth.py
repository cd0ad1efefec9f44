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
        refusal = None if scope["type"] != "http" else self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        await error_response(401, refusal)(scope, receive, send)

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
