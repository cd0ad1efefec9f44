"""JSON log lines: the message, the extra fields, no terminal colour codes."""

from __future__ import annotations

import logging

import orjson

from openvna.logs import JsonFormatter


def _line(**extra: object) -> dict[str, object]:
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, "Started %d", (7,), None)
    record.__dict__.update(extra)
    parsed: dict[str, object] = orjson.loads(JsonFormatter().format(record))
    return parsed


def test_a_line_carries_the_message_and_extra_fields() -> None:
    line = _line(workers=2)
    assert (line["level"], line["logger"], line["msg"], line["workers"]) == (
        "info",
        "uvicorn.error",
        "Started 7",
        2,
    )


def test_uvicorns_coloured_copy_of_the_message_is_left_out() -> None:
    line = _line(color_message="Started \x1b[36m%d\x1b[0m")
    assert "color_message" not in line
    assert "\x1b" not in orjson.dumps(line).decode()
