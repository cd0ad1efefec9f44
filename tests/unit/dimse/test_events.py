"""The UPS event reader's pace: every ``POLL`` while events come, backing off to ``POLL_IDLE``
after reads that find none."""

from __future__ import annotations

from typing import Any, cast

from openvna.archive.remotes import RemoteRegistry
from openvna.dimse.events import POLL, POLL_IDLE, EventReporter
from openvna.ups import Event, Workitems


class _Channel:
    """Workitems as the reader sees them: the events each read takes, in turn."""

    def __init__(self, reads: list[list[Event]]) -> None:
        self.reads = reads
        self.asked_after: list[int] = []

    def event_id_before(self, created: float) -> int:
        return 7

    def claim_dimse_events(self, last: int) -> list[Event]:
        self.asked_after.append(last)
        return self.reads.pop(0) if self.reads else []


class _Clock:
    """The reader's stop event: records each pause asked for, and stops after ``passes``."""

    def __init__(self, passes: int) -> None:
        self.passes = passes
        self.pauses: list[float] = []

    def wait(self, seconds: float) -> bool:
        self.pauses.append(seconds)
        return len(self.pauses) > self.passes


def _run(reads: list[list[Event]], passes: int) -> tuple[_Clock, _Channel, list[int]]:
    channel = _Channel(reads)
    reporter = EventReporter(
        "OPENVNA", cast(Workitems, channel), cast(RemoteRegistry, None), lambda: True
    )
    clock = _Clock(passes)
    reported: list[int] = []
    reporter._stop = cast(Any, clock)
    reporter._report = lambda event: reported.append(event.id)  # type: ignore[method-assign]
    reporter._run()
    return clock, channel, reported


def test_reads_that_find_nothing_double_the_pause_up_to_the_idle_one() -> None:
    clock, channel, _ = _run([], passes=8)
    expected = [POLL]
    while len(expected) < 9:
        expected.append(min(expected[-1] * 2, POLL_IDLE))
    assert clock.pauses == expected
    assert clock.pauses[-1] == POLL_IDLE
    assert channel.asked_after == [7] * 8


def test_an_event_brings_the_pause_back_and_the_next_read_starts_after_it() -> None:
    event = Event(12, ("SUBSCRIBER",), b"{}")
    clock, channel, reported = _run([[], [], [event], []], passes=4)
    assert clock.pauses == [POLL, POLL * 2, POLL * 4, POLL, POLL * 2]
    assert reported == [12]
    assert channel.asked_after == [7, 7, 7, 12]
