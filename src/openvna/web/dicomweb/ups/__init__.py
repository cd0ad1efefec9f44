"""UPS-RS (PS3.18 chapter 11, Table 11.3-1): the workitem routes under the DICOMweb root."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route, WebSocketRoute

from openvna.web.dicomweb.ups import channel, transactions

__all__ = ["routes"]

_W = "/workitems/{workitem}"
_SUBSCRIBER = _W + "/subscribers/{aetitle}"

routes: list[BaseRoute] = [
    Route("/workitems", transactions.create_workitem, methods=["POST"]),
    Route("/workitems", transactions.search_workitems, methods=["GET"]),
    Route(_W, transactions.retrieve_workitem, methods=["GET"]),
    Route(_W, transactions.update_workitem, methods=["POST"]),
    Route(_W + "/state", transactions.change_state, methods=["PUT"]),
    Route(_W + "/state/{requester}", transactions.change_state, methods=["PUT"]),
    Route(_W + "/cancelrequest", transactions.request_cancellation, methods=["POST"]),
    Route(_W + "/cancelrequest/{requester}", transactions.request_cancellation, methods=["POST"]),
    Route(_SUBSCRIBER, transactions.subscribe, methods=["POST"]),
    Route(_SUBSCRIBER, transactions.unsubscribe, methods=["DELETE"]),
    Route(_SUBSCRIBER + "/suspend", transactions.suspend_subscription, methods=["POST"]),
    WebSocketRoute("/subscribers/{aetitle}", channel.open_channel),
]
