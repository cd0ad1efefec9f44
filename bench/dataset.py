"""The deterministic synthetic data set: Part 10 files under bench/work/ plus a manifest.

Groups (sizes at --scale 1; each is multiplied by the scale, with small minimums):

- ``big``: one CT study of 500 slices of 512x512 16-bit (metadata, whole-study retrieve, frames);
- ``move``: one CT study of 200 slices (C-MOVE);
- ``misc``: compressed (JPEG 2000 lossless CT, RLE CR) and multi-frame XA (native and RLE) objects;
- ``stow`` / ``cstore``: one chunk per repetition of realistic CT/MR/CR studies, so every ingest
  repetition stores new objects into both servers;
- ``stowct``: one chunk per repetition of 600 CT slices of 512x512 (STOW-RS by 2 clients, 10
  instances a request);
- ``index``: 10,000 single-instance studies of 8x8 pixels with varied names, IDs, dates and
  modalities, the population the study-level searches run over.

The 1 GB study of the memory measurement is written on demand by :func:`write_gb_study` and
deleted after use. Everything is derived from one seed, so a rerun reproduces the same bytes and
the same UIDs; an existing data set with the same parameters is reused.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from pydicom import dcmwrite

from bench import dicomgen as gen

FORMAT_VERSION = 4
SEED = 20260101
SURNAME_HEADS = ["BAR", "COR", "DAN", "FEL", "GAR", "HOL", "KAM", "LIN", "MOR", "NOV"]
SURNAME_HEADS += ["OST", "PAL", "RAM", "SAN", "TOR", "VAL", "WES", "ZIM", "EKL", "JUN"]
SURNAME_TAILS = ["KO", "ETTI", "SSON", "OWSKI", "MAN", "ERA", "ANDO", "IC", "BERG", "EAU"]
GIVEN = ["ANNA", "BRUNO", "CARLA", "DAVID", "ELENA", "FARID", "GRETA", "HUGO", "IRIS", "JONAS"]
INDEX_MODALITIES = [("CT", 40), ("MR", 30), ("CR", 20), ("US", 8), ("PT", 2)]
EPOCH = dt.date(1995, 1, 1)


@dataclass
class StudyInfo:
    """What the harness needs to know about one generated study to check answers."""

    uid: str
    patient_id: str
    patient_name: str
    study_date: str
    modalities: list[str]
    files: list[str] = field(default_factory=list)
    nbytes: int = 0
    frames: dict[str, int] = field(default_factory=dict)

    @property
    def instances(self) -> int:
        return len(self.files)


@dataclass
class Sizes:
    """Group sizes for one scale; the full run is scale 1."""

    scale: float
    reps: int

    def n(self, full: int, minimum: int) -> int:
        return max(minimum, round(full * self.scale))

    @property
    def big(self) -> int:
        return self.n(500, 4)

    @property
    def move(self) -> int:
        return self.n(200, 3)

    @property
    def stow_chunk(self) -> int:
        return self.n(800, 6)

    @property
    def stow_ct_chunk(self) -> int:
        return self.n(600, 4)

    @property
    def cstore_chunk(self) -> int:
        return self.n(400, 4)

    @property
    def index(self) -> int:
        return self.n(10_000, 30)

    @property
    def gb(self) -> int:
        return self.n(2000, 8)

    @property
    def cine_frames(self) -> int:
        return self.n(30, 6) if self.scale < 1 else 30

    def key(self) -> str:
        return f"v{FORMAT_VERSION}-s{self.scale:g}-r{self.reps}"


@dataclass
class Dataset:
    """The manifest: study groups with their files, relative to ``root``."""

    root: Path
    groups: dict[str, list[StudyInfo]]

    def path(self, relative: str) -> Path:
        return self.root / relative

    def save(self) -> None:
        data = {name: [asdict(s) for s in studies] for name, studies in self.groups.items()}
        (self.root / "manifest.json").write_text(json.dumps(data))

    @classmethod
    def load(cls, root: Path) -> Dataset:
        data = json.loads((root / "manifest.json").read_text())
        return cls(root, {k: [StudyInfo(**s) for s in v] for k, v in data.items()})


class Writer:
    """Writes studies of one group into ``root/group`` and records them."""

    def __init__(self, root: Path, group: str) -> None:
        self.root, self.group = root, group
        self.studies: list[StudyInfo] = []

    def study(self, header: gen.StudyHeader, modalities: list[str]) -> StudyInfo:
        info = StudyInfo(
            header.study_uid,
            header.patient_id,
            header.patient_name,
            header.study_date,
            modalities,
        )
        self.studies.append(info)
        return info

    def write(self, info: StudyInfo, ds: gen.Dataset) -> None:
        rel = f"{self.group}/{info.uid[-12:]}/{ds.SOPInstanceUID[-16:]}.dcm"
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        dcmwrite(path, ds, enforce_file_format=True)
        info.files.append(rel)
        info.nbytes += path.stat().st_size
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        if frames > 1:
            info.frames[rel] = frames


def study_header(
    rng: np.random.Generator, name: str, patient: int | None = None
) -> gen.StudyHeader:
    """Random but reproducible patient and study attributes."""
    pid = patient if patient is not None else int(rng.integers(0, 10_000_000))
    prng = np.random.default_rng([SEED, pid])
    surname = SURNAME_HEADS[prng.integers(0, 20)] + SURNAME_TAILS[prng.integers(0, 10)]
    given = GIVEN[prng.integers(0, 10)]
    birth = EPOCH - dt.timedelta(days=int(prng.integers(7000, 30000)))
    day = EPOCH + dt.timedelta(days=int(rng.integers(0, 7305)))
    return gen.StudyHeader(
        study_uid=gen.uid_for(SEED, "study", name),
        patient_id=f"P{pid:07d}",
        patient_name=f"{surname}^{given}",
        birth_date=birth.strftime("%Y%m%d"),
        sex="FM"[pid % 2],
        study_date=day.strftime("%Y%m%d"),
        study_time=f"{int(rng.integers(7, 19)):02d}{int(rng.integers(0, 60)):02d}00",
        accession=f"A{int(rng.integers(0, 10**9)):09d}",
        description=f"Synthetic study {name}",
    )


def series_header(study: gen.StudyHeader, modality: str, number: int) -> gen.SeriesHeader:
    return gen.SeriesHeader(
        series_uid=gen.uid_for(SEED, study.study_uid, "series", number),
        modality=modality,
        number=number,
        description=f"{modality} series {number}",
        frame_of_reference=gen.uid_for(SEED, study.study_uid, "for"),
    )


def write_series(
    w: Writer,
    info: StudyInfo,
    header: gen.StudyHeader,
    series: gen.SeriesHeader,
    count: int,
    compression: str | None = None,
    size: int = 512,
) -> None:
    """``count`` slices of one series; pixels derive from the series UID, so they repeat exactly."""
    rng = np.random.default_rng([SEED, int(series.series_uid.split(".")[-1]) % 2**63])
    base = gen.phantom(size, rng)
    for number in range(1, count + 1):
        pixels = np.roll(base, number % size, axis=0)
        w.write(info, gen.image(header, series, number, pixels, SEED, compression))


def write_ct(w: Writer, name: str, slices: int, rng: np.random.Generator) -> StudyInfo:
    header = study_header(rng, name)
    info = w.study(header, ["CT"])
    write_series(w, info, header, series_header(header, "CT", 1), slices)
    return info


def write_misc(w: Writer, cine_frames: int, rng: np.random.Generator) -> StudyInfo:
    """Compressed single-frame objects and two XA cine runs (native and RLE)."""
    header = study_header(rng, "misc")
    info = w.study(header, ["CT", "CR", "XA"])
    write_series(w, info, header, series_header(header, "CT", 1), 3, "j2k")
    write_series(w, info, header, series_header(header, "CR", 2), 3, "rle")
    for number, compression in ((3, None), (4, "rle")):
        series = series_header(header, "XA", number)
        frng = np.random.default_rng([SEED, number])
        base = gen.phantom(512, frng) // 2
        frames = np.stack([np.roll(base, 7 * i, axis=1) for i in range(cine_frames)])
        w.write(info, gen.multiframe(header, series, frames, SEED, compression))
    return info


def write_realistic(
    w: Writer, name: str, kind: int, scale: float, rng: np.random.Generator
) -> None:
    """A clinical-looking study: CT (2 series), MR (4 series) or CR (2 RLE-compressed views)."""
    header = study_header(rng, name)
    if kind == 0:
        info = w.study(header, ["CT"])
        for number, count in ((1, 60), (2, 40)):
            n = max(2, round(count * min(1.0, scale)))
            write_series(w, info, header, series_header(header, "CT", number), n)
    elif kind == 1:
        info = w.study(header, ["MR"])
        for number in range(1, 5):
            n = max(1, round(20 * min(1.0, scale)))
            write_series(w, info, header, series_header(header, "MR", number), n)
    else:
        info = w.study(header, ["CR"])
        write_series(w, info, header, series_header(header, "CR", 1), 2, "rle")


def write_chunk(root: Path, group: str, target: int, scale: float) -> list[StudyInfo]:
    w = Writer(root, group)
    rng = np.random.default_rng([SEED, hash_name(group)])
    kind = 0
    while sum(s.instances for s in w.studies) < target:
        write_realistic(w, f"{group}-{len(w.studies)}", kind % 3, scale, rng)
        kind += 1
    return w.studies


def write_ct_chunk(root: Path, group: str, target: int) -> list[StudyInfo]:
    """CT studies of 512x512 slices, 100 a study, ``target`` slices in all (the STOW-RS shape
    of issue 8: a CT scanner's upload)."""
    w = Writer(root, group)
    rng = np.random.default_rng([SEED, hash_name(group)])
    while (left := target - sum(s.instances for s in w.studies)) > 0:
        write_ct(w, f"{group}-{len(w.studies)}", min(100, left), rng)
    return w.studies


def write_index(root: Path, count: int) -> list[StudyInfo]:
    """``count`` tiny studies; about two studies per patient; modality by INDEX_MODALITIES."""
    w = Writer(root, "index")
    rng = np.random.default_rng([SEED, 7])
    names, weights = zip(*INDEX_MODALITIES, strict=True)
    p = np.array(weights) / sum(weights)
    patients = max(1, count // 2)
    for i in range(count):
        header = study_header(rng, f"index-{i}", patient=int(rng.integers(0, patients)))
        modality = str(rng.choice(names, p=p))
        info = w.study(header, [modality])
        write_series(w, info, header, series_header(header, modality, 1), 1, size=8)
    return w.studies


def hash_name(name: str) -> int:
    return int.from_bytes(name.encode()[:8].ljust(8, b"\0"), "little")


def build(work: Path, sizes: Sizes) -> Dataset:
    """Generate the data set (or reuse one with the same parameters) and return its manifest."""
    root = work / f"dataset-{sizes.key()}"
    if (root / "manifest.json").exists():
        return Dataset.load(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    groups: dict[str, list[StudyInfo]] = {}
    w = Writer(root, "big")
    write_ct(w, "big", sizes.big, rng)
    groups["big"] = w.studies
    w = Writer(root, "move")
    write_ct(w, "move", sizes.move, rng)
    groups["move"] = w.studies
    w = Writer(root, "misc")
    write_misc(w, sizes.cine_frames, rng)
    groups["misc"] = w.studies
    for rep in range(sizes.reps):
        groups[f"stow{rep}"] = write_chunk(root, f"stow{rep}", sizes.stow_chunk, sizes.scale)
        groups[f"cstore{rep}"] = write_chunk(root, f"cstore{rep}", sizes.cstore_chunk, sizes.scale)
        groups[f"stowct{rep}"] = write_ct_chunk(root, f"stowct{rep}", sizes.stow_ct_chunk)
    groups["index"] = write_index(root, sizes.index)
    dataset = Dataset(root, groups)
    dataset.save()
    return dataset


def write_gb_study(work: Path, slices: int) -> tuple[StudyInfo, Path]:
    """The large study of the memory measurement, written into its own directory."""
    root = work / "gb"
    w = Writer(root, "gb")
    write_ct(w, f"gb-{slices}", slices, np.random.default_rng([SEED, 1024]))
    return w.studies[0], root


def iter_files(dataset: Dataset, studies: list[StudyInfo]) -> Iterator[Path]:
    for study in studies:
        for rel in study.files:
            yield dataset.path(rel)
