"""Request bodies of the write interactions (R4 http.html#create, #update): FHIR JSON or XML,
checked against the R4B model of the resource type before anything is stored.

XML from a client is untrusted: a document with a DTD (external entities, entity expansion
bombs) is refused before any parser expands it (defusedxml, ``forbid_dtd``), and the model's
own parser then reads a document that has none.
"""

from __future__ import annotations

from typing import Any

import orjson
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from openvna.errors import BadRequest, UnsupportedMediaType

__all__ = ["JSON_TYPES", "XML_TYPES", "parse_body"]

JSON_TYPES = frozenset({"application/fhir+json", "application/json", "application/json+fhir"})
XML_TYPES = frozenset(
    {"application/fhir+xml", "application/xml", "text/xml", "application/xml+fhir"}
)


def parse_body(resource_type: str, body: bytes, media_type: str) -> dict[str, Any]:
    """The resource a body holds, as FHIR JSON, valid for its type; BadRequest (400) for a
    body that is not one, UnsupportedMediaType (415) for a content type that is neither."""
    media = media_type.split(";", maxsplit=1)[0].strip().lower()
    model = get_fhir_model_class(resource_type)
    try:
        if media in JSON_TYPES:
            parsed = orjson.loads(body)
            if not isinstance(parsed, dict):
                raise BadRequest("the body is not a JSON object")
            if parsed.get("resourceType") != resource_type:
                raise BadRequest(
                    f"the body is a {parsed.get('resourceType')!r}, not a {resource_type}"
                )
            instance = model.model_validate(parsed)
        elif media in XML_TYPES:
            root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
            if root.tag != "{http://hl7.org/fhir}" + resource_type:
                raise BadRequest(f"the body is a {root.tag!r} element, not a FHIR {resource_type}")
            instance = model.model_validate_xml(body)
        else:
            raise UnsupportedMediaType(
                f"Content-Type {media_type!r}: send application/fhir+json or application/fhir+xml"
            )
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    except (DefusedXmlException, ParseError) as exc:
        raise BadRequest(f"the body is not acceptable XML: {type(exc).__name__}: {exc}") from None
    except ValidationError as exc:
        raise BadRequest(f"the body is not a valid {resource_type}: {_first_error(exc)}") from None
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"the body is not a valid {resource_type}: {exc}") from None
    result: dict[str, Any] = orjson.loads(instance.model_dump_json())
    return result


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first.get('msg', '')}" if where else str(first.get("msg", ""))
