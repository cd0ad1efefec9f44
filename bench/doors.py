"""Rows for the other doors: DIMSE (PS3.7 C-STORE, C-FIND, C-MOVE with DCMTK tools), rendered
frames (PS3.18 9.5), FHIR ImagingStudy search, and server memory while streaming a 1 GB study.

Capabilities are probed once both servers hold the base data; a row whose door a server lacks
is skipped on that server (openvna's is then reported as "not measured: door not built").
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from pydicom import Dataset

from bench import client, dataset, measure, servers
from bench.client import CheckError
from bench.findclient import FindAssociation
from bench.registry import Context, Target, measurement
from bench.servers import SCP_AET, MemorySampler, Server

BENCH_AET = "BENCH"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"  # PS3.4 C.6.2.1
PENDING = re.compile(r"Find Response: \d+ \(Pending\)")


def run_tool(argv: list[str], timeout: float = 600.0) -> tuple[float, str]:
    """Run a DCMTK tool; returns (seconds, output); a non-zero exit is a CheckError.

    DCMTK sockets keep Nagle's algorithm unless TCP_NODELAY=1 is in the environment, which
    costs ~40 ms per small message against delayed ACKs; every DCMTK process gets it.
    """
    start = time.perf_counter()
    env = {**os.environ, **servers.DCMTK_ENV}
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, env=env
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise CheckError(f"{argv[0]} exited {done.returncode}: {done.stderr[-400:]}")
    return seconds, done.stdout + done.stderr


def scu(tool: str, server: Server, *args: str, files: tuple[str, ...] = ()) -> list[str]:
    """A DCMTK SCU command line: options, then peer and port, then input files."""
    assert server.dimse_port is not None
    return [
        tool,
        "-aet",
        BENCH_AET,
        "-aec",
        server.aet,
        *args,
        server.host,
        str(server.dimse_port),
        *files,
    ]


def keys(*attributes: str) -> list[str]:
    """``-k`` options of a DCMTK query: ``Attribute=value`` matches, bare names are returned."""
    return [arg for attribute in attributes for arg in ("-k", attribute)]


def move_study(server: Server, study_uid: str, timeout: float = 600.0) -> float:
    """C-MOVE one study to the bench's storescp; returns the seconds movescu took."""
    argv = scu(
        "movescu",
        server,
        "-S",
        "-aem",
        SCP_AET,
        *keys("QueryRetrieveLevel=STUDY", f"StudyInstanceUID={study_uid}"),
    )
    return run_tool(argv, timeout=timeout)[0]


def probe(ctx: Context, server: Server) -> None:
    """Find out which doors ``server`` answers on and record them in ``capabilities``."""
    server.capabilities.add("dicomweb")
    if server.dimse_port is not None:
        try:
            run_tool(scu("echoscu", server), timeout=10)
            server.capabilities.add("dimse")
        except (CheckError, subprocess.TimeoutExpired) as exc:
            server.notes.append(f"no DIMSE answer: {str(exc)[:120]}")
    first = ctx.dataset.path(ctx.study("big").files[0])
    conn = server.connection(timeout=30)
    try:
        got = client.get(
            conn, f"{measure.instance_path(server, first)}/frames/1/rendered", "image/jpeg"
        )
        if got.status == 200 and got.body[:2] == b"\xff\xd8":
            server.capabilities.add("rendered")
        if (
            server.fhir_path
            and client.get(conn, f"{server.fhir_path}/metadata", "application/fhir+json").status
            == 200
        ):
            server.capabilities.add("fhir")
    finally:
        conn.close()


@measurement(
    "C-STORE ingest, two storescu associations",
    Target(">= 1.5x Orthanc", ratio=1.5),
    "inst/s",
    True,
    requires="dimse",
    note="the repetition's files split in two halves, one storescu each, at once",
)
def cstore_ingest(ctx: Context, server: Server, rep: int) -> list[float]:
    studies = ctx.group(f"cstore{rep}")
    directory = ctx.dataset.root / f"cstore{rep}"
    files = sorted(str(p) for p in directory.rglob("*") if p.is_file())
    halves = (tuple(files[: len(files) // 2]), tuple(files[len(files) // 2 :]))
    env = {**os.environ, **servers.DCMTK_ENV}
    start = time.perf_counter()
    running = [
        subprocess.Popen(
            scu("storescu", server, "-xr", files=half),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        for half in halves
    ]
    errors = [p.communicate(timeout=600)[1] for p in running]
    seconds = time.perf_counter() - start
    for process, error in zip(running, errors, strict=True):
        if process.returncode != 0:
            raise CheckError(f"storescu exited {process.returncode}: {error[-400:]!r}")
    return measure.ingested(ctx, server, studies, seconds)


@measurement(
    "DCMTK storescu to DCMTK storescp, the 200-instance study (reference)",
    Target("reference: the transfer inside every C-MOVE row"),
    "s",
    False,
    requires="storescp",
    subjects=("storescp",),
    note="one storescu association sending the C-MOVE rows' study to the bench's storescp, "
    "C++ on both ends; not a floor: storescu reads and parses each file and starts up within "
    "the time (bench/RESULTS.md, what a door without pynetdicom reaches)",
)
def storescu_to_storescp(ctx: Context, server: Server, rep: int) -> list[float]:
    study = ctx.study("move")
    files = tuple(str(ctx.dataset.path(rel)) for rel in study.files)
    argv = scu("storescu", server, files=files)
    return _into_storescp(ctx, lambda: run_tool(argv)[0], "storescu")


def _into_storescp(ctx: Context, send: Callable[[], float], what: str) -> list[float]:
    """The seconds ``send`` took to deliver the move study to the bench's storescp (its inbox
    emptied first, every instance checked in after)."""
    study = ctx.study("move")
    inbox = Path(str(ctx.state["scp_inbox"]))
    shutil.rmtree(inbox, ignore_errors=True)
    inbox.mkdir(parents=True)
    seconds = send()
    received = sum(1 for p in inbox.rglob("*") if p.is_file())
    if received != study.instances:
        raise CheckError(f"{what} delivered {received} of {study.instances}")
    return [seconds]


@measurement(
    "C-FIND study level p50 (findscu), no match",
    Target("none: the fixed cost under the C-FIND rows"),
    "ms",
    False,
    requires="dimse",
    note="findscu started, associated, answered with no match and released: the floor of "
    "every C-FIND row for that server",
)
def cfind_no_match(ctx: Context, server: Server, rep: int) -> list[float]:
    query = keys("QueryRetrieveLevel=STUDY", "PatientID=NO-SUCH-PATIENT", "StudyInstanceUID")
    samples = []
    for _ in range(ctx.requests):
        seconds, output = run_tool(scu("findscu", server, "-S", "-v", *query))
        if PENDING.search(output):
            raise CheckError(f"{server.name} C-FIND of no patient found a study")
        samples.append(seconds * 1000)
    return samples


def cfind_latencies(ctx: Context, server: Server, rep: int, kind: str) -> list[float]:
    """findscu at study level with the QIDO row's searches of ``kind``; every answer counted."""
    queries = ctx.state.setdefault(f"qido-{kind}", measure.qido_queries(ctx, kind))
    assert isinstance(queries, list)
    samples = []
    for i in range(ctx.requests):
        params = queries[(rep * ctx.requests + i) % len(queries)]
        ((key, value),) = params.items()
        query = keys("QueryRetrieveLevel=STUDY", f"{key}={value}", "StudyInstanceUID")
        seconds, output = run_tool(scu("findscu", server, "-S", "-v", *query))
        found = len(PENDING.findall(output))
        expected = measure.expected_count(ctx, server, params)
        if found != expected:
            raise CheckError(f"{server.name} C-FIND {key}={value}: {found} studies, {expected}")
        samples.append(seconds * 1000)
    return samples


measure.search_rows(
    "C-FIND study level p50 (findscu)",
    cfind_latencies,
    Target("none: findscu's start-up is most of it (see the one-association rows)"),
    requires="dimse",
    note="each sample spawns findscu and opens an association",
)


def cfind_association_latencies(ctx: Context, server: Server, rep: int, kind: str) -> list[float]:
    """The QIDO row's searches of ``kind`` as C-FIND at study level on one association kept
    open, as the QIDO rows keep their HTTP connection: the time from the request to the final
    response, every pending answer counted. findscu spends ~25 ms of its own on each sample
    (started, its data dictionary loaded, against a closed port here), more than either
    server's answer, so the findscu rows cannot tell the servers apart."""
    queries = ctx.state.setdefault(f"qido-{kind}", measure.qido_queries(ctx, kind))
    assert isinstance(queries, list) and server.dimse_port is not None
    samples = []
    with FindAssociation(
        server.host, server.dimse_port, BENCH_AET, server.aet, STUDY_ROOT_FIND
    ) as association:
        for i in range(ctx.requests + 1):  # the first is a warm-up, not counted
            params = queries[(rep * ctx.requests + i) % len(queries)]
            ((key, value),) = params.items()
            identifier = Dataset()
            identifier.QueryRetrieveLevel = "STUDY"
            setattr(identifier, key, value)
            identifier.StudyInstanceUID = ""
            start = time.perf_counter()
            found = association.find(identifier)
            seconds = time.perf_counter() - start
            expected = measure.expected_count(ctx, server, params)
            if found != expected:
                raise CheckError(f"{server.name} C-FIND {key}={value}: {found} studies, {expected}")
            if i:
                samples.append(seconds * 1000)
    return samples


measure.search_rows(
    "C-FIND study level p50, one association",
    cfind_association_latencies,
    Target("<= 0.5x Orthanc", ratio=0.5),
    requires="dimse",
    note="bench/findclient.py: a blocking socket, answers counted, not decoded",
)


@measurement(
    "C-MOVE of a 200-instance study",
    Target("<= 0.7x Orthanc", ratio=0.7),
    "s",
    False,
    requires="cmove",
    note="movescu to a DCMTK storescp on loopback",
)
def cmove(ctx: Context, server: Server, rep: int) -> list[float]:
    study = ctx.study("move")
    return _into_storescp(ctx, lambda: move_study(server, study.uid), f"{server.name} C-MOVE")


@measurement(
    "C-GET of a 200-instance study",
    Target("<= 0.7x Orthanc", ratio=0.7),
    "s",
    False,
    requires="dimse",
    note="getscu on loopback, files written by getscu",
)
def cget(ctx: Context, server: Server, rep: int) -> list[float]:
    study = ctx.study("move")
    inbox = ctx.run_dir / f"cget-{server.name}"
    shutil.rmtree(inbox, ignore_errors=True)
    inbox.mkdir(parents=True)
    query = keys("QueryRetrieveLevel=STUDY", f"StudyInstanceUID={study.uid}")
    seconds, _ = run_tool(scu("getscu", server, "-S", "-od", str(inbox), *query))
    received = sum(1 for p in inbox.iterdir() if p.is_file())
    shutil.rmtree(inbox, ignore_errors=True)
    if received != study.instances:
        raise CheckError(f"{server.name} C-GET delivered {received} of {study.instances}")
    return [seconds]


def probe_cmove(ctx: Context, server: Server) -> None:
    """C-MOVE works when the bench's storescp (AE BENCHSCP) receives a small study."""
    if "dimse" not in server.capabilities:
        return
    try:
        move_study(server, ctx.group("index")[0].uid, timeout=30)
        server.capabilities.add("cmove")
    except (CheckError, subprocess.TimeoutExpired) as exc:
        message = f"C-MOVE to {SCP_AET} failed: {' '.join(str(exc).split())[:160]}"
        server.notes.append(message)
        server.unavailable["cmove"] = message


@measurement(
    "rendered JPEG of a 512x512 CT frame p50",
    Target("<= 1.0x Orthanc", ratio=1.0),
    "ms",
    False,
    requires="rendered",
)
def rendered(ctx: Context, server: Server, rep: int) -> list[float]:
    files = ctx.study("big").files
    rng = random.Random(rep)
    paths = [ctx.dataset.path(files[rng.randrange(len(files))]) for _ in range(ctx.requests)]
    conn = server.connection()
    samples = []
    try:
        for i, path in enumerate([paths[0], *paths]):
            got = client.get(
                conn, f"{measure.instance_path(server, path)}/frames/1/rendered", "image/jpeg"
            )
            if got.status != 200 or got.body[:2] != b"\xff\xd8":
                raise CheckError(f"{server.name} rendered {path.name}: HTTP {got.status}")
            if i:
                samples.append(got.seconds * 1000)
    finally:
        conn.close()
    return samples


_QIDO_BY_ID = "QIDO-RS study search p50, PatientID"


@measurement(
    "FHIR ImagingStudy search by patient p50",
    Target(
        "<= 2x QIDO-RS by PatientID (issue 10), < 10 ms",
        absolute=10.0,
        reference=(_QIDO_BY_ID, 2.0),
    ),
    "ms",
    False,
    requires="fhir",
    subjects=("openvna",),
    note="Orthanc has no FHIR server",
)
def fhir_search(ctx: Context, server: Server, rep: int) -> list[float]:
    queries = ctx.state.setdefault("qido-id", measure.qido_queries(ctx, "id"))
    assert isinstance(queries, list) and server.fhir_path
    conn = server.connection()
    samples = []
    try:
        for i in range(ctx.requests):
            pid = queries[(rep * ctx.requests + i) % len(queries)]["PatientID"]
            got = client.get(
                conn, f"{server.fhir_path}/Patient?identifier={pid}", "application/fhir+json"
            )
            entries = json.loads(got.body).get("entry", []) if got.status == 200 else []
            if len(entries) != 1:
                raise CheckError(f"FHIR Patient?identifier={pid}: {len(entries)} patients")
            ref = entries[0]["resource"]["id"]
            got = client.get(
                conn, f"{server.fhir_path}/ImagingStudy?patient={ref}", "application/fhir+json"
            )
            found = len(json.loads(got.body).get("entry", [])) if got.status == 200 else -1
            expected = measure.expected_count(ctx, server, {"PatientID": pid})
            if found != expected:
                raise CheckError(f"FHIR ImagingStudy?patient={ref}: {found} studies, {expected}")
            samples.append(got.seconds * 1000)
    finally:
        conn.close()
    return samples


@measurement(
    "FHIR ImagingStudy search by identifier (Study UID) p50",
    Target("<= 2x QIDO-RS by PatientID (issue 10)", reference=(_QIDO_BY_ID, 2.0)),
    "ms",
    False,
    requires="fhir",
    subjects=("openvna",),
    note="one study a search, as QIDO by PatientID matches about one",
)
def fhir_identifier(ctx: Context, server: Server, rep: int) -> list[float]:
    index = ctx.group("index")
    assert server.fhir_path
    conn = server.connection()
    samples = []
    try:
        for i in range(ctx.requests):
            study = index[(rep * ctx.requests * 7 + i * 13) % len(index)]
            got = client.get(
                conn,
                f"{server.fhir_path}/ImagingStudy?identifier=urn:dicom:uid%7Curn:oid:{study.uid}",
                "application/fhir+json",
            )
            entries = json.loads(got.body).get("entry", []) if got.status == 200 else []
            if len(entries) != 1 or entries[0]["resource"]["numberOfInstances"] != 1:
                raise CheckError(f"FHIR ImagingStudy?identifier={study.uid}: {len(entries)}")
            samples.append(got.seconds * 1000)
    finally:
        conn.close()
    return samples


@measurement(
    "FHIR ImagingStudy read, 500-instance study",
    Target("<= 25 ms (issue 10)", absolute=25.0),
    "ms",
    False,
    requires="fhir",
    subjects=("openvna",),
    note="series and instances listed, from the index's rows and stored JSON",
)
def fhir_read_big(ctx: Context, server: Server, rep: int) -> list[float]:
    study = ctx.study("big")
    assert server.fhir_path
    conn = server.connection()
    samples = []
    try:
        for i in range(ctx.requests + 1):
            got = client.get(
                conn, f"{server.fhir_path}/ImagingStudy/{study.uid}", "application/fhir+json"
            )
            body = json.loads(got.body) if got.status == 200 else {}
            listed = sum(len(s.get("instance", [])) for s in body.get("series", []))
            if listed != study.instances:
                raise CheckError(f"FHIR ImagingStudy/{study.uid}: {listed} instances listed")
            if i:
                samples.append(got.seconds * 1000)
    finally:
        conn.close()
    return samples


def _load_gb(ctx: Context) -> None:
    """Write the ~1 GB study, store it into both archives, then delete the files."""
    study, root = dataset.write_gb_study(ctx.work, ctx.sizes.gb)
    gb = dataset.Dataset(root, {"gb": [study]})
    try:
        for name in ("openvna", "orthanc"):
            server = ctx.servers.get(name)
            if server is None:
                continue
            measure.store(gb_context(ctx, gb), server, [study])
            client.check_studies(server, [(study.uid, study.instances)])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ctx.state["gb"] = study


def gb_context(ctx: Context, gb: dataset.Dataset) -> Context:
    return Context(gb, ctx.sizes, ctx.servers, ctx.run_dir, ctx.work, ctx.requests)


@measurement(
    "server peak memory (PSS) while retrieving a 1 GB study",
    Target("< 300 MB", absolute=300),
    "MB",
    False,
    setup=_load_gb,
    note="PSS of the server's process tree sampled every 20 ms during the retrieve",
)
def rss_gb(ctx: Context, server: Server, rep: int) -> list[float]:
    study = ctx.state["gb"]
    assert isinstance(study, dataset.StudyInfo)
    with MemorySampler(server.process.pid) as sampler:
        measure.retrieve_study(server, study)
    ctx.state[f"hwm-{server.name}"] = server.hwm() / 1e6
    return [sampler.peak / 1e6]
