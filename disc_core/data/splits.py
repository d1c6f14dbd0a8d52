"""Seeded, stratified random splits shared by the loaders: one function, :func:`assign_splits`.

It has two count rules, because datasets already imported and runs already finished depend on each
(a dataset's fingerprint includes its split, and a finished experiment cell is reused only for the same
fingerprint), so neither can change:

- exact fractions (the default): per class ``round(n * cumulative fraction)``, every class shuffled by one
  seeded stream in a fixed class order; what the paper's random splits (Splice 90/5/5) and the paper's
  files without splits use.
- ``keep_small_classes=True``: per class at least one validation and one test item from 3 items up
  (:func:`split_counts`), every class shuffled by a stream of its own (seed and label), so adding a class
  does not reshuffle the others; for pieces of music and the user's own tables, where a small class could
  otherwise vanish from a split.

scikit-learn's ``train_test_split(stratify=)`` / ``StratifiedShuffleSplit`` were measured against both
rules: they agree on about two items in three (what chance gives for 80/10/10), so they would move the
splits of every existing dataset; the current rules stay, here once.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Hashable, Mapping, Sequence

from ..errors import ConfigError

__all__ = ["assign_splits", "split_counts"]

_NAMES = ("train", "validation", "test")


def assign_splits(labels: Sequence[Hashable], fractions: Mapping[str, float] | Sequence[float],
                  seed: int = 42, stratify: bool = True, keep_small_classes: bool = False) -> list[str]:
    """Split name for each example: a seeded random split, stratified by label when ``stratify``.

    Parameters
    ----------
    labels : one label per example (any hashable; ignored when ``stratify`` is False).
    fractions : split name -> fraction, in order, summing to 1 (``{"train": .9, "validation": .05,
        "test": .05}``), or (train, validation, test).
    seed : the same seed and labels always give the same split.
    keep_small_classes : the count rule (module docstring): False, exact ``round(n * cumulative fraction)``
        differences; True, :func:`split_counts` (a validation and a test item per class from 3 items up).

    Returns
    -------
    list of split names, same length as ``labels``.
    """
    if not isinstance(fractions, Mapping):
        if len(fractions) != 3:
            raise ConfigError(f"split fractions are three numbers (train, validation, test), not {tuple(fractions)}")
        fractions = dict(zip(_NAMES, fractions))
    if abs(sum(fractions.values()) - 1.0) > 1e-9 or any(f < 0 for f in fractions.values()):
        raise ConfigError(f"split fractions must be non-negative and sum to 1, got {dict(fractions)}")
    by_class: dict = defaultdict(list)
    for i, y in enumerate(labels):
        by_class[y if stratify else 0].append(i)
    rng = random.Random(seed)
    out: list[str] = [""] * len(labels)
    for key in sorted(by_class, key=repr):  # fixed order so the shared stream does not depend on dict order
        idx = by_class[key]
        if keep_small_classes:
            random.Random(f"{seed}|{key}").shuffle(idx)
            n_train, n_val, n_test = split_counts(len(idx), [fractions.get(s, 0.0) for s in _NAMES])
            counts = [("test", n_test), ("validation", n_val), ("train", n_train)]
        else:
            rng.shuffle(idx)
            counts, start, cum = [], 0, 0.0
            for name, frac in fractions.items():
                cum += frac
                end = round(len(idx) * cum)
                counts.append((name, end - start))
                start = end
        start = 0
        for name, n in counts:
            for i in idx[start:start + n]:
                out[i] = name
            start += n
    return out


def split_counts(n: int, fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> tuple[int, int, int]:
    """(train, validation, test) sizes for ``n`` items of one class.

    Rounded fractions, but with at least one validation and one test item from 3 items up (when the
    fraction is not 0), one test item for 2, and always at least one training item.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ConfigError(f"split fractions must be three non-negative numbers (train, validation, test) "
                          f"summing to 1, not {tuple(fractions)}")
    if n <= 0:
        return 0, 0, 0
    _, fv, ft = fractions
    n_val, n_test = int(n * fv + 0.5), int(n * ft + 0.5)
    if n >= 3:
        n_val, n_test = (max(1, n_val) if fv > 0 else 0), (max(1, n_test) if ft > 0 else 0)
    elif n == 2:
        n_val, n_test = 0, (1 if ft > 0 else 0)
    else:
        n_val = n_test = 0
    while n - n_val - n_test < 1:
        if n_val >= n_test:
            n_val -= 1
        else:
            n_test -= 1
    return n - n_val - n_test, n_val, n_test
