"""Results: per-row statistics, verdicts against the targets, Markdown and JSON output.

Absolute figures drift on shared machines; the openvna/Orthanc ratio of medians, measured in
the same run with the servers alternating, is the figure the targets are set on.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from bench.registry import Measurement

NOT_BUILT = "not measured: door not built"


@dataclass
class Stats:
    median: float
    p25: float
    p75: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, samples: list[float]) -> Stats:
        ordered = sorted(samples)
        if len(ordered) > 1:
            q = statistics.quantiles(ordered, n=4, method="inclusive")
            p25, p75 = q[0], q[2]
        else:
            p25 = p75 = ordered[0]
        return cls(statistics.median(ordered), p25, p75, ordered[0], ordered[-1], len(ordered))

    def text(self) -> str:
        return f"{_fmt(self.median)} ({_fmt(self.p25)}–{_fmt(self.p75)}, n={self.n})"


@dataclass
class Row:
    """One measurement's outcome: samples, errors and skip reasons per server."""

    measurement: Measurement
    samples: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    crashes: dict[str, list[str]] = field(default_factory=dict)

    def stats(self, subject: str) -> Stats | None:
        samples = self.samples.get(subject)
        return Stats.of(samples) if samples and subject not in self.errors else None

    def ratio(self) -> float | None:
        a, b = self.stats("openvna"), self.stats("orthanc")
        return a.median / b.median if a and b and b.median else None


def _fmt(x: float) -> str:
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}" if abs(x) >= 0.1 else f"{x:.3g}"


def verdict(row: Row, rows: dict[str, Row]) -> str:
    """'met', 'missed', 'n/a' (nothing to compare with), an error, or 'not measured'."""
    m = row.measurement
    if "openvna" not in m.subjects:
        return "reference"
    if "openvna" in row.errors:
        return "ERROR"
    if "openvna" in row.skipped:
        return row.skipped["openvna"]
    mine = row.stats("openvna")
    if mine is None:
        return "n/a"
    checks: list[bool] = []
    ratio = row.ratio()
    if m.target.ratio is not None and ratio is not None:
        checks.append(ratio >= m.target.ratio if m.higher_is_better else ratio <= m.target.ratio)
    if m.target.absolute is not None:
        a = m.target.absolute
        checks.append(mine.median >= a if m.higher_is_better else mine.median < a)
    if m.target.reference is not None:
        name, fraction = m.target.reference
        ref = rows.get(name)
        # The reference is nginx where it ran (static files), else openvna's own figure in
        # the same run (the FHIR rows against QIDO-RS).
        ref_stats = (ref.stats("nginx") or ref.stats("openvna")) if ref else None
        if ref_stats is not None:
            bound = fraction * ref_stats.median
            checks.append(mine.median >= bound if m.higher_is_better else mine.median <= bound)
    if not checks:
        return "n/a"
    return "met" if all(checks) else "missed"


def _cell(row: Row, subject: str) -> str:
    if subject not in row.measurement.subjects:
        return "—"
    if subject in row.errors:
        return "error"
    if subject in row.skipped:
        return row.skipped[subject]
    stats = row.stats(subject)
    if subject in row.crashes:
        died = f"died {len(row.crashes[subject])}x"
        return f"{stats.text()}, {died}" if stats else died
    return stats.text() if stats else "—"


def markdown(rows: list[Row], info: dict[str, object]) -> str:
    """The results table with the run's machine, versions and settings."""
    by_name = {r.measurement.name: r for r in rows}
    lines = [f"# openvna vs Orthanc — {info['date']}", ""]
    lines += [
        f"- {key}: {value}"
        for key, value in info.items()
        if key not in ("date", "orthanc_settings", "notes")
    ]
    lines += [
        "- Orthanc settings beyond its defaults: `"
        + json.dumps(info.get("orthanc_settings", {}))
        + "`",
        "",
    ]
    lines += [
        "Medians with the interquartile range and sample count in brackets; ratio = openvna "
        "median / Orthanc median. Latency rows are lower-is-better, throughput rows "
        "higher-is-better.",
        "",
    ]
    lines += [
        "| measurement | unit | openvna | Orthanc | openvna/Orthanc | target | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        m = row.measurement
        ratio = row.ratio()
        if len(m.subjects) == 1 and m.subjects[0] not in ("openvna", "orthanc"):
            (reference,) = m.subjects  # a reference program (nginx, storescp) in column one
            cells = [f"{_cell(row, reference)} ({reference})", "—"]
        else:
            cells = [_cell(row, "openvna"), _cell(row, "orthanc")]
        lines.append(
            f"| {m.name} | {m.unit} | {cells[0]} | {cells[1]} | "
            f"{_fmt(ratio) + 'x' if ratio is not None else '—'} | {m.target.text} | "
            f"{verdict(row, by_name)} |"
        )
    notes = [f"- {r.measurement.name}: {r.measurement.note}" for r in rows if r.measurement.note]
    errors = [f"- {r.measurement.name} [{s}]: {e}" for r in rows for s, e in r.errors.items()]
    errors += [
        f"- {r.measurement.name} [{s}]: the server died ({', '.join(d)}) and was restarted; "
        "the figure is over the repetitions it finished"
        for r in rows
        for s, d in r.crashes.items()
    ]
    extra = info.get("notes") or []
    assert isinstance(extra, list)
    if notes or extra:
        lines += ["", "Notes:", *notes, *[f"- {n}" for n in extra]]
    if errors:
        lines += ["", "Errors:", *errors]
    return "\n".join(lines) + "\n"


def as_json(rows: list[Row], info: dict[str, object]) -> str:
    by_name = {r.measurement.name: r for r in rows}
    out = []
    for row in rows:
        m = row.measurement
        out.append(
            {
                "name": m.name,
                "unit": m.unit,
                "higher_is_better": m.higher_is_better,
                "target": m.target.text,
                "ratio": row.ratio(),
                "verdict": verdict(row, by_name),
                "samples": row.samples,
                "errors": row.errors,
                "skipped": row.skipped,
                "crashes": row.crashes,
                "stats": {s: vars(st) for s in m.subjects if (st := row.stats(s))},
            }
        )
    return json.dumps({"info": info, "rows": out}, indent=2)


def write(out: Path, rows: list[Row], info: dict[str, object]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(as_json(rows, info))
    path = out / "results.md"
    path.write_text(markdown(rows, info))
    return path


def failed(rows: list[Row]) -> list[str]:
    """Rows with an error on any server: a smoke run fails on any of these."""
    return [f"{r.measurement.name} [{s}]: {e}" for r in rows for s, e in r.errors.items()]
