"""Rows of the pixel service (issue 14): rendered PNG, WADO-URI JPEG, a study's thumbnail once
made, and JPEG 2000 instances transcoded to Explicit VR Little Endian on WADO-RS.

Uncached rows ask a different frame each request and, so that no request of any repetition
repeats another (openvna's render cache keys on frame and parameters), a window of its own: what
is measured is decode + LUT + encode, on both servers. The targets are issue 14's.
"""

from __future__ import annotations

import random
from pathlib import Path

import pydicom

from bench import client, measure
from bench.client import CheckError
from bench.registry import Context, Target, measurement
from bench.servers import Server

J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


def _distinct_files(ctx: Context, rep: int, count: int) -> list[Path]:
    files = ctx.study("big").files
    rng = random.Random(1000 + rep)
    picks = rng.sample(range(len(files)), min(count, len(files)))
    return [ctx.dataset.path(files[i]) for i in picks]


def _window(rep: int, i: int) -> tuple[int, int]:
    """A CT soft-tissue window whose width differs for every request of the run."""
    return 40, 400 + rep * 100 + i


def _latencies(server: Server, paths: list[str], accept: str, magic: bytes) -> list[float]:
    """GET each path once (the first, a warm-up, not counted); each answer must start with
    ``magic`` (the image format's signature)."""
    conn = server.connection()
    samples = []
    try:
        for i, path in enumerate([paths[0], *paths]):
            got = client.get(conn, path, accept)
            if got.status != 200 or not got.body.startswith(magic):
                raise CheckError(f"{server.name} {path}: HTTP {got.status} {got.body[:80]!r}")
            if i:
                samples.append(got.seconds * 1000)
    finally:
        conn.close()
    return samples


@measurement(
    "rendered PNG of a 512x512 CT frame p50 (uncached)",
    Target("<= 0.5x Orthanc (issue 14)", ratio=0.5),
    "ms",
    False,
    requires="rendered",
)
def rendered_png(ctx: Context, server: Server, rep: int) -> list[float]:
    files = _distinct_files(ctx, rep, ctx.requests + 1)
    paths = [
        f"{measure.instance_path(server, p)}/frames/1/rendered?window=%d,%d,linear"
        % _window(rep, i)
        for i, p in enumerate(files)
    ]
    return _latencies(server, paths, "image/png", b"\x89PNG")


@measurement(
    "WADO-URI JPEG of a 512x512 CT image p50 (uncached)",
    Target("<= 0.5x Orthanc (issue 14)", ratio=0.5),
    "ms",
    False,
)
def wado_uri_jpeg(ctx: Context, server: Server, rep: int) -> list[float]:
    paths = []
    for i, path in enumerate(_distinct_files(ctx, rep + 50, ctx.requests + 1)):
        study, series, sop = measure.uids(path)
        center, width = _window(rep, i)
        paths.append(
            f"/wado?requestType=WADO&studyUID={study}&seriesUID={series}&objectUID={sop}"
            f"&contentType=image/jpeg&windowCenter={center}&windowWidth={width}"
        )
    return _latencies(server, paths, "*/*", b"\xff\xd8")


@measurement(
    "thumbnail of a 500-slice CT study p50 (once made)",
    Target("< 10 ms (issue 14)", absolute=10.0),
    "ms",
    False,
    subjects=("openvna",),
    note="Orthanc's DICOMweb plugin (1.10 line) has no thumbnail resource",
)
def thumbnail(ctx: Context, server: Server, rep: int) -> list[float]:
    study = measure.uids(ctx.dataset.path(ctx.study("big").files[0]))[0]
    path = f"{server.dicomweb_path}/studies/{study}/thumbnail"
    return _latencies(server, [path] * ctx.requests, "image/jpeg", b"\xff\xd8")


def _j2k_instances(ctx: Context) -> list[Path]:
    cached = ctx.state.get("j2k-files")
    if isinstance(cached, list):
        return cached
    found = []
    for study in ctx.group("misc"):
        for rel in study.files:
            path = ctx.dataset.path(rel)
            meta = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=[]).file_meta
            if meta.TransferSyntaxUID == J2K_LOSSLESS:
                found.append(path)
    if not found:
        raise CheckError("the data set has no JPEG 2000 instance")
    ctx.state["j2k-files"] = found
    return found


ACCEPT_EXPLICIT = f'multipart/related; type="application/dicom"; transfer-syntax={EXPLICIT_LE}'


def _transcoded(server: Server, paths: list[str], instances: int) -> list[float]:
    """MB/s of each GET of ``paths``, each answer ``instances`` parts of 512x512x2 bytes or more."""
    conn = server.connection()
    samples = []
    try:
        for path in paths:
            got = client.stream_parts(conn, path, ACCEPT_EXPLICIT)
            if (
                got.status != 200
                or got.parts != instances
                or got.nbytes < instances * 512 * 512 * 2
            ):
                raise CheckError(
                    f"{server.name} transcode {path}: HTTP {got.status}, {got.parts} part(s),"
                    f" {got.nbytes} bytes"
                )
            samples.append(got.nbytes / got.seconds / 1e6)
    finally:
        conn.close()
    return samples


@measurement(
    "JPEG 2000 CT instances to Explicit VR LE on WADO-RS (transcode)",
    Target(">= 1.5x Orthanc (issue 14)", ratio=1.5),
    "MB/s",
    True,
)
def transcode_j2k(ctx: Context, server: Server, rep: int) -> list[float]:
    files = _j2k_instances(ctx)
    return _transcoded(server, [measure.instance_path(server, path) for path in files], 1)


@measurement(
    "JPEG 2000 CT series to Explicit VR LE on WADO-RS, one request (transcode)",
    Target(">= 1.5x Orthanc (issue 14: a whole study)", ratio=1.5),
    "MB/s",
    True,
    note="the data set's JPEG 2000 series (3 instances at every scale), asked 3 times a repetition",
)
def transcode_j2k_series(ctx: Context, server: Server, rep: int) -> list[float]:
    files = _j2k_instances(ctx)
    study, series, _ = measure.uids(files[0])
    if any(measure.uids(path)[1] != series for path in files):
        raise CheckError("the data set's JPEG 2000 instances are not one series")
    path = f"{server.dicomweb_path}/studies/{study}/series/{series}"
    return _transcoded(server, [path] * 3, len(files))
