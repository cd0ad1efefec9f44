"""The DUL's direct receive (a P-DATA-TF PDU's items as pynetdicom decodes them, or none), and
its loop's pause."""

from __future__ import annotations

import struct
import time

import pynetdicom.dul
import pytest
from pynetdicom.pdu import P_DATA_TF

from openvna.dimse.reactor import install, received_pdvs


def _pdv_item(context_id: int, control: int, fragment: bytes) -> bytes:
    return struct.pack(">IBB", len(fragment) + 2, context_id, control) + fragment


def test_a_received_pdus_items_as_pynetdicom_decodes_them() -> None:
    """The PDVs handed to DIMSE straight from a P-DATA-TF PDU's body are those of pynetdicom's
    decoder: context IDs, message control headers, fragments."""
    body = _pdv_item(1, 0x03, b"\x00\x00" * 20) + _pdv_item(3, 0x00, bytes(range(200)))
    primitive = received_pdvs(body)
    assert primitive is not None
    pdu = P_DATA_TF()
    pdu.decode(struct.pack(">BBI", 4, 0, len(body)) + body)
    expected = pdu.to_primitive().presentation_data_value_list
    assert [(c, bytes(v)) for c, v in primitive.presentation_data_value_list] == expected


@pytest.mark.parametrize(
    "body",
    [
        b"",  # no item
        struct.pack(">IB", 1, 1),  # an item without its message control header
        _pdv_item(1, 0x02, b"abcd")[:-1],  # an item longer than the PDU
        _pdv_item(1, 0x02, b"abcd") + b"\x00\x00",  # bytes left after the last item
    ],
)
def test_received_items_that_do_not_add_up_are_left_to_pynetdicom(body: bytes) -> None:
    assert received_pdvs(body) is None


def test_the_duls_pause_between_passes_keeps_the_interpreter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pynetdicom's DUL loop sleeps ``_run_loop_delay`` (0 here) after a pass that queued no
    event: once installed, a zero sleep returns without going through ``time.sleep`` (which lets
    go of the GIL), and a real one still sleeps."""
    install()
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    clock = vars(pynetdicom.dul)["time"]
    clock.sleep(0)
    clock.sleep(0.25)
    assert slept == [0.25]
    assert clock.monotonic is time.monotonic
