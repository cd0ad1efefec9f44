"""Property-based tests of the readers of what clients send: whatever the bytes, each answers
with its result or a typed error (``ArchiveError``: a 4xx at the edge), never another
exception. Inputs are mutations of valid documents, so the search reaches deep states rather
than failing at the first byte."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from openvna.archive.assemble import assemble_instance, parse_metadata
from openvna.archive.ingest import check
from openvna.dicom.json import dataset_to_json
from openvna.dicom.part10 import part10_bytes
from openvna.dicom.query import parse_qido
from openvna.dicom.xml import json_to_xml, xml_to_json
from openvna.errors import ArchiveError
from openvna.runtime import configure_libraries
from openvna.web.multipart import read_parts
from tests.asyncrun import run_async
from tests.factories import make_instance

# A warning is not a failure: pydicom warns and reads on (and logs it, in the server).
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
configure_libraries()  # as every openvna process does

_SEED = make_instance(
    rows=4,
    columns=4,
    frames=2,
    SpecificCharacterSet="ISO_IR 192",
    PatientName="DOE^JANE=ド^ジェーン",
)
_PART10 = part10_bytes(_SEED)
_JSON = orjson.dumps(dataset_to_json(_SEED, lambda path: f"http://x/{path}"))
_XML = json_to_xml(dataset_to_json(_SEED, lambda path: f"http://x/{path}"))


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with a few random edits: flipped bytes, a cut, an insertion, a deletion."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif data:
            del data[at : at + draw(st.integers(1, 16))]
    return bytes(data)


def _typed(work: Callable[[], Any]) -> None:
    with contextlib.suppress(ArchiveError):
        work()


@given(mutated(_PART10))
def test_the_part10_reader_and_checks_answer_or_refuse(tmp_path_factory: Any, data: bytes) -> None:
    path = Path(tmp_path_factory.mktemp("part10")) / "x.dcm"
    path.write_bytes(data)
    check(path, None)  # an outcome, refused or not: never an exception


@given(st.one_of(mutated(_JSON), st.binary(max_size=64)))
def test_dicom_json_metadata_parses_and_assembles_or_is_a_bad_request(data: bytes) -> None:
    def run() -> None:
        for item in parse_metadata("application/dicom+json", data):
            assemble_instance(item, _no_bulk)

    _typed(run)


@given(st.one_of(mutated(_XML), st.binary(max_size=64)))
def test_dicom_xml_parses_or_is_a_bad_request(data: bytes) -> None:
    _typed(lambda: xml_to_json(data))


_PARAMETERS = st.sampled_from(
    [
        "PatientName",
        "PatientID",
        "StudyDate",
        "StudyTime",
        "StudyInstanceUID",
        "Modality",
        "ModalitiesInStudy",
        "00100020",
        "limit",
        "offset",
        "fuzzymatching",
        "includefield",
        "ReferencedStudySequence.ReferencedSOPInstanceUID",
        "SeriesNumber",
        "PatientWeight",
        "AccessionNumber",
        "x",
    ]
)
_VALUES = st.one_of(
    st.text(max_size=24),
    st.sampled_from(["SIIM*", "20200101-", "-20200101", "1.2.3,1.2.4", "*", "?", "\\", "all"]),
)


@given(
    st.sampled_from(["PATIENT", "STUDY", "SERIES", "INSTANCE"]),
    st.lists(st.tuples(_PARAMETERS, _VALUES), max_size=6),
)
def test_qido_parameters_parse_or_are_a_bad_request(
    level: str, params: list[tuple[str, str]]
) -> None:
    _typed(lambda: parse_qido(level, params))


def _no_bulk(uri: str) -> tuple[str, Callable[[], bytes]]:
    return "application/octet-stream", lambda: b"\0" * 64


_BODY = (
    b"--b\r\nContent-Type: application/dicom\r\nContent-Location: a\r\n\r\n"
    + _PART10[:300]
    + b"\r\n--b\r\nContent-Type: application/dicom+json\r\n\r\n[]\r\n--b--\r\n"
)


@given(mutated(_BODY), st.sampled_from(["b", "b" * 71, "4b6bd5a2-x"]), st.integers(1, 97))
def test_the_multipart_reader_splits_or_is_a_bad_request(
    tmp_path_factory: Any, body: bytes, boundary: str, chunk: int
) -> None:
    spool = Path(tmp_path_factory.mktemp("spool"))
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]

    async def receive() -> dict[str, Any]:
        if chunks:
            piece = chunks.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(chunks)}
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}

    async def run() -> None:
        async with read_parts(Request(scope, receive), boundary, spool, 1 << 20) as parts:
            for part in parts:
                part.read_bytes()

    _typed(lambda: run_async(run()))
    assert list(spool.iterdir()) == []  # every spool file removed, refused or not
