"""The archive's error hierarchy.

Services raise only these; each door maps them in one place (web/errors.py to an HTTP status and
body, dimse/status.py to a DIMSE status, cli/main.py to an exit code)::

    ArchiveError                       500 / 0xC000
    ├── BadRequest                     400
    │   ├── InvalidUID
    │   ├── InvalidQuery
    │   └── InvalidDicom
    ├── Forbidden                      403
    ├── NotFound                       404
    ├── NotAcceptable                  406
    ├── PayloadTooLarge                413
    ├── UnsupportedMediaType           415
    ├── BadGateway                     502
    ├── OutOfResources                 503 / 0xA700
    └── IndexUnavailable               503
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "ArchiveError",
    "BadGateway",
    "BadRequest",
    "Forbidden",
    "IndexUnavailable",
    "InvalidDicom",
    "InvalidQuery",
    "InvalidUID",
    "NotAcceptable",
    "NotFound",
    "OutOfResources",
    "PayloadTooLarge",
    "UnsupportedMediaType",
]


class ArchiveError(Exception):
    """Base of every error a service raises; the message is safe to show to a client."""

    http_status: ClassVar[int] = 500
    dimse_status: ClassVar[int] = 0xC000

    def __init__(
        self, message: str, *, attribute: str | None = None, uid: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.attribute = attribute
        self.uid = uid


class BadRequest(ArchiveError):
    http_status = 400
    dimse_status = 0xA900


class InvalidUID(BadRequest):
    pass


class InvalidQuery(BadRequest):
    pass


class InvalidDicom(BadRequest):
    dimse_status = 0xC000


class Forbidden(ArchiveError):
    """Known, but not allowed (a remote node without the right an operation needs)."""

    http_status = 403
    dimse_status = 0x0124  # PS3.7 C.5.20 Refused: Not Authorized


class NotFound(ArchiveError):
    http_status = 404
    dimse_status = 0xC000


class NotAcceptable(ArchiveError):
    http_status = 406


class PayloadTooLarge(ArchiveError):
    http_status = 413
    dimse_status = 0xA700


class UnsupportedMediaType(ArchiveError):
    http_status = 415


class BadGateway(ArchiveError):
    """A remote node (DIMSE peer) could not be reached, refused the association or answered
    with a failure; the message says which, with the peer's reason."""

    http_status = 502


class OutOfResources(ArchiveError):
    http_status = 503
    dimse_status = 0xA700


class IndexUnavailable(ArchiveError):
    http_status = 503
    dimse_status = 0xA700
