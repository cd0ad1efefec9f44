"""``openvna viewer install`` against a registry on loopback that speaks the npm registry API:
the tarball is taken only when its SHA-512 is the registry's integrity, only ``dist/`` is
unpacked, the site-root references are moved under /viewer/, and the files worth it get gzip
copies."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openvna.cli.main import app
from openvna.web.iid.ohif import ViewerInstallError, install, installed

runner = CliRunner()

INDEX = (
    '<!doctype html><html><head><script>window.PUBLIC_URL="/"</script>'
    '<link href="/app.bundle.css" rel="stylesheet"><script src="/app-config.js"></script>'
    '<script defer src="/app.bundle.1.js"></script><a href="//cdn.example/x">x</a></head></html>'
)
BUNDLE = '(() => {\n__webpack_require__.p = "/";\n})();\nconst path = "/keep/this";\n'
CSS = "@font-face{src:url(/a1.woff2)}body{background:url(data:image/png;base64,AA)}"
CHUNK = "const chunk = 1;\n" * 200  # a lazily loaded chunk, big enough for a gzip copy


def _tarball(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class _Registry:
    def __init__(self, tarball: bytes, integrity: str | None = None) -> None:
        self.tarball = tarball
        digest = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
        self.integrity = integrity or f"sha512-{digest}"


@pytest.fixture
def registry() -> Iterator[tuple[str, _Registry]]:
    state = _Registry(
        _tarball(
            {
                "package/package.json": "{}",
                "package/dist/index.html": INDEX,
                "package/dist/app.bundle.1.js": BUNDLE,
                "package/dist/app.bundle.css": CSS,
                "package/dist/assets/logo.svg": "<svg/>",
                "package/dist/12.bundle.ab.js": CHUNK,
            }
        )
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path == "/@ohif%2Fapp/3.13.2":
                body = json.dumps(
                    {
                        "version": "3.13.2",
                        "dist": {"tarball": base + "/app.tgz", "integrity": state.integrity},
                    }
                ).encode()
            elif self.path == "/app.tgz":
                body = state.tarball
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


def test_install_verifies_unpacks_and_roots_under_viewer(registry, tmp_path: Path) -> None:
    url, _ = registry
    root = tmp_path / "viewer"
    assert installed(root) is None
    dist = install(root, "3.13.2", url)
    assert installed(root) == dist == root / "3.13.2"
    index = (dist / "index.html").read_text()
    assert 'window.PUBLIC_URL="/viewer/"' in index
    assert 'href="/viewer/app.bundle.css"' in index
    assert 'src="/viewer/app-config.js"' in index
    assert 'href="//cdn.example/x"' in index  # protocol-relative URLs are not site paths
    bundle = (dist / "app.bundle.1.js").read_text()
    assert '__webpack_require__.p = "/viewer/";' in bundle
    assert '"/keep/this"' in bundle
    assert "url(/viewer/a1.woff2)" in (dist / "app.bundle.css").read_text()
    assert (dist / "assets" / "logo.svg").is_file()
    assert not (dist / "package.json").exists()
    marker = json.loads((dist / "openvna-viewer.json").read_text())
    assert marker["version"] == "3.13.2"
    assert marker["integrity"].startswith("sha512-")
    assert install(root, "3.13.2", url) == dist  # idempotent


def test_install_writes_gzip_copies_of_the_files_worth_it(registry, tmp_path: Path) -> None:
    url, _ = registry
    root = tmp_path / "viewer"
    dist = install(root, "3.13.2", url)
    copy = dist / "12.bundle.ab.js.gz"
    assert gzip.decompress(copy.read_bytes()).decode() == CHUNK
    assert len(copy.read_bytes()) < len(CHUNK) / 5
    assert not (dist / "app.bundle.1.js.gz").exists()  # under 1 KiB
    assert not (dist / "index.html.gz").exists()
    assert not list(dist.rglob("*.tmp"))
    copy.unlink()  # as installed before the copies were made
    assert install(root, "3.13.2", url) == dist
    assert gzip.decompress(copy.read_bytes()).decode() == CHUNK


def test_a_tarball_that_does_not_match_the_integrity_is_refused(registry, tmp_path) -> None:
    url, state = registry
    state.integrity = "sha512-" + base64.b64encode(hashlib.sha512(b"other").digest()).decode()
    root = tmp_path / "viewer"
    with pytest.raises(ViewerInstallError, match="does not match the registry's integrity"):
        install(root, "3.13.2", url)
    assert installed(root) is None
    assert not (root / "3.13.2").exists()
    assert [p.name for p in root.iterdir()] == []  # the download is gone too


def test_only_sha512_integrity_is_accepted(registry, tmp_path) -> None:
    url, state = registry
    state.integrity = "sha1-" + base64.b64encode(hashlib.sha1(state.tarball).digest()).decode()
    with pytest.raises(ViewerInstallError, match="want sha512"):
        install(tmp_path / "viewer", "3.13.2", url)


def test_a_tarball_without_dist_is_refused(registry, tmp_path) -> None:
    url, state = registry
    state.tarball = _tarball({"package/README.md": "no dist"})
    state.integrity = _Registry(state.tarball).integrity
    with pytest.raises(ViewerInstallError, match=r"no package/dist/index\.html"):
        install(tmp_path / "viewer", "3.13.2", url)


def test_members_escaping_the_directory_are_refused(registry, tmp_path) -> None:
    url, state = registry
    state.tarball = _tarball(
        {"package/dist/index.html": INDEX, "package/dist/../../../escaped.txt": "x"}
    )
    state.integrity = _Registry(state.tarball).integrity
    with pytest.raises(ViewerInstallError, match="cannot unpack"):
        install(tmp_path / "viewer", "3.13.2", url)
    assert not list(tmp_path.rglob("escaped.txt"))


def test_an_unreachable_registry_is_one_sentence(tmp_path) -> None:
    with pytest.raises(ViewerInstallError, match=r"cannot read @ohif/app@3\.13\.2"):
        install(tmp_path / "viewer", "3.13.2", "http://127.0.0.1:9")


def test_the_command_installs_and_says_where(registry, tmp_path) -> None:
    url, _ = registry
    root = tmp_path / "viewer"
    result = runner.invoke(app, ["viewer", "install", "--dir", str(root), "--registry", url])
    assert result.exit_code == 0, result.output
    assert f"viewer installed: {root / '3.13.2'} (served at /viewer)" in result.output
    assert installed(root) == root / "3.13.2"


def test_the_command_fails_in_one_line(registry, tmp_path) -> None:
    url, state = registry
    state.integrity = "sha512-" + base64.b64encode(hashlib.sha512(b"x").digest()).decode()
    result = runner.invoke(app, ["viewer", "install", "--dir", str(tmp_path), "--registry", url])
    assert result.exit_code == 1
    assert "does not match the registry's integrity" in result.output
    assert "Traceback" not in result.output
