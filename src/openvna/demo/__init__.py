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


def store_study(archive: Archive, study: StudySpec) -> int:
    """Store one demo study; return how many of its instances the archive now holds.

    An instance already there counts too, whatever the duplicate policy (replaced by identical
    bytes, kept, or refused as a duplicate), so a second run gives the same number. Any other
    refusal raises ArchiveError naming the instance.
    """
    from openvna.archive.outcome import DUPLICATE_SOP_INSTANCE, Origin
    from openvna.errors import ArchiveError

    origin = Origin.local("demo")
    count = 0
    for ds in study_datasets(study):
        outcome = archive.store_dataset(ds, origin)
        if not outcome.ok and outcome.failure_reason != DUPLICATE_SOP_INSTANCE:
            raise ArchiveError(
                f"demo instance {ds.SOPInstanceUID} was not stored: {outcome.message}",
                uid=ds.SOPInstanceUID,
            )
        count += 1
    return count


def load_demo(archive: Archive, studies: tuple[StudySpec, ...] = CATALOGUE) -> int:
    """Store the demo data in ``archive``; return the number of demo instances it now holds.

    Idempotent: every byte of every instance is the same on each run, so a second load leaves
    the same archive (see ``store_study``).
    """
    return sum(store_study(archive, study) for study in studies)
