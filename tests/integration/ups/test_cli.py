"""``openvna ups`` against a live UPS-RS server: the command as a user runs it (a process of its
own), from creation to completion, the event watch, refusals and the API key."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import orjson
import pytest

from tests.conftest import LiveServer

pytestmark = pytest.mark.engines("sqlite")  # both engines are covered by the UPS-RS tests


def _ups(
    server: LiveServer, *args: str, key: str | None = None
) -> subprocess.CompletedProcess[str]:
    options = ["--url", server.dicomweb, *(["--api-key", key] if key else [])]
    return subprocess.run(
        [sys.executable, "-m", "openvna", "ups", *args, *options],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_create_list_claim_watch_complete(live_server: LiveServer) -> None:
    uid = _ok(
        _ups(
            live_server,
            "create",
            "--label",
            "AI lung nodules",
            "--patient-id",
            "P7",
            "--patient-name",
            "Doe^Jane",
            "--priority",
            "high",
            "--start",
            "20261204080000",
        )
    )
    listed = _ok(_ups(live_server, "list", "--state", "SCHEDULED"))
    assert listed.split("\t") == [
        uid,
        "SCHEDULED",
        "HIGH",
        "20261204080000",
        "AI lung nodules",
        "P7",
    ]
    watch = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "openvna",
            "ups",
            "watch",
            "--ae-title",
            "CLIWATCH",
            "--workitem",
            uid,
            "--count",
            "3",
            "--url",
            live_server.dicomweb,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watch.stderr is not None
        assert "watching" in watch.stderr.readline()  # subscribed: changes from now on are seen
        transaction = _ok(_ups(live_server, "claim", uid))
        _ok(_ups(live_server, "complete", uid, "--transaction-uid", transaction))
        out, err = watch.communicate(timeout=30)
    finally:
        watch.kill()
    assert watch.returncode == 0, err
    states = [orjson.loads(line)["00741000"]["Value"][0] for line in out.splitlines()]
    assert states == ["SCHEDULED", "IN PROGRESS", "COMPLETED"]
    assert _ok(
        _ups(live_server, "list", "--match", "PatientID=P7", "--state", "COMPLETED")
    ).startswith(uid)
    again = _ups(live_server, "complete", uid, "-t", transaction)
    assert again.returncode == 1 and "400" in again.stderr and "COMPLETED" in again.stderr
    # the watch left its subscription behind it (no --keep)
    found = orjson.loads(_ok(_ups(live_server, "list", "--json")))
    assert [item["00080018"]["Value"][0] for item in found] == [uid]


def test_cancel_and_refusals(live_server: LiveServer) -> None:
    scheduled = _ok(_ups(live_server, "create", "--label", "to drop"))
    assert _ups(live_server, "cancel", scheduled, "--reason", "duplicate order").returncode == 0
    assert "CANCELED" in _ok(_ups(live_server, "list", "--state", "CANCELED"))
    claimed = _ok(_ups(live_server, "create", "--label", "mine"))
    transaction = _ok(_ups(live_server, "claim", claimed))
    wrong = _ups(live_server, "cancel", claimed, "-t", "1.2.3.4")
    assert wrong.returncode == 1 and "409" in wrong.stderr and "Transaction UID" in wrong.stderr
    assert (
        _ups(live_server, "cancel", claimed, "-t", transaction, "--reason", "no time").returncode
        == 0
    )
    assert _ups(live_server, "claim", "1.2.3.404").returncode == 1
    bad = _ups(live_server, "create", "--label", "x", "--priority", "SOON")
    assert bad.returncode == 1 and "400" in bad.stderr
    assert _ups(live_server, "list", "--match", "nokey").returncode == 2


def test_the_api_key(live_server_factory: Callable[..., LiveServer]) -> None:
    server = live_server_factory(auth={"api_keys": ["k-456"]})
    refused = _ups(server, "list")
    assert refused.returncode == 1 and "401" in refused.stderr
    uid = _ok(_ups(server, "create", "--label", "keyed", key="k-456"))
    assert _ok(_ups(server, "list", key="k-456")).startswith(uid)
