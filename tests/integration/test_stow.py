"""STOW-RS through real HTTP: dicomweb-client for well-formed requests, httpx for raw bodies.

After every refused or failed request the index, the blob store and the spool are unchanged.
"""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
from dicomweb_client import DICOMwebClient
from PIL import Image
from pydicom import dcmread
from pydicom.uid import JPEGBaseline8Bit
from pydicom.uid import generate_uid as pydicom_uid

from openvna.dicom.part10 import part10_bytes
from openvna.dicom.xml import xml_to_json
from openvna.errors import IndexUnavailable
from tests.factories import claiming_syntax, encapsulated, make_instance
from tests.spool import spool_left

pytestmark = pytest.mark.integration

BOUNDARY = "stow-test-boundary"
DICOM = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
JSON_META = f'multipart/related; type="application/dicom+json"; boundary={BOUNDARY}'
XML_META = f'multipart/related; type="application/dicom+xml"; boundary={BOUNDARY}'
SC = "1.2.840.10008.5.1.4.1.1.7"
STUDY_MISMATCH = 0xA900  # PS3.18 Table I.2-2, A9xx: the data set does not match
CANNOT_UNDERSTAND = 0xC000
COERCION = 0xB000


def _multipart(*parts: tuple[dict[str, str], bytes], close: bool = True) -> bytes:
    body = b""
    for headers, data in parts:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        body += f"--{BOUNDARY}\r\n{head}\r\n".encode() + data + b"\r\n"
    return body + (f"--{BOUNDARY}--\r\n".encode() if close else b"")


def _dicom_parts(*datasets: Any) -> bytes:
    return _multipart(*[({"Content-Type": "application/dicom"}, part10_bytes(d)) for d in datasets])


def _state(server: Any) -> tuple[int, list[str], list[str]]:
    blobs = sorted(str(p) for p in (server.data_dir / "blobs").rglob("*") if p.is_file())
    spool = [str(p) for p in spool_left(server.data_dir / "spool")]
    return server.archive.index.count_instances(), blobs, spool


def _post(server: Any, path: str, body: Any, content_type: str, **headers: str) -> httpx.Response:
    headers = {"Content-Type": content_type, **headers}
    return httpx.post(server.dicomweb + path, content=body, headers=headers, timeout=60)


def _items(body: dict[str, Any], tag: str) -> list[dict[str, Any]]:
    return body.get(tag, {}).get("Value", [])


def _value(item: dict[str, Any], tag: str) -> Any:
    return item[tag]["Value"][0]


# -- Part 10 instances ---------------------------------------------------------------------------


def test_store_several_instances_with_dicomweb_client(live_server) -> None:
    study = pydicom_uid()
    datasets = [make_instance(study_uid=study, InstanceNumber=n) for n in (1, 2, 3)]
    client = DICOMwebClient(url=live_server.dicomweb)
    result = client.store_instances(datasets=datasets)
    referenced = result.ReferencedSOPSequence
    assert {item.ReferencedSOPInstanceUID for item in referenced} == {
        d.SOPInstanceUID for d in datasets
    }
    assert "FailedSOPSequence" not in result
    # dicomweb-client sends "Host: 127.0.0.1" without the port, and URLs follow the Host header.
    assert result.RetrieveURL.endswith(f"/dicomweb/studies/{study}")
    first = next(i for i in referenced if i.ReferencedSOPInstanceUID == datasets[0].SOPInstanceUID)
    assert first.RetrieveURL.endswith(
        f"/dicomweb/studies/{study}/series/{datasets[0].SeriesInstanceUID}"
        f"/instances/{datasets[0].SOPInstanceUID}"
    )
    assert first.ReferencedSOPClassUID == datasets[0].SOPClassUID
    assert live_server.archive.index.count_instances() == 3
    assert _state(live_server)[2] == []


def test_store_to_a_study_resource(live_server) -> None:
    ds = make_instance()
    client = DICOMwebClient(url=live_server.dicomweb)
    result = client.store_instances(datasets=[ds], study_instance_uid=ds.StudyInstanceUID)
    assert result.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == ds.SOPInstanceUID
    assert len(live_server.archive.index.locate(ds.StudyInstanceUID)) == 1


def test_instances_of_another_study_fail_and_nothing_is_stored(live_server) -> None:
    before = _state(live_server)
    target, other = pydicom_uid(), make_instance()
    response = _post(live_server, f"/studies/{target}", _dicom_parts(other), DICOM)
    assert response.status_code == 409
    body = response.json()
    [failed] = _items(body, "00081198")
    assert _value(failed, "00081155") == other.SOPInstanceUID
    assert _value(failed, "00081150") == other.SOPClassUID
    assert _value(failed, "00081197") == STUDY_MISMATCH
    assert "00081199" not in body
    assert _value(body, "00081190") == f"{live_server.dicomweb}/studies/{target}"
    assert response.headers["warning"].startswith("299 openvna")
    assert _state(live_server) == before


def test_a_mix_of_matching_and_foreign_instances_is_accepted_in_part(live_server) -> None:
    good = make_instance()
    foreign = make_instance()
    body = _dicom_parts(good, foreign)
    response = _post(live_server, f"/studies/{good.StudyInstanceUID}", body, DICOM)
    assert response.status_code == 202
    result = response.json()
    assert [_value(i, "00081155") for i in _items(result, "00081199")] == [good.SOPInstanceUID]
    assert [_value(i, "00081155") for i in _items(result, "00081198")] == [foreign.SOPInstanceUID]
    assert live_server.archive.index.count_instances() == 1


@pytest.mark.parametrize(
    "payload",
    [b"this is not DICOM at all", part10_bytes(make_instance(rows=64, columns=64))[:-3000]],
    ids=["not-dicom", "truncated"],
)
def test_parts_that_are_not_whole_dicom_cannot_be_understood(live_server, payload) -> None:
    before = _state(live_server)
    body = _multipart(({"Content-Type": "application/dicom"}, payload))
    response = _post(live_server, "/studies", body, DICOM)
    assert response.status_code == 409
    [failed] = _items(response.json(), "00081198")
    assert _value(failed, "00081197") == CANNOT_UNDERSTAND
    assert failed["00081150"] == failed["00081155"] == {"vr": "UI"}  # unknown: empty
    assert "00081199" not in response.json()
    assert "C000" in response.headers["warning"]
    assert _state(live_server) == before


def test_a_part_that_is_not_dicom_beside_good_ones_is_a_failed_item(live_server) -> None:
    good = make_instance()
    body = _multipart(
        ({"Content-Type": "application/dicom"}, part10_bytes(good)),
        ({"Content-Type": "application/dicom"}, b"this is not DICOM at all"),
    )
    response = _post(live_server, "/studies", body, DICOM)
    assert response.status_code == 202
    [failed] = _items(response.json(), "00081198")
    assert _value(failed, "00081197") == CANNOT_UNDERSTAND
    assert failed["00081155"] == {"vr": "UI"}
    [stored] = _items(response.json(), "00081199")
    assert _value(stored, "00081155") == good.SOPInstanceUID
    assert live_server.archive.index.count_instances() == 1


def _malformed() -> list[tuple[str, bytes, int]]:
    """The objects the integrity review found stored with 200: (what, Part 10 bytes, reason)."""
    meta = make_instance()
    meta.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    meta.file_meta.MediaStorageSOPClassUID = meta.SOPClassUID
    meta.file_meta.ImplementationClassUID = "1.2.3"
    meta.preamble = b"\0" * 128
    meta_bytes = io.BytesIO()
    meta.save_as(meta_bytes, enforce_file_format=False)
    garbage = encapsulated(make_instance(), [b"garbage!" * 4], JPEGBaseline8Bit)
    return [
        ("native pixels, JPEG syntax", claiming_syntax(make_instance(), JPEGBaseline8Bit), 0xC000),
        ("a JPEG fragment of garbage", part10_bytes(garbage), 0xC000),
        ("unknown transfer syntax", claiming_syntax(make_instance(), "1.2.3.4.5"), 0xC000),
        ("zero frames", part10_bytes(make_instance(NumberOfFrames=0)), 0xA900),
        ("File Meta of another instance", meta_bytes.getvalue(), 0xA900),
    ]


def test_malformed_objects_are_refused_each_with_its_reason_and_part(live_server) -> None:
    before = _state(live_server)
    cases = _malformed()
    good = make_instance()
    parts = [({"Content-Type": "application/dicom"}, data) for _, data, _ in cases]
    body = _multipart(*parts, ({"Content-Type": "application/dicom"}, part10_bytes(good)))
    response = _post(live_server, "/studies", body, DICOM)
    assert response.status_code == 202
    failed = _items(response.json(), "00081198")
    assert [_value(item, "00081197") for item in failed] == [reason for *_, reason in cases]
    warning = response.headers["warning"]
    for number, (_, _, reason) in enumerate(cases, start=1):
        assert f"{reason:04X} part {number}: " in warning
        # The words in the body too, in the item's private block (PS3.5 §7.8).
        item = failed[number - 1]
        assert item["00090010"] == {"vr": "LO", "Value": ["OPENVNA"]}
        assert item["00091010"]["Value"][0].startswith(f"part {number}: ")
    assert "frame 1 does not start like a JPEG Baseline" in warning
    assert "spool" not in warning and ".part" not in warning
    [stored] = _items(response.json(), "00081199")
    assert _value(stored, "00081155") == good.SOPInstanceUID
    count, blobs, spool = _state(live_server)
    assert (count, len(blobs), spool) == (before[0] + 1, len(before[1]) + 1, before[2])


def test_lenient_validation_stores_them_with_a_warning(live_server_factory) -> None:
    server = live_server_factory(storage={"validation": "lenient"})
    cases = _malformed()
    body = _multipart(*[({"Content-Type": "application/dicom"}, data) for _, data, _ in cases])
    response = _post(server, "/studies", body, DICOM)
    assert response.status_code == 202
    stored = _items(response.json(), "00081199")
    assert [_value(item, "00081196") for item in stored] == [0xB007] * len(cases)
    assert (
        "B007 part 3: stored despite: Transfer Syntax UID 1.2.3.4.5" in response.headers["warning"]
    )
    assert server.archive.index.count_instances() == len(cases)


@pytest.mark.parametrize("accept", ["application/json", "*/*", "application/dicom+json"])
def test_the_response_is_json_unless_xml_is_asked_for(live_server, accept) -> None:
    response = _post(live_server, "/studies", _dicom_parts(make_instance()), DICOM, Accept=accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == accept.replace("*/*", "application/dicom+json")


def test_keeping_an_existing_instance_is_success_with_a_warning(live_server_factory) -> None:
    server = live_server_factory(dicomweb={"duplicates": "keep"})
    ds = make_instance()
    assert _post(server, "/studies", _dicom_parts(ds), DICOM).status_code == 200
    again = _post(server, "/studies", _dicom_parts(ds), DICOM)
    assert again.status_code == 200
    assert "already stored" in again.headers["warning"]
    assert server.archive.index.count_instances() == 1


def test_a_part_of_another_type_in_a_dicom_request_fails(live_server) -> None:
    good = make_instance()
    body = _multipart(
        ({"Content-Type": "application/dicom"}, part10_bytes(good)),
        ({"Content-Type": "text/plain"}, b"hello"),
    )
    response = _post(live_server, "/studies", body, DICOM)
    assert response.status_code == 202
    [failed] = _items(response.json(), "00081198")
    assert _value(failed, "00081197") == CANNOT_UNDERSTAND
    assert failed["00081155"] == {"vr": "UI"}
    assert [_value(i, "00081155") for i in _items(response.json(), "00081199")] == [
        good.SOPInstanceUID
    ]
    assert "part 2 (text/plain)" in response.headers["warning"]


# -- refused requests ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type", "body", "headers", "status", "words"),
    [
        ("/studies", DICOM, "unclosed", {}, 400, "closing delimiter"),
        ("/studies", 'multipart/related; type="application/dicom"', "valid", {}, 400, "boundary"),
        ("/studies", "application/dicom", "valid", {}, 415, "application/dicom"),
        ("/studies", "multipart/related; type=image/jpeg; boundary=x", "valid", {}, 415, "jpeg"),
        ("/studies", DICOM, "valid", {"Accept": "text/html"}, 406, "text/html"),
        ("/studies/1.2.x", DICOM, "valid", {}, 400, "1.2.x"),
        ("/studies/1.2.3..4", DICOM, "valid", {}, 400, "StudyInstanceUID"),
        ("/studies/%2E%2E", DICOM, "valid", {}, 400, "StudyInstanceUID"),
        # The decoded path holds slashes, so no route matches (as for GET in the contract test).
        ("/studies/..%2F..%2Fetc", DICOM, "valid", {}, 404, "not found"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(
    live_server, path, content_type, body, headers, status, words
) -> None:
    before = _state(live_server)
    parts = [({"Content-Type": "application/dicom"}, part10_bytes(make_instance()))]
    payload = _multipart(*parts, close=body != "unclosed")
    response = _post(live_server, path, payload, content_type, **headers)
    assert response.status_code == status, response.text
    assert words.lower() in response.json()["error"].lower()
    assert _state(live_server) == before


def test_a_body_cut_after_a_complete_instance_stores_nothing(live_server) -> None:
    """The first instance is handed to the archive when its part ends (checked and flushed while
    the body goes on); the body then breaks off: the request is refused, and that instance's
    spool file goes with it, nothing indexed, nothing placed."""
    before = _state(live_server)
    first, second = make_instance(), make_instance()
    body = _multipart(
        ({"Content-Type": "application/dicom"}, part10_bytes(first)),
        ({"Content-Type": "application/dicom"}, part10_bytes(second)),
        close=False,
    )
    response = _post(live_server, "/studies", body, DICOM)
    assert response.status_code == 400
    assert "closing delimiter" in response.json()["error"]
    assert _state(live_server) == before


def test_a_part_over_the_size_limit_is_payload_too_large(live_server_factory) -> None:
    server = live_server_factory(dicomweb={"max_part_bytes": 4096})
    before = _state(server)
    body = _dicom_parts(make_instance(rows=64, columns=64))
    response = _post(server, "/studies", body, DICOM)
    assert response.status_code == 413
    assert "4096" in response.json()["error"]
    assert _state(server) == before


def test_an_index_failure_after_a_stored_batch_answers_the_rest_as_failures(
    live_server, monkeypatch
) -> None:
    """A request is stored 64 instances a transaction: when the index fails after a first
    batch, that batch stays stored and the rest are failures (0110), not a lost answer."""
    study = pydicom_uid()
    datasets = [make_instance(study_uid=study, rows=4, columns=4) for _ in range(70)]
    add_instances = live_server.archive.index.add_instances
    calls = []

    def fail_second(records: Any, **options: Any) -> Any:
        calls.append(len(records))
        if len(calls) == 2:
            raise IndexUnavailable("index unavailable: disk I/O error")
        return add_instances(records, **options)

    monkeypatch.setattr(live_server.archive.index, "add_instances", fail_second)
    response = _post(live_server, "/studies", _dicom_parts(*datasets), DICOM)
    assert response.status_code == 202, response.text
    assert calls == [64, 6]
    assert len(_items(response.json(), "00081199")) == 64
    failed = _items(response.json(), "00081198")
    assert [_value(item, "00081197") for item in failed] == [0x0110] * 6
    assert "disk I/O error" in response.headers["warning"]
    assert live_server.archive.index.count_instances() == 64
    assert _state(live_server)[2] == []


def _raw_connection(server: Any) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)))


def _post_head(length: int, *extra: str) -> bytes:
    """The head of a STOW-RS POST written by hand, for what HTTP clients do not let a test do."""
    lines = [
        "POST /dicomweb/studies HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Type: {DICOM}",
        f"Content-Length: {length}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_client_that_disconnects_mid_body_leaves_nothing(live_server) -> None:
    before = _state(live_server)
    body = _dicom_parts(make_instance(rows=2048, columns=2048))  # 8 MiB
    with _raw_connection(live_server) as sock:
        sock.sendall(_post_head(len(body)) + body[: len(body) // 2])
        assert _wait(lambda: _state(live_server)[2] != []), "the part was never spooled"
    assert _wait(lambda: _state(live_server) == before)


@pytest.mark.parametrize("size", [16, 512])  # a part kept in memory, a part spooled to a file
def test_a_part_without_the_part10_preamble_is_stored_with_one(live_server, size) -> None:
    """pydicom 3's default dcmwrite (as dicomweb-client sends it) starts at the File Meta
    group: the archive prepends the 128-byte preamble and DICM."""
    ds = make_instance(rows=size, columns=size)
    bare = part10_bytes(ds)[132:]
    body = _multipart(({"Content-Type": "application/dicom"}, bare))
    response = _post(live_server, "/studies", body, DICOM)
    assert response.status_code == 200, response.text
    (location,) = live_server.archive.index.locate(ds.StudyInstanceUID)
    stored = live_server.archive.blobs.read_range(location.blob_key, 0, location.size)
    assert stored == bytes(128) + b"DICM" + bare


def test_expect_100_continue_as_curl_sends_it(live_server) -> None:
    """curl asks ``Expect: 100-continue`` before a body over 1 MB and waits for the interim
    answer before sending it."""
    body = _dicom_parts(make_instance(rows=1024, columns=1024))  # 2 MiB
    with _raw_connection(live_server) as sock:
        sock.sendall(_post_head(len(body), "Expect: 100-continue"))
        assert sock.recv(4096) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert live_server.archive.index.count_instances() == 1


def _wait(condition: Any, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


# -- metadata and bulk data ----------------------------------------------------------------------


def _jpeg(width: int = 64, height: int = 48, **options: Any) -> bytes:
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def _seed_xml(study: str, series: str, sop: str, sop_class: str | None) -> bytes:
    """Seed 002's metadata, spelled as PS3.19 says (closing tags, PersonName groups, BulkData)."""

    def attribute(tag: str, vr: str, keyword: str, value: str) -> str:
        return (
            f'<DicomAttribute tag="{tag}" vr="{vr}" keyword="{keyword}">'
            f'<Value number="1">{value}</Value></DicomAttribute>'
        )

    def person(tag: str, keyword: str, family: str, given: str) -> str:
        return (
            f'<DicomAttribute tag="{tag}" vr="PN" keyword="{keyword}"><PersonName number="1">'
            f"<Alphabetic><FamilyName>{family}</FamilyName><GivenName>{given}</GivenName>"
            "</Alphabetic></PersonName></DicomAttribute>"
        )

    attributes = [
        attribute("00080020", "DA", "StudyDate", "20130409"),
        attribute("00080030", "TM", "StudyTime", "131600.0000"),
        attribute("00080050", "SH", "AccessionNumber", "98765"),
        attribute("00080060", "CS", "Modality", "XC"),
        person("00080090", "ReferringPhysicianName", "SMITH", "KAREN"),
        person("00100010", "PatientName", "THOMPSON", "ALEX"),
        attribute("00100020", "LO", "PatientID", "12345"),
        attribute("00100030", "DA", "PatientBirthDate", "19670701"),
        attribute("00100040", "CS", "PatientSex", "M"),
        attribute("00200010", "SH", "StudyID", "98765"),
        attribute("0020000D", "UI", "StudyInstanceUID", study),
        attribute("0020000E", "UI", "SeriesInstanceUID", series),
        attribute("00080018", "UI", "SOPInstanceUID", sop),
        attribute("00080064", "CS", "ConversionType", "DI"),
        '<DicomAttribute tag="7FE00010" vr="OB" keyword="PixelData">'
        '<BulkData uri="329800735"/></DicomAttribute>',
    ]
    if sop_class:
        attributes.append(attribute("00080016", "UI", "SOPClassUID", sop_class))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM">'
        + "".join(attributes)
        + "</NativeDicomModel>"
    ).encode()


def _seed_body(study: str, sop: str, jpeg: bytes, sop_class: str | None = SC) -> bytes:
    return _multipart(
        (
            {"Content-Type": "application/dicom+xml"},
            _seed_xml(study, pydicom_uid(), sop, sop_class),
        ),
        ({"Content-Type": "image/jpeg", "Content-Location": "329800735"}, jpeg),
    )


def test_seed_002_xml_metadata_with_a_jpeg_photograph(live_server) -> None:
    study, sop, jpeg = pydicom_uid(), pydicom_uid(), _jpeg()
    response = _post(
        live_server,
        f"/studies/{study}",
        _seed_body(study, sop, jpeg),
        XML_META,
        Accept="application/dicom+xml",
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/dicom+xml"
    result = xml_to_json(response.content)
    [stored] = _items(result, "00081199")
    assert _value(stored, "00081155") == sop
    assert _value(stored, "00081150") == SC
    assert "00081196" not in stored
    assert _value(result, "00081190") == f"{live_server.dicomweb}/studies/{study}"

    [location] = live_server.archive.index.locate(study)
    assert location.sop_uid == sop
    assert location.transfer_syntax == "1.2.840.10008.1.2.4.50"
    ds = dcmread(live_server.archive.blobs.path(location.blob_key))
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.50"
    assert ds.PatientName == "THOMPSON^ALEX"
    assert (ds.Rows, ds.Columns, ds.PhotometricInterpretation) == (48, 64, "YBR_FULL_422")
    assert ds.pixel_array.shape == (48, 64, 3)
    assert ds.PixelData[16 : 16 + len(jpeg)] == jpeg


def test_metadata_without_sop_class_is_stored_with_a_coercion_warning(live_server) -> None:
    study, sop = pydicom_uid(), pydicom_uid()
    body = _seed_body(study, sop, _jpeg(), sop_class=None)
    response = _post(live_server, f"/studies/{study}", body, XML_META)
    assert response.status_code == 202, response.text
    [stored] = _items(response.json(), "00081199")
    assert _value(stored, "00081196") == COERCION
    assert _value(stored, "00081150") == SC
    assert "B000" in response.headers["warning"]
    [location] = live_server.archive.index.locate(study)
    ds = dcmread(live_server.archive.blobs.path(location.blob_key))
    assert ds.OriginalAttributesSequence[0].ReasonForTheAttributeModification == "COERCE"


def test_a_progressive_jpeg_fails_as_transfer_syntax_not_supported(live_server) -> None:
    before = _state(live_server)
    study, sop = pydicom_uid(), pydicom_uid()
    body = _seed_body(study, sop, _jpeg(progressive=True))
    response = _post(live_server, f"/studies/{study}", body, XML_META)
    assert response.status_code == 409
    [failed] = _items(response.json(), "00081198")
    assert (_value(failed, "00081155"), _value(failed, "00081197")) == (sop, 0xC122)
    assert _state(live_server) == before


def _json_metadata(ds: Any, uri: str) -> bytes:
    meta = {
        tag: value
        for tag, value in ds.to_json_dict(bulk_data_threshold=1 << 30).items()
        if tag != "7FE00010"
    }
    meta["7FE00010"] = {"vr": "OW", "BulkDataURI": uri}
    return orjson.dumps([meta])


@pytest.mark.parametrize(
    ("uri", "headers"),
    [
        ("http://client.example/bulk/1", {"Content-Location": "http://client.example/bulk/1"}),
        ("cid:pixels@client.example", {"Content-ID": "<pixels@client.example>"}),
    ],
)
def test_json_metadata_with_octet_stream_pixels(live_server, uri, headers) -> None:
    ds = make_instance(rows=32, columns=16)
    body = _multipart(
        ({"Content-Type": "application/dicom+json"}, _json_metadata(ds, uri)),
        ({"Content-Type": "application/octet-stream", **headers}, ds.PixelData),
    )
    response = _post(live_server, "/studies", body, JSON_META)
    assert response.status_code == 200, response.text
    [location] = live_server.archive.index.locate(ds.StudyInstanceUID)
    stored = dcmread(live_server.archive.blobs.path(location.blob_key))
    assert stored.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert stored.PixelData == ds.PixelData
    assert stored.PatientName == ds.PatientName


def test_json_metadata_naming_a_missing_part_fails(live_server) -> None:
    before = _state(live_server)
    ds = make_instance()
    body = _multipart(({"Content-Type": "application/dicom+json"}, _json_metadata(ds, "nowhere")))
    response = _post(live_server, "/studies", body, JSON_META)
    assert response.status_code == 409
    [failed] = _items(response.json(), "00081198")
    assert _value(failed, "00081197") == CANNOT_UNDERSTAND
    assert "nowhere" in response.headers["warning"]
    assert _state(live_server) == before


# -- streaming -----------------------------------------------------------------------------------

PART_ROWS, PART_COLUMNS, PARTS = 2560, 4096, 10  # 10 x 20 MiB of 16-bit pixels


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _large_body(study: str, samples: list[int]) -> Iterator[bytes]:
    """Ten Part 10 files of 20 MiB made on the fly, sampling this process's RSS as it goes."""
    zeros = bytes(1 << 20)
    pixel_bytes = PART_ROWS * PART_COLUMNS * 2
    for number in range(PARTS):
        ds = make_instance(study_uid=study, InstanceNumber=number + 1)
        ds.Rows, ds.Columns = PART_ROWS, PART_COLUMNS
        del ds.PixelData
        header = (
            part10_bytes(ds) + b"\xe0\x7f\x10\x00OW\x00\x00" + pixel_bytes.to_bytes(4, "little")
        )
        yield f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode() + header
        for _ in range(pixel_bytes // len(zeros)):
            yield zeros
            samples.append(_rss_kb())
        yield b"\r\n"
    yield f"--{BOUNDARY}--\r\n".encode()


def test_a_200_mb_body_streams_with_flat_memory(live_server) -> None:
    study = pydicom_uid()
    baseline = _rss_kb()
    samples: list[int] = []
    started = time.perf_counter()
    response = _post(live_server, "/studies", _large_body(study, samples), DICOM)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    assert len(_items(response.json(), "00081199")) == PARTS
    assert live_server.archive.index.count_instances() == PARTS
    growth_mb = (max([*samples, _rss_kb()]) - baseline) / 1024
    size_mb = PARTS * PART_ROWS * PART_COLUMNS * 2 / 2**20
    print(f"\nSTOW {size_mb:.0f} MiB in {elapsed:.2f} s; RSS growth {growth_mb:.1f} MiB")
    assert growth_mb < 100
    assert _state(live_server)[2] == []
