"""What the SCP accepts at association (PS3.7 §D.3.3.2, PS3.8 §9.3.2.2): the presentation
contexts of every service openvna offers.

Storage accepts every storage SOP class that pynetdicom knows with every transfer syntax that
pydicom knows: an instance is stored as it was sent (byte for byte, no transcoding). An
association that proposes none of these is rejected (its contexts are answered "abstract syntax
not supported", and pynetdicom rejects an association with no accepted context).
"""

from __future__ import annotations

from pydicom.uid import (
    AllTransferSyntaxes,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import AllStoragePresentationContexts
from pynetdicom.ae import ApplicationEntity

__all__ = [
    "FIND_MODELS",
    "GET_MODELS",
    "MOVE_MODELS",
    "STORAGE_CLASSES",
    "STORAGE_COMMITMENT_PUSH",
    "STORAGE_SYNTAXES",
    "UNCOMPRESSED",
    "VERIFICATION",
    "add_scp_contexts",
]

# pynetdicom accepts, of the syntaxes a context proposes, the first in the acceptor's order: the
# compressed ones first (a modality proposes the syntax its images are in, and choosing an
# uncompressed one would have it decompress them), then explicit VR little endian, the one a
# C-GET requester most often lists first, and deflated explicit VR last: it compresses the whole
# data set, not the pixels, and a peer that also offers a native syntax (pynetdicom's defaults
# list all four) would have to deflate what it sends, or to receive C-GET sub-operations only
# in it, which stored native files are not sent in (a C-GET of pynetdicom's default contexts got
# none).
UNCOMPRESSED = (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian)
_LAST = (*UNCOMPRESSED, DeflatedExplicitVRLittleEndian)
STORAGE_SYNTAXES: tuple[str, ...] = tuple(
    dict.fromkeys([*(s for s in AllTransferSyntaxes if s not in _LAST), *_LAST])
)
STORAGE_CLASSES: tuple[str, ...] = tuple(
    str(cx.abstract_syntax) for cx in AllStoragePresentationContexts
)
_NATIVE = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]

# PS3.4 Annex A, J, C.6 (pynetdicom names them only at run time, which mypy cannot see).
VERIFICATION = "1.2.840.10008.1.1"
STORAGE_COMMITMENT_PUSH = "1.2.840.10008.1.20.1"
PatientRootQueryRetrieveInformationModelFind = "1.2.840.10008.5.1.4.1.2.1.1"
PatientRootQueryRetrieveInformationModelMove = "1.2.840.10008.5.1.4.1.2.1.2"
PatientRootQueryRetrieveInformationModelGet = "1.2.840.10008.5.1.4.1.2.1.3"
StudyRootQueryRetrieveInformationModelFind = "1.2.840.10008.5.1.4.1.2.2.1"
StudyRootQueryRetrieveInformationModelMove = "1.2.840.10008.5.1.4.1.2.2.2"
StudyRootQueryRetrieveInformationModelGet = "1.2.840.10008.5.1.4.1.2.2.3"

FIND_MODELS = (
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
)
MOVE_MODELS = (
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelMove,
)
GET_MODELS = (
    PatientRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelGet,
)


def add_scp_contexts(ae: ApplicationEntity) -> None:
    """Add the contexts the SCP supports to ``ae``. Storage contexts accept both roles, so
    that a C-GET requester that proposes them with role selection (SCP role for itself,
    PS3.7 §D.3.3.4) receives its sub-operations on the same association."""
    services = (VERIFICATION, STORAGE_COMMITMENT_PUSH, *FIND_MODELS, *MOVE_MODELS, *GET_MODELS)
    for uid in services:
        ae.add_supported_context(uid, _NATIVE)
    for uid in STORAGE_CLASSES:
        ae.add_supported_context(uid, list(STORAGE_SYNTAXES), scu_role=True, scp_role=True)
