"""Refusals of the workitem service, each with its DIMSE status (PS3.4 Annex CC) so that
the UPS-RS door answers the HTTP status and the DIMSE door the status code, from one raise.

``web/errors.py`` maps every ``ArchiveError`` by its ``http_status``, with the message in the
Warning header as PS3.18 §11 asks of each refusal.
"""

from __future__ import annotations

from openvna.errors import ArchiveError, BadRequest, NotFound

__all__ = ["Conflict", "UnknownWorkitem", "ups_status"]


class Conflict(ArchiveError):
    """The request does not fit the workitem's state or lock (PS3.18: 409)."""

    http_status = 409

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


class UnknownWorkitem(NotFound):
    """No workitem has this UID (PS3.4 C307 "Specified SOP Instance UID does not exist")."""

    def __init__(self, uid: str) -> None:
        super().__init__(f"The workitem {uid} does not exist", uid=uid)
        self.code = 0xC307


def ups_status(error: ArchiveError) -> int:
    """The DIMSE status of a refusal: its own code; a bad request 0x0106 (Invalid Attribute
    Value, PS3.7 Annex C); else the error class's status."""
    code = getattr(error, "code", None)
    if isinstance(code, int):
        return code
    return 0x0106 if isinstance(error, BadRequest) else error.dimse_status
