"""The demo data set: synthetic but plausible studies with fixed UIDs (see ``patients``).

``load_demo(archive)`` stores them all (``openvna demo``, ``openvna serve --demo``); running it
again leaves the same archive, because every byte of every instance is the same on each run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydicom import Dataset

from openvna.demo.modalities import build_instance
from openvna.demo.patients import CATALOGUE, StudySpec

if TYPE_CHECKING:
    from openvna.archive import Archive

__all__ = ["CATALOGUE", "demo_datasets", "load_demo", "store_study", "study_datasets"]


def study_datasets(study: StudySpec) -> Iterator[Dataset]:
    """Every instance of ``study``, series by series, in instance order."""
    for series in study.series:
        for index in range(series.count):
            yield build_instance(study, series, index)


def demo_datasets() -> Iterator[Dataset]:
    """Every instance of the demo, study by study (generated lazily: one image in memory)."""
    for study in CATALOGUE:
        yield from study_datasets(study)


def store_study(archive: Archive, study: StudySpec) -> tuple[int, int]:
    """Store the instances of one demo study that the archive lacks; return how many were
    stored now and how many were there already (so a restart of ``serve --demo`` is quick).

    An instance refused as a duplicate (``reject`` policy, or a concurrent load) counts as
    there; any other refusal raises ArchiveError naming the instance.
    """
    from openvna.archive.outcome import DUPLICATE_SOP_INSTANCE, Origin
    from openvna.errors import ArchiveError

    present = _stored_sop_uids(archive, study.uid)
    origin = Origin.local("demo")
    stored = 0
    for series in study.series:
        for index in range(series.count):
            if study.sop_uid(series, index) in present:
                continue
            ds = build_instance(study, series, index)
            outcome = archive.store_dataset(ds, origin)
            if not outcome.ok and outcome.failure_reason != DUPLICATE_SOP_INSTANCE:
                raise ArchiveError(
                    f"demo instance {ds.SOPInstanceUID} was not stored: {outcome.message}",
                    uid=ds.SOPInstanceUID,
                )
            stored += 1
    return stored, study.instance_count - stored


def _stored_sop_uids(archive: Archive, study_uid: str) -> set[str]:
    from openvna.errors import NotFound

    try:
        return {instance.sop_uid for instance in archive.retrieve(study_uid)}
    except NotFound:
        return set()


def load_demo(archive: Archive, studies: tuple[StudySpec, ...] = CATALOGUE) -> int:
    """Store the demo data in ``archive``; return the number of demo instances it now holds.

    Idempotent: instances already stored are left alone and the others are generated the same,
    byte for byte, on every run, so a second load leaves the same archive.
    """
    return sum(sum(store_study(archive, study)) for study in studies)
