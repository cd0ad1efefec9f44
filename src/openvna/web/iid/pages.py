"""The small HTML pages of the browser entries: errors, no match, not installed, credentials.

Every text that came with the request goes through ``html.escape`` (quotes included) before it
reaches a page, so no parameter is ever reflected as markup. Each page carries the
``frame-ancestors`` policy (CSP Level 2 §7.7.3) of the settings, as the viewer does.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from openvna.settings import Settings
from openvna.web.context import settings_of
from openvna.web.errors import error_response

__all__ = ["credentials_page", "frame_headers", "message_page", "not_installed_page"]

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:46em;margin:3em auto;padding:0 1em;"
    "color:#222}h1{font-size:1.4em}code,pre{background:#f3f3f3;padding:.1em .3em}"
    "input{font-size:1em;padding:.3em}"
)


def frame_headers(settings: Settings) -> dict[str, str]:
    """CSP ``frame-ancestors`` from the settings ('self' by default), and no MIME sniffing."""
    sources = " ".join(settings.viewer.frame_ancestors) or "'none'"
    return {
        "Content-Security-Policy": f"frame-ancestors {sources}",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


def _page(settings: Settings, title: str, body: str, status: int) -> HTMLResponse:
    html = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)} · openvna</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=frame_headers(settings))


def message_page(request: Request, status: int, title: str, *lines: str) -> HTMLResponse:
    """A page with a title and paragraphs of plain text (escaped here)."""
    body = "".join(f"<p>{escape(line)}</p>" for line in lines)
    return _page(settings_of(request), title, body, status)


def not_installed_page(request: Request) -> HTMLResponse:
    """What /viewer and IID answer while OHIF is not installed: how to install it (503)."""
    body = (
        "<p>The OHIF viewer is not installed on this server.</p>"
        "<p>Install it (it downloads the pinned <code>@ohif/app</code> from the npm registry "
        "and checks its SHA-512), then reload this page:</p>"
        "<pre>openvna viewer install</pre>"
    )
    return _page(settings_of(request), "Viewer not installed", body, 503)


def credentials_page(request: Request, status: int, reason: str) -> Response:
    """The 401 of a browser entry: a form that asks for the API key and comes back here; a
    script's request (no text/html in Accept: the explorer's fetches) gets the JSON error."""
    if "text/html" not in request.headers.get("accept", ""):
        return error_response(status, reason)
    hidden = "".join(
        f"<input type='hidden' name='{escape(name)}' value='{escape(value)}'>"
        for name, value in _kept(request.query_params.multi_items())
    )
    body = (
        f"<p>{escape(reason)}.</p>"
        "<form method='get'>"
        f"{hidden}<label>API key <input type='password' name='apikey' autocomplete='off' "
        "autofocus required></label> <button type='submit'>Open</button></form>"
    )
    page = _page(settings_of(request), "Credentials required", body, status)
    page.headers["WWW-Authenticate"] = 'Bearer realm="openvna", apikey'
    return page


def _kept(items: Iterable[tuple[str, str]]) -> Iterable[tuple[str, str]]:
    return ((name, value) for name, value in items if name != "apikey")
