"""UPS-RS bench (issue 12): 1,000 workitems created and searched, and how long an event takes
from a state change to the subscribers' WebSockets, on ``openvna serve`` (two HTTP workers,
SQLite). Orthanc has no UPS-RS (only a worklist plugin), so there is no side-by-side row.

    python -m bench.ups [--count 1000] [--changes 200] [--clients 4]

Prints a Markdown table (medians and p95 of the samples, throughput of the whole batch).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.sync.client import ClientConnection, connect

from bench.servers import Process, Server, free_port, wait_http

JSON = {"Content-Type": "application/dicom+json", "Accept": "application/dicom+json"}
GLOBAL = "1.2.840.10008.5.1.4.34.5"
ROOT = "1.2.826.0.1.3680043.10.1234.777."


def _workitem(number: int) -> dict[str, Any]:
    code = {"00080100": {"vr": "SH", "Value": [f"C{number % 10}"]}}
    return {
        "00741000": {"vr": "CS", "Value": ["SCHEDULED"]},
        "00741200": {"vr": "CS", "Value": [("HIGH", "MEDIUM", "LOW")[number % 3]]},
        "00741204": {"vr": "LO", "Value": [f"job {number}"]},
        "00404005": {"vr": "DT", "Value": [f"202612{1 + number % 28:02d}090000"]},
        "00404041": {"vr": "CS", "Value": ["READY"]},
        "00100020": {"vr": "LO", "Value": [f"P{number}"]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": f"Name{number}^Given"}]},
        "00404018": {"vr": "SQ", "Value": [code]},
    }


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, ordered[-1]


def _row(name: str, samples: list[float], unit: str = "ms") -> str:
    p50, p95, top = _percentiles(samples)
    return f"| {name} | {unit} | {p50:.2f} | {p95:.2f} | {top:.2f} | {len(samples)} |"


def create_workitems(base: str, count: int, clients: int) -> tuple[float, list[float]]:
    """Create ``count`` workitems from ``clients`` threads: (items/s, latencies in ms)."""
    latencies: list[float] = []

    def one(number: int, client: httpx.Client) -> None:
        start = time.perf_counter()
        answer = client.post(
            f"{base}/workitems?{ROOT}{number}",
            content=orjson.dumps(_workitem(number)),
            headers=JSON,
        )
        latencies.append((time.perf_counter() - start) * 1000)
        if answer.status_code != 201:
            raise RuntimeError(f"create {number}: {answer.status_code} {answer.text[:200]}")

    http = [httpx.Client(timeout=30) for _ in range(clients)]
    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda n: one(n, http[n % clients]), range(count)))
    elapsed = time.perf_counter() - began
    for client in http:
        client.close()
    return count / elapsed, latencies


SEARCHES = {
    "SearchForUPS by PatientID (indexed column)": "PatientID=P{n}",
    "SearchForUPS state SCHEDULED, limit 100": "ProcedureStepState=SCHEDULED&limit=100",
    "SearchForUPS by label prefix job 1*": "ProcedureStepLabel=job%201*",
    "SearchForUPS start DateTime range (column)": (
        "ScheduledProcedureStepStartDateTime=20261201-20261203"
    ),
    "SearchForUPS by workitem code (sequence, stored JSON)": (
        "ScheduledWorkitemCodeSequence.CodeValue=C3"
    ),
}


def search(base: str, query: str, requests: int, count: int) -> list[float]:
    latencies = []
    with httpx.Client(timeout=30) as client:
        for n in range(requests):
            start = time.perf_counter()
            answer = client.get(f"{base}/workitems?{query.format(n=n * 7 % count)}", headers=JSON)
            latencies.append((time.perf_counter() - start) * 1000)
            if answer.status_code != 200:
                raise RuntimeError(f"search {query}: {answer.status_code}")
    return latencies


class _Listener:
    """A global subscriber's channel and the arrival time of each state report."""

    def __init__(self, base: str, ae_title: str) -> None:
        httpx.post(f"{base}/workitems/{GLOBAL}/subscribers/{ae_title}").raise_for_status()
        url = base.replace("http://", "ws://") + f"/subscribers/{ae_title}"
        self.connection: ClientConnection = connect(url, proxy=None, legacy=True)
        self.arrivals: dict[str, float] = {}
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for message in self.connection:
                event = orjson.loads(message)
                state = (event.get("00741000", {}).get("Value") or [""])[0]
                if state == "IN PROGRESS":
                    self.arrivals[event["00001000"]["Value"][0]] = time.perf_counter()
        except Exception:  # the channel closed at the end
            return


def event_latency(base: str, changes: int) -> dict[str, list[float]]:
    """Claim ``changes`` workitems one by one; per subscriber, the delay from the claim's
    response (the change committed) to the State Report's arrival, and from its request."""
    listeners = [_Listener(base, "BENCH1"), _Listener(base, "BENCH2")]
    time.sleep(1.0)  # the replay of subscription reports has passed
    sent: dict[str, tuple[float, float]] = {}
    with httpx.Client(timeout=30) as client:
        for n in range(changes):
            uid = f"{ROOT}{n}"
            body = {
                "00081195": {"vr": "UI", "Value": [f"{ROOT}9{n}"]},
                "00741000": {"vr": "CS", "Value": ["IN PROGRESS"]},
            }
            start = time.perf_counter()
            answer = client.put(
                f"{base}/workitems/{uid}/state", content=orjson.dumps(body), headers=JSON
            )
            sent[uid] = (start, time.perf_counter())
            answer.raise_for_status()
            time.sleep(0.01)
    time.sleep(1.0)
    results: dict[str, list[float]] = {}
    for listener in listeners:
        name = listener.connection.request.path if listener.connection.request else "?"
        after_response = [
            (listener.arrivals[uid] - done) * 1000
            for uid, (_, done) in sent.items()
            if uid in listener.arrivals
        ]
        after_request = [
            (listener.arrivals[uid] - start) * 1000
            for uid, (start, _) in sent.items()
            if uid in listener.arrivals
        ]
        missing = len(sent) - len(after_response)
        results[f"event after the change's response, {name} (missing {missing})"] = after_response
        results[f"event after the change's request, {name}"] = after_request
        listener.connection.close()
    return results


def _serve(work: Path) -> Server:
    """``openvna serve`` as ``bench.servers.start_openvna`` runs it (two HTTP workers, SQLite),
    without the DIMSE listener, whose default port another server on the machine may hold."""
    port = free_port()
    argv = [sys.executable, "-m", "openvna", "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--data-dir", str(work / "data")]
    env = {"OPENVNA_SERVER__LOG_LEVEL": "warning", "OPENVNA_DIMSE__PROCESSES": "0"}
    process = Process.spawn("openvna", argv, work / "openvna.log", env=env, cwd=work)
    server = Server("openvna", port, "/dicomweb", process, work / "data")
    wait_http(process, port, "/dicomweb/studies?limit=1")
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=50)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ups-") as work:
        server = _serve(Path(work))
        base = f"http://127.0.0.1:{server.port}/dicomweb"
        try:
            rate, creates = create_workitems(base, options.count, options.clients)
            batch = f"CreateUPS, {options.clients} clients, {options.count} workitems"
            rows = [
                f"| {batch} | workitems/s | {rate:.0f} | | | 1 |",
                _row("CreateUPS latency", creates),
            ]
            rows += [
                _row(name, search(base, query, options.requests, options.count))
                for name, query in SEARCHES.items()
            ]
            rows += [
                _row(name, samples)
                for name, samples in event_latency(base, options.changes).items()
            ]
        finally:
            server.process.stop()
    print("| measurement | unit | p50 | p95 | max | n |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
