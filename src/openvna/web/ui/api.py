"""The explorer's few endpoints that DICOMweb does not offer: an instance's tags as a tree with
keywords, a study as a ZIP with a DICOMDIR (PS3.10 §9 File-set, written by pydicom's FileSet),
and anonymization into a new study (dicognito: PS3.15 E.1 Basic Profile, UIDs replaced
consistently so the copy is a study of its own). Everything else the explorer does through
QIDO-RS, WADO-RS, STOW-RS, DELETE and FHIR, as any client would."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from dicognito.anonymizer import Anonymizer
from pydicom import dcmread
from pydicom.errors import InvalidDicomError
from pydicom.fileset import FileSet
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from openvna.archive import Archive
from openvna.archive.outcome import Origin
from openvna.dicom.tags import keyword_of
from openvna.dicom.uid import is_valid_uid
from openvna.errors import InvalidQuery
from openvna.web.context import archive_of
from openvna.web.errors import error_response

__all__ = ["routes", "tag_tree"]


def tag_tree(dataset: dict[str, Any]) -> list[dict[str, Any]]:
    """DICOM JSON (PS3.18 F.2) as rows ``{tag, keyword, vr, value}`` in tag order; a sequence
    has ``items``, each a list of rows; bulk data shows as ``(bulk data)``."""
    rows = []
    for key in sorted(dataset):
        element = dataset[key]
        vr = element.get("vr", "UN")
        row: dict[str, Any] = {
            "tag": f"({key[:4]},{key[4:]})",
            "keyword": keyword_of(int(key, 16)),
            "vr": vr,
        }
        if vr == "SQ":
            row["items"] = [tag_tree(item) for item in element.get("Value", [])]
        elif "BulkDataURI" in element or "InlineBinary" in element:
            row["value"] = "(bulk data)"
        else:
            row["value"] = "\\".join(_text(v) for v in element.get("Value", []))
        rows.append(row)
    return rows


def _text(value: Any) -> str:
    if isinstance(value, dict):  # PN: its component groups
        return "=".join(
            str(value[g]) for g in ("Alphabetic", "Ideographic", "Phonetic") if g in value
        )
    return str(value)


def _uids(request: Request, *names: str) -> list[str]:
    values = [request.path_params[name] for name in names]
    for value in values:
        if not is_valid_uid(value):
            raise InvalidQuery(f"{value!r} is not a valid UID")
    return values


async def tags(request: Request) -> Response:
    study, series, sop = _uids(request, "study", "series", "sop")
    archive = archive_of(request)
    body = await run_in_threadpool(archive.metadata, study, series, sop)
    return JSONResponse(tag_tree(json.loads(body)[0]))


async def study_zip(request: Request) -> Response:
    """The study's Part 10 files under a DICOMDIR, as ``<study>.zip``."""
    (study,) = _uids(request, "study")
    path = await run_in_threadpool(_write_zip, archive_of(request), study)
    if isinstance(path, str):
        return error_response(422, path)
    return FileResponse(
        path,
        media_type="application/zip",
        filename=f"{study}.zip",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


def _write_zip(archive: Archive, study: str) -> Path | str:
    """The ZIP's path, or why no DICOMDIR can index the study (a record's Type 1 key missing)."""
    instances = archive.retrieve(study)
    with tempfile.TemporaryDirectory(prefix="openvna-zip-") as work:
        fileset = FileSet()
        fileset.ID = "OPENVNA"
        for instance in instances:
            try:
                fileset.add(dcmread(io.BytesIO(instance.file().read())))
            except (ValueError, KeyError, InvalidDicomError) as exc:
                return f"instance {instance.sop_uid} cannot go in a DICOMDIR: {exc}"
        root = Path(work) / "fileset"
        fileset.write(root)
        with (
            tempfile.NamedTemporaryFile(prefix="openvna-", suffix=".zip", delete=False) as handle,
            zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as out,
        ):
            for file in sorted(root.rglob("*")):
                if file.is_file():
                    out.write(file, file.relative_to(root).as_posix())
        return Path(handle.name)


async def anonymize(request: Request) -> Response:
    """Store an anonymized copy of the study; answer its new Study Instance UID."""
    (study,) = _uids(request, "study")
    remote = request.client.host if request.client else ""
    result = await run_in_threadpool(_anonymize, archive_of(request), study, remote)
    if isinstance(result, str):
        return error_response(422, result)
    return JSONResponse(result, status_code=201)


def _anonymize(archive: Archive, study: str, remote: str) -> dict[str, Any] | str:
    anonymizer = Anonymizer()  # one per request: the UIDs of one study map consistently
    new_study = ""
    stored = 0
    for instance in archive.retrieve(study):
        try:
            ds = dcmread(io.BytesIO(instance.file().read()))
        except InvalidDicomError as exc:
            return f"instance {instance.sop_uid} cannot be read: {exc}"
        anonymizer.anonymize(ds)
        outcome = archive.store_dataset(ds, Origin.http(remote))
        if not outcome.ok:
            return f"anonymized copy of {instance.sop_uid} refused: {outcome.message}"
        new_study = str(ds.StudyInstanceUID)
        stored += 1
    return {"study": new_study, "instances": stored, "from": study}


_S = "/api/studies/{study}"
routes: list[BaseRoute] = [
    Route(_S + "/series/{series}/instances/{sop}/tags", tags, methods=["GET"]),
    Route(_S + "/archive", study_zip, methods=["GET"]),
    Route(_S + "/anonymize", anonymize, methods=["POST"]),
]
