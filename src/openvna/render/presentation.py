"""Applying a stored Grayscale Softcopy Presentation State (PS3.3 A.33.1) to an image: its
Softcopy VOI LUT (C.11.8: the window for this image, which replaces the image's own, PS3.4
N.2.1.3) and its Spatial Transformation (C.10.6: rotation, then horizontal flip). Used by
WADO-URI ``presentationUID`` (PS3.18 §9.4.1.2.12); other GSPS modules (graphic annotations,
displayed area, shutters) are not drawn."""

from __future__ import annotations

from dataclasses import replace

from pydicom import Dataset

from openvna.errors import BadRequest
from openvna.render.lut import window_of_header
from openvna.render.service import Rendering

__all__ = ["GSPS_CLASS", "apply_presentation"]

GSPS_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"


def apply_presentation(how: Rendering, gsps: Dataset, sop_uid: str) -> Rendering:
    """``how`` with the presentation state's window and spatial transformation for the image
    ``sop_uid``; 400 when the object is not a presentation state for that image."""
    if str(gsps.get("SOPClassUID", "")) != GSPS_CLASS:
        raise BadRequest(
            f"presentation {gsps.get('SOPInstanceUID', '')} is not a Grayscale Softcopy "
            "Presentation State",
            attribute="presentationUID",
        )
    if not _refers_to(gsps.get("ReferencedSeriesSequence", []), sop_uid):
        raise BadRequest(
            f"presentation state {gsps.SOPInstanceUID} does not apply to image {sop_uid}",
            attribute="presentationUID",
        )
    window = how.window
    for item in gsps.get("SoftcopyVOILUTSequence", []):
        references = item.get("ReferencedImageSequence")
        if references and not any(r.ReferencedSOPInstanceUID == sop_uid for r in references):
            continue
        window = window_of_header(item) or window
        break
    rotation = int(gsps.get("ImageRotation", 0) or 0) % 360
    flip = str(gsps.get("ImageHorizontalFlip", "N")).upper() == "Y"
    return replace(how, window=window, rotation=rotation - rotation % 90, flip=flip)


def _refers_to(series: list[Dataset], sop_uid: str) -> bool:
    return any(
        image.get("ReferencedSOPInstanceUID") == sop_uid
        for item in series
        for image in item.get("ReferencedImageSequence", [])
    )
