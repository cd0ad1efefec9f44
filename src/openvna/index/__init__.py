"""The SQL index of the archive (SQLite or PostgreSQL through SQLAlchemy Core 2)."""

# index.resources adds its tables to the shared metadata: imported before create_all runs.
from openvna.index import resources
from openvna.index.core import Index, Matches
from openvna.index.engine import create_index
from openvna.index.records import (
    AddResult,
    InstanceLocation,
    InstanceRecord,
    Page,
)

__all__ = [
    "AddResult",
    "Index",
    "InstanceLocation",
    "InstanceRecord",
    "Matches",
    "Page",
    "create_index",
    "resources",
]
