"""``python -m bench``: openvna against Orthanc, side by side, on one machine (issue 3).

    python -m bench                 # full run (scale 1, 5 repetitions, about 6 minutes on 2 cores)
    python -m bench --smoke         # tiny data set, a few requests; exit 0 iff every check passed
    python -m bench --scale 0.2     # everything 5x smaller
    python -m bench --only QIDO     # only the rows whose name contains QIDO

Installs the Debian packages it needs (Orthanc, its DICOMweb plugin, nginx, DCMTK) when they are
missing, generates the synthetic data set into bench/work/, and writes bench/out/results.md
and results.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from bench import dataset, doors, measure, pixels, report, runner  # noqa: F401  (registers the rows)

HERE = Path(__file__).resolve().parent
PACKAGES = ["orthanc", "orthanc-dicomweb", "orthanc-gdcm", "nginx-light", "dcmtk"]
TOOLS = ["Orthanc", "nginx", "storescu", "storescp", "findscu", "movescu", "echoscu"]


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny data set, CI mode (exit code)")
    p.add_argument("--scale", type=float, help="data set size factor (full run: 1)")
    p.add_argument("--reps", type=int, help="repetitions per measurement (default 5, smoke 2)")
    p.add_argument("--requests", type=int, help="requests per repetition for latency rows")
    p.add_argument("--out", type=Path, default=HERE / "out", help="where results go")
    p.add_argument("--work", type=Path, default=HERE / "work", help="data set and server dirs")
    p.add_argument("--only", action="append", default=[], help="run rows containing this text")
    p.add_argument("--orthanc-only", action="store_true", help="do not start openvna")
    p.add_argument("--keep", action="store_true", help="keep the servers' data directories")
    p.add_argument("--no-install", action="store_true", help="never call apt-get")
    return p.parse_args(argv)


def ensure_tools(allow_install: bool) -> None:
    """Install the Debian packages when a tool is missing; stop services they start."""
    plugins = ("libOrthancDicomWeb.so", "libOrthancGdcm.so")
    plugin_missing = not all(Path("/usr/share/orthanc/plugins", p).exists() for p in plugins)
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if not missing and not plugin_missing:
        return
    command = f"apt-get update && apt-get install -y {' '.join(PACKAGES)}"
    if not allow_install or os.geteuid() != 0:
        sys.exit(f"missing {missing or 'an Orthanc plugin'}; run as root: {command}")
    runner.log(f"installing: {command}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", *PACKAGES], check=True, env=env)
    for service in ("orthanc", "nginx"):
        # The packages may start system services on 8042/4242/80; the bench runs its own.
        subprocess.run(["service", service, "stop"], capture_output=True, check=False)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    scale = args.scale if args.scale is not None else (0.01 if args.smoke else 1.0)
    reps = args.reps or (2 if args.smoke else 5)
    requests = args.requests or (3 if args.smoke else 20)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ensure_tools(not args.no_install)
    sizes = dataset.Sizes(scale, reps)
    runner.log(f"data set at scale {scale:g} ({sizes.key()})")
    data = dataset.build(args.work, sizes)
    options = runner.Options(
        sizes, requests, args.work, args.only, not args.orthanc_only, args.keep
    )
    rows, info = runner.run(data, options)
    path = report.write(args.out, rows, info)
    print(path.read_text())
    problems = report.failed(rows)
    problems += [n for n in info.get("notes", []) if "did not start" in n]
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
