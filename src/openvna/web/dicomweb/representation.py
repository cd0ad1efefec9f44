"""DICOM datasets as HTTP bodies: JSON arrays or multipart/related XML, one place for both.

Used by QIDO-RS results and STOW-RS/metadata responses, so the Accept rules and the marker
expansion of RetrieveURL/BulkDataURI live once.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from enum import Enum

import orjson
from starlette.requests import Request
from starlette.responses import Response

from openvna.dicom.json import DicomJson
from openvna.dicom.media import Offer, negotiate, parse_accept
from openvna.dicom.xml import json_to_xml
from openvna.web.headers import warning_header
from openvna.web.urls import dicomweb_base, expand

__all__ = ["DatasetFormat", "dicom_response", "negotiate_dataset_format"]


class DatasetFormat(Enum):
    """How datasets go out: a JSON array (either JSON media type) or one XML document a part."""

    DICOM_JSON = "application/dicom+json"
    JSON = "application/json"
    XML = "application/dicom+xml"


# Server preference first: DICOM JSON is the default (PS3.18 §8.7.3.5); XML only as
# multipart/related, one NativeDicomModel a part (PS3.18 §10.6.3, PS3.19 A.1).
_OFFERS = (
    Offer(DatasetFormat.DICOM_JSON.value, multipart=False),
    Offer(DatasetFormat.JSON.value, multipart=False),
    Offer(DatasetFormat.XML.value, multipart=True),
)


def negotiate_dataset_format(request: Request) -> DatasetFormat:
    """Pick JSON or XML from the Accept header (q-values honoured); 406 when neither fits."""
    chosen = negotiate(parse_accept(request.headers.get("accept")), _OFFERS)
    return DatasetFormat(chosen.media_type)


def dicom_response(
    request: Request,
    datasets: list[DicomJson] | DicomJson,
    media: DatasetFormat,
    warnings: Iterable[str] = (),
    status: int = 200,
) -> Response:
    base = dicomweb_base(request)
    headers = warning_header(warnings)
    if media is not DatasetFormat.XML:
        # PS3.18 F.2.1: attributes in tag order (results come unsorted from the index).
        body = expand(orjson.dumps(datasets, option=orjson.OPT_SORT_KEYS), base)
        return Response(body, status, headers, media_type=media.value)
    items = datasets if isinstance(datasets, list) else [datasets]
    boundary = secrets.token_hex(16)
    chunks = []
    for item in items:
        chunks.append(
            f"--{boundary}\r\nContent-Type: application/dicom+xml\r\n\r\n".encode()
            + expand(json_to_xml(item), base)
            + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    content_type = f'multipart/related; type="application/dicom+xml"; boundary={boundary}'
    return Response(b"".join(chunks), status, headers, media_type=content_type)
