"""UPS-RS transactions (PS3.18 ch. 11) through real HTTP, on SQLite and PostgreSQL: the life of
a workitem, every refusal with its status and reason, JSON and XML bodies, persistence."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from openvna.dicom.xml import json_to_xml, xml_to_json
from openvna.runtime import build_archive
from openvna.ups import Workitems
from tests.conftest import LiveServer
from tests.integration.ups.workitems import (
    JSON,
    change_state,
    completion,
    create,
    workitem,
)

UID = "1.2.826.0.1.3680043.10.1234.1"
TX = "1.2.826.0.1.3680043.10.1234.99"


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def _value(dataset: dict, tag: str) -> object:
    return dataset[tag]["Value"][0]


def test_lifecycle_create_claim_update_complete(
    live_server: LiveServer, client: httpx.Client
) -> None:
    base = live_server.dicomweb
    created = create(client, base, UID)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{base}/workitems/{UID}"
    assert "warning" not in created.headers

    got = client.get(f"{base}/workitems/{UID}", headers=JSON)
    assert got.status_code == 200
    [dataset] = got.json()
    assert _value(dataset, "00741000") == "SCHEDULED"
    assert _value(dataset, "00080016") == "1.2.840.10008.5.1.4.34.6.1"
    assert _value(dataset, "00080018") == UID
    assert "00081195" not in dataset  # never returned (PS3.18 §11.5)

    assert change_state(client, base, UID, "IN PROGRESS", TX).status_code == 200
    got = client.get(f"{base}/workitems/{UID}", headers=JSON).json()[0]
    assert _value(got, "00741000") == "IN PROGRESS"
    assert "00081195" not in got

    progress = {"00741002": {"vr": "SQ", "Value": [{"00741004": {"vr": "DS", "Value": [50]}}]}}
    updated = client.post(
        f"{base}/workitems/{UID}?transaction-uid={TX}", json=progress, headers=JSON
    )
    assert updated.status_code == 200, updated.text
    done = client.post(
        f"{base}/workitems/{UID}",
        json={**completion(), "00081195": {"vr": "UI", "Value": [TX]}},
        headers=JSON,
    )
    assert done.status_code == 200, done.text

    assert change_state(client, base, UID, "COMPLETED", TX).status_code == 200
    got = client.get(f"{base}/workitems/{UID}", headers=JSON).json()[0]
    assert _value(got, "00741000") == "COMPLETED"
    assert got["00741002"]["Value"][0]["00741004"]["Value"] == [50]

    again = change_state(client, base, UID, "COMPLETED", TX)
    assert again.status_code == 200
    assert "already in the requested state of COMPLETED" in again.headers["warning"]


def test_create_refusals(live_server: LiveServer, client: httpx.Client) -> None:
    base = live_server.dicomweb
    assert create(client, base, UID).status_code == 201
    duplicate = create(client, base, UID)
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.headers["warning"]

    missing = workitem()
    del missing["00741204"]
    answer = client.post(
        f"{base}/workitems?AffectedSOPInstanceUID=1.2.3.4", json=missing, headers=JSON
    )
    assert answer.status_code == 400
    assert "Procedure Step Label" in answer.headers["warning"]

    wrong_state = workitem(**{"00741000": {"vr": "CS", "Value": ["IN PROGRESS"]}})
    answer = client.post(f"{base}/workitems?1.2.3.5", json=wrong_state, headers=JSON)
    assert answer.status_code == 400 and "SCHEDULED" in answer.headers["warning"]

    locked = workitem(**{"00081195": {"vr": "UI", "Value": [TX]}})
    answer = client.post(f"{base}/workitems?1.2.3.6", json=locked, headers=JSON)
    assert answer.status_code == 400 and "Transaction UID" in answer.headers["warning"]

    bad_priority = workitem(**{"00741200": {"vr": "CS", "Value": ["URGENT"]}})
    assert (
        client.post(f"{base}/workitems?1.2.3.7", json=bad_priority, headers=JSON).status_code == 400
    )
    assert (
        client.post(f"{base}/workitems?1.2.3.8", content=b"{not json", headers=JSON).status_code
        == 400
    )
    assert (
        client.post(
            f"{base}/workitems?1.2.3.9",
            content=b"<x/>",
            headers={"Content-Type": "application/dicom+xml"},
        ).status_code
        == 400
    )
    assert (
        client.post(
            f"{base}/workitems?1.2.3.10", content=b"hello", headers={"Content-Type": "text/plain"}
        ).status_code
        == 415
    )
    assert client.post(f"{base}/workitems?1.2.x", json=workitem(), headers=JSON).status_code == 400
    bad_model = {"00741204": {"vr": "XX", "Value": ["a"]}}
    assert (
        client.post(f"{base}/workitems?1.2.3.11", json=bad_model, headers=JSON).status_code == 400
    )
    # nothing of the refused requests was stored
    found = client.get(f"{base}/workitems", headers=JSON).json()
    assert [_value(d, "00080018") for d in found] == [UID]


def test_create_completes_type2_with_a_warning_and_generates_a_uid(
    live_server: LiveServer, client: httpx.Client
) -> None:
    base = live_server.dicomweb
    minimal = {
        tag: workitem()[tag] for tag in ("00741000", "00741200", "00741204", "00404005", "00404041")
    }
    answer = client.post(f"{base}/workitems", json=minimal, headers=JSON)
    assert answer.status_code == 201
    assert "created with modifications" in answer.headers["warning"]
    uid = answer.headers["location"].rsplit("/", 1)[1]
    dataset = client.get(answer.headers["location"], headers=JSON).json()[0]
    assert _value(dataset, "00080018") == uid
    assert dataset["00100010"] == {"vr": "PN"}
    assert _value(dataset, "00741202") == "OPENVNA"  # the SCP fills an empty Worklist Label


def test_state_refusals(live_server: LiveServer, client: httpx.Client) -> None:
    base = live_server.dicomweb
    assert change_state(client, base, UID, "IN PROGRESS", TX).status_code == 404
    create(client, base, UID)
    scheduled_to_final = change_state(client, base, UID, "COMPLETED", TX)
    assert scheduled_to_final.status_code == 409
    assert "SCHEDULED" in scheduled_to_final.headers["warning"]
    assert change_state(client, base, UID, "SCHEDULED", TX).status_code == 400
    assert change_state(client, base, UID, "IN PROGRESS", None).status_code == 400
    assert change_state(client, base, UID, "IN PROGRESS", "not-a-uid").status_code == 400
    assert change_state(client, base, UID, "IN PROGRESS", TX).status_code == 200
    twice = change_state(client, base, UID, "IN PROGRESS", TX + "1")
    assert twice.status_code == 409 and "already IN PROGRESS" in twice.headers["warning"]
    wrong = change_state(client, base, UID, "CANCELED", TX + "1")
    assert wrong.status_code == 409 and "Transaction UID is incorrect" in wrong.headers["warning"]
    unfinished = change_state(client, base, UID, "COMPLETED", TX)
    assert unfinished.status_code == 409
    assert "Performed Procedure Sequence" in unfinished.headers["warning"]
    # the spelling of PS3.18 2019 §11.7.1.4 is accepted
    assert change_state(client, base, UID, "CANCELLED", TX).status_code == 200
    cross = change_state(client, base, UID, "COMPLETED", TX)
    assert cross.status_code == 409
    dataset = client.get(f"{base}/workitems/{UID}", headers=JSON).json()[0]
    assert _value(dataset, "00741000") == "CANCELED"
    progress = dataset["00741002"]["Value"][-1]
    assert "00404052" in progress  # the SCP recorded when it was canceled


def test_update_refusals(live_server: LiveServer, client: httpx.Client) -> None:
    base = live_server.dicomweb
    comment = {"00400400": {"vr": "LT", "Value": ["please hurry"]}}
    assert client.post(f"{base}/workitems/{UID}", json=comment, headers=JSON).status_code == 404
    create(client, base, UID)
    assert (
        client.post(
            f"{base}/workitems/{UID}?transaction={TX}", json=comment, headers=JSON
        ).status_code
        == 409
    )
    assert client.post(f"{base}/workitems/{UID}", json=comment, headers=JSON).status_code == 200
    state = {"00741000": {"vr": "CS", "Value": ["COMPLETED"]}}
    assert client.post(f"{base}/workitems/{UID}", json=state, headers=JSON).status_code == 400
    empty_label = {"00741204": {"vr": "LO"}}
    assert client.post(f"{base}/workitems/{UID}", json=empty_label, headers=JSON).status_code == 400
    change_state(client, base, UID, "IN PROGRESS", TX)
    missing = client.post(f"{base}/workitems/{UID}", json=comment, headers=JSON)
    assert missing.status_code == 409 and "Transaction UID is missing" in missing.headers["warning"]
    wrong = client.post(f"{base}/workitems/{UID}?Transaction-uid=1.2.3", json=comment, headers=JSON)
    assert wrong.status_code == 409
    change_state(client, base, UID, "CANCELED", TX)
    final = client.post(f"{base}/workitems/{UID}?transaction-uid={TX}", json=comment, headers=JSON)
    assert final.status_code == 400
    dataset = client.get(f"{base}/workitems/{UID}", headers=JSON).json()[0]
    assert _value(dataset, "00400400") == "please hurry"


def test_cancellation_requests(live_server: LiveServer, client: httpx.Client) -> None:
    base = live_server.dicomweb
    assert client.post(f"{base}/workitems/{UID}/cancelrequest").status_code == 404
    create(client, base, UID)
    reason = {"00741238": {"vr": "LT", "Value": ["patient left"]}}
    answer = client.post(f"{base}/workitems/{UID}/cancelrequest", json=reason, headers=JSON)
    assert answer.status_code == 202
    dataset = client.get(f"{base}/workitems/{UID}", headers=JSON).json()[0]
    assert _value(dataset, "00741000") == "CANCELED"
    assert _value(dataset["00741002"]["Value"][-1], "00741238") == "patient left"
    again = client.post(f"{base}/workitems/{UID}/cancelrequest")
    assert again.status_code == 202 and "already" in again.headers["warning"]

    other = UID + "2"
    create(client, base, other)
    change_state(client, base, other, "IN PROGRESS", TX)
    assert client.post(f"{base}/workitems/{other}/cancelrequest").status_code == 202
    dataset = client.get(f"{base}/workitems/{other}", headers=JSON).json()[0]
    assert _value(dataset, "00741000") == "IN PROGRESS"  # the performer decides
    bad = {"00100020": {"vr": "LO", "Value": ["x"]}}
    assert (
        client.post(f"{base}/workitems/{other}/cancelrequest", json=bad, headers=JSON).status_code
        == 400
    )
    client.post(
        f"{base}/workitems/{other}",
        json={**completion(), "00081195": {"vr": "UI", "Value": [TX]}},
        headers=JSON,
    )
    change_state(client, base, other, "COMPLETED", TX)
    completed = client.post(f"{base}/workitems/{other}/cancelrequest")
    assert completed.status_code == 409


def test_retrieve_refusals_and_xml(live_server: LiveServer, client: httpx.Client) -> None:
    base = live_server.dicomweb
    assert client.get(f"{base}/workitems/{UID}").status_code == 404
    assert client.get(f"{base}/workitems/1.2.abc").status_code == 400
    xml = json_to_xml(workitem(label="XML made"))
    answer = client.post(
        f"{base}/workitems?{UID}", content=xml, headers={"Content-Type": "application/dicom+xml"}
    )
    assert answer.status_code == 201, answer.text
    boundary = "b0undary"
    multipart = (
        f"--{boundary}\r\nContent-Type: application/dicom+xml\r\n\r\n".encode()
        + json_to_xml(workitem(label="multipart"))
        + f"\r\n--{boundary}--\r\n".encode()
    )
    content_type = f'multipart/related; type="application/dicom+xml"; boundary={boundary}'
    answer = client.post(
        f"{base}/workitems?{UID}.2", content=multipart, headers={"Content-Type": content_type}
    )
    assert answer.status_code == 201, answer.text
    got = client.get(
        f"{base}/workitems/{UID}",
        headers={"Accept": 'multipart/related; type="application/dicom+xml"'},
    )
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("multipart/related")
    document = got.content.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0]
    assert _value(xml_to_json(document), "00741204") == "XML made"
    assert (
        _value(client.get(f"{base}/workitems/{UID}.2", headers=JSON).json()[0], "00741204")
        == "multipart"
    )


def test_search(live_server: LiveServer, client: httpx.Client) -> None:
    base = live_server.dicomweb
    for number in range(5):
        create(client, base, f"{UID}{number}", label=f"job {number}", patient_id=f"P{number % 2}")
    change_state(client, base, f"{UID}0", "IN PROGRESS", TX)

    def uids(query: str) -> list[str]:
        answer = client.get(f"{base}/workitems?{query}", headers=JSON)
        assert answer.status_code == 200, answer.text
        return [_value(d, "00080018") for d in answer.json()]

    assert uids("ProcedureStepState=SCHEDULED") == [f"{UID}{n}" for n in (1, 2, 3, 4)]
    assert uids("PatientID=P1") == [f"{UID}1", f"{UID}3"]
    assert uids("ProcedureStepLabel=job*&PatientID=P0") == [f"{UID}0", f"{UID}2", f"{UID}4"]
    assert uids("PatientName=DOE") == [f"{UID}{n}" for n in range(5)]
    assert uids("ScheduledProcedureStepStartDateTime=20261204-20261204") == [
        f"{UID}{n}" for n in range(5)
    ]
    assert uids("ScheduledProcedureStepStartDateTime=20261205-") == []
    assert uids("ScheduledWorkitemCodeSequence.CodeValue=R-1&limit=2&offset=1") == [
        f"{UID}1",
        f"{UID}2",
    ]
    paged = client.get(f"{base}/workitems?limit=2", headers=JSON)
    assert "3 additional results" in paged.headers["warning"]
    shaped = client.get(
        f"{base}/workitems?PatientID=P1&includefield=00400400", headers=JSON
    ).json()[0]
    assert "00400400" in shaped and "00380010" not in shaped
    everything = client.get(f"{base}/workitems?PatientID=P1&includefield=all", headers=JSON).json()[
        0
    ]
    assert "00380010" in everything
    assert client.get(f"{base}/workitems?NoSuchKeyword=1").status_code == 400
    assert client.get(f"{base}/workitems?limit=-1").status_code == 400


def test_workitems_survive_a_restart(
    live_server_factory: Callable[..., LiveServer], client: httpx.Client
) -> None:
    first = live_server_factory()
    create(client, first.dicomweb, UID)
    change_state(client, first.dicomweb, UID, "IN PROGRESS", TX)
    again = build_archive(first.settings)
    try:
        dataset = Workitems(again).retrieve(UID)
    finally:
        again.close()
    assert _value(dataset, "00741000") == "IN PROGRESS"
    second = live_server_factory()
    # the claim holds across processes: only the recorded Transaction UID completes it
    assert change_state(client, second.dicomweb, UID, "CANCELED", TX + "9").status_code == 409
    assert change_state(client, second.dicomweb, UID, "CANCELED", TX).status_code == 200


def test_one_claim_wins_a_race(live_server: LiveServer, client: httpx.Client) -> None:
    base = live_server.dicomweb
    create(client, base, UID)

    def claim(number: int) -> int:
        with httpx.Client(timeout=30) as own:
            return change_state(own, base, UID, "IN PROGRESS", f"{TX}.{number}").status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(claim, range(8)))
    assert statuses == [200] + [409] * 7
    comment = {"00400400": {"vr": "LT", "Value": ["claimed"]}}

    def accepted(number: int) -> bool:
        url = f"{base}/workitems/{UID}?transaction-uid={TX}.{number}"
        return client.post(url, json=comment, headers=JSON).status_code == 200

    # only the winner's Transaction UID is the workitem's lock
    assert len([n for n in range(8) if accepted(n)]) == 1


def test_one_create_wins_a_race(live_server: LiveServer) -> None:
    def create_one(_: int) -> int:
        with httpx.Client(timeout=30) as own:
            return create(own, live_server.dicomweb, UID).status_code

    with ThreadPoolExecutor(6) as pool:
        assert sorted(pool.map(create_one, range(6))) == [201] + [409] * 5
