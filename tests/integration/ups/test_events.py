"""Subscriptions and the event channel (PS3.4 CC.2.3-CC.2.4, PS3.18 §11.10-11.13) through real
HTTP and real WebSocket clients: per workitem, global, filtered global, suspended and deleted
subscriptions; two subscribers on two servers sharing one index (SQLite and PostgreSQL) and on
the two worker processes of ``openvna serve --workers 2``."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.conftest import LiveServer
from tests.integration.ups.channel import Subscriber, worker_holding
from tests.integration.ups.workitems import JSON, change_state, completion, create, workitem
from tests.processes import serve_process

UID = "1.2.826.0.1.3680043.10.1234.7"
TX = "1.2.826.0.1.3680043.10.1234.77"
GLOBAL = "1.2.840.10008.5.1.4.34.5"
FILTERED = "1.2.840.10008.5.1.4.34.5.1"
STATE_REPORT, CANCEL_REQUESTED, PROGRESS, ASSIGNED = 1, 2, 3, 5


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def _life_of_a_workitem(
    client: httpx.Client,
    subscribe_to: str,
    change_at: str,
    performer: Subscriber,
    monitor: Subscriber,
) -> None:
    """Claim, progress, a cancellation request and the performer's cancel, each seen by both."""
    assert change_state(client, change_at, UID, "IN PROGRESS", TX).status_code == 200
    for subscriber in (performer, monitor):
        subscriber.wait_for(UID, STATE_REPORT, "IN PROGRESS")
    progress = {"00741002": {"vr": "SQ", "Value": [{"00741004": {"vr": "DS", "Value": [30]}}]}}
    client.post(f"{change_at}/workitems/{UID}?transaction-uid={TX}", json=progress, headers=JSON)
    report = monitor.wait_for(UID, PROGRESS)
    assert report["00741002"]["Value"][0]["00741004"]["Value"] == [30]
    reason = {
        "00741238": {"vr": "LT", "Value": ["wrong patient"]},
        "0074100C": {"vr": "PN", "Value": [{"Alphabetic": "Reception"}]},
    }
    answer = client.post(f"{subscribe_to}/workitems/{UID}/cancelrequest", json=reason, headers=JSON)
    assert answer.status_code == 202
    asked = performer.wait_for(UID, CANCEL_REQUESTED)
    assert asked["00741238"]["Value"] == ["wrong patient"]
    assert asked["00000002"]["Value"] == ["1.2.840.10008.5.1.4.34.6.1"]
    monitor.wait_for(UID, CANCEL_REQUESTED)
    assert change_state(client, change_at, UID, "CANCELED", TX).status_code == 200
    for subscriber in (performer, monitor):
        canceled = subscriber.wait_for(UID, STATE_REPORT, "CANCELED")
        assert canceled["00404041"] == {"vr": "CS", "Value": ["READY"]}


def _subscribe(client: httpx.Client, base: str, uid: str, ae_title: str, query: str = "") -> None:
    answer = client.post(f"{base}/workitems/{uid}/subscribers/{ae_title}{query}")
    assert answer.status_code == 201, answer.text


def test_two_servers_sharing_an_index(
    live_server_factory: Callable[..., LiveServer], client: httpx.Client
) -> None:
    first, second = live_server_factory(), live_server_factory()
    _subscribe(client, first.dicomweb, GLOBAL, "MONITOR", "?deletionlock=true")
    assert create(client, first.dicomweb, UID).status_code == 201
    _subscribe(client, second.dicomweb, UID, "PERFORMER")
    performer = Subscriber(first.dicomweb, "PERFORMER")
    monitor = Subscriber(second.dicomweb, "MONITOR")
    try:
        # the State Reports of subscribing and of creation (PS3.4 CC.2.3.1, CC.2.4)
        performer.wait_for(UID, STATE_REPORT, "SCHEDULED")
        monitor.wait_for(UID, STATE_REPORT, "SCHEDULED")
        _life_of_a_workitem(client, first.dicomweb, second.dicomweb, performer, monitor)
    finally:
        performer.close()
        monitor.close()


def test_two_subscribers_on_the_two_workers_of_serve(tmp_path: Path, client: httpx.Client) -> None:
    with serve_process(tmp_path / "data", "--workers", "2") as (url, process):
        workers = [
            int(pid)
            for pid in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        ]
        assert len(workers) == 2
        _subscribe(client, url, GLOBAL, "MONITOR")
        create(client, url, UID)
        _subscribe(client, url, UID, "PERFORMER")
        performer = Subscriber(url, "PERFORMER")
        held = worker_holding(performer.connection, workers)
        monitor = _on_another_worker(url, "MONITOR", held, workers)
        try:
            _life_of_a_workitem(client, url, url, performer, monitor)
        finally:
            performer.close()
            monitor.close()


def _on_another_worker(url: str, ae_title: str, taken: int, workers: list[int]) -> Subscriber:
    """A channel of ``ae_title`` held by a worker other than ``taken``. The workers accept from
    one shared socket and the kernel tends to wake the same one, so ``taken`` is stopped while
    the connection is made (the other must accept it) and continued after."""
    os.kill(taken, signal.SIGSTOP)
    try:
        subscriber = Subscriber(url, ae_title)
    finally:
        os.kill(taken, signal.SIGCONT)
    assert worker_holding(subscriber.connection, workers) != taken
    return subscriber


def test_filtered_suspended_and_deleted_subscriptions(
    live_server: LiveServer, client: httpx.Client
) -> None:
    base = live_server.dicomweb
    _subscribe(client, base, FILTERED, "CHESTS", "?ProcedureStepLabel=chest*")
    _subscribe(client, base, GLOBAL, "ALL")
    _subscribe(client, base, GLOBAL, "PAUSED")
    assert client.post(f"{base}/workitems/{GLOBAL}/subscribers/PAUSED/suspend").status_code == 200
    create(client, base, UID + "1", label="chest CT")
    create(client, base, UID + "2", label="head CT")
    chests, everyone = Subscriber(base, "CHESTS"), Subscriber(base, "ALL")
    try:
        chests.wait_for(UID + "1", STATE_REPORT, "SCHEDULED")
        everyone.wait_for(UID + "2", STATE_REPORT, "SCHEDULED")
        # PAUSED subscribes to nothing: its suspended global subscription took no new workitem
        assert client.delete(f"{base}/workitems/{GLOBAL}/subscribers/PAUSED").status_code == 200
        with pytest.raises(InvalidStatus) as refused:
            Subscriber(base, "PAUSED")
        assert refused.value.response.status_code == 404
        # ALL leaves UID2 only; it still hears of UID1
        assert client.delete(f"{base}/workitems/{UID}2/subscribers/ALL").status_code == 200
        change_state(client, base, UID + "2", "IN PROGRESS", TX)
        change_state(client, base, UID + "1", "IN PROGRESS", TX)
        everyone.wait_for(UID + "1", STATE_REPORT, "IN PROGRESS")
        chests.wait_for(UID + "1", STATE_REPORT, "IN PROGRESS")
        events = [m["00001000"]["Value"][0] for m in everyone.received + chests.received]
        assert events.count(UID + "2") == 1  # the creation report of ALL only
        # UPS Assigned when a performer is named (Event Type 5)
        station = {
            "00404025": {"vr": "SQ", "Value": [{"00080100": {"vr": "SH", "Value": ["CT1"]}}]}
        }
        client.post(f"{base}/workitems/{UID}1?transaction-uid={TX}", json=station, headers=JSON)
        assert everyone.wait_for(UID + "1", ASSIGNED)["00404025"]["Value"][0]["00080100"][
            "Value"
        ] == ["CT1"]
        client.post(
            f"{base}/workitems/{UID}1?transaction-uid={TX}", json=completion(), headers=JSON
        )
        change_state(client, base, UID + "1", "COMPLETED", TX)
        chests.wait_for(UID + "1", STATE_REPORT, "COMPLETED")
    finally:
        chests.close()
        everyone.close()


def test_subscription_refusals(live_server: LiveServer, client: httpx.Client) -> None:
    base = live_server.dicomweb
    assert client.post(f"{base}/workitems/{UID}/subscribers/AE1").status_code == 404
    create(client, base, UID)
    assert client.post(f"{base}/workitems/{UID}/subscribers/{'A' * 17}").status_code == 400
    assert (
        client.post(f"{base}/workitems/{UID}/subscribers/AE1?deletionlock=maybe").status_code == 400
    )
    assert client.post(f"{base}/workitems/{UID}/subscribers/AE1?PatientID=1").status_code == 400
    assert client.post(f"{base}/workitems/{FILTERED}/subscribers/AE1").status_code == 400
    assert (
        client.post(f"{base}/workitems/{FILTERED}/subscribers/AE1?NoSuchKey=1").status_code == 400
    )
    assert client.post(f"{base}/workitems/{UID}/subscribers/AE1/suspend").status_code == 400
    assert client.post(f"{base}/workitems/{GLOBAL}/subscribers/AE1/suspend").status_code == 404
    assert client.delete(f"{base}/workitems/{GLOBAL}/subscribers/AE1").status_code == 404
    assert client.delete(f"{base}/workitems/1.2.3.404/subscribers/AE1").status_code == 404
    for ae_title, status in (("NOBODY", 404), ("A" * 17, 400)):
        with pytest.raises(InvalidStatus) as refused:
            Subscriber(base, ae_title)
        assert refused.value.response.status_code == status


def test_the_channel_asks_for_the_api_key(live_server_factory: Callable[..., LiveServer]) -> None:
    server = live_server_factory(auth={"api_keys": ["k-123"]})
    key = {"apikey": "k-123"}
    httpx.post(f"{server.dicomweb}/workitems?{UID}", json=workitem(), headers={**JSON, **key})
    answer = httpx.post(f"{server.dicomweb}/workitems/{UID}/subscribers/AE1", headers=key)
    assert answer.status_code == 201
    for headers in ({}, {"apikey": "wrong"}):
        with pytest.raises(InvalidStatus) as refused:
            Subscriber(server.dicomweb, "AE1", headers)
        assert refused.value.response.status_code == 401
    subscriber = Subscriber(server.dicomweb, "AE1", {"Authorization": "Bearer k-123"})
    try:
        subscriber.wait_for(UID, STATE_REPORT, "SCHEDULED")
    finally:
        subscriber.close()
