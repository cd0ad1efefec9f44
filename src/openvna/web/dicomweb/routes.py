"""The DICOMweb route table (PS3.18 §10), one module per transaction family."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from openvna.web.dicomweb import capabilities, delete, qido, rendered, stow, wado
from openvna.web.dicomweb.ups import routes as ups_routes

__all__ = ["routes"]

_S = "/studies/{study}"
_SE = _S + "/series/{series}"
_I = _SE + "/instances/{instance}"

routes: list[BaseRoute] = [
    Route("/", capabilities.describe, methods=["OPTIONS"]),
    Route("/capabilities", capabilities.describe, methods=["GET"]),
    # QIDO-RS (§10.6)
    Route("/studies", qido.search_studies, methods=["GET"]),
    Route("/series", qido.search_series, methods=["GET"]),
    Route("/instances", qido.search_instances, methods=["GET"]),
    Route(_S + "/series", qido.search_series, methods=["GET"]),
    Route(_S + "/instances", qido.search_instances, methods=["GET"]),
    Route(_SE + "/instances", qido.search_instances, methods=["GET"]),
    # STOW-RS (§10.5)
    Route("/studies", stow.store_instances, methods=["POST"]),
    Route(_S, stow.store_instances, methods=["POST"]),
    # WADO-RS (§10.4)
    Route(_S, wado.retrieve_instances, methods=["GET"]),
    Route(_SE, wado.retrieve_instances, methods=["GET"]),
    Route(_I, wado.retrieve_instances, methods=["GET"]),
    Route(_S + "/metadata", wado.retrieve_metadata, methods=["GET"]),
    Route(_SE + "/metadata", wado.retrieve_metadata, methods=["GET"]),
    Route(_I + "/metadata", wado.retrieve_metadata, methods=["GET"]),
    Route(_I + "/frames/{frames}", wado.retrieve_frames, methods=["GET"]),
    Route(_I + "/bulkdata/{path:path}", wado.retrieve_bulkdata, methods=["GET"]),
    # Rendered and thumbnail resources (§10.4.1.1.3, §10.4.3.3.4)
    Route(_S + "/rendered", rendered.render_resource, methods=["GET"]),
    Route(_SE + "/rendered", rendered.render_resource, methods=["GET"]),
    Route(_I + "/rendered", rendered.render_resource, methods=["GET"]),
    Route(_I + "/frames/{frames}/rendered", rendered.render_frames, methods=["GET"]),
    Route(_S + "/thumbnail", rendered.thumbnail, methods=["GET"]),
    Route(_SE + "/thumbnail", rendered.thumbnail, methods=["GET"]),
    Route(_I + "/thumbnail", rendered.thumbnail, methods=["GET"]),
    Route(_I + "/frames/{frames}/thumbnail", rendered.thumbnail, methods=["GET"]),
    # Deletion (not in PS3.18; as dcm4chee, Orthanc and dicom-server offer it)
    Route(_S, delete.delete_resource, methods=["DELETE"]),
    Route(_SE, delete.delete_resource, methods=["DELETE"]),
    Route(_I, delete.delete_resource, methods=["DELETE"]),
    # UPS-RS (PS3.18 ch. 11): workitems and the event channel
    *ups_routes,
]
