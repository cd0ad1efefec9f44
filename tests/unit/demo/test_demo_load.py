"""load_demo: stores the demo through the archive, and a second load leaves the same archive."""

from __future__ import annotations

from openvna.archive import Archive
from openvna.demo import load_demo
from openvna.demo.patients import CATALOGUE, JOE_PA_SOP_UID, JOE_STUDY_UID
from openvna.settings import DuplicatePolicy

JOE_ONLY = tuple(study for study in CATALOGUE if study.uid == JOE_STUDY_UID)


def _state(archive: Archive) -> tuple[bytes, list[tuple[str, str, int]]]:
    locations = archive.index.locate(JOE_STUDY_UID)
    blobs = [(loc.sop_uid, loc.transfer_syntax, loc.size) for loc in locations]
    return archive.metadata(JOE_STUDY_UID), blobs


def test_load_demo_stores_joe_study(archive: Archive):
    assert load_demo(archive, JOE_ONLY) == 2
    locations = archive.index.locate(JOE_STUDY_UID)
    assert len(locations) == 2
    pa = next(loc for loc in locations if loc.sop_uid == JOE_PA_SOP_UID)
    assert pa.transfer_syntax == "1.2.840.10008.1.2.4.50"
    assert archive.blobs.read_range(pa.blob_key, 128, 4) == b"DICM"


def test_load_demo_twice_leaves_the_same_archive(archive: Archive):
    load_demo(archive, JOE_ONLY)
    before = _state(archive)
    assert load_demo(archive, JOE_ONLY) == 2
    assert _state(archive) == before


def test_load_demo_counts_instances_already_there_under_every_policy(archive: Archive):
    load_demo(archive, JOE_ONLY)
    for policy in DuplicatePolicy:
        archive.duplicates = policy
        assert load_demo(archive, JOE_ONLY) == 2
    assert len(archive.index.locate(JOE_STUDY_UID)) == 2
