"""Which associations make a DIMSE process defer its next accept (``openvna.balance``)."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest

from openvna.balance import accept_delay
from openvna.dimse import scp
from openvna.dimse.scp import DimseServer, busy_associations


def _association(**state: bool) -> SimpleNamespace:
    flags = ("is_established", "is_released", "is_aborted", "is_rejected")
    return SimpleNamespace(**{flag: state.get(flag, False) for flag in flags})


def test_an_association_still_negotiating_is_busy() -> None:
    """A peer that connected but has not sent its A-ASSOCIATE-RQ yet (two storescu started at
    once): its process must not take the next connection at once as if it were idle."""
    assert busy_associations([_association()]) == 1


def test_established_ones_are_busy_and_ended_ones_are_not() -> None:
    associations = [
        _association(is_established=True),
        _association(),  # negotiating
        _association(is_released=True),  # thread finishing after A-RELEASE
        _association(is_aborted=True),
        _association(is_rejected=True),
    ]
    assert busy_associations(associations) == 2


def _server(listening: socket.socket) -> DimseServer:
    """A DimseServer's accepting part alone (pynetdicom's set-up is not needed to accept)."""
    server = DimseServer.__new__(DimseServer)
    server._listening = listening
    server._shared = True
    return server


@pytest.mark.parametrize(
    ("associations", "wait"),
    [
        ([], 0.0),
        ([_association()], accept_delay(1)),  # negotiating: busy
        ([_association(is_established=True), _association()], accept_delay(2)),
        ([_association(is_released=True)], 0.0),
    ],
)
def test_a_process_serving_associations_waits_before_it_accepts(
    monkeypatch: pytest.MonkeyPatch, associations: list[SimpleNamespace], wait: float
) -> None:
    """The wait that lets an idle sibling process take the connection (``openvna.balance``):
    whether the sibling is scheduled within it is the kernel's affair, so this checks the wait
    itself rather than where the connections of a pair land."""
    slept: list[float] = []
    monkeypatch.setattr(scp, "time", SimpleNamespace(sleep=slept.append))
    monkeypatch.setattr(DimseServer, "active_associations", property(lambda _: associations))
    listening = socket.create_server(("127.0.0.1", 0))
    with listening, socket.create_connection(listening.getsockname()):
        client, _ = _server(listening).get_request()
        client.close()
    assert slept == [wait]
