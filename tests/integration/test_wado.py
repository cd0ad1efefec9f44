"""WADO-RS (PS3.18 §10.4) through real HTTP: dicomweb-client for the usual calls, httpx for raw
Accept headers. Instances are stored through the archive as files, so the bytes a client gets
back can be compared with the bytes that went in."""

from __future__ import annotations

import re
import shutil
import threading
import time
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from dicomweb_client import DICOMwebClient
from pydicom import Dataset, dcmread
from pydicom.data import get_testdata_file
from pydicom.encaps import generate_frames

from openvna.archive import Origin
from openvna.dicom.uid import generate_uid
from openvna.web.urls import expand
from tests.factories import make_instance

pytestmark = pytest.mark.integration

EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_LOSSLESS = "1.2.840.10008.1.2.4.70"
DICOM_MULTIPART = 'multipart/related; type="application/dicom"'


class Stored:
    """A file stored verbatim: its dataset (as pydicom reads it) and its exact bytes."""

    def __init__(self, ds: Dataset, data: bytes) -> None:
        self.ds, self.data = ds, data
        self.study, self.series, self.sop = (
            ds.StudyInstanceUID,
            ds.SeriesInstanceUID,
            ds.SOPInstanceUID,
        )

    def path(self, server: Any) -> str:
        return f"{server.dicomweb}/studies/{self.study}/series/{self.series}/instances/{self.sop}"


def store(
    server: Any, source: str | Dataset, study: str | None = None, series: str | None = None
) -> Stored:
    """Give ``source`` (a pydicom test file name or a dataset) fresh UIDs and store it as a file."""
    ds = dcmread(get_testdata_file(source)) if isinstance(source, str) else source
    ds.StudyInstanceUID = study or generate_uid()
    ds.SeriesInstanceUID = series or generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    spool = Path(server.archive.blobs.spool_dir()) / f"{ds.SOPInstanceUID}.dcm"
    ds.save_as(spool, enforce_file_format=True)
    data = spool.read_bytes()
    outcome = server.archive.store_file(spool, Origin.local())
    assert outcome.ok, outcome.message
    return Stored(dcmread(_copy(data, spool)), data)


def _copy(data: bytes, spool: Path) -> Path:
    copy = spool.with_suffix(".check")
    copy.write_bytes(data)
    return copy


def parts(response: httpx.Response) -> list[tuple[dict[str, str], bytes]]:
    """Split a multipart/related body strictly: it must start and end with the delimiters."""
    content_type = response.headers["content-type"]
    assert content_type.startswith("multipart/related"), content_type
    boundary = re.search(r'boundary="?([^";]+)', content_type).group(1)  # type: ignore[union-attr]
    body = response.content
    assert int(response.headers["content-length"]) == len(body)
    head, tail = f"--{boundary}\r\n".encode(), f"\r\n--{boundary}--\r\n".encode()
    assert body.startswith(head) and body.endswith(tail)
    out = []
    for chunk in body[len(head) : -len(tail)].split(f"\r\n--{boundary}\r\n".encode()):
        raw_headers, _, data = chunk.partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in raw_headers.decode().split("\r\n"))
        assert int(headers.get("Content-Length", len(data))) == len(data)
        out.append((headers, data))
    return out


def pydicom_frames(ds: Dataset) -> list[bytes]:
    """pydicom's own split of the Pixel Data into frames (native by size, encapsulated by items)."""
    count = int(ds.get("NumberOfFrames", 1) or 1)
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        return list(generate_frames(ds.PixelData, number_of_frames=count))
    size = len(ds.PixelData) // count
    return [ds.PixelData[i * size : (i + 1) * size] for i in range(count)]


def assert_error(response: httpx.Response, status: int, *fragments: str) -> None:
    assert response.status_code == status, response.text
    message = response.json()["error"]
    for fragment in fragments:
        assert fragment in message, message


@pytest.fixture
def client(live_server: Any) -> DICOMwebClient:
    return DICOMwebClient(url=live_server.dicomweb)


@pytest.fixture
def study(live_server: Any) -> list[Stored]:
    """One study: a native CT and a JPEG Baseline image in one series, an SR in another."""
    study_uid, series_uid = generate_uid(), generate_uid()
    return [
        store(live_server, "CT_small.dcm", study_uid, series_uid),
        store(live_server, "SC_rgb_jpeg_dcmtk.dcm", study_uid, series_uid),
        store(live_server, "test-SR.dcm", study_uid),
    ]


# -- instances ---------------------------------------------------------------------------------


def test_retrieve_study_multipart_is_byte_exact_with_locations(live_server, study) -> None:
    response = httpx.get(f"{live_server.dicomweb}/studies/{study[0].study}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(DICOM_MULTIPART + "; boundary=")
    got = {headers["Content-Location"]: (headers, data) for headers, data in parts(response)}
    assert set(got) == {s.path(live_server) for s in study}
    for item in study:
        headers, data = got[item.path(live_server)]
        assert data == item.data
        syntax = item.ds.file_meta.TransferSyntaxUID
        assert headers["Content-Type"] == f"application/dicom; transfer-syntax={syntax}"


def test_dicomweb_client_retrieves_study_series_instance(client, study) -> None:
    first = study[0]
    assert {ds.SOPInstanceUID for ds in client.retrieve_study(first.study)} == {
        s.sop for s in study
    }
    series = client.retrieve_series(first.study, first.series)
    assert sorted(ds.SOPInstanceUID for ds in series) == sorted(s.sop for s in study[:2])
    jpeg = study[1]
    instance = client.retrieve_instance(jpeg.study, jpeg.series, jpeg.sop)
    assert instance.PixelData == jpeg.ds.PixelData
    assert instance.file_meta.TransferSyntaxUID == JPEG_BASELINE


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "*/*",
        "multipart/related",
        "multipart/related; type=application/dicom; transfer-syntax=*",
        "text/html, multipart/related; type=application/dicom; q=0.5",
        "application/dicom",  # bare part type on a study: read as multipart (lenient)
    ],
)
def test_retrieve_study_accept_variants_give_multipart(live_server, study, accept) -> None:
    headers = {"Accept": accept} if accept else {}
    response = httpx.get(f"{live_server.dicomweb}/studies/{study[0].study}", headers=headers)
    assert response.status_code == 200, response.text
    assert sorted(data for _, data in parts(response)) == sorted(s.data for s in study)


def test_retrieve_instance_single_part_when_asked(live_server, study) -> None:
    jpeg = study[1]
    response = httpx.get(jpeg.path(live_server), headers={"Accept": "application/dicom"})
    assert response.status_code == 200
    assert response.headers["content-type"] == f"application/dicom; transfer-syntax={JPEG_BASELINE}"
    assert response.headers["content-location"] == jpeg.path(live_server)
    assert response.content == jpeg.data


def test_transfer_syntax_as_stored_transcoded_or_refused_naming_both(live_server, study) -> None:
    jpeg = study[1]
    ok = f"{DICOM_MULTIPART}; transfer-syntax={JPEG_BASELINE}"
    response = httpx.get(jpeg.path(live_server), headers={"Accept": ok})
    assert [data for _, data in parts(response)] == [jpeg.data]
    made = f"{DICOM_MULTIPART}; transfer-syntax={EXPLICIT}"
    response = httpx.get(jpeg.path(live_server), headers={"Accept": made})
    ((headers, data),) = parts_chunked(response)
    assert headers["Content-Type"] == f"application/dicom; transfer-syntax={EXPLICIT}"
    assert dcmread(BytesIO(data)).file_meta.TransferSyntaxUID == EXPLICIT
    jpx = "1.2.840.10008.1.2.4.92"  # JPEG 2000 Part 2: nothing here makes it
    wrong = f"{DICOM_MULTIPART}; transfer-syntax={jpx}"
    response = httpx.get(jpeg.path(live_server), headers={"Accept": wrong})
    assert_error(response, 406, jpx, f"stored as {JPEG_BASELINE}")


def parts_chunked(response: httpx.Response) -> list[tuple[dict[str, str], bytes]]:
    """``parts`` of a streamed (chunked) body: transcoded sizes are not known up front."""
    assert response.status_code == 200, response.text
    assert "content-length" not in response.headers
    response.headers["content-length"] = str(len(response.content))
    return parts(response)


def test_mixed_study_in_one_syntax_some_instances_are_made_in(live_server, study) -> None:
    url = f"{live_server.dicomweb}/studies/{study[0].study}"
    response = httpx.get(url, headers={"Accept": f"{DICOM_MULTIPART}; transfer-syntax={EXPLICIT}"})
    got = parts_chunked(response)
    assert len(got) == len(study)
    assert {h["Content-Type"] for h, _ in got} == {f"application/dicom; transfer-syntax={EXPLICIT}"}
    series_url = f"{url}/series/{study[2].series}"  # the SR series is all Explicit VR LE
    response = httpx.get(
        series_url, headers={"Accept": f"{DICOM_MULTIPART}; transfer-syntax={EXPLICIT}"}
    )
    assert [data for _, data in parts(response)] == [study[2].data]


def test_unacceptable_media_type_lists_what_is_available(live_server, study) -> None:
    response = httpx.get(
        f"{live_server.dicomweb}/studies/{study[0].study}", headers={"Accept": "text/html"}
    )
    assert_error(response, 406, "text/html", 'multipart/related; type="application/dicom"')


def test_unknown_uids_are_404_naming_the_level(live_server, study) -> None:
    base, first, missing = live_server.dicomweb, study[0], "1.2.3.4.5.6.7.8.9"
    assert_error(httpx.get(f"{base}/studies/{missing}"), 404, missing)
    assert_error(httpx.get(f"{base}/studies/{first.study}/series/{missing}"), 404, missing)
    response = httpx.get(f"{base}/studies/{first.study}/series/{first.series}/instances/{missing}")
    assert_error(response, 404, missing)
    assert_error(httpx.get(f"{base}/studies/{missing}/metadata"), 404, missing)


def test_invalid_uid_syntax_is_400(live_server, study) -> None:
    base = live_server.dicomweb
    assert_error(httpx.get(f"{base}/studies/1.2.03"), 400, "StudyInstanceUID", "1.2.03")
    response = httpx.get(f"{base}/studies/{study[0].study}/series/abc/metadata")
    assert_error(response, 400, "SeriesInstanceUID")
    assert_error(httpx.get(f"{base}/studies/1.2", headers={"Accept": "a/b; q=x"}), 400, "q-value")


# -- metadata ----------------------------------------------------------------------------------


def test_metadata_json_is_the_stored_text_with_the_base(live_server, study, client) -> None:
    url = f"{live_server.dicomweb}/studies/{study[0].study}/metadata"
    for accept, media_type in [
        (None, "application/dicom+json"),
        ("*/*", "application/dicom+json"),
        ("application/json", "application/json"),
    ]:
        response = httpx.get(url, headers={"Accept": accept} if accept else {})
        assert response.status_code == 200
        assert response.headers["content-type"] == media_type
        stored = live_server.archive.metadata(study[0].study)
        assert response.content == expand(stored, live_server.dicomweb)
    assert b"{openvna-base}" not in response.content
    metadata = client.retrieve_series_metadata(study[0].study, study[0].series)
    assert sorted(m["00080018"]["Value"][0] for m in metadata) == sorted(s.sop for s in study[:2])
    jpeg = study[1]
    one = client.retrieve_instance_metadata(jpeg.study, jpeg.series, jpeg.sop)
    assert one["00100010"]["Value"][0]["Alphabetic"] == "Lestrade^G"


def test_metadata_xml_one_document_per_instance(live_server, study) -> None:
    url = f"{live_server.dicomweb}/studies/{study[0].study}/metadata"
    response = httpx.get(url, headers={"Accept": 'multipart/related; type="application/dicom+xml"'})
    assert response.status_code == 200
    documents = parts(response)
    assert len(documents) == len(study)
    for headers, data in documents:
        assert headers["Content-Type"] == "application/dicom+xml"
        assert data.startswith(b"<?xml") and b"NativeDicomModel" in data
        assert b"{openvna-base}" not in data
    assert sum(s.sop.encode() in data for s in study for _, data in documents) == len(study)


def _metadata(item: Stored, server: Any) -> dict[str, Any]:
    # not through dicomweb-client: it sends "Host: 127.0.0.1" without the port, so the URIs
    # built from the Host header would point at port 80
    (metadata,) = httpx.get(item.path(server) + "/metadata").json()
    return metadata


def test_bulk_data_uris_in_metadata_resolve(live_server, client) -> None:
    ct = store(live_server, "CT_small.dcm")
    metadata = _metadata(ct, live_server)
    uri = metadata["7FE00010"]["BulkDataURI"]
    assert uri.startswith(live_server.dicomweb + "/studies/")
    assert client.retrieve_bulkdata(uri) == [ct.ds.PixelData]
    single = httpx.get(uri, headers={"Accept": "application/octet-stream"})
    assert single.headers["content-type"] == f"application/octet-stream; transfer-syntax={EXPLICIT}"
    assert single.content == ct.ds.PixelData
    ecg = store(live_server, "waveform_ecg.dcm")
    metadata = _metadata(ecg, live_server)
    uri = metadata["54000100"]["Value"][0]["54001010"]["BulkDataURI"]
    assert uri.endswith("/bulkdata/54000100/0/54001010")
    (data,) = client.retrieve_bulkdata(uri)
    assert data == ecg.ds.WaveformSequence[0].WaveformData


def test_bulk_data_errors(live_server) -> None:
    ct = store(live_server, "CT_small.dcm")
    bulk = ct.path(live_server) + "/bulkdata/"
    assert_error(httpx.get(bulk + "7FE0001"), 400, "7FE0001")
    assert_error(httpx.get(bulk + "00880200/x/7FE00010"), 400, "00880200/x/7FE00010")
    assert_error(httpx.get(bulk + "00880200/0/7FE00010"), 404, "00880200/0/7FE00010")
    assert_error(httpx.get(bulk + "7FE00010", headers={"Accept": "image/png"}), 406, "image/png")


def test_encapsulated_pixel_data_bulk_is_one_part_per_frame(live_server) -> None:
    rle = store(live_server, "SC_rgb_rle_2frame.dcm")
    response = httpx.get(rle.path(live_server) + "/bulkdata/7FE00010")
    got = parts(response)
    assert [data for _, data in got] == pydicom_frames(rle.ds)
    assert got[0][0]["Content-Type"] == "image/dicom-rle; transfer-syntax=1.2.840.10008.1.2.5"


# -- frames ------------------------------------------------------------------------------------


def test_native_frames_in_request_order(live_server, client) -> None:
    dose = store(live_server, "rtdose.dcm")  # Implicit VR LE, 15 frames of 32 bits
    expected = pydicom_frames(dose.ds)
    response = httpx.get(dose.path(live_server) + "/frames/3,1,15")
    got = parts(response)
    assert [data for _, data in got] == [expected[2], expected[0], expected[14]]
    assert got[0][0]["Content-Type"] == f"application/octet-stream; transfer-syntax={EXPLICIT}"
    assert got[0][0]["Content-Location"] == dose.path(live_server) + "/frames/3"
    frames = client.retrieve_instance_frames(dose.study, dose.series, dose.sop, [2, 5])
    assert frames == [expected[1], expected[4]]
    encoded = httpx.get(dose.path(live_server) + "/frames/2%2C4")
    assert [data for _, data in parts(encoded)] == [expected[1], expected[3]]


def test_seed_exercise_jpeg_frame_as_image_dicom_jpeg(live_server) -> None:
    jpeg = store(live_server, "SC_rgb_jpeg_dcmtk.dcm")
    accept = "multipart/related; type=image/dicom+jpeg"
    response = httpx.get(jpeg.path(live_server) + "/frames/1", headers={"Accept": accept})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith('multipart/related; type="image/dicom+jpeg"')
    ((headers, data),) = parts(response)
    # labelled with the client's own (PS3.18 2014) name, so that it recognises the part
    assert headers["Content-Type"] == f"image/dicom+jpeg; transfer-syntax={JPEG_BASELINE}"
    assert data == pydicom_frames(jpeg.ds)[0]
    assert data.startswith(b"\xff\xd8")
    standard = httpx.get(
        jpeg.path(live_server) + "/frames/1",
        headers={"Accept": f"{accept}, multipart/related; type=image/jpeg; q=0.5"},
    )
    assert parts(standard)[0][0]["Content-Type"].startswith("image/jpeg;")


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("SC_rgb_jpeg_dcmtk.dcm", "image/jpeg"),
        ("SC_rgb_jpeg_gdcm.dcm", "image/jpeg"),
        ("JPGExtended.dcm", "image/jpeg"),
        ("JPEG2000.dcm", "image/jp2"),
        ("MR_small_jpeg_ls_lossless.dcm", "image/jls"),
        ("SC_rgb_rle_2frame.dcm", "image/dicom-rle"),
        ("rtdose_rle.dcm", "image/dicom-rle"),
    ],
)
def test_compressed_frames_in_their_own_media_type(live_server, client, name, media_type) -> None:
    item = store(live_server, name)
    expected = pydicom_frames(item.ds)
    numbers = list(range(len(expected), 0, -1))
    frames = client.retrieve_instance_frames(
        item.study, item.series, item.sop, numbers, media_types=(media_type,)
    )
    assert frames == [expected[n - 1] for n in numbers]
    default = client.retrieve_instance_frames(item.study, item.series, item.sop, [1])
    assert default == [expected[0]]
    syntax = item.ds.file_meta.TransferSyntaxUID
    response = httpx.get(
        item.path(live_server) + "/frames/1",
        headers={"Accept": "multipart/related; type=application/octet-stream; transfer-syntax=*"},
    )
    ((headers, data),) = parts(response)
    assert headers["Content-Type"] == f"application/octet-stream; transfer-syntax={syntax}"
    assert data == expected[0]


def test_frames_not_stored_in_the_asked_type_are_made_or_406(live_server) -> None:
    """Issue 14: octet-stream without a syntax is the decoded frame, native little endian
    (PS3.18 Table 8.7.3-4), lossy or not; other compressed types are encoded from it; a type
    nothing here can make (JPEG 2000 Part 2) is still a 406 naming what is available."""
    jpeg = store(live_server, "SC_rgb_jpeg_dcmtk.dcm")
    url = jpeg.path(live_server) + "/frames/1"
    response = httpx.get(url, headers={"Accept": "multipart/related; type=image/jp2"})
    ((headers, data),) = parts(response)
    assert headers["Content-Type"] == "image/jp2; transfer-syntax=1.2.840.10008.1.2.4.90"
    assert data[:4] == b"\xff\x4f\xff\x51"  # a J2K codestream (SOC, SIZ)
    response = httpx.get(url, headers={"Accept": "multipart/related; type=image/jpx"})
    assert_error(response, 406, "image/jpx", 'type="image/jpeg"')
    lossless = store(live_server, "SC_rgb_jpeg_gdcm.dcm")
    octet = "multipart/related; type=application/octet-stream"
    response = httpx.get(lossless.path(live_server) + "/frames/1", headers={"Accept": octet})
    ((headers, data),) = parts(response)
    assert headers["Content-Type"] == f"application/octet-stream; transfer-syntax={EXPLICIT}"
    assert data == lossless.ds.pixel_array.tobytes()
    response = httpx.get(url, headers={"Accept": octet})
    ((headers, data),) = parts(response)
    assert headers["Content-Type"] == f"application/octet-stream; transfer-syntax={EXPLICIT}"
    assert len(data) == 100 * 100 * 3


def test_single_frame_as_single_part(live_server) -> None:
    jpeg = store(live_server, "SC_rgb_jpeg_dcmtk.dcm")
    response = httpx.get(jpeg.path(live_server) + "/frames/1", headers={"Accept": "image/jpeg"})
    assert response.headers["content-type"] == f"image/jpeg; transfer-syntax={JPEG_BASELINE}"
    assert response.content == pydicom_frames(jpeg.ds)[0]


@pytest.mark.parametrize(
    ("frames", "status", "fragment"),
    [
        ("0", 400, "'0'"),
        ("x", 400, "'x'"),
        ("1,-2", 400, "'-2'"),
        ("1,,2", 400, "''"),
        ("2,2", 400, "twice"),
        ("16", 400, "15 frame(s); frame 16"),
        ("1,99", 400, "frame 99"),
    ],
)
def test_bad_frame_lists(live_server, frames, status, fragment) -> None:
    dose = store(live_server, "rtdose.dcm")
    assert_error(httpx.get(f"{dose.path(live_server)}/frames/{frames}"), status, fragment)


def test_frames_of_a_non_image_instance_are_404(live_server) -> None:
    sr = store(live_server, "test-SR.dcm")
    assert_error(httpx.get(sr.path(live_server) + "/frames/1"), 404, "no Pixel Data", sr.sop)


def test_native_multiframe_from_factory(live_server, client) -> None:
    item = store(live_server, make_instance(rows=16, columns=16, frames=4))
    expected = pydicom_frames(item.ds)
    assert client.retrieve_instance_frames(item.study, item.series, item.sop, [4, 2]) == [
        expected[3],
        expected[1],
    ]
    shutil.rmtree(live_server.data_dir / "spool", ignore_errors=True)


# -- memory ------------------------------------------------------------------------------------

MEMORY_INSTANCES = 600  # 512 x 512 x 16 bit: ~315 MB


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


class _PeakRss(threading.Thread):
    """Samples this process's RSS (the live server runs in it) until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = _rss_kb()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.005):
            self.peak = max(self.peak, _rss_kb())


def store_many(server: Any, count: int, syntax: str | None = None) -> tuple[str, int]:
    """``count`` 512x512 CT instances of one study, stored from spool files (in ``syntax``
    when given); the study UID and the bytes stored."""
    template = make_instance(rows=512, columns=512)
    if syntax is not None:
        template.file_meta.TransferSyntaxUID = syntax
    spool = Path(server.archive.blobs.spool_dir())
    total = 0
    for number in range(1, count + 1):
        template.SOPInstanceUID = generate_uid()
        template.InstanceNumber = number
        path = spool / f"{template.SOPInstanceUID}.dcm"
        template.save_as(path, enforce_file_format=True)
        total += path.stat().st_size
        assert server.archive.store_file(path, Origin.local()).ok
    return template.StudyInstanceUID, total


def test_study_streams_with_flat_server_memory(live_server) -> None:
    study_uid, stored_bytes = store_many(live_server, MEMORY_INSTANCES)
    marker = b"Content-Type: application/dicom; transfer-syntax="
    received = found = 0
    tail = b""
    sampler = _PeakRss()
    baseline = sampler.peak
    sampler.start()
    started = time.perf_counter()
    try:
        url = f"{live_server.dicomweb}/studies/{study_uid}"
        with httpx.stream("GET", url, timeout=120) as response:
            assert response.status_code == 200
            length = int(response.headers["content-length"])
            for chunk in response.iter_raw(1 << 20):
                received += len(chunk)
                window = tail + chunk
                found += window.count(marker)
                tail = window[-(len(marker) - 1) :]
    finally:
        sampler.done.set()
        sampler.join()
    assert received == length > stored_bytes > 300_000_000
    assert found == MEMORY_INSTANCES
    seconds = time.perf_counter() - started
    growth_mb = (sampler.peak - baseline) / 1024
    print(
        f"\nstreamed {received / 1e6:.0f} MB in {seconds:.2f} s "
        f"({received / 1e6 / seconds:.0f} MB/s), server RSS growth {growth_mb:.1f} MB"
    )
    assert growth_mb < 100


def test_big_endian_is_served_little_endian_by_default_and_as_stored_on_request(
    live_server,
) -> None:
    """PS3.18 §8.7.3.4: Explicit VR LE by default (big endian shall not be used); ``*`` keeps
    the stored syntax."""
    big = store(live_server, "MR_small_bigendian.dcm")
    response = httpx.get(big.path(live_server))
    ((headers, data),) = parts_chunked(response)
    assert headers["Content-Type"] == f"application/dicom; transfer-syntax={EXPLICIT}"
    assert (dcmread(BytesIO(data)).pixel_array == big.ds.pixel_array).all()
    stored = f"{DICOM_MULTIPART}; transfer-syntax=*"
    response = httpx.get(big.path(live_server), headers={"Accept": stored})
    ((headers, data),) = parts(response)
    assert headers["Content-Type"] == "application/dicom; transfer-syntax=1.2.840.10008.1.2.2"
    assert data == big.data
    response = httpx.get(big.path(live_server) + "/frames/1")
    ((headers, data),) = parts(response)
    assert headers["Content-Type"] == f"application/octet-stream; transfer-syntax={EXPLICIT}"
    assert data == big.ds.pixel_array.astype("<i2").tobytes()
    assert_error(
        httpx.get(big.path(live_server) + "/bulkdata/7FE00010"), 406, "1.2.840.10008.1.2.2"
    )
