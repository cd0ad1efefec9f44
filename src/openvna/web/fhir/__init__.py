"""The FHIR door: a thin adapter from HTTP to ``openvna.fhir`` (R4 http.html)."""

from openvna.web.fhir.handlers import FHIR_PREFIX
from openvna.web.fhir.responses import outcome_response
from openvna.web.fhir.routes import routes

__all__ = ["FHIR_PREFIX", "outcome_response", "routes"]
