"""A UPS-RS client (PS3.18 chapter 11) for ``openvna ups``: plain HTTP with httpx, so it works
against any UPS-RS origin server, openvna's or another.

Requests send ``application/dicom+json`` and accept it; the Transaction UID of UpdateUPS goes
both as the ``transaction-uid`` query parameter (PS3.18 2019b on) and in the body (dcm4chee reads
the body), as STANDARDS.md UPS-12 advises. A refusal becomes ``UpsClientError`` with the status
and the server's Warning text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import orjson

__all__ = ["UpsClient", "UpsClientError", "completion_attributes", "new_workitem"]

_JSON = "application/dicom+json"
GLOBAL = "1.2.840.10008.5.1.4.34.5"


class UpsClientError(Exception):
    """A request the server refused (or could not be sent): the message says which and why."""


def _now() -> str:
    return dt.datetime.now().astimezone().strftime("%Y%m%d%H%M%S%z")


def new_workitem(
    label: str,
    priority: str = "MEDIUM",
    start: str | None = None,
    patient_id: str | None = None,
    patient_name: str | None = None,
    worklist_label: str | None = None,
    comments: str | None = None,
) -> dict[str, Any]:
    """A workitem for CreateUPS with the Type 1 attributes of PS3.4 Table CC.2.5-3 valued and
    its Type 2 attributes present (empty when not given), SCHEDULED and READY."""

    def text(vr: str, value: str | None) -> dict[str, Any]:
        return {"vr": vr, "Value": [value]} if value else {"vr": vr}

    empty_sequences = ("00741210", "00404025", "00404026", "00404027", "00404018", "00404021")
    item: dict[str, Any] = {tag: {"vr": "SQ"} for tag in empty_sequences}
    item |= {tag: {"vr": "SQ"} for tag in ("00101002", "00380014", "00081084", "0040A370")}
    item |= {
        "00741000": text("CS", "SCHEDULED"),
        "00741200": text("CS", priority.upper()),
        "00741204": text("LO", label),
        "00741202": text("LO", worklist_label),
        "00404005": text("DT", start or _now()),
        "00404041": text("CS", "READY"),
        "00400400": text("LT", comments),
        "00100020": text("LO", patient_id),
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": patient_name}]}
        if patient_name
        else {"vr": "PN"},
        "00100030": {"vr": "DA"},
        "00100040": {"vr": "CS"},
        "00380010": {"vr": "LO"},
        "00081080": {"vr": "LO"},
    }
    return item


def completion_attributes(workitem: dict[str, Any], started: str | None) -> dict[str, Any]:
    """The Final State attributes COMPLETED requires (Table CC.2.5-3, P): an item of UPS
    Performed Procedure Sequence with start and end, the scheduled workitem codes as performed,
    and empty station and output sequences."""
    codes = workitem.get("00404018", {"vr": "SQ"})
    return {
        "00741216": {
            "vr": "SQ",
            "Value": [
                {
                    "00404050": {"vr": "DT", "Value": [started or _now()]},
                    "00404051": {"vr": "DT", "Value": [_now()]},
                    "00404028": {"vr": "SQ"},
                    "00404019": {
                        "vr": "SQ",
                        **({"Value": codes["Value"]} if "Value" in codes else {}),
                    },
                    "00404033": {"vr": "SQ"},
                }
            ],
        }
    }


class UpsClient:
    """The transactions of PS3.18 Table 11.3-1 against the DICOMweb root ``url``."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 30) -> None:
        self.url = url.rstrip("/")
        self.headers = {"Accept": _JSON}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self.http = httpx.Client(timeout=timeout, headers=self.headers)

    def close(self) -> None:
        self.http.close()

    def _send(self, method: str, path: str, body: Any = None, **params: str) -> httpx.Response:
        content = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": _JSON} if body is not None else {}
        try:
            answer = self.http.request(
                method, self.url + path, content=content, headers=headers, params=params or None
            )
        except httpx.HTTPError as exc:
            raise UpsClientError(f"{method} {self.url + path}: {exc}") from exc
        if answer.status_code >= 300:
            reason = answer.headers.get("warning") or answer.text[:300]
            raise UpsClientError(f"{method} {path}: {answer.status_code} {reason}".strip())
        return answer

    def create(self, workitem: dict[str, Any], uid: str | None = None) -> str:
        """CreateUPS; the new workitem's UID (from Location when the server chose it)."""
        params = {"workitem": uid} if uid else {}
        answer = self._send("POST", "/workitems", workitem, **params)
        location = answer.headers.get("location") or answer.headers.get("content-location", "")
        return uid or location.rstrip("/").rsplit("/", 1)[-1]

    def retrieve(self, uid: str) -> dict[str, Any]:
        found = orjson.loads(self._send("GET", f"/workitems/{uid}").content)
        dataset = found[0] if isinstance(found, list) else found
        if not isinstance(dataset, dict):
            raise UpsClientError(f"GET /workitems/{uid}: the answer is not a DICOM JSON dataset")
        return dataset

    def search(self, params: dict[str, str]) -> list[dict[str, Any]]:
        answer = self._send("GET", "/workitems", **params)
        if answer.status_code == 204 or not answer.content.strip():
            return []
        found = orjson.loads(answer.content)
        return found if isinstance(found, list) else [found]

    def update(self, uid: str, changes: dict[str, Any], transaction_uid: str) -> None:
        body = changes | {"00081195": {"vr": "UI", "Value": [transaction_uid]}}
        self._send("POST", f"/workitems/{uid}", body, **{"transaction-uid": transaction_uid})

    def change_state(self, uid: str, state: str, transaction_uid: str) -> list[str]:
        body = {
            "00081195": {"vr": "UI", "Value": [transaction_uid]},
            "00741000": {"vr": "CS", "Value": [state]},
        }
        answer = self._send("PUT", f"/workitems/{uid}/state", body)
        return [answer.headers["warning"]] if "warning" in answer.headers else []

    def request_cancellation(self, uid: str, reason: str | None) -> list[str]:
        body = {"00741238": {"vr": "LT", "Value": [reason]}} if reason else None
        answer = self._send("POST", f"/workitems/{uid}/cancelrequest", body)
        return [answer.headers["warning"]] if "warning" in answer.headers else []

    def subscribe(self, uid: str, ae_title: str, deletion_lock: bool = False) -> None:
        self._send(
            "POST",
            f"/workitems/{uid}/subscribers/{ae_title}",
            deletionlock=str(deletion_lock).lower(),
        )

    def unsubscribe(self, uid: str, ae_title: str) -> None:
        self._send("DELETE", f"/workitems/{uid}/subscribers/{ae_title}")

    def events(self, ae_title: str) -> Iterator[dict[str, Any]]:
        """The event channel (PS3.18 §11.13): each SendEventReport message as it arrives."""
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect

        url = self.url.replace("http", "ws", 1) + f"/subscribers/{ae_title}"
        headers = {k: v for k, v in self.headers.items() if k == "Authorization"}
        try:
            with connect(url, additional_headers=headers, proxy=None) as channel:
                for message in channel:
                    yield orjson.loads(message)
        except (WebSocketException, OSError) as exc:
            raise UpsClientError(f"event channel {url}: {exc}") from exc
