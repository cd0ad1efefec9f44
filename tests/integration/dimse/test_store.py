"""The SCP's Verification and Storage services (PS3.4 Annex A, B) with DCMTK and pynetdicom as
peers: every transfer syntax stored as sent, byte for byte through the STOW-RS store path, and
bad associations and datasets answered with their status, nothing stored, the SCP still serving."""

from __future__ import annotations

import io
import resource
import socket
import struct
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.filewriter import dcmwrite
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    ImplicitVRLittleEndian,
)
from pynetdicom import AE, build_context
from pynetdicom.dimse_messages import C_STORE_RQ
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.pdu import P_DATA_TF
from pynetdicom.sop_class import Verification

from openvna.dicom.uid import generate_uid
from tests.factories import encapsulated, make_instance
from tests.integration.dimse.conftest import AE_TITLE, DimseNode
from tests.integration.dimse.peers import (
    association,
    dataset_bytes,
    fresh_copy,
    instance_count,
    send_file,
    stored_file,
)
from tests.tools import needs_dcmtk

pytestmark = pytest.mark.integration

# (pydicom test file, storescu option proposing its syntax): the syntaxes of issue 9.
SYNTAXES = [
    ("CT_small.dcm", "-xe"),  # explicit VR little endian
    ("rtdose_expb_1frame.dcm", "-xb"),  # explicit VR big endian
    ("image_dfl.dcm", "-xd"),  # deflated
    ("SC_rgb_small_odd_jpeg.dcm", "-xy"),  # JPEG baseline
    ("JPGExtended.dcm", "-xx"),  # JPEG extended
    ("SC_rgb_jpeg_gdcm.dcm", "-xs"),  # JPEG lossless SV1
    ("MR_small_jpeg_ls_lossless.dcm", "-xt"),  # JPEG-LS lossless
    ("MR_small_jp2klossless.dcm", "-xv"),  # JPEG 2000 lossless
    ("JPEG2000.dcm", "-xw"),  # JPEG 2000
    ("SC_rgb_rle.dcm", "-xr"),  # RLE
]


@needs_dcmtk
def test_echoscu(dimse: DimseNode) -> None:
    result = dimse.dcmtk("echoscu")
    assert result.returncode == 0, result.stderr


@needs_dcmtk
@pytest.mark.parametrize(("name", "option"), SYNTAXES)
def test_storescu_stores_each_syntax_as_sent(
    dimse: DimseNode, tmp_path: Path, name: str, option: str
) -> None:
    path = fresh_copy(name, tmp_path)
    sent = dcmread(path)
    result = dimse.dcmtk("storescu", "-R", option, files=[path])
    assert result.returncode == 0, result.stdout + result.stderr
    stored = dcmread(io.BytesIO(stored_file(dimse, sent)))
    # stored in the syntax it was sent in; DCMTK encodes the dataset again as it sends (VRs of
    # Pixel Data, padding), so its bytes are compared in the next test, with pynetdicom
    assert stored.file_meta.TransferSyntaxUID == sent.file_meta.TransferSyntaxUID
    assert stored.SOPInstanceUID == sent.SOPInstanceUID
    assert stored.PixelData == sent.PixelData


def test_store_is_byte_for_byte_what_was_sent(dimse: DimseNode, tmp_path: Path) -> None:
    """pynetdicom sends a file's dataset bytes unchanged; those are the bytes stored, and what
    WADO-RS returns; HTJ2K (which DCMTK 3.6.7 does not know) included."""
    htj2k = encapsulated(
        make_instance(), [b"\xff\x4f\xff\x51" + bytes(60) + b"\xff\xd9"], HTJ2KLossless
    )
    names = [name for name, _ in SYNTAXES] + ["JPEGLSNearLossless_08.dcm"]
    paths = [fresh_copy(name, tmp_path) for name in names]
    paths.append(fresh_copy(htj2k, tmp_path))
    for path in paths:
        status = send_file(dimse, path)
        assert status.Status == 0x0000, (path, status)
        assert dataset_bytes(stored_file(dimse, dcmread(path))) == dataset_bytes(path)


def test_eight_instances_on_one_association_then_a_duplicate(dimse_factory) -> None:
    node: DimseNode = dimse_factory(dicomweb={"duplicates": "reject"})
    contexts = [build_context(CTImageStorage, ExplicitVRLittleEndian)]
    study = generate_uid()
    instances = [make_instance(study_uid=study) for _ in range(8)]
    with association(node, contexts) as assoc:
        statuses = [assoc.send_c_store(ds).Status for ds in instances]
        assert statuses == [0x0000] * 8
        again = assoc.send_c_store(instances[0])
        assert again.Status == 0x0111  # PS3.4 B.2.3 / STOW-RS: duplicate SOP instance
    assert instance_count(node) == 8


@pytest.mark.parametrize(
    "body",
    [
        b"\x08\x00\x16\x00\xff\x00\x00\x00" + b"1.2" * 3,  # an element longer than the data
        b"\x08\x00\x16\x00\x1a\x00\x00\x00" + b"1.2.840.10008.5.1.4.1.1.2\x00",  # no SOP instance
    ],
    ids=["truncated", "incomplete"],
)
def test_bad_dataset_fails_and_stores_nothing(
    dimse: DimseNode, tmp_path: Path, body: bytes
) -> None:
    """A dataset the archive cannot read gets C000, one that is not a valid instance of its
    SOP class A900; nothing is stored, and the next association stores normally."""
    meta = make_instance()
    meta.file_meta.MediaStorageSOPClassUID = CTImageStorage
    meta.file_meta.MediaStorageSOPInstanceUID = meta.SOPInstanceUID
    meta.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    path = tmp_path / "bad.dcm"
    meta.save_as(path, implicit_vr=True, enforce_file_format=True)
    path.write_bytes(path.read_bytes()[: -len(dataset_bytes(path))] + body)
    status = send_file(dimse, path)
    assert status.Status in (0xC000, 0xA900), status
    assert "ErrorComment" in status
    assert instance_count(dimse) == 0
    assert list(Path(dimse.web.data_dir).glob("**/*.dcm")) == []
    assert send_file_ok(dimse)


def send_file_ok(node: DimseNode) -> bool:
    with association(node, [build_context(CTImageStorage, ExplicitVRLittleEndian)]) as assoc:
        return bool(assoc.send_c_store(make_instance()).Status == 0x0000)


def test_association_proposing_nothing_supported_is_rejected(dimse: DimseNode) -> None:
    ae = AE("TESTSCU")
    ae.add_requested_context("1.2.3.4.5.6.7.8.9")  # no SOP class of ours
    assoc = ae.associate(dimse.host, dimse.port, ae_title=AE_TITLE)
    assert not assoc.is_established
    assert send_file_ok(dimse)


def test_peer_dropping_mid_store_leaves_nothing(dimse: DimseNode) -> None:
    """An association that sends the command and the first part of a C-STORE's dataset and
    then closes its socket stores nothing; the SCP goes on serving."""
    ae = AE("TESTSCU")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate(dimse.host, dimse.port, ae_title=AE_TITLE)
    assert assoc.is_established
    big = make_instance(rows=256, columns=256)
    buffer = BytesIO()
    dcmwrite(buffer, big, implicit_vr=False, little_endian=True)
    request = C_STORE()
    request.MessageID = 1
    request.AffectedSOPClassUID = CTImageStorage
    request.AffectedSOPInstanceUID = big.SOPInstanceUID
    request.Priority = 2
    request.DataSet = BytesIO(buffer.getvalue())
    message = C_STORE_RQ()
    message.primitive_to_message(request)
    context_id = assoc.accepted_contexts[0].context_id
    fragments = list(message.encode_msg(context_id, 16384))
    assert len(fragments) > 4
    for primitive in fragments[:3]:  # the command and two of the dataset's fragments
        pdu = P_DATA_TF()
        pdu.from_primitive(primitive)
        assoc.dul.socket.send(pdu.encode())
    assert _spooled_soon(dimse)  # written as it arrives, not held until the rest comes
    raw = assoc.dul.socket.socket
    assert isinstance(raw, socket.socket)
    raw.shutdown(socket.SHUT_RDWR)
    assoc.kill()
    assert instance_count(dimse) == 0
    assert send_file_ok(dimse)
    assert instance_count(dimse) == 1
    assert _spool_emptied(dimse)  # the part written as it arrived went with the association


def _spool_emptied(node: DimseNode) -> bool:
    """Whether no C-STORE spool file is left, once the ended associations' threads are done
    (they end by themselves, within ten seconds)."""
    return _spool_becomes(node, lambda files: not files)


def _spooled_soon(node: DimseNode) -> bool:
    """Whether a C-STORE spool file with data in it appears within ten seconds."""
    return _spool_becomes(node, lambda files: any(f.stat().st_size > 1000 for f in files))


def _spool_becomes(node: DimseNode, test: Callable[[list[Path]], bool]) -> bool:
    limit = time.monotonic() + 10
    while not test(list(Path(node.archive.spool_dir()).glob("dimse-*"))):
        if time.monotonic() > limit:
            return False
        time.sleep(0.05)
    return True


def test_a_pdu_header_claiming_4_gb_costs_no_memory(dimse: DimseNode) -> None:
    """A peer whose P-DATA-TF header claims 4 GB and which then sends a few bytes and closes: the
    SCP reads what comes, not what is claimed (its process's peak memory grows by far less than
    the claim), ends the association and goes on serving."""
    ae = AE("TESTSCU")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate(dimse.host, dimse.port, ae_title=AE_TITLE)
    assert assoc.is_established
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB; the SCP runs here
    raw = assoc.dul.socket.socket
    assert isinstance(raw, socket.socket)
    raw.sendall(struct.pack(">BBI", 0x04, 0, 0xFFFFFFF0) + bytes(1000))
    raw.shutdown(socket.SHUT_RDWR)
    assoc.kill()
    assert send_file_ok(dimse)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown < 512 * 1024, f"peak memory grew by {grown // 1024} MB"


def test_unknown_calling_ae_is_refused_when_not_allowed(dimse_factory) -> None:
    node: DimseNode = dimse_factory(
        dimse={
            "allow_unknown": False,
            "remotes": [{"aet": "KNOWN", "host": "127.0.0.1", "port": 104}],
        }
    )
    ae = AE("STRANGER")
    ae.add_requested_context(Verification)
    refused = ae.associate(node.host, node.port, ae_title=AE_TITLE)
    assert refused.is_rejected
    known = AE("KNOWN")
    known.add_requested_context(Verification)
    accepted = known.associate(node.host, node.port, ae_title=AE_TITLE)
    assert accepted.is_established
    assert accepted.send_c_echo().Status == 0x0000
    accepted.release()


def test_a_node_without_the_store_right_is_refused(dimse_factory) -> None:
    node: DimseNode = dimse_factory(
        dimse={"remotes": [{"aet": "VIEWER", "host": "127.0.0.1", "port": 104, "store": False}]}
    )
    context = build_context(CTImageStorage, ExplicitVRLittleEndian)
    with association(node, [context], calling="VIEWER") as assoc:
        assert assoc.send_c_store(make_instance()).Status == 0x0124
        assert not list(Path(node.archive.spool_dir()).glob("dimse-*"))  # removed at once
    assert instance_count(node) == 0


def test_a_peer_watching_its_pdus_stores_byte_for_byte(dimse: DimseNode, tmp_path: Path) -> None:
    """An association with handlers on the sent and received PDUs takes pynetdicom's own paths
    (openvna's batched send and direct receive step aside, dimse/reactor.py): its handlers see
    every PDU, and what is stored is what was sent."""
    from pynetdicom import evt

    seen: dict[str, int] = {"sent": 0, "received": 0}
    handlers = [
        (evt.EVT_PDU_SENT, lambda event: seen.__setitem__("sent", seen["sent"] + 1)),
        (evt.EVT_PDU_RECV, lambda event: seen.__setitem__("received", seen["received"] + 1)),
    ]
    path = fresh_copy(make_instance(rows=128, columns=128), tmp_path)
    ae = AE("WATCHER")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate(dimse.host, dimse.port, ae_title=AE_TITLE, evt_handlers=handlers)
    assert assoc.is_established
    try:
        status = assoc.send_c_store(dcmread(path))
    finally:
        assoc.release()
    assert status.Status == 0x0000
    # Sent: the association request, the command, the data set, the release request; received:
    # the acceptance, the response, the release reply.
    assert (seen["sent"], seen["received"]) == (4, 3)
    assert dataset_bytes(stored_file(dimse, dcmread(path))) == dataset_bytes(path)
