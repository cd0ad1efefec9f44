"""What every handler reaches through its request: the archive and the settings the app was
built with (``create_app``), typed here once instead of read from Starlette's untyped state."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from openvna.archive import Archive
from openvna.settings import Settings

__all__ = ["archive_of", "settings_of"]


def archive_of(request: HTTPConnection) -> Archive:
    archive = request.app.state.archive
    if not isinstance(archive, Archive):
        raise TypeError("the app has no archive: build it with web.app.create_app")
    return archive


def settings_of(request: HTTPConnection) -> Settings:
    settings = request.app.state.settings
    if not isinstance(settings, Settings):
        raise TypeError("the app has no settings: build it with web.app.create_app")
    return settings
