"""Which associations make a DIMSE process defer its next accept (``openvna.balance``)."""

from __future__ import annotations

from types import SimpleNamespace

from openvna.dimse.scp import busy_associations


def _association(**state: bool) -> SimpleNamespace:
    flags = ("is_established", "is_released", "is_aborted", "is_rejected")
    return SimpleNamespace(**{flag: state.get(flag, False) for flag in flags})


def test_an_association_still_negotiating_is_busy() -> None:
    """A peer that connected but has not sent its A-ASSOCIATE-RQ yet (two storescu started at
    once): its process must not take the next connection at once as if it were idle."""
    assert busy_associations([_association()]) == 1


def test_established_ones_are_busy_and_ended_ones_are_not() -> None:
    associations = [
        _association(is_established=True),
        _association(),  # negotiating
        _association(is_released=True),  # thread finishing after A-RELEASE
        _association(is_aborted=True),
        _association(is_rejected=True),
    ]
    assert busy_associations(associations) == 2
