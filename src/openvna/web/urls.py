"""The only builder of public URLs: the DICOMweb base that replaces BASE_MARKER in bodies."""

from __future__ import annotations

from starlette.requests import Request

from openvna.dicom.json import BASE_MARKER
from openvna.web.context import settings_of

__all__ = ["DICOMWEB_PREFIX", "dicomweb_base", "expand", "resource_url"]

DICOMWEB_PREFIX = "/dicomweb"
_MARKER = BASE_MARKER.encode()


def dicomweb_base(request: Request) -> str:
    """The DICOMweb root as the client sees it: the configured public URL, else this request's.

    Honours X-Forwarded-Proto/Host so RetrieveURLs stay reachable behind a reverse proxy.
    """
    public = settings_of(request).server.public_url
    if public:
        return public.rstrip("/") + DICOMWEB_PREFIX
    headers = request.headers
    scheme = headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
    host = (headers.get("x-forwarded-host") or headers.get("host") or "").split(",")[0].strip()
    return f"{scheme}://{_with_port(host, request)}{DICOMWEB_PREFIX}"


def _with_port(host: str, request: Request) -> str:
    """Some clients (dicomweb-client) send ``Host`` without the port they connected to; when
    that host is the very address the socket is bound to, the socket's port is the right one.
    A host naming anything else (a proxy's public name) is left as it is."""
    server = request.scope.get("server")
    if not host:
        return f"{server[0]}:{server[1]}" if server else "localhost"
    if server and host == server[0] and ":" not in host:
        return f"{host}:{server[1]}"
    return host


def expand(body: bytes, base: str) -> bytes:
    """Replace the base marker in stored JSON/XML by the real base URL (no parse).

    Split and join: 0.6 ms for a 1.3 MB study metadata body with 500 markers, where
    ``bytes.replace`` takes 1.0 ms (measured).
    """
    return base.encode().join(body.split(_MARKER))


def resource_url(base: str, study: str, series: str | None = None, sop: str | None = None) -> str:
    """The WADO-RS URL of a study, series or instance (PS3.18 §10.4.1): RetrieveURL (0008,1190)
    of QIDO-RS results and STOW-RS responses, Content-Location of retrieved parts."""
    url = f"{base}/studies/{study}"
    if series is not None:
        url += f"/series/{series}"
        if sop is not None:
            url += f"/instances/{sop}"
    return url
