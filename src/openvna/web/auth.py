"""API keys: the SIIM servers' ``apikey`` header, or ``Authorization: Bearer <key>``; at the
browser entries (IID, the viewer, the explorer) also an ``apikey`` URL parameter, exchanged for a
session cookie (``web/session.py``) that authorises the requests that follow."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openvna.web.errors import error_response
from openvna.web.session import Sessions

__all__ = ["ApiKeyMiddleware"]


Refusal = Callable[[Request, int, str], Response]


class ApiKeyMiddleware:
    """Refuse every HTTP request without a configured key (401). CORS preflights pass, and so
    do the ``open_paths`` (FHIR's ``/fhir/metadata``: R4 http.html#capabilities). A door whose
    protocol has its own error body names it in ``refusals`` by path prefix (FHIR answers an
    OperationOutcome; the browser entries a page that asks for the key).

    Under the ``entries`` prefixes a key may also come as the ``apikey`` URL parameter (IHE IID
    URLs are links: RAD TF-2 4.106 leaves security to ordinary HTTP); a keyed request there gets
    a session cookie, and a GET whose key was in its URL is redirected to the same URL without
    it. A valid session cookie passes anywhere, like a key."""

    def __init__(
        self,
        app: ASGIApp,
        keys: list[str],
        open_paths: frozenset[str] = frozenset(),
        refusals: Mapping[str, Refusal] | None = None,
        entries: Sequence[str] = (),
        sessions: Sessions | None = None,
    ) -> None:
        self.app = app
        self.keys = [key.encode() for key in keys]
        self.open_paths = open_paths
        self.refusals = dict(refusals or {})
        self.entries = tuple(entries)
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await self.app(scope, receive, send)
            return
        if self.sessions is not None and self.sessions.from_header(headers.get(b"cookie")):
            await self.app(scope, receive, send)
            return
        entry = _under(scope["path"], self.entries)
        offered, in_url = _offered(scope, headers, entry)
        key = None if offered is None else self._matching(offered)
        if key is None:
            refusal = (
                "an API key is required: send it in the 'apikey' header or as a Bearer token"
                if offered is None
                else "the API key is wrong: it is not one this server accepts"
            )
            await self._answer(scope, refusal)(scope, receive, send)
            return
        if not entry or self.sessions is None:
            await self.app(scope, receive, send)
            return
        cookie = self.sessions.set_cookie(
            self.sessions.issue(key), secure=scope.get("scheme") == "https"
        )
        if in_url and scope["method"] in ("GET", "HEAD"):
            await _without_key(scope, cookie)(scope, receive, send)
            return
        await self.app(scope, receive, _adding_cookie(send, cookie))

    def _matching(self, offered: bytes) -> bytes | None:
        for key in self.keys:
            if hmac.compare_digest(offered, key):
                return key
        return None

    def _answer(self, scope: Scope, refusal: str) -> ASGIApp:
        path = scope["path"]
        for prefix, answer in self.refusals.items():
            if _under(path, (prefix,)):
                return answer(Request(scope), 401, refusal)
        return error_response(401, refusal)


def _under(path: str, prefixes: Sequence[str]) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


def _offered(scope: Scope, headers: dict[bytes, bytes], entry: bool) -> tuple[bytes | None, bool]:
    """The key the request carries, and whether it came in the URL (entries only)."""
    offered = headers.get(b"apikey")
    authorization = headers.get(b"authorization", b"")
    if offered is None and authorization[:7].lower() == b"bearer ":
        offered = authorization[7:].strip()
    if offered is None and entry:
        for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
            if name == "apikey":
                return value.encode("latin-1"), True
    return offered, False


def _without_key(scope: Scope, cookie: bytes) -> Response:
    """303 to the same URL without ``apikey``: the key leaves the address bar and history."""
    query = [
        (name, value)
        for name, value in parse_qsl(
            scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
        )
        if name != "apikey"
    ]
    location = scope["path"] + ("?" + urlencode(query) if query else "")
    response = RedirectResponse(location, status_code=303)
    response.raw_headers.append((b"set-cookie", cookie))
    return response


def _adding_cookie(send: Send, cookie: bytes) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
        await send(message)

    return sending
