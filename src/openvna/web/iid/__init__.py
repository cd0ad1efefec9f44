"""The browser entries: IHE Invoke Image Display and the OHIF viewer served at /viewer."""

from __future__ import annotations

from starlette.routing import BaseRoute

from openvna.web.iid import invoke, viewer
from openvna.web.iid.invoke import IID_PATH
from openvna.web.iid.ohif import VIEWER_PREFIX
from openvna.web.iid.pages import credentials_page

__all__ = ["ENTRIES", "IID_PATH", "VIEWER_PREFIX", "credentials_page", "routes"]

# Where a key may come in the URL and is exchanged for a session cookie (web/auth.py); the
# explorer (web/ui) is one too.
ENTRIES = (IID_PATH, VIEWER_PREFIX, "/ui")

routes: list[BaseRoute] = [*invoke.routes, *viewer.routes]
