"""The SQL index of the archive (SQLite or PostgreSQL through SQLAlchemy Core 2)."""

from openvna.index.core import Index
from openvna.index.engine import create_index
from openvna.index.records import (
    AddResult,
    FindResult,
    InstanceLocation,
    InstanceRecord,
    PixelDataRef,
)

__all__ = [
    "AddResult",
    "FindResult",
    "Index",
    "InstanceLocation",
    "InstanceRecord",
    "PixelDataRef",
    "create_index",
]
