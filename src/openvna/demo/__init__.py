"""The demo data set: synthetic but plausible studies with fixed UIDs (see ``patients``).

``load_demo(archive)`` stores them all; running it again leaves the same archive, because every
byte of every instance is the same on each run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydicom import Dataset

from openvna.demo.modalities import build_instance
from openvna.demo.patients import CATALOGUE, StudySpec

if TYPE_CHECKING:
    from openvna.archive import Archive

__all__ = ["CATALOGUE", "demo_datasets", "load_demo", "study_datasets"]


def study_datasets(study: StudySpec) -> Iterator[Dataset]:
    """Every instance of ``study``, series by series, in instance order."""
    for series in study.series:
        for index in range(series.count):
            yield build_instance(study, series, index)


def demo_datasets() -> Iterator[Dataset]:
    """Every instance of the demo, study by study (generated lazily: one image in memory)."""
    for study in CATALOGUE:
        yield from study_datasets(study)


def load_demo(archive: Archive) -> int:
    """Store the demo data in ``archive``; return the number of demo instances it now holds.

    An instance already there counts too, whatever the duplicate policy (replaced by identical
    bytes, kept, or refused as a duplicate), so a second run reports the same number. Any other
    refusal raises ArchiveError naming the instance.
    """
    from openvna.archive.outcome import DUPLICATE_SOP_INSTANCE, Origin
    from openvna.errors import ArchiveError

    origin = Origin.local("demo")
    count = 0
    for ds in demo_datasets():
        outcome = archive.store_dataset(ds, origin)
        if not outcome.ok and outcome.failure_reason != DUPLICATE_SOP_INSTANCE:
            raise ArchiveError(
                f"demo instance {ds.SOPInstanceUID} was not stored: {outcome.message}",
                uid=ds.SOPInstanceUID,
            )
        count += 1
    return count
