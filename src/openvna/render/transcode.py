"""Transcoding: a stored instance as a Part 10 file in another transfer syntax.

The archive's ``Transcoder`` (archive/retrieve.py; PS3.18 §8.7.3.5.2: the origin server may
convert) for WADO-RS, and later C-GET/C-MOVE. Frame by frame: each frame is read by its span,
decoded and re-encoded, so a multi-frame instance never sits decoded whole in memory beside its
output. Lossy output records what happened (PS3.3 C.7.6.1.1.5): Lossy Image Compression "01",
its ratio and method appended to any earlier ones. The SOP Instance UID is kept: this is the same
instance sent in another representation for a client that asked for it, as dcm4chee and Orthanc
do, not a new derived object stored anywhere.
"""

from __future__ import annotations

import io
from typing import Final

from pydicom import Dataset, dcmwrite
from pydicom.dataset import FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import UID

from openvna.archive import StoredInstance
from openvna.errors import NotAcceptable
from openvna.render.codecs import ENCODABLE, EXPLICIT_LE, LOSSY, encode_frame, native_bytes
from openvna.render.frames import decode_frame, frame_count, header_of

__all__ = ["PixelTranscoder", "decodable"]

# What transcoding writes anew (deleted from the copy of the header first).
_REPLACED: Final = (
    "PhotometricInterpretation",
    "PlanarConfiguration",
    "PixelData",
    "LossyImageCompression",
    "LossyImageCompressionRatio",
    "LossyImageCompressionMethod",
)
# Syntaxes whose frames pydicom's backends here can decode (STANDARDS.md §9 B1).
_DECODABLE: Final = frozenset(
    {
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.1.99",
        "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.57",
        "1.2.840.10008.1.2.4.70",
        "1.2.840.10008.1.2.4.80",
        "1.2.840.10008.1.2.4.81",
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.4.91",
        "1.2.840.10008.1.2.4.201",
        "1.2.840.10008.1.2.4.202",
        "1.2.840.10008.1.2.4.203",
        "1.2.840.10008.1.2.5",
    }
)


def decodable(syntax: str) -> bool:
    """Whether frames stored in ``syntax`` can be decoded with the installed backends."""
    if syntax not in _DECODABLE:
        return False
    try:
        return bool(get_decoder(UID(syntax)).is_available)
    except NotImplementedError:
        return False


class PixelTranscoder:
    """The archive's Transcoder: any decodable syntax to Explicit VR Little Endian, JPEG-LS
    lossless, JPEG 2000 lossless, HTJ2K lossless, RLE, or JPEG Baseline (8-bit data only)."""

    def targets(self, stored: str) -> frozenset[str]:
        """What an instance stored in ``stored`` can be sent as."""
        return ENCODABLE if decodable(stored) else frozenset()

    def transcode(self, instance: StoredInstance, transfer_syntax: str) -> bytes:
        """The instance as a Part 10 file in ``transfer_syntax`` (406 when it cannot be)."""
        if transfer_syntax not in self.targets(instance.transfer_syntax):
            raise NotAcceptable(
                f"instance {instance.sop_uid} is stored as {instance.transfer_syntax} and "
                f"cannot be converted to {transfer_syntax}",
                uid=instance.sop_uid,
            )
        header = header_of(instance)
        # A shallow copy: the elements changed below are replaced, never modified in place,
        # so the cached header stays as read (a deep copy cost ~15 ms of a CT slice's ~65).
        ds = Dataset(dict(header.items()))
        # Read as it will be written (the compressed syntaxes' data sets are Explicit VR Little
        # Endian, PS3.5 A.4): pydicom then writes the unchanged elements' raw bytes as they are
        # instead of parsing and encoding each again (~2-4 ms of a CT slice).
        implicit, little = header.original_encoding
        ds.set_original_encoding(implicit, little, header.original_character_set)
        for keyword in _REPLACED:
            if keyword in ds:
                del ds[keyword]
        if "PhotometricInterpretation" in header:
            ds.PhotometricInterpretation = header.PhotometricInterpretation
        total = frame_count(instance, header)
        if total:
            _set_pixels(ds, header, instance, total, transfer_syntax)
        ds.file_meta = _file_meta(header, transfer_syntax)
        buffer = io.BytesIO()
        dcmwrite(buffer, ds, enforce_file_format=True)
        return buffer.getvalue()


def _set_pixels(
    ds: Dataset, header: Dataset, instance: StoredInstance, total: int, syntax: str
) -> None:
    frames: list[bytes] = []
    photometric = str(ds.PhotometricInterpretation)
    decoded_size = 0
    for number in range(1, total + 1):
        decoded = decode_frame(instance, number)
        decoded_size += decoded.pixels.nbytes
        if syntax == EXPLICIT_LE:
            frames.append(native_bytes(decoded))
            photometric = decoded.photometric
        else:
            encoded = encode_frame(decoded, syntax)
            frames.append(encoded.data)
            photometric = encoded.photometric
    ds.PhotometricInterpretation = photometric
    if int(ds.get("SamplesPerPixel", 1) or 1) > 1:
        ds.PlanarConfiguration = 0
    if syntax == EXPLICIT_LE:
        data = b"".join(frames)
        ds.PixelData = data + (b"\0" if len(data) % 2 else b"")
        ds["PixelData"].VR = "OW" if int(ds.BitsAllocated) > 8 else "OB"
    else:
        ds.PixelData = encapsulate(frames, has_bot=True)
        ds["PixelData"].VR = "OB"
        ds["PixelData"].is_undefined_length = True
    if syntax in LOSSY:
        _mark_lossy(ds, header, decoded_size / max(sum(map(len, frames)), 1), LOSSY[syntax])


def _mark_lossy(ds: Dataset, earlier: Dataset, ratio: float, method: str) -> None:
    """PS3.3 C.7.6.1.1.5: "01" is never reset; ratio and method are appended in step order."""
    ratios = [str(v) for v in _values(earlier.get("LossyImageCompressionRatio"))]
    methods = [str(v) for v in _values(earlier.get("LossyImageCompressionMethod"))]
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionRatio = [*ratios, f"{ratio:.2f}"]
    ds.LossyImageCompressionMethod = [*methods, method]


def _values(value: object) -> list[object]:
    if value is None or value == "":
        return []
    if isinstance(value, str | int | float):
        return [value]
    return [*value]  # type: ignore[misc]


def _file_meta(header: Dataset, syntax: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = header.SOPClassUID
    meta.MediaStorageSOPInstanceUID = header.SOPInstanceUID
    meta.TransferSyntaxUID = UID(syntax)
    return meta
