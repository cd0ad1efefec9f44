"""Blob stores: the BlobStore port and its implementations."""

from openvna.storage.base import BlobStore, Flushing
from openvna.storage.filesystem import FilesystemBlobStore
from openvna.storage.inflight import Leftovers
from openvna.storage.memory import MemoryBlobStore

__all__ = ["BlobStore", "FilesystemBlobStore", "Flushing", "Leftovers", "MemoryBlobStore"]
