"""Proxy mode (issue 9, seed 003): a DIMSE SCP in front of any DICOMweb server.

- C-ECHO is answered here;
- C-FIND becomes a QIDO-RS search (PS3.18 §10.6): each key with a value a match parameter as
  sent, each key an ``includefield``, the answers filtered to the keys asked; the PATIENT level,
  which QIDO-RS lacks, is a study search folded by Patient ID;
- C-GET and C-MOVE list the instances by QIDO-RS, then fetch each by WADO-RS in the stored
  syntax (``transfer-syntax=*``) into a temporary file and send it as it came (C-STORE over the
  same association, or to a known remote node);
- C-STORE becomes a STOW-RS request of the Part 10 file, its status read from the response's
  Failed SOP Sequence (PS3.18 Table 10.5.3-2).

``--header`` adds HTTP headers to every request (an API key). The HTTP client is the standard
library's: one request at a time per association thread.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydicom import Dataset
from pydicom.datadict import keyword_for_tag
from pynetdicom import evt

from openvna.archive.remotes import RemoteRegistry
from openvna.dicom.json import json_to_dataset
from openvna.dicom.query import Level
from openvna.dicom.tags import tag_hex
from openvna.dimse.contexts import add_scp_contexts
from openvna.dimse.identifier import LEVEL_KEYS, find_query, query_level
from openvna.dimse.negotiation import extended_negotiation
from openvna.dimse.retrieve import CANCEL, PENDING, StoredFile, contexts_for_pairs
from openvna.dimse.scp import ArchiveEntity, DimseServer, server_on
from openvna.dimse.store import spool_received, status_of
from openvna.errors import InvalidQuery

if TYPE_CHECKING:
    from pynetdicom.events import Event

__all__ = ["DicomwebBackend", "build_proxy_entity", "proxy_handlers", "serve_proxy"]

log = logging.getLogger("openvna.dimse")

_LEVEL_PATHS = {Level.STUDY: "studies", Level.SERIES: "series", Level.INSTANCE: "instances"}
_LEVEL_NAMES = {
    Level.PATIENT: "PATIENT",
    Level.STUDY: "STUDY",
    Level.SERIES: "SERIES",
    Level.INSTANCE: "IMAGE",
}
_BOUNDARY = "openvna-proxy-boundary"
_TIMEOUT = 120
_ANSWERED_HERE = {0x00080005, 0x00080052, 0x00080054}


@dataclass(frozen=True)
class DicomwebBackend:
    """The DICOMweb server behind the proxy: its root URL and the headers to send."""

    root: str
    headers: tuple[tuple[str, str], ...] = ()

    def request(
        self, path: str, *, accept: str, body: bytes | None = None, content_type: str = ""
    ) -> tuple[int, dict[str, str], bytes]:
        url = self.root.rstrip("/") + path
        headers = {**dict(self.headers), "Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(url, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def search(self, path: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode(params)
        status, _, body = self.request(f"{path}?{query}", accept="application/dicom+json")
        if status == 204 or not body:
            return []
        if status != 200:
            raise InvalidQuery(f"QIDO-RS answered {status}: {body[:200]!r}")
        found = json.loads(body)
        return found if isinstance(found, list) else []


def proxy_handlers(backend: DicomwebBackend, remotes: RemoteRegistry, title: str) -> list[Any]:
    """The event handlers of the proxy's SCP."""
    return [
        (evt.EVT_C_ECHO, lambda event: 0x0000),
        (evt.EVT_SOP_EXTENDED, extended_negotiation),
        (evt.EVT_C_FIND, lambda event: _find(event, backend, title)),
        (evt.EVT_C_STORE, lambda event: _store(event, backend)),
        (evt.EVT_C_GET, lambda event: _get(event, backend)),
        (evt.EVT_C_MOVE, lambda event: _move(event, backend, remotes)),
    ]


def build_proxy_entity(title: str, remotes: RemoteRegistry) -> ArchiveEntity:
    """The proxy's AE: the SCP's contexts and admission rules, without an archive."""
    ae = ArchiveEntity(title, remotes)
    ae.maximum_pdu_size = 0
    add_scp_contexts(ae)
    return ae


# -- C-FIND -> QIDO-RS -------------------------------------------------------------------------


def _find(event: Event, backend: DicomwebBackend, title: str) -> Iterator[Any]:
    try:
        identifier = event.identifier
        query = find_query(identifier, combined_datetime=False)  # validates, as the SCP does
        params = _qido_params(identifier)
        level = query.level
        path = "/" + _LEVEL_PATHS.get(level, "studies")
        found = backend.search(path, params)
    except (InvalidQuery, OSError, ValueError) as exc:
        yield status_of(0xA900 if isinstance(exc, InvalidQuery) else 0xC000, str(exc)), None
        return
    asked = {tag_hex(tag) for tag in query.return_keys}
    seen: set[str] = set()
    for match in found:
        if level is Level.PATIENT:
            patient = json.dumps(match.get("00100020"))
            if patient in seen:
                continue
            seen.add(patient)
        if event.is_cancelled:
            yield CANCEL, None
            return
        ds = json_to_dataset({k: v for k, v in match.items() if k in asked}, None)
        ds.QueryRetrieveLevel = _LEVEL_NAMES[level]
        ds.RetrieveAETitle = title
        if not json.dumps(match, ensure_ascii=True).isascii():
            ds.SpecificCharacterSet = "ISO_IR 192"
        yield PENDING, ds
    yield 0x0000, None


def _qido_params(identifier: Dataset) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    for element in identifier:
        tag = int(element.tag)
        if element.tag.group == 0x0002 or element.tag.is_private or tag in _ANSWERED_HERE:
            continue
        if element.VR == "SQ":
            params.append(("includefield", element.keyword))
            continue
        value = element.value
        if value not in (None, "", b""):
            if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
                text = ("," if element.VR == "UI" else "\\").join(str(v) for v in value)
            else:
                text = str(value)
            params.append((element.keyword, text))
        params.append(("includefield", element.keyword))
    if not any(name == "limit" for name, _ in params):
        params.append(("limit", "100000"))
    return params


# -- C-STORE -> STOW-RS ------------------------------------------------------------------------


def _store(event: Event, backend: DicomwebBackend) -> Dataset:
    spool = Path(tempfile.mkdtemp(prefix="openvna-proxy-"))
    try:
        path = spool_received(event, spool)
        body = b"".join(
            [
                f"--{_BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode(),
                path.read_bytes(),
                f"\r\n--{_BOUNDARY}--\r\n".encode(),
            ]
        )
        content_type = f'multipart/related; type="application/dicom"; boundary={_BOUNDARY}'
        status, _, answer = backend.request(
            "/studies", accept="application/dicom+json", body=body, content_type=content_type
        )
    except OSError as exc:
        return status_of(0xA700, f"DICOMweb server unreachable: {exc}")
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    return _stow_status(status, answer)


def _stow_status(status: int, answer: bytes) -> Dataset:
    """A STOW-RS response as a C-STORE status (PS3.18 Table 10.5.3-2 and §10.5.3)."""
    try:
        body = json.loads(answer) if answer else {}
    except ValueError:
        body = {}
    failed = (body.get("00081198") or {}).get("Value") if isinstance(body, dict) else None
    if failed:
        reason = (failed[0].get("00081197") or {}).get("Value") or [0x0110]
        return status_of(int(reason[0]), f"STOW-RS answered {status}")
    if status == 200:
        return status_of(0x0000)
    if status == 202:
        return status_of(0xB000, "STOW-RS answered 202 (warnings)")
    return status_of(0x0110, f"STOW-RS answered {status}")


# -- C-GET / C-MOVE -> QIDO-RS + WADO-RS --------------------------------------------------------


@dataclass(frozen=True)
class _Remote:
    study: str
    series: str
    sop: str
    sop_class: str
    syntax: str


def _instances(backend: DicomwebBackend, identifier: Dataset) -> list[_Remote]:
    level = query_level(identifier)
    if not identifier.get(keyword_for_tag(LEVEL_KEYS[level])):
        raise InvalidQuery(f"{level.value} level retrieve without a value for its unique key")
    params = [
        (keyword, _text(identifier[keyword].value))
        for keyword in ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
        if keyword in identifier and identifier[keyword].value
    ]
    params += [
        ("includefield", "00080016"),
        ("includefield", "00083002"),
        ("includefield", "0020000E"),
        ("limit", "100000"),
    ]
    found = []
    for match in backend.search("/instances", params):
        values = [
            (match.get(tag) or {}).get("Value", [""])[0]
            for tag in ("0020000D", "0020000E", "00080018", "00080016", "00083002")
        ]
        found.append(_Remote(*(str(v) for v in values)))
    return found


def _text(value: Any) -> str:
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return ",".join(str(v) for v in value)
    return str(value)


def _fetched(backend: DicomwebBackend, instance: _Remote, directory: Path) -> StoredFile | None:
    path = f"/studies/{instance.study}/series/{instance.series}/instances/{instance.sop}"
    accept = 'multipart/related; type="application/dicom"; transfer-syntax=*'
    status, headers, body = backend.request(path, accept=accept)
    if status != 200:
        return None
    part = _first_part(headers.get("Content-Type", headers.get("content-type", "")), body)
    if part is None:
        return None
    target = directory / f"{instance.sop}.dcm"
    target.write_bytes(part)
    syntax = instance.syntax or _syntax_of(target)
    return StoredFile(target, instance.sop_class, instance.sop, syntax)


def _first_part(content_type: str, body: bytes) -> bytes | None:
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    if not found:
        return body or None
    delimiter = b"--" + found.group(1).encode()
    pieces = body.split(delimiter)
    if len(pieces) < 3:
        return None
    _, _, data = pieces[1].partition(b"\r\n\r\n")
    return data[:-2] if data.endswith(b"\r\n") else data


def _syntax_of(path: Path) -> str:
    from pynetdicom.dsutils import split_dataset

    return str(split_dataset(path)[0].TransferSyntaxUID)


def _sub_operations(
    event: Event, backend: DicomwebBackend, instances: list[_Remote]
) -> Iterator[Any]:
    directory = Path(tempfile.mkdtemp(prefix="openvna-proxy-"))
    try:
        for instance in instances:
            if event.is_cancelled:
                yield CANCEL, None
                return
            for old in directory.iterdir():
                old.unlink()
            fetched = _fetched(backend, instance, directory)
            if fetched is None:  # not fetched: a path that is not there fails its sub-operation
                missing = directory / "not-fetched.dcm"
                fetched = StoredFile(missing, instance.sop_class, instance.sop, instance.syntax)
            yield PENDING, fetched
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _get(event: Event, backend: DicomwebBackend) -> Iterator[Any]:
    from openvna.dimse.retrieve import send_files_as_stored

    instances = _instances(backend, event.identifier)
    send_files_as_stored(event.assoc)
    yield len(instances)
    yield from _sub_operations(event, backend, instances)


def _move(event: Event, backend: DicomwebBackend, remotes: RemoteRegistry) -> Iterator[Any]:
    destination = event.move_destination or ""
    title = (
        destination.decode("ascii", "replace") if isinstance(destination, bytes) else destination
    ).strip()
    node = remotes.get(title)
    if node is None:
        yield None, None
        return
    instances = _instances(backend, event.identifier)
    pairs = [(i.sop_class, i.syntax) for i in instances]
    yield node.host, node.port, {"ae_title": node.aet, "contexts": contexts_for_pairs(pairs)}
    yield len(instances)
    yield from _sub_operations(event, backend, instances)


def serve_proxy(
    backend: DicomwebBackend, remotes: RemoteRegistry, title: str, sock: Any
) -> DimseServer:
    """Serve the proxy on a listening socket from a thread; ``shutdown()`` stops it."""
    import threading

    ae = build_proxy_entity(title, remotes)
    server = server_on(ae, proxy_handlers(backend, remotes, title), sock)
    threading.Thread(target=server.serve_forever, name="openvna-proxy", daemon=True).start()
    return server
