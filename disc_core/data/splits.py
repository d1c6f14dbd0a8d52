"""Seeded random splits shared by the loaders.

Two policies, kept side by side because published sizes depend on them:

- :func:`assign_splits`: exact fractions per class (``round(n * cumulative fraction)``), one seeded
  stream; what the paper's random splits (Splice 90/5/5) and the files without splits use.
- :func:`stratified_split`: per class, at least one validation and one test item from 3 items up;
  for small groups of pieces (music) and the user's own tables, where a class could otherwise
  vanish from a split.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Hashable, Sequence

from ..errors import ConfigError

__all__ = ["assign_splits", "split_counts", "stratified_split"]


def assign_splits(labels: Sequence[Hashable], fractions: dict[str, float], seed: int = 42,
                  stratify: bool = True) -> list[str]:
    """Split name for each example: a seeded random split, stratified by label when ``stratify``.

    Parameters
    ----------
    labels : one label per example (any hashable; ignored when ``stratify`` is False).
    fractions : split name -> fraction, in order, summing to 1 (``{"train": .9, "validation": .05, "test": .05}``).
    seed : the same seed and labels always give the same split.

    Returns
    -------
    list of split names, same length as ``labels``. Within each class the counts are
    ``round(n * cumulative fraction)`` differences, so they add up exactly.
    """
    if abs(sum(fractions.values()) - 1.0) > 1e-9:
        raise ValueError(f"split fractions must sum to 1, got {fractions}")
    rng = random.Random(seed)
    by_class: dict = defaultdict(list)
    for i, y in enumerate(labels):
        by_class[y if stratify else 0].append(i)
    out: list[str] = [""] * len(labels)
    for key in sorted(by_class, key=repr):  # fixed order so the rng stream does not depend on dict order
        idx = by_class[key]
        rng.shuffle(idx)
        start, cum = 0, 0.0
        for name, frac in fractions.items():
            cum += frac
            end = round(len(idx) * cum)
            for i in idx[start:end]:
                out[i] = name
            start = end
    return out


def split_counts(n: int, fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> tuple[int, int, int]:
    """(train, validation, test) sizes for ``n`` items of one class.

    Rounded fractions, but with at least one validation and one test item from 3 items up (when the
    fraction is not 0), one test item for 2, and always at least one training item.
    """
    _check_fractions(fractions)
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


def stratified_split(labels: Sequence, fractions: Sequence[float] = (0.8, 0.1, 0.1),
                     seed: int = 42) -> list[str]:
    """A split name for each item: seeded, per label (stratified), sizes from :func:`split_counts`.

    Pass the same label for every item for a plain random split. Each label's shuffle depends only on
    the seed and that label, so adding a class does not reshuffle the others.
    """
    by_label: dict = {}
    for i, lab in enumerate(labels):
        by_label.setdefault(lab, []).append(i)
    out = [""] * len(labels)
    for lab, idx in by_label.items():
        idx = list(idx)
        random.Random(f"{seed}|{lab}").shuffle(idx)
        n_train, n_val, n_test = split_counts(len(idx), fractions)
        for j, i in enumerate(idx):
            out[i] = "test" if j < n_test else "validation" if j < n_test + n_val else "train"
    return out


def _check_fractions(fractions: Sequence[float]) -> None:
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ConfigError(f"split fractions must be three non-negative numbers (train, validation, test) "
                          f"summing to 1, not {tuple(fractions)}")
