"""openvna: an open imaging archive speaking DICOMweb, DIMSE and FHIR over one store."""

__version__ = "0.1.0"
__all__ = ["__version__"]
