"""The ``openvna.http.response.sendfiles`` ASGI extension: what the app hands a server that sends
stored files itself (``openvna.server.zerocopy`` implements it on uvicorn).

One ``SENDFILES`` message carries a whole body: header bytes and ``SendFile`` items, ranges of
files by path, as in ASGI's ``http.response.pathsend`` but many per message (a study's 500 files in
one message rather than 500 ASGI round trips). A server that does not offer it gets bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["SENDFILES", "SendFile"]

SENDFILES: Final = "openvna.http.response.sendfiles"


@dataclass(frozen=True)
class SendFile:
    """Ranges of a file to send as they are, and what the file must hold.

    ``size``, when given, is the file's exact size; otherwise it must reach the end of every
    range. A file that does not (or is gone) ends the response with an error: the
    Content-Length the client was promised cannot be kept.
    """

    path: str
    ranges: tuple[tuple[int, int], ...]
    size: int | None = None

    @property
    def length(self) -> int:
        return sum(count for _, count in self.ranges)
