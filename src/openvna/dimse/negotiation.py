"""Extended negotiation of the query/retrieve SOP classes (PS3.4 C.5.1.1, C.5.2.1, C.5.3.1).

C-FIND's service class application information has up to four bytes, each a flag the SCP
answers: relational queries (byte 1), combined date-time matching (byte 2), fuzzy semantic
matching of person names (byte 3), timezone query adjustment (byte 4). openvna matches
relationally (QIDO-RS's query on any level's attributes) and combines date and time ranges when
asked; it does neither fuzzy matching nor timezone adjustment, so it answers those 0. C-MOVE and
C-GET have one byte, relational retrieval, which it grants (any unique key list at any level).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from openvna.dimse.contexts import FIND_MODELS, GET_MODELS, MOVE_MODELS

if TYPE_CHECKING:
    from pynetdicom.events import Event

__all__ = ["combined_datetime", "extended_negotiation"]

_FIND_GRANTED: tuple[int, ...] = (
    1,
    1,
    0,
    0,
)  # relational, combined date-time, no fuzzy, no timezone
_RETRIEVE_GRANTED: tuple[int, ...] = (1,)


def extended_negotiation(event: Event) -> dict[str, bytes]:
    """The EVT_SOP_EXTENDED answer: each asked flag granted when supported, one byte for each
    byte asked (C.5.1.1.2: the response has no more bytes than the request)."""
    answer: dict[str, bytes] = {}
    app_info: dict[str, bytes] = event.app_info  # type: ignore[attr-defined]
    for uid, asked in app_info.items():
        if uid in FIND_MODELS:
            granted = _FIND_GRANTED
        elif uid in MOVE_MODELS or uid in GET_MODELS:
            granted = _RETRIEVE_GRANTED
        else:
            continue
        flags = bytes(
            int(bool(flag) and index < len(granted) and bool(granted[index]))
            for index, flag in enumerate(asked[:4])
        )
        answer[uid] = flags
    return answer


def combined_datetime(event: Event) -> bool:
    """Whether combined date-time matching was granted for the C-FIND's SOP class."""
    info = event.assoc.acceptor.sop_class_extended.get(event.context.abstract_syntax, b"")
    return len(info) > 1 and info[1] == 1
