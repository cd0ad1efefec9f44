"""WADO-URI (PS3.18 chapter 9) through real HTTP, issue 14 item 2: the seed 000 URL verbatim on
the demo, each parameter of the issue, and the 400/404/406 answers."""

from __future__ import annotations

import io
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from pydicom import Dataset, dcmread
from pydicom.sequence import Sequence

from openvna.dicom.uid import generate_uid
from tests.conftest import LiveServer
from tests.integration import test_seed_exercise as seed
from tests.integration.test_wado import assert_error, store
from tests.unit.render.images import dataset, gray, in_syntax

pytestmark = pytest.mark.integration

# The seed exercise's demo server (its fixtures, reused): the demo data and the exercise's key.
demo_archive_dir = seed.demo_archive_dir
server = seed.server
HEADERS, STUDY, SERIES, SOP = seed.HEADERS, seed.STUDY, seed.SERIES, seed.SOP

EXPLICIT = "1.2.840.10008.1.2.1"


def _url(base: str, item: Any, **params: str) -> str:
    query = {
        "requestType": "WADO",
        "studyUID": item.study,
        "seriesUID": item.series,
        "objectUID": item.sop,
        **params,
    }
    return f"{base}/wado?" + "&".join(f"{k}={v}" for k, v in query.items())


def _image(response: httpx.Response) -> np.ndarray:
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)))


@pytest.mark.engines("sqlite")
def test_seed_000_url_verbatim_is_a_jpeg_of_the_demo_image(server: LiveServer) -> None:
    url = (
        f"{server.url}/wadouri/?requestType=WADO&contentType=image/jpeg&"
        f"studyUID={STUDY}&seriesUID={SERIES}&objectUID={SOP}"
    )
    response = httpx.get(url, headers=HEADERS)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "JPEG"
    # The demo's chest PA, decoded from the stored JPEG the archive holds, rendered the same.
    file = httpx.get(
        f"{server.dicomweb}/studies/{STUDY}/series/{SERIES}/instances/{SOP}",
        headers={**HEADERS, "Accept": "application/dicom; transfer-syntax=*"},
    )
    stored = dcmread(io.BytesIO(file.content))
    assert image.size == (stored.Columns, stored.Rows)
    shown = np.asarray(image).astype(float)
    original = stored.pixel_array.astype(float)
    correlation = np.corrcoef(shown.ravel(), original.ravel())[0, 1]
    assert correlation > 0.95
    png = httpx.get(url.replace("image/jpeg", "image/png"), headers=HEADERS)
    assert png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).format == "PNG"


def test_rows_columns_region_window_and_frame(live_server: LiveServer) -> None:
    pixels = gray(rows=64, columns=64, frames=2)
    item = store(live_server, in_syntax(dataset(pixels), "1.2.840.10008.1.2.4.80"))
    got = _image(
        httpx.get(
            _url(
                live_server.url,
                item,
                contentType="image/png",
                frameNumber="2",
                windowCenter="2048",
                windowWidth="4096",
            )
        )
    )
    expected = np.rint(np.clip(((pixels[1] - 2047.5) / 4095 + 0.5) * 255, 0, 255))
    assert np.abs(got.astype(int) - expected).max() <= 1
    region = _image(
        httpx.get(
            _url(
                live_server.url,
                item,
                contentType="image/png",
                region="0,0,0.5,0.25",
                windowCenter="2048",
                windowWidth="4096",
            )
        )
    )
    assert region.shape == (16, 32)
    assert np.abs(region.astype(int) - expected_of(pixels[0])[:16, :32]).max() <= 1
    small = _image(httpx.get(_url(live_server.url, item, rows="16", columns="32")))
    assert small.shape == (16, 16)


def expected_of(frame: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(((frame - 2047.5) / 4095 + 0.5) * 255, 0, 255))


def test_application_dicom_in_explicit_le_by_default_and_asked_syntax(live_server: LiveServer):
    pixels = gray()
    item = store(live_server, in_syntax(dataset(pixels), "1.2.840.10008.1.2.4.90"))
    response = httpx.get(_url(live_server.url, item, contentType="application/dicom"))
    assert response.headers["content-type"] == f"application/dicom; transfer-syntax={EXPLICIT}"
    ds = dcmread(io.BytesIO(response.content))
    assert ds.file_meta.TransferSyntaxUID == EXPLICIT
    assert np.array_equal(ds.pixel_array, pixels)
    jls = httpx.get(
        _url(
            live_server.url,
            item,
            contentType="application/dicom",
            transferSyntax="1.2.840.10008.1.2.4.80",
        )
    )
    assert np.array_equal(dcmread(io.BytesIO(jls.content)).pixel_array, pixels)
    assert_error(
        httpx.get(
            _url(
                live_server.url,
                item,
                contentType="application/dicom",
                transferSyntax="1.2.840.10008.1.2.4.92",
            )
        ),
        406,
        "4.92",
    )
    assert_error(
        httpx.get(
            _url(live_server.url, item, contentType="application/dicom", transferSyntax="1.2.x")
        ),
        400,
        "transferSyntax",
    )


def test_anonymize_yes_basic_profile(live_server: LiveServer) -> None:
    ds = in_syntax(dataset(gray()), EXPLICIT)
    ds.InstitutionName = "General Hospital"
    item = store(live_server, ds)
    response = httpx.get(
        _url(live_server.url, item, contentType="application/dicom", anonymize="yes")
    )
    out = dcmread(io.BytesIO(response.content))
    assert out.PatientName == "ANONYMOUS" and out.PatientBirthDate == ""
    assert "InstitutionName" not in out
    assert out.SOPInstanceUID != item.sop and out.StudyInstanceUID != item.study
    assert out.PatientIdentityRemoved == "YES"
    assert np.array_equal(out.pixel_array, ds.pixel_array)


def test_header_as_dicom_xml(live_server: LiveServer) -> None:
    item = store(live_server, in_syntax(dataset(gray()), EXPLICIT))
    response = httpx.get(_url(live_server.url, item, contentType="application/dicom%2Bxml"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/dicom+xml")
    assert b"<NativeDicomModel" in response.content and item.sop.encode() in response.content


def test_presentation_state_window_and_flip(live_server: LiveServer) -> None:
    pixels = gray(rows=32, columns=64)
    item = store(live_server, in_syntax(dataset(pixels), EXPLICIT))
    gsps = _gsps(item, center=1000, width=500)
    ps = store(live_server, gsps, item.study)
    got = _image(
        httpx.get(
            _url(
                live_server.url,
                item,
                contentType="image/png",
                presentationUID=ps.sop,
                presentationSeriesUID=ps.series,
            )
        )
    )
    y = ((pixels - 999.5) / 499 + 0.5) * 255
    expected = np.rint(np.clip(y, 0, 255))[:, ::-1]  # Image Horizontal Flip Y
    assert np.abs(got.astype(int) - expected).max() <= 1


def _gsps(image: Any, center: float, width: float) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.11.1"
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = image.study
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "PR"
    ds.PatientName, ds.PatientID = "DOE^JOHN", "P1"
    ref_image = Dataset()
    ref_image.ReferencedSOPClassUID = image.ds.SOPClassUID
    ref_image.ReferencedSOPInstanceUID = image.sop
    ref_series = Dataset()
    ref_series.SeriesInstanceUID = image.series
    ref_series.ReferencedImageSequence = Sequence([ref_image])
    ds.ReferencedSeriesSequence = Sequence([ref_series])
    voi = Dataset()
    voi.WindowCenter, voi.WindowWidth = center, width
    ds.SoftcopyVOILUTSequence = Sequence([voi])
    ds.ImageHorizontalFlip = "Y"
    ds.ImageRotation = 0
    ds.file_meta = Dataset()
    ds.file_meta.TransferSyntaxUID = EXPLICIT
    return ds


@pytest.mark.parametrize(
    ("params", "status", "fragment"),
    [
        ({"requestType": "WADOX"}, 400, "requestType"),
        ({"studyUID": ""}, 400, "studyUID"),
        ({"objectUID": "1.2.abc"}, 400, "objectUID"),
        ({"objectUID": "1.2.3.4.5"}, 404, "1.2.3.4.5"),
        ({"contentType": "image/tiff"}, 406, "image/tiff"),
        ({"contentType": "application/dicom,image/jpeg"}, 400, "mixes"),
        ({"windowCenter": "10"}, 400, "windowWidth"),
        ({"windowCenter": "10", "windowWidth": "0"}, 400, "width"),
        ({"rows": "0"}, 400, "rows"),
        ({"region": "0.5,0,0.2,1"}, 400, "region"),
        ({"frameNumber": "2"}, 400, "frameNumber"),
        ({"imageQuality": "101"}, 400, "imageQuality"),
        ({"anonymize": "no"}, 400, "anonymize"),
        ({"annotation": "everything"}, 400, "annotation"),
        ({"presentationUID": "1.2.3"}, 400, "presentation"),
    ],
)
def test_bad_requests(
    live_server: LiveServer, params: dict[str, str], status: int, fragment: str
) -> None:
    item = store(live_server, in_syntax(dataset(gray()), EXPLICIT))
    url = _url(live_server.url, item, **params)
    if params.get("studyUID") == "":
        url = url.replace("studyUID=&", "")
    assert_error(httpx.get(url), status, fragment)
    assert httpx.get(_url(live_server.url, item)).status_code == 200
