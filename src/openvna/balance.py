"""How processes that share one listening socket share its connections.

Every process waiting on a shared socket wakes for a new connection and the first to ``accept``
takes it; the one that wins is often one already serving (it is running, the idle one must first
be scheduled), and an event loop takes every connection queued at once. Two peers that connect
together then share one process and its interpreter lock at half the speed while a sibling sits
idle: measured for DIMSE associations (one pair in eight) and for HTTP keep-alive connections
(two STOW-RS clients landed in one worker in most runs). So a process waits ``BUSY_DEFER`` per
connection it serves, up to ``MOST_DEFERS`` of them, before it accepts: an idle sibling takes the
connection meanwhile, and when every process is busy one accepts after that short wait.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BUSY_DEFER", "MOST_DEFERS", "accept_delay"]

BUSY_DEFER: Final = 0.01  # seconds a busy process waits, per connection it serves
MOST_DEFERS: Final = 4  # connections counted at most: a busy process waits no longer than 40 ms


def accept_delay(serving: int) -> float:
    """Seconds to let pass before accepting, for a process serving ``serving`` connections."""
    return BUSY_DEFER * min(serving, MOST_DEFERS)
