"""Install the OHIF viewer (npm package ``@ohif/app``) from the npm registry, checked, unpacked.

The published tarball carries a ready ``dist/`` (no node needed to serve it). Its files are built
for the root of a site (``PUBLIC_URL`` "/"): the install rewrites those absolute references to
``/viewer/`` once, so the viewer runs on the archive's own origin beside ``/dicomweb``. The tarball
is taken only if its SHA-512 matches the ``dist.integrity`` the registry publishes for the pinned
version (npm's Subresource Integrity string, W3C SRI §3.1), before anything is unpacked.

The published ``dist/`` is not minified (35 MB of scripts, styles and WebAssembly load when the
viewer opens): each of those files gets a gzip copy beside it (``<name>.gz``, about a fifth of
the size) that the server sends to a browser accepting gzip (RFC 9110 §8.4.1.3).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "OHIF_PACKAGE",
    "OHIF_VERSION",
    "REGISTRY",
    "VIEWER_PREFIX",
    "Release",
    "ViewerInstallError",
    "default_dir",
    "install",
    "installed",
    "release",
]

OHIF_PACKAGE = "@ohif/app"
OHIF_VERSION = "3.13.2"
REGISTRY = "https://registry.npmjs.org"
VIEWER_PREFIX = "/viewer"
_MARKER = "openvna-viewer.json"
_CURRENT = "current"
_TIMEOUT = 60.0
# What is worth a gzip copy: the text and WebAssembly the app loads, from 1 KiB up.
_COMPRESSED = frozenset({".js", ".css", ".wasm", ".json", ".svg"})
_COMPRESS_FROM = 1024

# What the build fixed to the site root, and what it becomes under /viewer/ (index.html links
# and PUBLIC_URL, webpack's chunk public path in each entry bundle, fonts in the CSS).
_ROOTED: dict[str, list[tuple[re.Pattern[str], str]]] = {
    ".html": [
        (re.compile(r'((?:href|src)=")/(?!/)'), r"\1" + VIEWER_PREFIX + "/"),
        (re.compile(r'(window\.PUBLIC_URL=")/(")'), r"\1" + VIEWER_PREFIX + r"/\2"),
    ],
    ".js": [(re.compile(r'(__webpack_require__\.p = ")/(")'), r"\1" + VIEWER_PREFIX + r"/\2")],
    ".css": [(re.compile(r"(url\()/(?!/)"), r"\1" + VIEWER_PREFIX + "/")],
}


class ViewerInstallError(Exception):
    """The viewer could not be installed; the message says why (registry, integrity, archive)."""


@dataclass(frozen=True)
class Release:
    """One published version: its tarball URL and the registry's SRI integrity string."""

    version: str
    tarball: str
    integrity: str


def default_dir() -> Path:
    """``$XDG_DATA_HOME/openvna/viewer``: one install serves every data directory."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "openvna" / "viewer"


def installed(root: Path) -> Path | None:
    """The directory of the installed viewer's files (with its ``index.html``), or None."""
    try:
        version = (root / _CURRENT).read_text().strip()
    except OSError:
        return None
    dist = root / version
    return dist if version and (dist / "index.html").is_file() else None


def release(version: str = OHIF_VERSION, registry: str = REGISTRY) -> Release:
    """Read the version's ``dist`` from the registry (npm registry API: GET /<name>/<version>)."""
    name = urllib.parse.quote(OHIF_PACKAGE, safe="@")
    url = f"{registry.rstrip('/')}/{name}/{urllib.parse.quote(version)}"
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as answer:
            document = json.load(answer)
        dist = document["dist"]
        return Release(str(document["version"]), str(dist["tarball"]), str(dist["integrity"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ViewerInstallError(f"cannot read {OHIF_PACKAGE}@{version} from {url}: {exc}") from exc


def install(root: Path, version: str = OHIF_VERSION, registry: str = REGISTRY) -> Path:
    """Download, verify and unpack the pinned viewer into ``root/<version>``; return that path.

    Idempotent: an existing install of that version is kept. The switch to a new version is the
    rewrite of one small file, so a running server never serves half an install.
    """
    wanted = release(version, registry)
    target = root / wanted.version
    if (target / _MARKER).is_file():
        _precompress(target)  # an install made before the gzip copies existed
        _make_current(root, wanted.version)
        return target
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".install-") as work:
        tarball = Path(work) / "app.tgz"
        _download(wanted, tarball)
        staging = Path(work) / "dist"
        _unpack(tarball, staging)
        _root_under_prefix(staging)
        _precompress(staging)
        (staging / _MARKER).write_text(json.dumps(wanted.__dict__, indent=2) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    _make_current(root, wanted.version)
    return target


def _download(wanted: Release, path: Path) -> None:
    """Fetch the tarball while hashing it; refuse it unless its digest is the registry's."""
    algorithm, _, expected = wanted.integrity.partition("-")
    if algorithm != "sha512" or not expected:
        raise ViewerInstallError(f"unexpected integrity {wanted.integrity!r}: want sha512-...")
    digest = hashlib.sha512()
    try:
        with (
            urllib.request.urlopen(wanted.tarball, timeout=_TIMEOUT) as answer,
            path.open("wb") as out,
        ):
            while chunk := answer.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except OSError as exc:
        raise ViewerInstallError(f"cannot download {wanted.tarball}: {exc}") from exc
    got = base64.b64encode(digest.digest()).decode()
    if got != expected:
        raise ViewerInstallError(
            f"{wanted.tarball} does not match the registry's integrity: sha512-{got}"
        )


def _unpack(tarball: Path, staging: Path) -> None:
    """Extract ``package/dist/`` only, with tarfile's 'data' filter (no links out, no devices)."""
    prefix = "package/dist/"
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            members = []
            for member in archive.getmembers():
                if member.name.startswith(prefix) and member.name != prefix:
                    member.name = member.name[len(prefix) :]
                    members.append(member)
            if not any(m.name == "index.html" for m in members):
                raise ViewerInstallError(f"{tarball.name} has no {prefix}index.html")
            archive.extractall(staging, members=members, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise ViewerInstallError(f"cannot unpack {tarball.name}: {exc}") from exc


def _root_under_prefix(dist: Path) -> None:
    """Rewrite the site-root references of the top-level HTML, JS and CSS files to /viewer/."""
    for path in dist.iterdir():
        rules = _ROOTED.get(path.suffix)
        if not rules or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        patched = text
        for pattern, replacement in rules:
            patched = pattern.sub(replacement, patched)
        if patched != text:
            path.write_text(patched, encoding="utf-8")


def _precompress(dist: Path) -> None:
    """Write ``<name>.gz`` beside each file worth it that has none yet (each replaced into place
    whole, so a running server never sends half of one)."""
    for path in dist.rglob("*"):
        if path.suffix not in _COMPRESSED or not path.is_file():
            continue
        copy = path.with_name(path.name + ".gz")
        if copy.exists() or path.stat().st_size < _COMPRESS_FROM:
            continue
        partial = copy.with_name(copy.name + ".tmp")
        partial.write_bytes(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))
        partial.replace(copy)


def _make_current(root: Path, version: str) -> None:
    pointer = root / (_CURRENT + ".tmp")
    pointer.write_text(version + "\n")
    pointer.replace(root / _CURRENT)
