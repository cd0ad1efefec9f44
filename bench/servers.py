"""Start and stop the servers under test (openvna, Orthanc) and the references (nginx, storescp).

Every process runs in its own session (process group) on a free loopback port and is stopped by
killing the group, so nothing outlives the bench even when a measurement fails. Memory is read
from /proc: the proportional set size (Pss of smaps_rollup) summed over the process tree (workers
included), sampled while a measurement runs, and VmHWM (the kernel's peak resident size) at the
end. PSS, not RSS: openvna's processes are forked from a supervisor that imported the libraries
once and share those pages; a sum of RSS would count them once per process. For a server of one
process (Orthanc) the two differ only by the shared libraries it shares with other programs.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ORTHANC_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
# Orthanc decodes JPEG 2000 (rendering, transcoding) only through its GDCM plugin (Debian
# orthanc-gdcm); loaded when installed, as a production Orthanc would have it.
ORTHANC_GDCM = Path("/usr/share/orthanc/plugins/libOrthancGdcm.so")
SCP_AET = "BENCHSCP"
# DCMTK (inside Orthanc too) sets TCP_NODELAY on its sockets only when this is in the environment.
DCMTK_ENV = {"TCP_NODELAY": "1"}

# Orthanc settings beyond its defaults, each chosen to match what openvna does (see README).
ORTHANC_SETTINGS: dict[str, object] = {
    "RemoteAccessAllowed": False,
    "AuthenticationEnabled": False,
    "HttpCompressionEnabled": False,
    "TcpNoDelay": True,
    "KeepAlive": True,
    "StorageCompression": False,
    "OverwriteInstances": True,
    "SaveJobs": False,
    "WebDavEnabled": False,
    "DicomCheckCalledAet": False,
    "DicomAlwaysAllowFind": True,
    "DicomAlwaysAllowMove": True,
    "DicomAlwaysAllowGet": True,
    "UnknownSopClassAccepted": True,
    "LimitFindResults": 0,
    "LimitFindInstances": 0,
    "MaximumPduLength": 131072,
}


class ServerError(RuntimeError):
    """A server did not start, or answered its readiness probe wrongly; names the server."""


LIVE: list[Process] = []


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block ends, then exit as the signal asked.

    Spawning a server and registering it, or stopping all of them, must not be cut in half by
    a signal: that would leave a server running with nobody to stop it.
    """
    received: list[int] = []
    sigs = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda s, _f: received.append(s)) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise SystemExit(128 + received[0])


def stop_all() -> None:
    """Stop every process the bench started, newest first."""
    with deferred_signals():
        while LIVE:
            LIVE.pop().stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Process:
    """A child process in its own process group, with its output in a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    cwd: Path | None = None

    @classmethod
    def spawn(
        cls,
        name: str,
        argv: list[str],
        log: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Process:
        log.parent.mkdir(parents=True, exist_ok=True)
        with deferred_signals(), log.open("ab") as out:
            popen = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **(env or {})},
                cwd=cwd,
            )
            process = cls(name, popen, log, argv, env, cwd)
            LIVE.append(process)
        return process

    def death(self) -> str | None:
        """How the process ended ("signal 11 (SIGSEGV)", "exit 1"), or None while it runs."""
        code = self.popen.poll()
        if code is None:
            return None
        if code < 0:
            return f"signal {-code} ({signal.Signals(-code).name})"
        return f"exit {code}"

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to the whole group, SIGKILL if it has not exited after ``timeout``."""
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            if not self.alive():
                break
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.popen.wait(wait)
            except subprocess.TimeoutExpired:
                continue
        # Workers left in the group after the leader exited.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Server:
    """One archive under test, as the measurements see it."""

    name: str
    port: int
    dicomweb_path: str
    process: Process
    data_dir: Path
    dimse_port: int | None = None
    aet: str = ""
    fhir_path: str | None = None
    capabilities: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def connection(self, timeout: float = 600.0) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def hwm(self) -> int:
        return tree_memory(self.process.pid, "VmHWM")

    def cpu(self) -> float:
        return tree_cpu(self.process.pid)


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(k) for k in f.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        pass
    return kids


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of the tree."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14 and 15)
        stack += _children(current)
    return total / os.sysconf("SC_CLK_TCK")


def tree_memory(pid: int, field_name: str, source: str = "status") -> int:
    """Sum of one memory field (kB) of /proc/<pid>/``source`` over the process tree, in bytes."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/{source}") as f:
                for line in f:
                    if line.startswith(field_name + ":"):
                        total += int(line.split()[1]) * 1024
        except (FileNotFoundError, ProcessLookupError):
            continue
        stack += _children(current)
    return total


def tree_pss(pid: int) -> int:
    """The proportional set size of the process tree under ``pid``, in bytes."""
    return tree_memory(pid, "Pss", "smaps_rollup")


class MemorySampler:
    """Samples the PSS of the process tree under ``pid`` every ``interval`` seconds in a thread;
    ``peak`` in bytes, readable while it runs. The bench's memory row and the tests' memory
    bounds (tests/integration) measure with it, so that both mean the same thing."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_pss(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_pss(self.pid))


def wait_http(process: Process, port: int, path: str, timeout: float = 60.0) -> None:
    """Poll ``path`` until it answers 200; a dead process or a timeout is a ServerError."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not process.alive():
            raise ServerError(f"{process.name} exited during start-up:\n{process.tail()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status == 200:
                return
            last = f"HTTP {response.status}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise ServerError(f"{process.name} not ready on port {port} after {timeout} s ({last})")


def start_orthanc(run_dir: Path, scp_port: int) -> Server:
    """Orthanc with its DICOMweb plugin, SQLite index and file storage under ``run_dir``."""
    if not ORTHANC_PLUGIN.exists():
        raise ServerError(f"Orthanc DICOMweb plugin missing: {ORTHANC_PLUGIN} (see bench/README)")
    home = run_dir / "orthanc"
    shutil.rmtree(home, ignore_errors=True)
    (home / "db").mkdir(parents=True)
    port, dimse_port = free_port(), free_port()
    config = {
        "Name": "bench",
        "StorageDirectory": str(home / "db"),
        "IndexDirectory": str(home / "db"),
        "HttpPort": port,
        "DicomPort": dimse_port,
        "DicomAet": "ORTHANC",
        "Plugins": [str(p) for p in (ORTHANC_PLUGIN, ORTHANC_GDCM) if p.exists()],
        "DicomWeb": {
            "Enable": True,
            "Root": "/dicom-web/",
            "EnableWado": True,
            "Host": f"127.0.0.1:{port}",
            "Ssl": False,
        },
        "DicomModalities": {"bench": [SCP_AET, "127.0.0.1", scp_port]},
        **ORTHANC_SETTINGS,
    }
    path = home / "orthanc.json"
    path.write_text(json.dumps(config, indent=2))
    process = Process.spawn("orthanc", ["Orthanc", str(path)], home / "orthanc.log", DCMTK_ENV)
    server = Server("orthanc", port, "/dicom-web", process, home / "db", dimse_port, "ORTHANC")
    _ready(server, "/system")
    return server


def restart_orthanc(server: Server) -> None:
    """Start Orthanc again after it died: same command, ports and data; its log is appended to.

    Debian 12's Orthanc 1.10.1 with its GDCM plugin 1.5 dies of SIGSEGV after a handful of
    JPEG 2000 to Explicit VR Little Endian transcodes over WADO-RS (reproduced with a bare
    loop of GETs), so a row can lose the reference mid-run; the rows after it still need it.
    """
    old = server.process
    server.process = Process.spawn(old.name, old.argv, old.log, old.env, old.cwd)
    _ready(server, "/system")


def start_openvna(run_dir: Path, scp_port: int) -> Server:
    """``openvna serve`` on its embedded default storage (SQLite + filesystem) in ``run_dir``,
    its DIMSE SCP (default processes) knowing the bench's storescp as a C-MOVE destination."""
    home = run_dir / "openvna"
    shutil.rmtree(home, ignore_errors=True)
    (home / "data").mkdir(parents=True)
    port, dimse_port = free_port(), free_port()
    remotes = [{"aet": SCP_AET, "host": "127.0.0.1", "port": scp_port}]
    env = {"OPENVNA_SERVER__LOG_LEVEL": "warning", "OPENVNA_DIMSE__REMOTES": json.dumps(remotes)}
    # The interpreter running the bench has openvna; its console script may not be on PATH.
    argv = [
        sys.executable,
        "-m",
        "openvna",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--dimse-port",
        str(dimse_port),
        "--data-dir",
        str(home / "data"),
    ]
    process = Process.spawn("openvna", argv, home / "openvna.log", env=env, cwd=home)
    server = Server(
        "openvna",
        port,
        "/dicomweb",
        process,
        home / "data",
        dimse_port,
        "OPENVNA",
        fhir_path="/fhir",
    )
    _ready(server, "/dicomweb/studies?limit=1")
    return server


def _ready(server: Server, path: str) -> None:
    try:
        wait_http(server.process, server.port, path)
    except BaseException:
        server.process.stop()
        raise


def start_nginx(run_dir: Path, root: Path) -> tuple[Process, int]:
    """nginx serving ``root`` statically (sendfile, no logs), the retrieval speed reference."""
    home = run_dir / "nginx"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = home / "nginx.conf"
    conf.write_text(
        f"{user}worker_processes 1;\ndaemon off;\npid {home}/nginx.pid;\n"
        f"error_log {home}/error.log;\nevents {{ worker_connections 64; }}\n"
        "http {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  tcp_nodelay on;\n"
        f"  client_body_temp_path {home}/body;\n  proxy_temp_path {home}/proxy;\n"
        f"  fastcgi_temp_path {home}/fcgi;\n  uwsgi_temp_path {home}/uwsgi;\n"
        f"  scgi_temp_path {home}/scgi;\n"
        f"  server {{ listen 127.0.0.1:{port}; root {root}; "
        "default_type application/octet-stream; }\n}\n"
    )
    process = Process.spawn(
        "nginx", ["nginx", "-c", str(conf), "-p", str(home)], home / "nginx.out"
    )
    try:
        _wait_port(process, port)
    except BaseException:
        process.stop()
        raise
    return process, port


def _wait_port(process: Process, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise ServerError(f"{process.name} exited during start-up:\n{process.tail()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise ServerError(f"{process.name} not listening on port {port} after {timeout} s")


def start_storescp(run_dir: Path, port: int) -> tuple[Process, Path]:
    """DCMTK storescp as the C-MOVE destination; received files land in the returned folder."""
    out = run_dir / "storescp" / "in"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    argv = ["storescp", "-aet", SCP_AET, "+xa", "-pm", "-od", str(out), str(port)]
    process = Process.spawn("storescp", argv, run_dir / "storescp" / "storescp.log", DCMTK_ENV)
    try:
        _wait_port(process, port)
    except BaseException:
        process.stop()
        raise
    return process, out
