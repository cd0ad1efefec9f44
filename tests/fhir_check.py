"""FHIR validation for the tests: every resource the server emits must parse and validate with
the ``fhir.resources`` R4B models (R4B shares R4's Patient, ImagingStudy, Endpoint and Bundle)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from lxml import etree

FHIR_NS = "{http://hl7.org/fhir}"


def validate(resource: dict[str, Any]) -> Any:
    """The validated model of a resource (or Bundle) dict; raises on anything invalid."""
    model = get_fhir_model_class(resource["resourceType"])
    return model.model_validate(resource)


def validate_xml(data: bytes) -> Any:
    """Parse FHIR XML with the models; the root element names the resource type."""
    root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False))
    assert root.tag.startswith(FHIR_NS), root.tag
    model = get_fhir_model_class(root.tag.removeprefix(FHIR_NS))
    return model.model_validate_xml(data)


def child_names(data: bytes) -> list[str]:
    """The names of the root element's children, in document order."""
    root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False))
    return [child.tag.removeprefix(FHIR_NS) for child in root]


SUBSETTED_CODE = "SUBSETTED"
