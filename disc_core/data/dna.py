"""DNA datasets: UCI splice junctions, yeast histone marks (GUE CSV and Hilbert-CNN text), a synthetic splice set.

Every sequence becomes one symbol per base. Bases are upper-cased and checked against the IUPAC
nucleotide codes, so the rare ambiguity letters of the UCI file (``D N S R``) stay symbols of their own.

Public readers take a path, so files from any folder can be loaded the same way as the registered
datasets: :func:`read_splice`, :func:`read_histone_gue`, :func:`read_histone_hilbert`,
:func:`make_synthetic_splice`. Splits come from :mod:`disc_core.data.splits`; several file layouts
of one dataset from :class:`disc_core.data.base.AnyFilesInfo`.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path
from typing import Sequence

from ..errors import DataError
from .base import AnyFilesInfo, DatasetInfo, Record, data_dirs, find_file_set, make_dataset, register
from .io import check_symbols, read_lines, read_text
from .splits import assign_splits

__all__ = [
    "IUPAC_DNA", "SPLICE_CLASSES", "HISTONE_MARKS",
    "read_splice", "read_histone_gue", "read_histone_hilbert", "make_synthetic_splice", "synthetic_splice_dataset",
]

#: IUPAC nucleotide codes (DNA: no ``U``); anything else in a sequence is an error.
IUPAC_DNA = frozenset("ACGTRYSWKMBDHVN")
SPLICE_CLASSES = ["EI", "IE", "N"]
#: The paper's 90/5/5 random split of the splice set (also used for sets that come without splits).
PAPER_SPLIT = {"train": 0.90, "validation": 0.05, "test": 0.05}
#: How a histone dev.csv is divided with ``pool=False`` when no train.csv exists (test.csv stays the test set).
DEV_SPLIT = {"train": 0.85, "validation": 0.15}
#: registry name -> folder name in the GUE layout / file stem in the Hilbert-CNN layout.
HISTONE_MARKS = {"h3": "H3", "h4": "H4", "h3k9ac": "H3K9ac"}
_BINARY = ["0", "1"]


def _records(rows: Sequence[tuple[str, int]], splits: Sequence[str]) -> list[Record]:
    return [Record(label=y, split=s, symbols=tuple(seq)) for (seq, y), s in zip(rows, splits)]


def _check_dna(seq: str, path, line: int) -> str:
    seq = seq.strip().upper()
    if not seq:
        raise DataError("empty sequence", path=path, line=line, hint="fill in or remove that line")
    check_symbols(seq, IUPAC_DNA, path, line=line, kind="DNA sequence")
    return seq


# --------------------------------------------------------------------------------------------
# UCI splice junctions
# --------------------------------------------------------------------------------------------

def _parse_splice(path: Path) -> list[tuple[str, int]]:
    rows = []
    for ln, line in enumerate(read_lines(path, "splice file"), 1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 3:
            raise DataError(f"expected 3 comma-separated fields (CLASS, NAME, SEQUENCE), found {len(fields)}",
                            path=path, line=ln, hint="use the UCI splice.data layout")
        cls, _name, seq = fields
        if cls not in SPLICE_CLASSES:
            raise DataError(f"unknown class {cls!r}; expected one of {', '.join(SPLICE_CLASSES)}",
                            path=path, line=ln)
        rows.append((_check_dna(seq, path, ln), SPLICE_CLASSES.index(cls)))
    return rows


def read_splice(path: str | Path, seed: int = 42, name: str = "splice"):
    """Load a UCI splice-junction file (``CLASS, NAME, SEQUENCE`` per line) as a :class:`Dataset`.

    Classes EI (exon->intron, donor), IE (intron->exon, acceptor), N (neither). The file has no
    splits; like the paper we draw a random 90/5/5 train/validation/test split (stratified by
    class, seeded by ``seed``).
    """
    path = Path(path)
    rows = _parse_splice(path)
    splits = assign_splits([y for _, y in rows], PAPER_SPLIT, seed)
    return make_dataset(name, "dna", "classification", "accuracy", _records(rows, splits),
                        source=str(path), label_names=list(SPLICE_CLASSES), path=path,
                        notes=[f"random 90/5/5 split stratified by class (seed {seed}), as in the paper"])


def _load_splice(progress=None, seed: int = 42, **kw):
    found = find_file_set([["dna_splice/splice.txt"]])
    if found is None:
        raise DataError("dna_splice/splice.txt not found", path=", ".join(map(str, data_dirs())),
                        hint="run `python -m disc_core download splice` or set DISC_DATA_DIR")
    return read_splice(found[0] / "dna_splice/splice.txt", seed=seed)


register(DatasetInfo(
    name="splice", title="UCI splice junctions (EI / IE / N)", discipline="dna", task="classification",
    metric="accuracy", origin="paper", loader=_load_splice, files=("dna_splice/splice.txt",), paper_key="Splice",
    description="3,190 60-bp sequences from UCI (Noordewier et al.); classes EI, IE, N; the paper's random "
                "90/5/5 split, stratified and seeded (seed=42)."))


# --------------------------------------------------------------------------------------------
# Yeast histone marks
# --------------------------------------------------------------------------------------------

def _parse_gue_csv(path: Path) -> list[tuple[str, int]]:
    text = read_text(path, "CSV file")
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in ("sequence", "label") if c not in header]
    if missing:
        raise DataError(f"no {' or '.join(repr(c) for c in missing)} column in the header {header}",
                        path=path, line=1, hint="the GUE layout is a header `sequence,label` then one row per example")
    si, li = header.index("sequence"), header.index("label")
    rows = []
    for row in reader:
        ln = reader.line_num
        if not row or not any(f.strip() for f in row):
            continue
        if len(row) != len(header):
            raise DataError(f"expected {len(header)} comma-separated fields, found {len(row)}", path=path, line=ln)
        label = row[li].strip()
        if label not in _BINARY:
            raise DataError(f"label {label!r} is not 0 or 1" if label else "missing label", path=path, line=ln,
                            hint="every row needs a label 0 or 1")
        rows.append((_check_dna(row[si], path, ln), int(label)))
    return rows


def read_histone_gue(folder: str | Path, seed: int = 42, name: str = "histone", pool: bool = True):
    """Load a histone mark in the DNABERT-2 GUE layout: ``folder/{train,dev,test}.csv`` (``sequence,label``).

    With ``train.csv`` the three files are used as train / validation / test. Without it (the public
    copy this project found has only dev and test) every example that is here, dev and test pooled, is
    split 90/5/5 at random, stratified and seeded: the way the paper split its own 14,965-27,782 sequences
    (appendix G.3). That doubles the training set of the GUE split (``pool=False``: ``dev.csv`` split 85/15
    into train/validation, ``test.csv`` kept as the test set), which matters more here than keeping GUE's
    test set: with ~1.3k training sequences of 500 bp no variant had left the majority class after an epoch.
    """
    folder = Path(folder)
    dev, test, train = folder / "dev.csv", folder / "test.csv", folder / "train.csv"
    for p in (dev, test):
        if not p.exists():
            raise DataError("file not found", path=p, hint="a GUE folder holds dev.csv and test.csv (and train.csv)")
    dev_rows, test_rows = _parse_gue_csv(dev), _parse_gue_csv(test)
    if train.exists():
        train_rows = _parse_gue_csv(train)
        rows = train_rows + dev_rows + test_rows
        splits = ["train"] * len(train_rows) + ["validation"] * len(dev_rows) + ["test"] * len(test_rows)
        note = "train.csv / dev.csv / test.csv used as train / validation / test"
    elif pool:
        rows = dev_rows + test_rows
        splits = assign_splits([y for _, y in rows], PAPER_SPLIT, seed)
        note = (f"no train.csv: dev.csv and test.csv pooled ({len(rows):,} sequences) and split 90/5/5 at random "
                f"(stratified, seed {seed}), as the paper split its own data; twice the training set of GUE's "
                f"dev/test split")
    else:
        rows = dev_rows + test_rows
        splits = assign_splits([y for _, y in dev_rows], DEV_SPLIT, seed) + ["test"] * len(test_rows)
        note = (f"no train.csv: dev.csv split 85/15 into train/validation (stratified, seed {seed}); "
                f"test.csv is the test set")
    return make_dataset(name, "dna", "classification", "accuracy", _records(rows, splits), source=str(folder),
                        label_names=list(_BINARY), path=folder, notes=[note])


def _parse_hilbert(path: Path) -> list[tuple[str, int]]:
    lines = [(ln, s.strip()) for ln, s in enumerate(read_lines(path, "histone file"), 1) if s.strip()]
    if len(lines) % 3:
        ln = lines[-(len(lines) % 3)][0]
        raise DataError(f"incomplete example: {len(lines)} non-empty lines is not a multiple of 3 "
                        f"(id, sequence, label)", path=path, line=ln)
    rows = []
    for k in range(0, len(lines), 3):
        (_, _id), (sln, seq), (lln, label) = lines[k:k + 3]
        if label not in _BINARY:
            raise DataError(f"expected a label line 0 or 1, found {label[:30]!r}", path=path, line=lln,
                            hint="the Hilbert-CNN layout is 3 lines per example: id, sequence, label")
        rows.append((_check_dna(seq, path, sln), int(label)))
    return rows


def read_histone_hilbert(path: str | Path, seed: int = 42, name: str = "histone"):
    """Load a histone mark in the Hilbert-CNN text layout (3 lines per example: id, 500-bp sequence, 0/1).

    The file has no splits: a random 90/5/5 split, stratified and seeded, as for the splice set.
    """
    path = Path(path)
    rows = _parse_hilbert(path)
    splits = assign_splits([y for _, y in rows], PAPER_SPLIT, seed)
    return make_dataset(name, "dna", "classification", "accuracy", _records(rows, splits), source=str(path),
                        label_names=list(_BINARY), path=path,
                        notes=[f"random 90/5/5 split stratified by class (seed {seed})"])


def _histone_candidates(mark: str) -> list[list[str]]:
    return [[f"dna_gue_emp/{mark}/dev.csv", f"dna_gue_emp/{mark}/test.csv"], [f"dna_histone/{mark}.txt"]]


def _histone_loader(name: str):
    mark = HISTONE_MARKS[name]

    def load(progress=None, seed: int = 42, **kw):
        found = find_file_set(_histone_candidates(mark))
        if found is None:
            raise DataError(f"no {mark} files found", path=", ".join(map(str, data_dirs())),
                            hint=f"run `python -m disc_core download {name}` or set DISC_DATA_DIR")
        d, k = found
        if k == 0:
            return read_histone_gue(d / "dna_gue_emp" / mark, seed=seed, name=name)
        return read_histone_hilbert(d / "dna_histone" / f"{mark}.txt", seed=seed, name=name)

    return load


for _name, _mark in HISTONE_MARKS.items():
    register(AnyFilesInfo(
        name=_name, title=f"Yeast histone {_mark} occupancy", discipline="dna", task="classification",
        metric="accuracy", origin="paper", loader=_histone_loader(_name), files=tuple(_histone_candidates(_mark)[0]),
        alternatives=tuple(map(tuple, _histone_candidates(_mark))),
        paper_key=_mark,
        description=f"500-bp yeast sequences, label 1 = enriched for {_mark} (Pokholok et al. 2005). Read from the "
                    f"GUE CSVs dna_gue_emp/{_mark}/ when present: train/dev/test as given, or, when train.csv is "
                    f"absent (as in the public copy), dev.csv and test.csv pooled and split 90/5/5 at random "
                    f"(stratified, seed 42) as the paper split its data. Falls back to the Hilbert-CNN file dna_histone/{_mark}.txt "
                    f"with a random 90/5/5 split."))


# --------------------------------------------------------------------------------------------
# Synthetic splice sites (built in, offline)
# --------------------------------------------------------------------------------------------

_BG_WEIGHTS = (0.275, 0.225, 0.225, 0.275)  # A C G T: GC content 0.45, about that of human genes


def make_synthetic_splice(n: int = 3000, length: int = 60, seed: int = 0,
                          consensus_rate: float = 0.7) -> list[tuple[str, int]]:
    """Generate a splice-site task like UCI's: ``(sequence, label)`` with label 0 EI, 1 IE, 2 N.

    Sequences are ``length`` bases of background (GC 0.45) with the junction between positions
    ``length//2 - 1`` and ``length//2``:

    - EI (donor): exon ``MAG`` | intron ``GTRAGT``;
    - IE (acceptor): a polypyrimidine tract, then ``YAG`` | exon ``G``;
    - N: background, often with decoy ``GT`` / ``AG`` dinucleotides, sometimes right at the junction.

    Each consensus base other than the invariant GT / AG is present with probability
    ``consensus_rate`` (otherwise it stays background), and the invariant dinucleotides are broken
    2% of the time, so no single position decides the class. Class sizes are 1:1:2 as in UCI.
    Deterministic for a given ``seed``.
    """
    rng = random.Random(seed)
    j = length // 2  # first base after the junction

    def background(k):
        return rng.choices("ACGT", weights=_BG_WEIGHTS, k=k)

    def put(seq, pos, choices, p):
        if 0 <= pos < length and rng.random() < p:
            seq[pos] = rng.choice(choices)

    labels = [0] * (n // 4) + [1] * (n // 4)
    labels += [2] * (n - len(labels))
    rng.shuffle(labels)
    rows = []
    for y in labels:
        s = background(length)
        if y == 0:  # donor: M A G | G T R A G T
            for off, c in ((-3, "AC"), (-2, "A"), (-1, "G"), (2, "AG"), (3, "A"), (4, "G"), (5, "T")):
                put(s, j + off, c, consensus_rate)
            put(s, j, "G", 0.98)
            put(s, j + 1, "T", 0.98)
        elif y == 1:  # acceptor: (Y)n N Y A G | G
            for pos in range(j - 18, j - 4):
                put(s, pos, "CT", consensus_rate)
            put(s, j - 3, "CT", consensus_rate)
            put(s, j - 2, "A", 0.98)
            put(s, j - 1, "G", 0.98)
            put(s, j, "G", consensus_rate * 0.7)
        else:  # neither: decoys anywhere, a fifth of them at the junction itself
            for dinuc, at in (("GT", j), ("AG", j - 2)):
                if rng.random() < 0.5:
                    pos = at if rng.random() < 0.2 else rng.randrange(length - 1)
                    s[pos:pos + 2] = dinuc
        rows.append(("".join(s), y))
    return rows


def synthetic_splice_dataset(progress=None, n: int = 3000, seed: int = 42, data_seed: int = 0, **kw):
    """The built-in ``splice-synthetic`` dataset: :func:`make_synthetic_splice` with a 90/5/5 split."""
    rows = make_synthetic_splice(n=n, seed=data_seed)
    splits = assign_splits([y for _, y in rows], PAPER_SPLIT, seed)
    return make_dataset("splice-synthetic", "dna", "classification", "accuracy", _records(rows, splits),
                        source="synthetic (generated offline by disc_core.data.dna.make_synthetic_splice)",
                        label_names=list(SPLICE_CLASSES), synthetic=True,
                        notes=[f"synthetic: {n} generated 60-bp sequences, not real genomic data",
                               f"random 90/5/5 split stratified by class (seed {seed})"])


register(DatasetInfo(
    name="splice-synthetic", title="Synthetic splice sites (EI / IE / N)", discipline="dna",
    task="classification", metric="accuracy", origin="builtin", loader=synthetic_splice_dataset, synthetic=True,
    description="synthetic: 3,000 generated 60-bp sequences with noisy donor (MAG|GTRAGT) and acceptor "
                "(pyrimidine tract + YAG|G) consensus and decoy negatives; offline stand-in for splice."))
