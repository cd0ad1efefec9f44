"""UID validation and generation (PS3.5 §9 and Annex B.2)."""

from __future__ import annotations

import re
import uuid

from openvna.errors import InvalidUID

__all__ = ["MAX_UID_LENGTH", "generate_uid", "is_valid_uid", "require_uid"]

MAX_UID_LENGTH = 64
# PS3.5 §9.1: components of digits separated by '.', no leading zero in a multi-digit component.
_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


def is_valid_uid(value: str) -> bool:
    """Answer whether ``value`` is a UID per PS3.5 §9.1 (digits and dots, at most 64 characters)."""
    return len(value) <= MAX_UID_LENGTH and _UID.match(value) is not None


def require_uid(value: str, attribute: str = "UID") -> str:
    """Return ``value`` if it is a valid UID, else raise: nothing unchecked reaches a path."""
    if not is_valid_uid(value):
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InvalidUID(f"{attribute} {shown!r} is not a valid DICOM UID", attribute=attribute)
    return value


def generate_uid() -> str:
    """Derive a UID from a random UUID (PS3.5 B.2), so that no registered root is needed."""
    return f"2.25.{uuid.uuid4().int}"
