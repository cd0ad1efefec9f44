"""WADO-URI (PS3.18 chapter 9, IHE RAD-55) at ``/wado`` and ``/wadouri``."""

from openvna.web.wado_uri.handler import PATHS, retrieve, routes

__all__ = ["PATHS", "retrieve", "routes"]
