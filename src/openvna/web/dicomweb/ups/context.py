"""The workitem service of the app, made once per process on first use: the tables it needs are
checked then (``ups.tables.ensure_tables``), and the app factory stays as it is for doors that
never see a workitem."""

from __future__ import annotations

import threading

from starlette.requests import HTTPConnection

from openvna.ups import Workitems
from openvna.web.context import archive_of

__all__ = ["workitems_of"]

_LOCK = threading.Lock()


def workitems_of(connection: HTTPConnection) -> Workitems:
    state = connection.app.state
    found = getattr(state, "workitems", None)
    if isinstance(found, Workitems):
        return found
    with _LOCK:
        found = getattr(state, "workitems", None)
        if not isinstance(found, Workitems):
            found = Workitems(archive_of(connection))
            state.workitems = found
    return found
