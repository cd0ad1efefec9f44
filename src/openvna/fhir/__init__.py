"""FHIR R4 facade over the archive: the DICOM JSON → FHIR mapping as pure functions
(``mapping``, ``endpoints``), search parsed into the archive's ``Query`` (``search``), and the
service the web door calls (``FhirService``)."""

from openvna.fhir.capability import FHIR_VERSION, capability_statement
from openvna.fhir.endpoints import Bases
from openvna.fhir.outcome import operation_outcome
from openvna.fhir.service import RESOURCE_TYPES, FhirService
from openvna.fhir.xml import to_xml

__all__ = [
    "FHIR_VERSION",
    "RESOURCE_TYPES",
    "Bases",
    "FhirService",
    "capability_statement",
    "operation_outcome",
    "to_xml",
]
