"""From the rows a reader read (:class:`Row`) to a :class:`~disc_core.data.base.Dataset`: discipline and
symbols, task and classes (labels differing only in case merged), splits, notes and warnings."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ...errors import DataError
from ..base import MAX_SYMBOLS, SPLITS, Dataset, Record, make_dataset
from ..checks import require_test_split, split_warnings
from ..io import check_symbols, truncate
from ..splits import assign_splits
from .guess import (IUPAC_DNA, NUCLEOTIDES, PROTEIN_LETTERS, explain_discipline, first_bad_letter, guess_discipline,
                    infer_task)
from .options import ImportOptions

__all__ = ["Row", "build_dataset"]

Progress = Callable[[int, int], None] | None

#: A label that looks like a ``KEY=value`` header field (UniProt's ``OS=``, ``PE=1``, ``SV=1``), not a class.
_FIELD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*=\S*$")
_MISSING = {"", "nan", "na", "n/a", "none", "null"}
_SPLIT_NAMES = {"train": "train", "training": "train", "validation": "validation", "valid": "validation",
                "val": "validation", "dev": "validation", "test": "test", "testing": "test"}
_RULES = {"last": "the last word", "pipe": "the text after the last '|'", "key": "the label= token"}


@dataclass
class Row:
    """One example before it becomes a Record: raw sequence and label text, where it came from."""

    seq: str
    label: str
    split: str | None
    line: int | None
    record: str | None = None
    rule: str | None = None  # which FASTA header rule gave the label (last, pipe, key); None: a column
    label_at: tuple[Path, int] | None = None  # (file, line) of a label kept apart from the sequence (side CSV)


def build_dataset(rows: list[Row], path: Path, name: str, opts: ImportOptions, notes: Sequence[str] = (),
                  warnings: Sequence[str] = (), progress: Progress = None) -> Dataset:
    """The dataset of ``rows`` read from ``path``: what the module docstring of :mod:`disc_core.data.user`
    says, with the reader's ``notes`` and ``warnings`` kept (first)."""
    notes, warns = list(notes), list(warnings)
    discipline, task, fractions, seed = opts.discipline, opts.task, opts.fractions, opts.seed
    raw_labels = [r.label for r in rows]
    for r in rows:
        r.label = r.label.strip()
        if r.label.lower() in _MISSING:
            where, line = r.label_at or (path, r.line)
            raise DataError("label is missing or NaN", path=where, line=line, record=r.record,
                            hint="fill in the label or remove that example")
    # sequences
    if discipline is None:
        guess = explain_discipline([r.seq for r in rows], [r.line for r in rows])
        discipline = guess.discipline
        if discipline is None:
            bad = next(r for r in rows if guess_discipline([r.seq]) is None)
            raise DataError(first_bad_letter(bad.seq) + "; it is not DNA (ACGTN), protein (amino-acid letters) "
                            "or music (MIDI pitch numbers)", path=path, line=bad.line, record=bad.record,
                            hint="fix that sequence, or set the discipline to text for sentences")
        notes.append(f"discipline guessed from the sequences: {discipline} ({guess.why}); set the discipline "
                     f"to override")
        if guess.warning:
            warns.append(guess.warning)
    symbols, n_cut = [], 0
    for i, r in enumerate(rows):
        seq = _symbols(r, discipline, path)
        if seq is not None:
            seq, cut = truncate(seq, MAX_SYMBOLS)
            n_cut += cut
        symbols.append(seq)
        if progress and i % 5000 == 0:
            progress(i, len(rows))
    if n_cut:
        notes.append(f"{n_cut} of {len(rows)} sequences were longer than {MAX_SYMBOLS} symbols and were "
                     f"truncated to their first {MAX_SYMBOLS}")
    # labels
    if task is None:
        task, why = infer_task([r.label for r in rows])
        other = "regression" if task == "classification" else "classification"
        notes.append(f"task inferred: {task} ({why}); set the task to {other} to override")
    if task == "classification":
        merged = _merge_case(rows, raw_labels, opts.merge_labels, path)
        if merged:
            warns.append(merged)
        label_names = _class_names([r.label for r in rows])
        index = {n: i for i, n in enumerate(label_names)}
        labels = [index[_class_key(r.label)] for r in rows]
        label_warns = _label_warnings(rows, label_names)
        warns += label_warns
        if len(label_names) < 2:
            raise DataError(f"only one class ({label_names[0]}) is present; classification needs at least two"
                            + "".join(f"; {w}" for w in label_warns), path=path,
                            hint="check the label column, or add examples of other classes")
    else:
        label_names, labels, label_warns = None, [], []
        for r in rows:
            try:
                v = float(r.label)
            except ValueError:
                v = math.nan
            if not math.isfinite(v):
                where, line = r.label_at or (path, r.line)
                raise DataError(f"label {r.label!r} is not a finite number, but the task is regression",
                                path=where, line=line, record=r.record,
                                hint="fix the label, or set the task to classification")
            labels.append(v)
    # splits
    from_file = any(r.split is not None for r in rows)
    if from_file:
        splits = []
        for r in rows:
            s = _SPLIT_NAMES.get((r.split or "").strip().lower())
            if s is None:
                what = f"unknown split {r.split!r}" if r.split else "no split given here, but other examples have one"
                raise DataError(what, path=path, line=r.line, record=r.record,
                                hint="use train, validation or test (or leave the split out everywhere)")
            splits.append(s)
        notes.append("splits from the file")
    else:
        splits = assign_splits(labels, fractions, seed, stratify=task == "classification", keep_small_classes=True)
        train, val, test = fractions
        notes.append(f"random {round(train * 100)}/{round(val * 100)}/{round(test * 100)} split"
                     f"{', stratified by class' if task == 'classification' else ''} (seed {seed})")
    if "train" not in splits:
        raise DataError("no example is in the train split", path=path, hint="put some examples in train")
    empty = [s for s in SPLITS if s not in splits]
    if empty:
        notes.append(f"no examples in: {', '.join(empty)}")
    if "validation" in empty and "test" not in empty:
        warns.append("the validation split is empty: training cannot stop early or keep its best step, and "
                     "nothing checks it before the test -- give some examples the split validation")
    records = [Record(label=y, split=s, symbols=sym, text=r.seq.strip() if sym is None else None)
               for r, y, s, sym in zip(rows, labels, splits, symbols)]
    metric = opts.metric or ("accuracy" if task == "classification" else "spearman")
    ds = make_dataset(name, discipline, task, metric, records, source=opts.source or str(path),
                      label_names=label_names, path=path, notes=notes)
    ds.warnings = warns + split_warnings(ds)
    try:
        require_test_split(ds, path, splits_from_file=from_file)
    except DataError as err:
        if not label_warns:
            raise
        raise DataError("; ".join(label_warns) + "; so the test split would be empty", path=path,
                        hint=err.hint) from None
    if progress:
        progress(len(rows), len(rows))
    return ds


def _symbols(r: Row, discipline: str, path) -> tuple[str, ...] | None:
    if discipline == "text":
        if not r.seq.strip():
            raise DataError("empty text", path=path, line=r.line, record=r.record, hint="fill it in or drop the row")
        return None
    if discipline == "music":
        toks = r.seq.split()
        for i, t in enumerate(toks):
            if not (t.isdigit() and int(t) <= 127):
                raise DataError(f"{t!r} (item {i + 1}) is not a MIDI pitch 0..127", path=path, line=r.line,
                                record=r.record, hint="write pitches as numbers separated by spaces")
        seq = tuple(str(int(t)) for t in toks)
    else:
        s = "".join(r.seq.split()).upper()
        allowed = IUPAC_DNA | NUCLEOTIDES if discipline == "dna" else PROTEIN_LETTERS
        check_symbols(s, allowed, path, line=r.line, record=r.record,
                      kind=f"{'DNA' if discipline == 'dna' else 'protein'} sequence")
        seq = tuple(s)
    if not seq:
        raise DataError("empty sequence", path=path, line=r.line, record=r.record,
                        hint="fill it in or remove that example")
    return seq


def _class_key(label: str) -> str:
    """``1.0`` and ``1`` are the same class."""
    try:
        v = float(label)
    except ValueError:
        return label
    return str(int(v)) if v.is_integer() else label


def _class_names(labels: Sequence[str]) -> list[str]:
    keys = {_class_key(v) for v in labels}
    try:
        return sorted(keys, key=float)
    except ValueError:
        return sorted(keys)


def _merge_case(rows: list[Row], raw: list[str], merge: bool, path) -> str | None:
    """Make labels that differ only in case or surrounding spaces one class (the most common spelling), and
    return the warning saying so; or refuse them (``merge`` False)."""
    # "1" and "1.0" are one class, silently (a number written two ways); case and spaces are what is said
    raw = [lab.replace(lab.strip(), _class_key(lab.strip()), 1) if lab.strip() else lab for lab in raw]
    spellings: dict[str, Counter] = {}
    for r, lab in zip(rows, raw):
        spellings.setdefault(_class_key(r.label).casefold(), Counter())[lab] += 1
    clashes = {k: c for k, c in spellings.items() if len(c) > 1}
    if not clashes:
        return None
    groups = [" + ".join(f"{sp!r} ({m})" for sp, m in c.most_common()) for c in clashes.values()]
    listed = "; ".join(groups[:5]) + (" ..." if len(groups) > 5 else "")
    if not merge:
        c = next(iter(clashes.values()))
        rare = c.most_common()[-1][0]
        bad = next(r for r, lab in zip(rows, raw) if lab == rare)
        where, line = bad.label_at or (path, bad.line)
        raise DataError(f"labels that differ only in case or surrounding spaces: {listed}", path=where,
                        line=line, record=bad.record,
                        hint="write each class one way in the file, or let such labels be merged")
    canon = {}
    for k, c in clashes.items():
        stripped = Counter()
        for sp, m in c.items():
            stripped[sp.strip()] += m
        canon[k] = stripped.most_common(1)[0][0]
    for r in rows:
        key = _class_key(r.label).casefold()
        if key in canon:
            r.label = canon[key]
    merged = ", ".join(repr(v) for v in list(canon.values())[:5])
    return (f"labels that differ only in case or surrounding spaces were merged into one class each ({merged}): "
            f"{listed} -- if they are different classes, name them differently; to refuse such files instead, "
            f"turn label merging off")


def _label_warnings(rows: list[Row], label_names: list[str]) -> list[str]:
    """FASTA labels that look like header fields (``SV=1``), and one label per record."""
    out = []
    from_header = [r for r in rows if r.rule in ("last", "pipe")]
    fields = sorted({r.label for r in from_header if _FIELD_RE.match(r.label)})
    rules = sorted({r.rule for r in from_header})
    took = " / ".join(_RULES[k] for k in rules)
    if fields:
        n = sum(1 for r in from_header if _FIELD_RE.match(r.label))
        out.append(f"{n} of {len(rows)} labels look like header fields, not classes ({', '.join(fields[:5])}"
                   f"{' ...' if len(fields) > 5 else ''}): the label was taken from {took} of each header -- "
                   f"give the labels in a separate CSV of id,label, or write label=X into each header")
    if len(rows) >= 3 and len(label_names) == len(rows):
        why = (f"the label was taken from {took} of each header, which looks like an id or a name" if from_header
               else "is the label column an id?")
        out.append(f"every one of the {len(rows)} records has a label of its own ({len(label_names)} classes): "
                   f"{why} -- give one class label per record, shared by the records of that class")
    return out
