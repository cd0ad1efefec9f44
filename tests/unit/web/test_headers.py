"""The Warning header carries any message a library or a client's value may put in it."""

from __future__ import annotations

import re

from openvna.web.headers import warning_header

# RFC 9110 §5.5 field-value characters: visible ASCII, space and tab (no controls).
_FIELD_VALUE = re.compile(r"^[\x20-\x7e\t]*$")


def test_control_characters_quotes_and_backslashes_become_a_valid_header() -> None:
    header = warning_header(['C000 part 1: bad value b"\\x00\\n"\r\nX-Injected: 1', "café\x00"])
    value = header["Warning"]
    assert _FIELD_VALUE.match(value)
    assert value == (
        '299 openvna "C000 part 1: bad value b\'\\\\x00\\\\n\'  X-Injected: 1", 299 openvna "caf? "'
    )
