"""UPS-RS transactions (PS3.18 chapter 11) as thin handlers over the workitem service.

Each handler reads the request into a service call (``openvna.ups.Workitems``) in a worker
thread and answers with the status of PS3.18 Table 11.3-1 (201 create and subscribe, 202
cancellation request, 200 otherwise) and the service's warnings as Warning headers; refusals
are ``ArchiveError``s that ``web/errors.py`` answers (400, 403, 404, 409 with the reason).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from openvna.dicom.uid import is_valid_uid
from openvna.errors import BadRequest
from openvna.ups import Outcome, Tag, parse_search
from openvna.web.context import settings_of
from openvna.web.dicomweb.representation import dicom_response, negotiate_dataset_format
from openvna.web.dicomweb.ups.bodies import read_dataset
from openvna.web.dicomweb.ups.context import workitems_of
from openvna.web.headers import warning_header
from openvna.web.urls import dicomweb_base

__all__ = [
    "change_state",
    "create_workitem",
    "request_cancellation",
    "retrieve_workitem",
    "search_workitems",
    "subscribe",
    "suspend_subscription",
    "unsubscribe",
    "update_workitem",
]

# PS3.18 drift (STANDARDS.md UPS-12): the workitem of CreateUPS and the Transaction UID of
# UpdateUPS have had several query parameter names; every one is accepted.
_CREATE_UID_PARAMETERS = ("affectedsopinstanceuid", "workitem")
_TRANSACTION_PARAMETERS = ("transaction-uid", "transaction", "transactionuid")


def _uid(request: Request) -> str:
    return str(request.path_params["workitem"])


def _answer(outcome: Outcome, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status, headers={**warning_header(outcome.warnings), **(headers or {})}
    )


async def create_workitem(request: Request) -> Response:
    """CreateUPS (PS3.18 §11.4): 201 with the workitem's URL in Location."""
    uid = _create_uid(request)
    dataset = await read_dataset(request)
    outcome = await run_in_threadpool(workitems_of(request).create, dataset, uid)
    url = f"{dicomweb_base(request)}/workitems/{outcome.uid}"
    return _answer(outcome, 201, {"Location": url, "Content-Location": url})


def _create_uid(request: Request) -> str | None:
    """The workitem UID of ``?AffectedSOPInstanceUID=``, ``?workitem=`` or a bare ``?{uid}``."""
    found = None
    for name, value in request.query_params.multi_items():
        if name.lower() in _CREATE_UID_PARAMETERS:
            found = value
        elif not value and is_valid_uid(name):
            found = name
        else:
            raise BadRequest(f"CreateUPS takes no query parameter {name!r}", attribute=name)
    return found


async def retrieve_workitem(request: Request) -> Response:
    """RetrieveUPS (PS3.18 §11.5): the workitem in DICOM JSON or XML."""
    media = negotiate_dataset_format(request)
    dataset = await run_in_threadpool(workitems_of(request).retrieve, _uid(request))
    return dicom_response(request, [dataset], media)


async def update_workitem(request: Request) -> Response:
    """UpdateUPS (PS3.18 §11.6); the Transaction UID as a query parameter or in the body."""
    transaction = None
    for name, value in request.query_params.multi_items():
        if name.lower() not in _TRANSACTION_PARAMETERS:
            raise BadRequest(f"UpdateUPS takes no query parameter {name!r}", attribute=name)
        transaction = value
    changes = await read_dataset(request)
    outcome = await run_in_threadpool(
        workitems_of(request).update, _uid(request), changes, transaction
    )
    return _answer(outcome)


async def search_workitems(request: Request) -> Response:
    """SearchForUPS (PS3.18 §11.9): the QIDO-RS query grammar and paging."""
    media = negotiate_dataset_format(request)
    settings = settings_of(request).dicomweb
    query = parse_search(
        list(request.query_params.multi_items()),
        default_limit=settings.qido_default_limit,
        max_limit=settings.qido_max_limit,
    )
    page = await run_in_threadpool(workitems_of(request).search, query)
    warnings = []
    if page.remaining:
        warnings.append(f"There are {page.remaining} additional results that can be requested")
    return dicom_response(request, page.datasets, media, warnings)


async def change_state(request: Request) -> Response:
    """ChangeUPSState (PS3.18 §11.7): Transaction UID and Procedure Step State in the body."""
    body = await read_dataset(request)
    state = _first_text(body, Tag.STATE)
    if state is None:
        raise BadRequest(
            "Procedure Step State (0074,1000) is missing", attribute="ProcedureStepState"
        )
    transaction = _first_text(body, Tag.TRANSACTION_UID)
    outcome = await run_in_threadpool(
        workitems_of(request).change_state, _uid(request), state, transaction
    )
    return _answer(outcome)


def _first_text(body: dict[str, object], tag: str) -> str | None:
    attribute = body.get(tag)
    values = attribute.get("Value") if isinstance(attribute, dict) else None
    if not values:
        return None
    if not isinstance(values[0], str):
        raise BadRequest(f"{tag} must hold a string", attribute=tag)
    return values[0]


async def request_cancellation(request: Request) -> Response:
    """RequestUPSCancellation (PS3.18 §11.8): 202; the requester named in the path (as
    dcm4chee's ``/cancelrequest/{requester}``) is the Requesting AE of the event."""
    body = await read_dataset(request, optional=True)
    requester = request.path_params.get("requester")
    if requester:
        body[Tag.REQUESTING_AE] = {"vr": "AE", "Value": [requester]}
    outcome = await run_in_threadpool(
        workitems_of(request).request_cancellation, _uid(request), body
    )
    return _answer(outcome, 202)


async def subscribe(request: Request) -> Response:
    """CreateSubscription (PS3.18 §11.10): to a workitem, globally or with a filter; 201."""
    lock, filters = _subscription_parameters(request)
    outcome = await run_in_threadpool(
        workitems_of(request).subscribe,
        _uid(request),
        str(request.path_params["aetitle"]),
        lock,
        filters,
    )
    return _answer(outcome, 201)


def _subscription_parameters(request: Request) -> tuple[bool, list[tuple[str, str]] | None]:
    """``deletionlock`` (true/false) and the filter of a filtered global subscription, given as
    match parameters (``?PatientID=1``) or as ``?filter=PatientID=1,ProcedureStepLabel=x``."""
    lock = False
    filters: list[tuple[str, str]] = []
    for name, value in request.query_params.multi_items():
        if name.lower() == "deletionlock":
            if value.lower() not in ("true", "false"):
                raise BadRequest(f"deletionlock: {value!r} is neither true nor false")
            lock = value.lower() == "true"
        elif name == "filter":
            for pair in value.split(","):
                key, sep, text = pair.partition("=")
                if not sep:
                    raise BadRequest(f"filter: {pair!r} is not attribute=value", attribute="filter")
                filters.append((key.strip(), text))
        else:
            filters.append((name, value))
    return lock, filters or None


async def unsubscribe(request: Request) -> Response:
    """DeleteSubscription (PS3.18 §11.11)."""
    outcome = await run_in_threadpool(
        workitems_of(request).unsubscribe, _uid(request), str(request.path_params["aetitle"])
    )
    return _answer(outcome)


async def suspend_subscription(request: Request) -> Response:
    """SuspendGlobalSubscription (PS3.18 §11.12)."""
    outcome = await run_in_threadpool(
        workitems_of(request).suspend, _uid(request), str(request.path_params["aetitle"])
    )
    return _answer(outcome)
