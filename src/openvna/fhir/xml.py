"""FHIR XML (R4 xml.html): a resource dict written as XML by the ``fhir.resources`` models,
which know each element's place in the specification's order and the ``value`` attribute
convention; used only when a client asks for XML, so JSON stays free of the models' cost."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from openvna.errors import ArchiveError

__all__ = ["to_xml"]


def to_xml(resource: dict[str, Any], *, pretty: bool = False) -> bytes:
    """The XML document of ``resource`` (UTF-8, namespace http://hl7.org/fhir)."""
    model = get_fhir_model_class(resource["resourceType"])
    try:
        instance = model.model_validate(resource)
    except ValueError as exc:
        # A resource openvna built that its own model refuses is openvna's bug: a 500 that
        # names the resource, never the client's fault.
        raise ArchiveError(f"cannot write {resource['resourceType']} as XML: {exc}") from exc
    data = instance.model_dump_xml(pretty_print=pretty)
    return data if isinstance(data, bytes) else data.encode()
