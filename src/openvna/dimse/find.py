"""C-FIND SCP, Patient Root and Study Root (PS3.4 C.4.1): the archive's streaming find.

One pending response per match, read from ``Archive.find`` in pages as the responses go out, so
that a C-CANCEL (checked before each response, PS3.4 C.4.1.2.3) stops the reading; then success.
A pending response whose identifier is encoded here is written by this thread
(``encoding.PendingFindResponses``); pynetdicom sends the others, the final one and failures.
Combined date-time matching applies when the peer asked for it by extended negotiation and it was
accepted (PS3.4 C.5.1.1.1, byte 2; ``negotiation.combined_datetime``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydicom import Dataset

from openvna.archive import Archive
from openvna.dimse.encoding import EncodedIdentifier, PendingFindResponses
from openvna.dimse.identifier import find_query, implicit_little_endian, response_identifier
from openvna.dimse.negotiation import combined_datetime
from openvna.dimse.store import status_of
from openvna.errors import ArchiveError, InvalidQuery

if TYPE_CHECKING:
    from pynetdicom.events import Event

__all__ = ["find_matches"]

log = logging.getLogger("openvna.dimse")

PENDING = 0xFF00
CANCEL = 0xFE00
IDENTIFIER_DOES_NOT_MATCH = 0xA900
UNABLE_TO_PROCESS = 0xC000

FindResponse = tuple[int | Dataset, Dataset | EncodedIdentifier | None]


def find_matches(event: Event, archive: Archive, ae_title: str) -> Iterator[FindResponse]:
    """The responses to one C-FIND request."""
    try:
        query = find_query(event.identifier, combined_datetime=combined_datetime(event))
    except InvalidQuery as exc:
        yield status_of(IDENTIFIER_DOES_NOT_MATCH, exc.message), None
        return
    except Exception as exc:  # an identifier pydicom cannot decode
        yield status_of(IDENTIFIER_DOES_NOT_MATCH, f"cannot read the identifier: {exc}"), None
        return
    implicit = implicit_little_endian(event.context.transfer_syntax)
    request = event.request
    direct = PendingFindResponses.of(
        event.assoc.dimse, request.AffectedSOPClassUID, request.MessageID, event.context.context_id
    )
    try:
        for match in archive.find(query):
            if event.is_cancelled:
                yield CANCEL, None
                return
            if not event.assoc.is_established:
                return  # aborted: pynetdicom, which checks after each answer, sees none here
            identifier = response_identifier(match, query, ae_title, implicit)
            if direct is not None and isinstance(identifier, EncodedIdentifier):
                direct.send(identifier.data)
            else:
                yield PENDING, identifier
    except ArchiveError as exc:
        log.warning("C-FIND failed: %s", exc.message)
        yield status_of(UNABLE_TO_PROCESS, exc.message), None
        return
    yield 0x0000, None
