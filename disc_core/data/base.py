"""The one record shape every discipline shares, the dataset container, and the registry.

A :class:`Record` is one example: a symbol sequence (amino acids, bases, MIDI pitches as strings
``"60"``) *or* a text sentence (with an optional second sentence for pairs), a label (class index or
float), an optional group id (a piece of music, for voting) and its split.

A :class:`Dataset` holds the records of all splits plus what the rest of the tool needs to know:
discipline, task type, the paper's metric, alphabet, label names and where the data came from.

``DATASETS`` maps short lower-case names (``splice``, ``h3``, ``deeploc``, ``maestro``, ``sst2`` ...)
to :class:`DatasetInfo` entries; loaders register themselves with :func:`register` when they are imported,
and :mod:`disc_core.data` imports every loader module by name, so the registry is complete as soon as
anything of the package is imported.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import platformdirs

from ..errors import DataError

__all__ = [
    "Record", "Dataset", "DatasetInfo", "DATASETS", "register", "get_info", "load_dataset",
    "data_dirs", "cache_dir", "find_data_file", "find_file_set", "AnyFilesInfo", "SPLITS", "DISCIPLINES", "MAX_SYMBOLS",
]

SPLITS = ("train", "validation", "test")
DISCIPLINES = ("dna", "protein", "music", "text")
#: Longest symbol sequence kept (the paper truncates proteins to 512; BERT's position limit).
MAX_SYMBOLS = 510


@dataclass(frozen=True)
class Record:
    """One example. Exactly one of ``symbols`` / ``text`` is set."""

    label: int | float
    split: str
    symbols: tuple[str, ...] | None = None
    text: str | None = None
    text_pair: str | None = None
    group: str | None = None

    def __post_init__(self):
        if (self.symbols is None) == (self.text is None):
            raise ValueError("a Record has either symbols or text, not both or neither")
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; use one of {SPLITS}")

    @property
    def length(self) -> int:
        """Number of symbols (non-text) or whitespace words (text)."""
        if self.symbols is not None:
            return len(self.symbols)
        return len(self.text.split()) + (len(self.text_pair.split()) if self.text_pair else 0)


@dataclass
class Dataset:
    """All splits of one dataset plus its description.

    Attributes
    ----------
    task : ``classification`` or ``regression``.
    metric : the paper's metric for this dataset (``accuracy``, ``mcc``, ``spearman``, ``pearson``, ``f1``).
    alphabet : sorted symbols for non-text data, ``None`` for text.
    label_names : class names (index = label), ``None`` for regression.
    voting : True when validation/test predictions are per group (a piece), by voting over segments.
    notes : human-readable remarks shown with the dataset (truncations, skipped files, split choices).
    warnings : what looks wrong with the user's data and was let through (merged labels, tiny classes, a
        discipline guessed from a few letters); shown loudly wherever the dataset is imported or shown.
    """

    name: str
    discipline: str
    task: str
    metric: str
    records: list[Record]
    label_names: list[str] | None = None
    alphabet: list[str] | None = None
    source: str = ""
    synthetic: bool = False
    voting: bool = False
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self):
        if self.task not in ("classification", "regression"):
            raise ValueError(f"task must be classification or regression, not {self.task!r}")
        if self.discipline not in DISCIPLINES:
            raise ValueError(f"discipline must be one of {DISCIPLINES}, not {self.discipline!r}")

    @property
    def is_text(self) -> bool:
        return self.discipline == "text"

    @property
    def num_labels(self) -> int:
        return 1 if self.task == "regression" else len(self.label_names or [])

    def split(self, name: str) -> list[Record]:
        """Records of one split (``train``, ``validation`` or ``test``)."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; use one of {SPLITS}")
        return [r for r in self.records if r.split == name]

    def sizes(self) -> dict[str, int]:
        c = Counter(r.split for r in self.records)
        return {s: c.get(s, 0) for s in SPLITS}

    def groups(self, split: str) -> int:
        return len({r.group for r in self.split(split) if r.group is not None})

    def class_counts(self, split: str | None = None) -> dict[str, int]:
        """Examples per class name (classification only)."""
        if self.task != "classification":
            return {}
        recs = self.records if split is None else self.split(split)
        c = Counter(int(r.label) for r in recs)
        return {self.label_names[i]: c.get(i, 0) for i in range(len(self.label_names))}

    def symbol_counts(self, split: str | None = None) -> Counter:
        """How often each symbol occurs (non-text), or each lower-cased word (text)."""
        recs = self.records if split is None else self.split(split)
        c: Counter = Counter()
        for r in recs:
            if r.symbols is not None:
                c.update(r.symbols)
            else:
                c.update(r.text.lower().split())
                if r.text_pair:
                    c.update(r.text_pair.lower().split())
        return c

    def summary(self) -> dict:
        """A JSON-able description: sizes, classes, task, metric, source."""
        lengths = [r.length for r in self.records]
        return {
            "name": self.name, "discipline": self.discipline, "task": self.task, "metric": self.metric,
            "sizes": self.sizes(), "num_labels": self.num_labels, "labels": self.label_names,
            "alphabet_size": len(self.alphabet) if self.alphabet else None,
            "length_mean": round(sum(lengths) / max(len(lengths), 1), 1),
            "length_max": max(lengths, default=0), "source": self.source,
            "synthetic": self.synthetic, "voting": self.voting, "notes": list(self.notes),
            "warnings": list(self.warnings),
        }

    def fingerprint(self) -> str:
        """A hash of the content and the split: every record (symbols or text, label, split, piece) in order,
        the label names, discipline and task. Two loads of the same data give the same fingerprint; a
        re-imported dataset with other records, labels or splits gives another, so a finished run of the old
        data is not taken for a run of the new (the name is left out: it is not content).

        Returns 16 hex digits of a sha256.
        """
        h = hashlib.sha256()
        h.update(json.dumps([self.discipline, self.task, self.label_names, self.voting]).encode())
        for r in self.records:
            body = " ".join(r.symbols) if r.symbols is not None else [r.text, r.text_pair]
            h.update(b"\n" + json.dumps([r.split, r.label, r.group, body], ensure_ascii=False).encode())
        return h.hexdigest()[:16]


def make_dataset(name: str, discipline: str, task: str, metric: str, records: list[Record],
                 source: str, label_names: list[str] | None = None, path: str | Path | None = None,
                 **kw) -> Dataset:
    """Build a :class:`Dataset`, inferring the alphabet and checking what every loader must check.

    Raises :class:`DataError` (naming ``path``) for an empty dataset, NaN labels, or a
    classification set with a single class.
    """
    where = path if path is not None else name
    if not records:
        raise DataError("no examples were read", path=where, hint="check that the file is not empty "
                        "and has the expected format")
    for i, r in enumerate(records):
        if isinstance(r.label, float) and math.isnan(r.label):
            raise DataError("label is NaN", path=where, record=i + 1, hint="fill in or drop that row")
    if task == "classification":
        seen = {int(r.label) for r in records}
        if len(seen) < 2:
            only = label_names[next(iter(seen))] if label_names and seen else seen
            raise DataError(f"only one class ({only}) is present; classification needs at least two",
                            path=where, hint="check the label column, or add examples of other classes")
    alphabet = None
    if discipline != "text":
        alphabet = sorted({s for r in records for s in r.symbols}, key=_symbol_sort_key)
    return Dataset(name=name, discipline=discipline, task=task, metric=metric, records=records,
                   label_names=label_names, alphabet=alphabet, source=source, **kw)


def _symbol_sort_key(s: str):
    return (0, int(s), "") if s.isdigit() else (1, 0, s)


# --------------------------------------------------------------------------------------------
# Where data lives
# --------------------------------------------------------------------------------------------

def cache_dir() -> Path:
    """Per-user cache: downloads (laid out like ``DISC_DATA_DIR``) and parsed-dataset caches.

    Override with ``DISC_CACHE_DIR``.
    """
    p = Path(os.environ.get("DISC_CACHE_DIR") or platformdirs.user_cache_dir("disc-transfer"))
    p.mkdir(parents=True, exist_ok=True)
    return p


def data_dirs() -> list[Path]:
    """Folders searched for the paper's datasets, in order: ``$DISC_DATA_DIR``, then the download cache."""
    dirs = []
    env = os.environ.get("DISC_DATA_DIR")
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(cache_dir() / "downloads")
    return dirs


def find_data_file(relpath: str) -> Path | None:
    """First existing ``<data dir>/<relpath>`` or None."""
    for d in data_dirs():
        p = d / relpath
        if p.exists():
            return p
    return None


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------

@dataclass
class DatasetInfo:
    """A registry entry: what a dataset is and how to load it.

    ``origin`` is ``builtin`` (ships with packages, offline), ``paper`` (published files: downloaded
    or found in ``DISC_DATA_DIR``), or ``user``. ``files`` are paths relative to a data dir that the
    loader needs; ``available()`` says whether they are present and where.
    """

    name: str
    title: str
    discipline: str
    task: str
    metric: str
    origin: str
    loader: Callable[..., Dataset]
    files: tuple[str, ...] = ()
    paper_key: str | None = None
    description: str = ""
    synthetic: bool = False

    def locate(self) -> Path | None:
        """The data dir holding all of ``files``, or None (always None-free for built-ins)."""
        if not self.files:
            return None
        for d in data_dirs():
            if all((d / f).exists() for f in self.files):
                return d
        return None

    def available(self) -> tuple[bool, str]:
        """(True, where the data comes from) or (False, what to do to get it)."""
        if self.origin == "builtin":
            return True, self.description or "built in (from installed packages)"
        d = self.locate()
        if d is not None:
            return True, str(d)
        return False, (f"not found in {', '.join(str(p) for p in data_dirs())}; run "
                       f"`python -m disc_core download {self.name}` when online, or set DISC_DATA_DIR "
                       f"to a folder holding {', '.join(self.files[:3])}{' ...' if len(self.files) > 3 else ''}")


def find_file_set(candidates: Sequence[Sequence[str]]) -> tuple[Path, int] | None:
    """The first complete set of files among ``candidates`` (paths relative to a data dir).

    Sets are tried in order, each in every data dir (``DISC_DATA_DIR``, then the download cache);
    returns (data dir, index of the set) or None.
    """
    for k, files in enumerate(candidates):
        for d in data_dirs():
            if all((d / f).exists() for f in files):
                return d, k
    return None


@dataclass
class AnyFilesInfo(DatasetInfo):
    """A registry entry whose data may come in several layouts.

    ``alternatives`` are file sets tried in order of preference; ``files`` stays the set that
    ``download`` fetches and that the "not found" message names. ``available()`` is True as soon as
    any set is complete, which is exactly when the loader can load. ``how_to_get`` is the advice
    given instead of ``download`` when there is nothing to download.
    """

    alternatives: tuple[tuple[str, ...], ...] = ()
    #: Replaces the "run download" advice for data that has no published copy to download.
    how_to_get: str = ""

    def locate(self) -> Path | None:
        found = find_file_set(self.alternatives or (self.files,))
        return found[0] if found else None

    def available(self) -> tuple[bool, str]:
        ok, where = super().available()
        if ok or not self.how_to_get:
            return ok, where
        return False, f"not found in {', '.join(str(p) for p in data_dirs())}; {self.how_to_get}"


DATASETS: dict[str, DatasetInfo] = {}


def register(info: DatasetInfo) -> DatasetInfo:
    if info.name in DATASETS:
        raise ValueError(f"dataset {info.name!r} registered twice")
    DATASETS[info.name] = info
    return info


def get_info(name: str) -> DatasetInfo:
    key = name.strip().lower().replace("-", "").replace("_", "")
    for k, info in DATASETS.items():
        if k.replace("-", "").replace("_", "") == key:
            return info
    raise DataError(f"unknown dataset {name!r}",
                    hint=f"pick one of: {', '.join(sorted(DATASETS))} (see `python -m disc_core datasets`)")


def load_dataset(name: str, progress: Callable[[int, int], None] | None = None, **kw) -> Dataset:
    """Load a registered dataset by its short name.

    ``progress(done, total)`` is called during slow loads (parsing a music corpus). Raises
    :class:`DataError` when the data is missing (saying how to get it) or malformed.
    """
    info = get_info(name)
    if info.origin != "builtin":
        ok, where = info.available()
        if not ok:
            raise DataError(f"dataset {info.name} is not available: {where}")
    return info.loader(progress=progress, **kw)


def iter_names(origin: str | None = None) -> Iterable[str]:
    return [n for n, i in DATASETS.items() if origin is None or i.origin == origin]
