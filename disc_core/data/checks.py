"""What is suspicious about the user's data once it is read: warnings an import shows, and the one refusal.

The readers of the user's files (:mod:`~disc_core.data.user`, :func:`~disc_core.data.music.read_midi_folder`)
let odd data through with a warning the user sees (``Dataset.warnings``) rather than in silence:

- a class with fewer than :data:`FEW_EXAMPLES` examples (pieces, for music), or with none in validation or
  test (its score there cannot be measured);
- records whose id occurs more than once (:func:`duplicate_ids`: a FASTA file with a record twice);

and refuse one thing, at import rather than after training: a test split that would be empty
(:func:`require_test_split`).

:func:`class_table` is the per-class, per-split count that the CLI and the dashboard print;
:func:`example_rows` the first few training examples they both show.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Sequence

from ..errors import DataError
from .base import SPLITS, Dataset

__all__ = ["FEW_EXAMPLES", "class_table", "example_rows", "split_warnings", "require_test_split", "duplicate_ids"]

#: A class with fewer examples (pieces, for music) than this is too small to learn or to score; said loudly.
FEW_EXAMPLES = 5


def _unit(ds: Dataset) -> str:
    return "pieces" if ds.voting else "examples"


def class_table(ds: Dataset) -> list[dict]:
    """One row per class: ``class`` and its count in ``train``, ``validation`` and ``test`` (pieces when the
    dataset votes per piece, else examples). Empty for regression."""
    if ds.task != "classification":
        return []
    if ds.voting:  # count pieces, each once
        seen = {(r.group, r.split, int(r.label)) for r in ds.records}
        counts = Counter((split, label) for _, split, label in seen)
    else:
        counts = Counter((r.split, int(r.label)) for r in ds.records)
    return [{"class": name, **{s: counts.get((s, k), 0) for s in SPLITS}}
            for k, name in enumerate(ds.label_names or [])]


def example_rows(ds: Dataset, n: int = 8, width: int = 300) -> list[dict]:
    """The first ``n`` training examples (all records when there is no train split): ``label`` (its class
    name), ``length`` and ``sequence`` (symbols joined by spaces, or the text with its pair after
    ``[SEP]``), cut at ``width`` characters with an ellipsis."""
    rows = []
    for r in (ds.split("train") or ds.records)[:n]:
        seq = " ".join(r.symbols) if r.symbols is not None else r.text + (f"  [SEP]  {r.text_pair}" if r.text_pair else "")
        label = ds.label_names[int(r.label)] if ds.task == "classification" and ds.label_names else r.label
        rows.append({"label": label, "length": r.length,
                     "sequence": seq[:width] + ("…" if len(seq) > width else "")})
    return rows


def split_warnings(ds: Dataset) -> list[str]:
    """Warnings about the classes of a classification dataset: too few examples (pieces) in all, or none in a
    validation or test split that other classes do have."""
    rows = class_table(ds)
    if not rows:
        return []
    unit, out = _unit(ds), []
    small = [(r["class"], sum(r[s] for s in SPLITS)) for r in rows]
    small = [(c, n) for c, n in small if n < FEW_EXAMPLES]
    if small:
        listed = ", ".join(f"{c!r} ({n})" for c, n in small[:10]) + (" ..." if len(small) > 10 else "")
        out.append(f"{len(small)} of {len(rows)} classes have fewer than {FEW_EXAMPLES} {unit}: {listed}; "
                   f"too few to learn a class or to say anything about its score -- add {unit} or merge classes")
    for split in ("validation", "test"):
        if not any(r[split] for r in rows):
            continue  # an empty split is said elsewhere (and an empty test split is refused)
        absent = [r["class"] for r in rows if not r[split]]
        if absent:
            listed = ", ".join(repr(c) for c in absent[:10]) + (" ..." if len(absent) > 10 else "")
            out.append(f"{len(absent)} of {len(rows)} classes have no {unit[:-1]} in the {split} split: {listed}; "
                       f"the {split} score says nothing about them")
    return out


def duplicate_ids(ids: Sequence[str], lines: Sequence[int | None] | None = None, what: str = "record") -> list[str]:
    """A warning (a list of one, or empty) about ids that occur more than once: how many, which, and the line
    of the first repeat. The records stay; each copy is an example of its own."""
    counts = Counter(ids)
    repeated = [i for i, n in counts.items() if n > 1]
    if not repeated:
        return []
    seen, first_repeat = set(), None
    for k, rid in enumerate(ids):
        if rid in seen:
            first_repeat = k
            break
        seen.add(rid)
    at = (f"; first repeat at line {lines[first_repeat]}" if lines is not None and lines[first_repeat]
          else f"; first repeat: {what} {first_repeat + 1}")
    listed = ", ".join(f"{i!r} ({counts[i]}x)" for i in repeated[:10]) + (" ..." if len(repeated) > 10 else "")
    copies = sum(counts[i] - 1 for i in repeated)
    return [f"{len(repeated)} {what} id(s) occur more than once ({listed}{at}): all {copies + len(repeated)} "
            f"records are kept, each an example of its own, so a copy counts twice and can land in both train and "
            f"test -- give each {what} an id of its own, or remove the copies"]


def require_test_split(ds: Dataset, path: str | Path | None, splits_from_file: bool) -> None:
    """Raise :class:`DataError` when the test split is empty, saying why and what to do (instead of training
    and then failing at evaluation)."""
    if ds.sizes()["test"]:
        return
    unit = _unit(ds)
    if splits_from_file:
        why, todo = ("no example is marked test in the file's split column",
                     "mark about a tenth of the rows `test` (and some `validation`), or leave the split column "
                     "out for an automatic 80/10/10 split")
    elif ds.task == "classification":
        totals = ", ".join(f"{r['class']!r} {sum(r[s] for s in SPLITS)}" for r in class_table(ds)[:10])
        why = (f"the automatic split puts {unit} of a class in test from 2 {unit} up (3 for validation too), "
               f"and the classes have {totals}")
        todo = (f"add {unit} (at least 3 per class, a handful more to measure anything), or give the splits "
                f"yourself in a split column")
    else:
        why, todo = (f"there are only {len(ds.records)} {unit}",
                     f"add {unit} (at least 10), or give the splits yourself in a split column")
    raise DataError(f"the test split would be empty: {why}", path=path, hint=todo)
