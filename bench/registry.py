"""The measurement registry and the context every measurement function receives.

A measurement is a name, a target, a unit, a direction and a function ``(ctx, server, rep) ->
samples``. Later doors add rows by registering one more function with :func:`measurement`; the
runner alternates servers inside every repetition and the report computes medians, spread and
the openvna/Orthanc ratio. ``requires`` names a capability a server must have (probed at start:
``dimse``, ``rendered``, ``fhir``, ``static``); a missing one on openvna is reported as "not
measured: door not built".
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.dataset import Dataset, Sizes, StudyInfo
from bench.servers import Server

SUBJECTS = ("openvna", "orthanc")


@dataclass(frozen=True)
class Target:
    """A goal for openvna: a ratio to Orthanc, an absolute bound, or a fraction of a reference row.

    The direction comes from the measurement: for higher-is-better rows the bounds are minimums,
    otherwise maximums.
    """

    text: str
    ratio: float | None = None
    absolute: float | None = None
    reference: tuple[str, float] | None = None


@dataclass
class Context:
    """What measurement functions share: the data set, the servers and the expected contents."""

    dataset: Dataset
    sizes: Sizes
    servers: dict[str, Server]
    run_dir: Path
    work: Path
    requests: int
    loaded: dict[str, list[StudyInfo]] = field(
        default_factory=lambda: {name: [] for name in SUBJECTS}
    )
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    state: dict[str, object] = field(default_factory=dict)

    def group(self, name: str) -> list[StudyInfo]:
        return self.dataset.groups[name]

    def study(self, name: str) -> StudyInfo:
        return self.dataset.groups[name][0]


Func = Callable[[Context, Server, int], list[float]]
Hook = Callable[[Context], None]


@dataclass(frozen=True)
class Measurement:
    name: str
    target: Target
    unit: str
    higher_is_better: bool
    func: Func
    requires: str = "dicomweb"
    subjects: tuple[str, ...] = SUBJECTS
    setup: Hook | None = None
    teardown: Hook | None = None
    note: str = ""


REGISTRY: list[Measurement] = []


def measurement(
    name: str,
    target: Target,
    unit: str,
    higher_is_better: bool,
    requires: str = "dicomweb",
    subjects: tuple[str, ...] = SUBJECTS,
    setup: Hook | None = None,
    teardown: Hook | None = None,
    note: str = "",
) -> Callable[[Func], Func]:
    """Register ``func`` as one row of the report, in definition order."""

    def register(func: Func) -> Func:
        REGISTRY.append(
            Measurement(
                name,
                target,
                unit,
                higher_is_better,
                func,
                requires,
                subjects,
                setup,
                teardown,
                note,
            )
        )
        return func

    return register
