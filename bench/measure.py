"""The DICOMweb measurements (PS3.18): STOW-RS ingest, QIDO-RS searches, WADO-RS retrieval.

Each function runs one repetition against one server and returns its samples (latencies in ms,
or one throughput figure). Every answer is checked against what was stored: result counts,
part counts, byte counts; a mismatch raises CheckError and the row is reported as an error.
The DIMSE, rendering, FHIR and memory rows live in :mod:`bench.doors`.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pydicom
from pydicom.uid import ExplicitVRLittleEndian

from bench import client
from bench.client import CheckError
from bench.dataset import StudyInfo
from bench.registry import Context, Target, measurement
from bench.servers import Server

STOW_CLIENTS = 4
STOW_BATCH = 20
QIDO_KINDS = ("name", "id", "date", "modality")


@cache
def uids(path: Path) -> tuple[str, str, str]:
    """(study, series, SOP instance) UIDs of one generated file."""
    ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=[])
    return ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID


def is_native(path: Path) -> bool:
    return pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID == (
        ExplicitVRLittleEndian
    )


def instance_path(server: Server, path: Path) -> str:
    study, series, sop = uids(path)
    return f"{server.dicomweb_path}/studies/{study}/series/{series}/instances/{sop}"


def batches(ctx: Context, studies: list[StudyInfo], size: int) -> Iterator[list[Path]]:
    """STOW requests: up to ``size`` instances of one study each, as an uploader would send."""
    for study in studies:
        paths = [ctx.dataset.path(rel) for rel in study.files]
        for i in range(0, len(paths), size):
            yield paths[i : i + size]


def store(
    ctx: Context,
    server: Server,
    studies: list[StudyInfo],
    clients: int = STOW_CLIENTS,
    size: int = STOW_BATCH,
) -> float:
    """STOW every study with ``clients`` concurrent keep-alive connections; returns seconds."""
    work = batches(ctx, studies, size)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        conn = server.connection()
        try:
            while not errors:
                with lock:
                    paths = next(work, None)
                if paths is None:
                    return
                client.stow(server, conn, paths)
        except BaseException as exc:
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    if errors:
        raise errors[0]
    return seconds


def load_base(ctx: Context) -> None:
    """Store the fixed groups into every archive (not timed) and check their counts."""
    groups = ["big", "move", "misc", "index"]
    studies = [s for g in groups for s in ctx.group(g)]
    for name in ("openvna", "orthanc"):
        server = ctx.servers.get(name)
        if server is None:
            continue
        store(ctx, server, studies, size=50)
        client.check_studies(server, [(s.uid, s.instances) for s in studies if s.instances > 1])
        ctx.loaded[name] += studies


@measurement(
    "STOW-RS ingest, 4 concurrent clients",
    Target(">= 1.5x Orthanc", ratio=1.5),
    "inst/s",
    True,
    note="a fresh chunk of CT/MR/CR studies per repetition, <= 20 instances a request",
)
def stow_ingest(ctx: Context, server: Server, rep: int) -> list[float]:
    studies = ctx.group(f"stow{rep}")
    return ingested(ctx, server, studies, store(ctx, server, studies))


_CT_CPU = "stow-ct-cpu"


@measurement(
    "STOW-RS ingest, 2 clients x 10 instances/request (512x512 CT)",
    Target(">= 1.5x Orthanc", ratio=1.5),
    "inst/s",
    True,
    note="a fresh chunk of 600 CT slices per repetition (issue 8 shape)",
)
def stow_ct_ingest(ctx: Context, server: Server, rep: int) -> list[float]:
    studies = ctx.group(f"stowct{rep}")
    before = server.cpu()
    seconds = store(ctx, server, studies, clients=2, size=10)
    instances = sum(s.instances for s in studies)
    cpu = ctx.state.setdefault(_CT_CPU, {})
    assert isinstance(cpu, dict)
    cpu[(server.name, rep)] = (server.cpu() - before) * 1000 / instances
    return ingested(ctx, server, studies, seconds)


@measurement(
    "server CPU per instance in the 2x10 CT STOW-RS row",
    Target("lower than Orthanc (guides the row above)", ratio=1.0),
    "ms",
    False,
    note="user + system CPU of the server's process tree during that row, per stored instance",
)
def stow_ct_cpu(ctx: Context, server: Server, rep: int) -> list[float]:
    cpu = ctx.state.get(_CT_CPU, {})
    assert isinstance(cpu, dict)
    return [cpu[(server.name, rep)]] if (server.name, rep) in cpu else []


def ingested(ctx: Context, server: Server, studies: list[StudyInfo], seconds: float) -> list[float]:
    """Check every ingested study's count by QIDO, record what the server now holds, and give
    the rate: a fast ingest that lost an instance is an error, not a win."""
    client.check_studies(server, [(s.uid, s.instances) for s in studies])
    ctx.loaded[server.name] += studies
    return [sum(s.instances for s in studies) / seconds]


def qido_queries(ctx: Context, kind: str) -> list[dict[str, str]]:
    """Ten searches of one kind drawn from the index population (same for both servers)."""
    rng = ctx.rng
    index = ctx.group("index")
    picks = [index[rng.randrange(len(index))] for _ in range(10)]
    if kind == "name":
        return [{"PatientName": s.patient_name.split("^")[0] + "*"} for s in picks]
    if kind == "id":
        return [{"PatientID": s.patient_id} for s in picks]
    if kind == "date":
        out = []
        for s in picks:
            lo = dt.datetime.strptime(s.study_date, "%Y%m%d").date()
            hi = lo + dt.timedelta(days=6)
            out.append({"StudyDate": f"{lo:%Y%m%d}-{hi:%Y%m%d}"})
        return out
    return [{"ModalitiesInStudy": "PT"}]


def expected_count(ctx: Context, server: Server, params: dict[str, str]) -> int:
    """How many studies ``server`` holds that match, by the PS3.4 C.2.2.2 matching rules."""
    ((key, value),) = params.items()
    studies = ctx.loaded[server.name]
    if key == "PatientName":
        return sum(s.patient_name.upper().startswith(value.rstrip("*")) for s in studies)
    if key == "PatientID":
        return sum(s.patient_id == value for s in studies)
    if key == "StudyDate":
        lo, hi = value.split("-")
        return sum(lo <= s.study_date <= hi for s in studies)
    return sum(value in s.modalities for s in studies)


def qido_latencies(ctx: Context, server: Server, rep: int, kind: str) -> list[float]:
    queries = ctx.state.setdefault(f"qido-{kind}", qido_queries(ctx, kind))
    assert isinstance(queries, list)
    conn = server.connection()
    samples = []
    try:
        client.qido(conn, server, "studies", queries[0])
        for i in range(ctx.requests):
            params = queries[(rep * ctx.requests + i) % len(queries)]
            results, seconds = client.qido(conn, server, "studies", params)
            expected = expected_count(ctx, server, params)
            if len(results) != expected:
                raise CheckError(
                    f"{server.name} QIDO {params} gave {len(results)} studies, {expected} match"
                )
            samples.append(seconds * 1000)
    finally:
        conn.close()
    return samples


# The four study searches of the QIDO-RS rows; the C-FIND rows (bench/doors.py) ask the same.
SEARCHES = tuple(
    zip(
        QIDO_KINDS,
        ("PatientName prefix*", "PatientID", "StudyDate 7-day range", "ModalitiesInStudy=PT"),
        strict=True,
    )
)

Latencies = Callable[[Context, Server, int, str], list[float]]


def search_rows(
    prefix: str, latencies: Latencies, target: Target, requires: str = "dicomweb", note: str = ""
) -> None:
    """One row a search of ``SEARCHES``, named ``prefix, label``: ``latencies(ctx, server, rep,
    kind)`` measures it."""
    for kind, label in SEARCHES:

        def run(ctx: Context, server: Server, rep: int, kind: str = kind) -> list[float]:
            return latencies(ctx, server, rep, kind)

        run.__name__ = f"{latencies.__name__}_{kind}"
        measurement(f"{prefix}, {label}", target, "ms", False, requires, note=note)(run)


search_rows(
    "QIDO-RS study search p50",
    qido_latencies,
    Target("<= 0.2x Orthanc", ratio=0.2),
    note="10,000 studies indexed at scale 1",
)


@measurement(
    "WADO-RS study metadata, 500-instance study",
    Target(">= 50x Orthanc speed", ratio=0.02),
    "ms",
    False,
)
def study_metadata(ctx: Context, server: Server, rep: int) -> list[float]:
    study = ctx.study("big")
    path = f"{server.dicomweb_path}/studies/{study.uid}/metadata"
    conn = server.connection()
    samples = []
    try:
        for i in range(max(2, ctx.requests // 5) + (rep == 0)):
            answer = client.get(conn, path, client.DICOM_JSON)
            items = json.loads(answer.body) if answer.status == 200 else []
            if answer.status != 200 or len(items) != study.instances:
                raise CheckError(
                    f"{server.name} metadata: HTTP {answer.status}, {len(items)} "
                    f"instances of {study.instances}"
                )
            if i or rep:
                samples.append(answer.seconds * 1000)
    finally:
        conn.close()
    return samples


def retrieve_study(server: Server, study: StudyInfo) -> client.Streamed:
    conn = server.connection()
    try:
        got = client.stream_parts(
            conn, f"{server.dicomweb_path}/studies/{study.uid}", client.STUDY_PARTS
        )
    finally:
        conn.close()
    if got.status != 200 or got.parts != study.instances or got.nbytes < study.nbytes:
        raise CheckError(
            f"{server.name} study retrieve: HTTP {got.status}, {got.parts} parts of "
            f"{study.instances}, {got.nbytes} bytes for {study.nbytes}"
        )
    return got


@measurement(
    "WADO-RS whole-study retrieve",
    Target(
        ">= 3x Orthanc and >= 50% of nginx",
        ratio=3.0,
        reference=("static file via nginx (reference)", 0.5),
    ),
    "MB/s",
    True,
)
def study_retrieve(ctx: Context, server: Server, rep: int) -> list[float]:
    study = ctx.study("big")
    out = []
    for _ in range(2):
        got = retrieve_study(server, study)
        out.append(got.nbytes / got.seconds / 1e6)
    return out


def _static_file(ctx: Context) -> None:
    """The reference file: the big study's files concatenated, served by nginx."""
    target = ctx.servers["nginx"].data_dir / "study.bin"
    with target.open("wb") as out:
        for rel in ctx.study("big").files:
            out.write(ctx.dataset.path(rel).read_bytes())


@measurement(
    "static file via nginx (reference)",
    Target("reference"),
    "MB/s",
    True,
    requires="static",
    subjects=("nginx",),
    setup=_static_file,
    note="a file as large as the 500-instance study, nginx sendfile on loopback",
)
def static_file(ctx: Context, server: Server, rep: int) -> list[float]:
    size = (server.data_dir / "study.bin").stat().st_size
    buffer = bytearray(client.CHUNK)
    out = []
    conn = server.connection()
    try:
        for _ in range(2):
            start = time.perf_counter()
            conn.request("GET", "/study.bin")
            response = conn.getresponse()
            nbytes = 0
            while n := response.readinto(buffer):
                nbytes += n
            seconds = time.perf_counter() - start
            if response.status != 200 or nbytes != size:
                raise CheckError(f"nginx served {nbytes} of {size} bytes ({response.status})")
            out.append(nbytes / seconds / 1e6)
    finally:
        conn.close()
    return out


def frame_latencies(ctx: Context, server: Server, targets: list[tuple[Path, int]]) -> list[float]:
    conn = server.connection()
    samples = []
    try:
        for i, (path, frame) in enumerate([targets[0], *targets]):
            url = f"{instance_path(server, path)}/frames/{frame}"
            start = time.perf_counter()
            got = client.stream_parts(conn, url, client.FRAME_PARTS)
            if got.status != 200 or got.parts != 1 or got.nbytes < 512 * 512 * 2:
                raise CheckError(
                    f"{server.name} frame {frame} of {path.name}: HTTP "
                    f"{got.status}, {got.parts} parts, {got.nbytes} bytes"
                )
            if i:
                samples.append((time.perf_counter() - start) * 1000)
    finally:
        conn.close()
    return samples


@measurement(
    "WADO-RS single frame p50, single-frame CT", Target("<= 0.5x Orthanc", ratio=0.5), "ms", False
)
def frame_single(ctx: Context, server: Server, rep: int) -> list[float]:
    files = ctx.study("big").files
    rng = random.Random(rep)
    picks = [(ctx.dataset.path(files[rng.randrange(len(files))]), 1) for _ in range(ctx.requests)]
    return frame_latencies(ctx, server, picks)


@measurement(
    "WADO-RS single frame p50, multi-frame XA",
    Target("<= 0.5x Orthanc", ratio=0.5),
    "ms",
    False,
    note="native (uncompressed) cine run",
)
def frame_multi(ctx: Context, server: Server, rep: int) -> list[float]:
    misc = ctx.study("misc")
    rel = next(r for r in misc.frames if is_native(ctx.dataset.path(r)))
    path, count = ctx.dataset.path(rel), misc.frames[rel]
    rng = random.Random(rep)
    picks = [(path, rng.randrange(1, count + 1)) for _ in range(ctx.requests)]
    return frame_latencies(ctx, server, picks)
