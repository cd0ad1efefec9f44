"""Whole-study instance listings for the doors that list every instance of a study (the FHIR
ImagingStudy): one read of the index (``index.listing``), stored JSON left unparsed."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from openvna.index import Index
from openvna.index.listing import ListedInstance, list_instances

__all__ = ["ListedInstance", "instance_listing"]


def instance_listing(index: Index, study_uids: Sequence[str]) -> list[ListedInstance]:
    """The instances of the studies, by study, series number and instance number."""
    return index.run_read(partial(list_instances, study_uids=list(study_uids)))
