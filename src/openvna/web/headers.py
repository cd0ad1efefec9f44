"""The Warning header (RFC 9111 §5.5 as PS3.18 §8.6.3 uses it), written one way for every answer:
STOW-RS failures and warnings, QIDO-RS's unsupported keys and further results, error bodies."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["warning_header"]

_MAX_TEXT = 400  # characters of one warning's text
_MAX_WARNINGS = 20  # warnings in one header
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def warning_header(texts: Iterable[str]) -> dict[str, str]:
    """``Warning: 299 openvna "<text>"``, one per text (299: miscellaneous persistent warning).
    A header is Latin-1 and the text a quoted string: non-ASCII becomes ``?``, a double quote
    a single one, a backslash a quoted pair (RFC 9110 §5.6.4); long texts and lists are cut so
    the header stays within what servers pass."""
    warnings = []
    for text in list(texts)[:_MAX_WARNINGS]:
        ascii_text = text.encode("ascii", "replace").decode().replace('"', "'")
        # Control characters (a line break in a library's message, a NUL from a value quoted
        # back) cannot be in a header: found by fuzzing STOW-RS, where they cost the answer.
        safe = _CONTROL.sub(" ", ascii_text).replace("\\", "\\\\")[:_MAX_TEXT]
        warnings.append(f'299 openvna "{safe}"')
    return {"Warning": ", ".join(warnings)} if warnings else {}
