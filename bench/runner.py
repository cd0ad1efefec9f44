"""One benchmark run: start the servers, load the base data, run every registered measurement
with the servers alternating inside each repetition, stop everything whatever happens.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pydicom

from bench import doors, measure, servers
from bench.dataset import Dataset, Sizes
from bench.registry import REGISTRY, SUBJECTS, Context, Measurement
from bench.report import NOT_BUILT, Row

# Seconds a reference server that reset a connection is given to be seen dead (run_rep).
DEATH_WAIT = 2.0

# ext4 without a journal skips an inode freed less than 60 s ago (300 s more while its inode
# table block is dirty, which writeback ends within ~35 s): fs/ext4/ialloc.c, recently_deleted.
FREED_INODES_WAIT = 65.0
_FREED_STAMP = ".removed-at"


@dataclass
class Options:
    sizes: Sizes
    requests: int
    work: Path
    only: list[str]
    with_openvna: bool
    keep: bool


def log(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def run(dataset: Dataset, options: Options) -> tuple[list[Row], dict[str, object]]:
    """Run all selected measurements; returns the rows and the run's description."""
    run_dir = options.work / f"run-{os.getpid()}"
    notes: list[str] = []
    wait_for_freed_inodes(options.work, notes)
    start = time.monotonic()
    load_before = os.getloadavg()[0]
    try:
        ctx = start_all(dataset, options, run_dir, notes)
        log("loading the base data set (not timed)")
        load_start = time.monotonic()
        measure.load_base(ctx)
        notes.append(
            f"base data loaded in {time.monotonic() - load_start:.0f} s "
            f"(both servers, STOW-RS, 4 clients)"
        )
        for server in ctx.servers.values():
            if server.name in SUBJECTS:
                doors.probe(ctx, server)
                doors.probe_cmove(ctx, server)
        rows = [run_one(ctx, m) for m in REGISTRY if selected(m, options.only)]
        info = describe(ctx, options, notes, time.monotonic() - start)
        info["load average (1 min) at start / end"] = (
            f"{load_before:.1f} / {os.getloadavg()[0]:.1f}"
        )
    finally:
        try:
            servers.stop_all()
        finally:
            if not options.keep:
                shutil.rmtree(run_dir, ignore_errors=True)
                (options.work / _FREED_STAMP).write_text(f"{time.time()}\n")
    return rows, info


def wait_for_freed_inodes(work: Path, notes: list[str]) -> None:
    """Let the inodes the previous run freed age out before this run creates its files.

    On ext4 without a journal, a file created while thousands of inodes of its block group were
    freed in the last minute costs a scan of them (bench/README): the previous run's clean-up then
    taxes this run's ingest rows, measured at -38% of openvna's instances per second and within the
    noise for Orthanc's (bench/RESULTS.md). The wait is the bench undoing its own effect; it is
    skipped on file systems that do not scan (ext4 with a journal, anything else)."""
    stamp = work / _FREED_STAMP
    if not _skips_recently_freed(work) or not stamp.exists():
        return
    try:
        left = float(stamp.read_text()) + FREED_INODES_WAIT - time.time()
    except ValueError:
        return
    if left > 0:
        log(f"waiting {left:.0f} s: the previous run's files were removed less than a minute ago")
        time.sleep(left)
        notes.append(f"waited {left:.0f} s for the previous run's freed inodes to age (README)")


def _skips_recently_freed(path: Path) -> bool:
    """Whether ``path`` is on ext4 without a journal (its sysfs ``journal_task`` reads
    ``<none>``), the one case where the kernel scans recently freed inodes."""
    device = os.stat(path).st_dev
    try:
        uevent = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}/uevent").read_text()
    except OSError:
        return False
    name = dict(line.split("=", 1) for line in uevent.splitlines() if "=" in line).get("DEVNAME")
    try:
        return Path(f"/sys/fs/ext4/{name}/journal_task").read_text().strip() == "<none>"
    except OSError:
        return False


def start_all(
    dataset: Dataset,
    options: Options,
    run_dir: Path,
    notes: list[str],
) -> Context:
    run_dir.mkdir(parents=True, exist_ok=True)
    scp_port = servers.free_port()
    storescp, inbox = servers.start_storescp(run_dir, scp_port)
    running: dict[str, servers.Server] = {
        "storescp": servers.Server(
            "storescp",
            scp_port,
            "",
            storescp,
            inbox,
            dimse_port=scp_port,
            aet=servers.SCP_AET,
            capabilities={"storescp"},
        )
    }
    log("starting Orthanc")
    running["orthanc"] = servers.start_orthanc(run_dir, scp_port)
    if options.with_openvna:
        log("starting openvna")
        try:
            running["openvna"] = servers.start_openvna(run_dir, scp_port)
        except (servers.ServerError, OSError) as exc:
            notes.append(f"openvna did not start: {exc}")
            log(f"openvna did not start: {exc}")
    static = run_dir / "static"
    static.mkdir()
    nginx, port = servers.start_nginx(run_dir, static)
    running["nginx"] = servers.Server("nginx", port, "", nginx, static, capabilities={"static"})
    ctx = Context(dataset, options.sizes, running, run_dir, options.work, options.requests)
    ctx.state["scp_inbox"] = str(inbox)
    # Asked now, while every server is known to be up.
    ctx.state["versions"] = versions(ctx)
    return ctx


def selected(m: Measurement, only: list[str]) -> bool:
    return not only or any(word.lower() in m.name.lower() for word in only)


def run_one(ctx: Context, m: Measurement) -> Row:
    """Setup, then each repetition on every subject (order alternating), then teardown."""
    row = Row(m)
    subjects = eligible(ctx, m, row)
    log(f"{m.name}: {', '.join(s.name for s in subjects) or 'nothing to measure'}")
    if not subjects:
        return row
    try:
        if m.setup:
            m.setup(ctx)
        for rep in range(ctx.sizes.reps):
            for server in subjects if rep % 2 == 0 else subjects[::-1]:
                if server.name not in row.errors:
                    run_rep(ctx, m, server, rep, row)
        if m.teardown:
            m.teardown(ctx)
    except Exception as exc:
        for server in subjects:
            row.errors.setdefault(server.name, f"setup: {type(exc).__name__}: {exc}")
        log(f"  setup failed: {exc}")
    return row


def eligible(ctx: Context, m: Measurement, row: Row) -> list[servers.Server]:
    """The servers that run ``m``; the others get a skip reason in ``row``."""
    subjects = []
    for name in m.subjects:
        server = ctx.servers.get(name)
        if server is None:
            row.skipped[name] = "not run"
        elif m.requires in server.unavailable:
            row.skipped[name] = f"not measured: {server.unavailable[m.requires]}"
        elif m.requires not in server.capabilities:
            row.skipped[name] = NOT_BUILT if name == "openvna" else "not available"
        else:
            subjects.append(server)
    return subjects


def run_rep(ctx: Context, m: Measurement, server: servers.Server, rep: int, row: Row) -> None:
    """One repetition; a reference server that dies is noted, restarted, and measured on.

    The reference crashing is its own defect, not a failed check of ours: the repetition's
    samples are lost, the row says how often it died, and the later rows still have it.
    """
    try:
        row.samples.setdefault(server.name, []).extend(m.func(ctx, server, rep))
    except Exception as exc:
        if server.name == "orthanc":
            # A SIGSEGV resets the connection before the process is reaped: give it a moment.
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.process.popen.wait(DEATH_WAIT)
        death = server.process.death()
        if death is not None and server.name == "orthanc":
            row.crashes.setdefault(server.name, []).append(death)
            log(f"  {server.name} died ({death}) in repetition {rep + 1}; restarting it")
            servers.restart_orthanc(server)
            return
        row.errors[server.name] = f"{type(exc).__name__}: {exc}"
        log(f"  {server.name} failed: {row.errors[server.name]}")


def describe(ctx: Context, options: Options, notes: list[str], seconds: float) -> dict:
    """Machine, versions and settings, so a table can be read against the box that made it."""
    info: dict[str, object] = {
        "date": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "machine": machine(),
        "scale": options.sizes.scale,
        "repetitions": options.sizes.reps,
        "requests per repetition (latency rows)": options.requests,
        "run time": f"{seconds / 60:.1f} min",
        "versions": ctx.state["versions"],
        "orthanc_settings": servers.ORTHANC_SETTINGS,
    }
    for server in ctx.servers.values():
        caps = ", ".join(sorted(server.capabilities))
        extra = "".join(f"; {' '.join(n.split())}" for n in server.notes)
        notes.append(f"{server.name}: doors {caps}{extra}")
    for name in ("openvna", "orthanc"):
        if f"hwm-{name}" in ctx.state:
            hwm = ctx.state[f"hwm-{name}"]
            notes.append(
                f"{name} VmHWM summed over its processes (lifetime peaks, ingest included; "
                f"pages shared by processes counted in each): {hwm:.0f} MB"
            )
    info["notes"] = notes
    return info


def machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return (
        f"nproc {os.cpu_count()}, {model}, {mem_kb / 1024**2:.1f} GiB RAM, "
        f"Linux {platform.release()}"
    )


def versions(ctx: Context) -> str:
    parts = [f"Python {platform.python_version()}", f"pydicom {pydicom.__version__}"]
    orthanc = ctx.servers.get("orthanc")
    if orthanc:
        parts.append(f"Orthanc {_json(orthanc, '/system').get('Version', '?')}")
        parts.append(f"DICOMweb plugin {_json(orthanc, '/plugins/dicom-web').get('Version', '?')}")
    if "openvna" in ctx.servers:
        parts.append(f"openvna {_openvna_version()}")
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=False)
    parts.append(nginx.stderr.strip().replace("nginx version: ", ""))
    dcmtk = subprocess.run(["storescu", "--version"], capture_output=True, text=True, check=False)
    first = dcmtk.stdout.strip().splitlines()[0] if dcmtk.stdout.strip() else "?"
    parts.append(f"DCMTK {first.split()[2] if len(first.split()) > 2 else first}")
    return "; ".join(parts)


def _json(server: servers.Server, path: str) -> dict:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        return json.loads(body) if response.status == 200 else {}
    finally:
        conn.close()


def _openvna_version() -> str:
    import openvna

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent,
    ).stdout.strip()
    return f"{openvna.__version__} ({commit or 'no git'})"
