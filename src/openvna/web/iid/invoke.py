"""``/IHEInvokeImageDisplay`` (IHE RAD TF-2 4.106, RAD-106): find the studies, open OHIF on them.

The Image Display actor resolves the request with the archive's find service (the one Query of
QIDO-RS and C-FIND), then answers a 303 into the viewer on those studies (IID-12: several studies
open in one session). ``keyImagesOnly`` narrows the viewer to the series of the instances that
Key Object Selection documents reference (PS3.3 A.35.4, its Current Requested Procedure Evidence
Sequence) and opens on the first of them. ``diagnosticQuality`` needs nothing more: the viewer
reads frames as stored, never a lossy rendition (PS3.18 §8.7.3.5).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from openvna.archive import Archive
from openvna.dicom.matching import AnyOf, MatchTerm, Single, parse_term
from openvna.dicom.query import Level, Query, resolve_attribute
from openvna.web.context import archive_of, settings_of
from openvna.web.iid.ohif import VIEWER_PREFIX
from openvna.web.iid.pages import frame_headers, message_page, not_installed_page
from openvna.web.iid.request import IidError, IidRequest, parse_iid
from openvna.web.iid.viewer import viewer_files

__all__ = ["IID_PATH", "find_studies", "key_images", "routes"]

IID_PATH = "/IHEInvokeImageDisplay"
_KOS = "1.2.840.10008.5.1.4.1.1.88.59"  # Key Object Selection Document Storage (PS3.4 B.5)
_USAGE = (
    "Examples: ?requestType=STUDY&studyUID=1.2.3 (or accessionNumber=A123), "
    "?requestType=PATIENT&patientID=123^^^Hospital&mostRecentResults=2 "
    "(IHE RAD TF-2 4.106)."
)


async def invoke_image_display(request: Request) -> Response:
    try:
        iid = parse_iid(request.query_params.multi_items())
    except IidError as exc:
        return message_page(request, 400, "Invalid Invoke Image Display request", str(exc), _USAGE)
    if viewer_files(settings_of(request)) is None:
        return not_installed_page(request)
    archive = archive_of(request)
    studies = await run_in_threadpool(find_studies, archive, iid)
    if not studies:
        return message_page(
            request, 404, "No matching study", "No study in this archive matches the request."
        )
    query: list[tuple[str, str]] = [("StudyInstanceUIDs", ",".join(studies))]
    if iid.key_images_only:
        series, first = await run_in_threadpool(key_images, archive, studies)
        if not series:
            return message_page(
                request,
                404,
                "No key images",
                "The matching studies hold no Key Object Selection document.",
            )
        query += [("SeriesInstanceUIDs", ",".join(series)), ("initialSOPInstanceUID", first)]
    location = f"{VIEWER_PREFIX}/viewer?{urlencode(query)}"
    return RedirectResponse(location, status_code=303, headers=frame_headers(settings_of(request)))


def find_studies(archive: Archive, iid: IidRequest) -> list[str]:
    """The matching Study Instance UIDs, newest first, cut to ``mostRecentResults``.

    The issuer (CX.4) is compared here: the index matches IssuerOfPatientID at the patient level
    only, and the patient's studies carry it as stored."""
    keywords = ("StudyInstanceUID", "StudyDate", "StudyTime", "IssuerOfPatientID")
    keys = tuple(resolve_attribute(k)[0] for k in keywords)
    query = Query(Level.STUDY, _terms(iid), return_keys=keys, limit=None, combined_datetime=True)
    found = [
        (_text(d, "00080020") + _text(d, "00080030"), _text(d, "0020000D"))
        for d in archive.find(query)
        if not iid.issuer or _text(d, "00100021") == iid.issuer
    ]
    found.sort(reverse=True)
    uids = [uid for _, uid in found if uid]
    return uids[: iid.most_recent] if iid.most_recent else uids


def _terms(iid: IidRequest) -> tuple[MatchTerm, ...]:
    if iid.request_type == "STUDY":
        if iid.study_uids:
            return (_term("StudyInstanceUID", ",".join(iid.study_uids)),)
        tag, keyword, vr = resolve_attribute("AccessionNumber")
        if len(iid.accessions) == 1:
            return (Single(tag, keyword, vr, iid.accessions[0]),)
        return (AnyOf(tag, keyword, vr, iid.accessions),)
    terms = [_term("PatientID", iid.patient_id)]
    if iid.lower or iid.upper:
        terms.append(_term("StudyDate", f"{_da(iid.lower)}-{_da(iid.upper)}"))
        terms.append(_term("StudyTime", f"{_tm(iid.lower)}-{_tm(iid.upper)}"))
    if iid.modalities:
        terms.append(_term("ModalitiesInStudy", ",".join(iid.modalities)))
    return tuple(terms)


def _term(keyword: str, raw: str) -> MatchTerm:
    tag, name, vr = resolve_attribute(keyword)
    return parse_term(tag, name, vr, raw)


def _da(moment: datetime | None) -> str:
    return moment.strftime("%Y%m%d") if moment else ""


def _tm(moment: datetime | None) -> str:
    return moment.strftime("%H%M%S") if moment else ""


def _text(dataset: dict[str, Any], tag: str) -> str:
    values = dataset.get(tag, {}).get("Value") or [""]
    return str(values[0])


def key_images(archive: Archive, studies: list[str]) -> tuple[list[str], str]:
    """The series referenced by the studies' KOS documents, and the first referenced SOP."""
    query = Query(
        Level.INSTANCE,
        (_term("StudyInstanceUID", ",".join(studies)), _term("SOPClassUID", _KOS)),
        return_keys=tuple(
            resolve_attribute(k)[0]
            for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
        ),
        limit=None,
    )
    series: dict[str, None] = {}
    first = ""
    for kos in archive.find(query):
        for document in json.loads(
            archive.metadata(_text(kos, "0020000D"), _text(kos, "0020000E"), _text(kos, "00080018"))
        ):
            for study in document.get("0040A375", {}).get("Value", []):
                for referenced in study.get("00081115", {}).get("Value", []):
                    series.setdefault(_text(referenced, "0020000E"), None)
                    for sop in referenced.get("00081199", {}).get("Value", []):
                        first = first or _text(sop, "00081155")
    series.pop("", None)
    return list(series), first


routes: list[BaseRoute] = [Route(IID_PATH, invoke_image_display, methods=["GET"])]
