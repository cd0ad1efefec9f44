"""The archive services: store, find, retrieve, delete. No HTTP, no DIMSE here."""

from openvna.archive.batch import StoreBatch
from openvna.archive.outcome import Origin, StoreOutcome, StoreStatus
from openvna.archive.retrieve import Content, StoredInstance, Transcoder
from openvna.archive.service import Archive
from openvna.index import Matches

__all__ = [
    "Archive",
    "Content",
    "Matches",
    "Origin",
    "StoreBatch",
    "StoreOutcome",
    "StoreStatus",
    "StoredInstance",
    "Transcoder",
]
