"""The SCU port (issue 9, "SCU"): what the archive asks of a remote DICOM node, as plain values.

The DIMSE door implements it (``dimse.scu.DimseScu``, pynetdicom); the doors that drive it (the
CLI, the admin REST API) reach it only through this ``Protocol`` and the service functions of
``archive.exchange``, so that no door imports another (DESIGN.md "Shape": what two doors share
lives below both). A failure of the remote (unreachable, association rejected, a failure status)
is a ``BadGateway`` naming the peer and its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from pydicom import Dataset

__all__ = ["CANCEL", "Cancelled", "Model", "Progress", "Remote", "Scu", "Transfer"]

# The Query/Retrieve information model (PS3.4 C.6.1 Patient Root, C.6.2 Study Root).
Model = Literal["study", "patient"]


@dataclass(frozen=True)
class Remote:
    """Where a remote AE listens: its title, host and port."""

    aet: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.aet}@{self.host}:{self.port}"


@dataclass
class Transfer:
    """What a C-MOVE, C-GET or a send came to: the sub-operation counts of PS3.4 C.4.2.1.5
    (for a send, one per file), the final status and the instances that failed."""

    completed: int = 0
    failed: int = 0
    warning: int = 0
    status: int = 0x0000
    failed_uids: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.completed + self.failed + self.warning

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.status in (0x0000, 0xB000)

    def plus(self, other: Transfer) -> Transfer:
        """Both counted together (a retrieve is several C-MOVEs); the first failure status
        (or warning) stays."""
        status = self.status if self.status != 0x0000 else other.status
        return Transfer(
            self.completed + other.completed,
            self.failed + other.failed,
            self.warning + other.warning,
            status,
            self.failed_uids + other.failed_uids,
        )


# PS3.4 C.4.2.1.5 "Sub-operations terminated due to Cancel Indication": a transfer stopped.
CANCEL = 0xFE00


class Cancelled(Exception):
    """Raised by a ``Progress`` callback to stop the transfer: a send stops before its next
    instance, a C-MOVE or C-GET sends a C-CANCEL; either ends with status ``CANCEL``."""


# Called as a transfer goes on: the counts so far and the number of sub-operations in all
# (0 while the remote has not said); it may raise ``Cancelled``.
Progress = Callable[[Transfer, int], None]


class Scu(Protocol):
    """openvna as a DIMSE SCU towards ``remote`` (PS3.4 Annexes A, B and C)."""

    def echo(self, remote: Remote) -> int:
        """C-ECHO; the status."""

    def find(self, remote: Remote, query: Dataset, model: Model) -> Iterator[Dataset]:
        """C-FIND: the matches, as they come."""

    def move(
        self,
        remote: Remote,
        query: Dataset,
        destination: str,
        model: Model,
        progress: Progress | None = None,
    ) -> Transfer:
        """C-MOVE of what ``query`` selects to ``destination`` (an AE title the remote knows)."""

    def get(
        self, remote: Remote, query: Dataset, model: Model, progress: Progress | None = None
    ) -> Transfer:
        """C-GET into this archive: each instance the remote sends is stored as received."""

    def send(self, remote: Remote, paths: list[Path], progress: Progress | None = None) -> Transfer:
        """C-STORE each Part 10 file as it lies on disk."""
