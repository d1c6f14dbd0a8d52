"""The user's own data: FASTA, CSV/TSV files and MIDI folders turned into a :class:`Dataset`.

>>> ds = read_user_data("peptides.csv")                      # look at it
>>> import_user_dataset("peptides.csv", name="my-peptides")  # keep it: load_dataset("my-peptides") works
...                                                          # from then on, in any process

What is read:

- **FASTA** (``.fa .fasta .faa .fna .fas .ffn``, or any file whose first line starts with ``>``). The label
  comes from the header (``fasta_label="auto"``): a ``label=X`` token if there is one; otherwise the last
  whitespace-separated word when the header has two or more (``>P12345 Nucleus``); otherwise the text
  after the last ``|`` of a one-word header (``>seq7|kinase``). ``fasta_label`` = ``key`` / ``last`` /
  ``pipe`` picks one rule. Or ``labels=<csv>``: a side CSV with an ``id`` column (FASTA ids, the first
  header word) and a label column. A ``split=X`` header token (or a ``split`` column of the side CSV) sets
  the split.
- **CSV / TSV** with a header: the sequence column (``sequence_column=``, else the first of ``sequence``,
  ``seq``, ``primary``, ``text``, ``sentence``) and the label column (``label_column=``, else ``label``,
  ``class``, ``target``, ``y``); an optional ``split`` column.
- **a folder** of MIDI files, one sub-folder per class (:func:`~disc_core.data.music.read_midi_folder`).

Then: the discipline is ``discipline=`` or guessed -- only ``ACGTN`` letters is DNA, amino-acid letters is
protein, whitespace-separated numbers 0..127 is music (MIDI pitches), a MIDI folder is music; ``text`` must
be asked for. The task is ``task=`` or inferred: classification unless every label is a number and they
are not all integers, or there are more than :data:`MAX_INTEGER_CLASSES` distinct integers (then
regression). Sequences longer than :data:`~disc_core.data.base.MAX_SYMBOLS` are truncated and counted in
the notes. Splits come from a ``split`` column/token when present, else a seeded 80/10/10 split
(stratified by class for classification).

Saved datasets are JSON files (never pickle) in ``cache_dir()/"user_datasets"``: the first line holds the
metadata, then one record per line, so the registry can list them without reading every record.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..errors import ConfigError, DataError
from .base import (DATASETS, DISCIPLINES, MAX_SYMBOLS, SPLITS, Dataset, DatasetInfo, Record, cache_dir,
                   ensure_registered, make_dataset, register)
from .io import check_symbols, read_text, truncate
from .music import MIDI_SUFFIXES, read_midi_folder
from .splits import stratified_split

__all__ = [
    "read_user_data", "import_user_dataset", "remove_user_dataset",
    "list_user_datasets", "user_datasets_dir", "register_saved_user_datasets", "guess_discipline",
    "infer_task", "check_dataset_name", "UserDatasetInfo", "DNA_LETTERS", "PROTEIN_LETTERS",
    "MAX_INTEGER_CLASSES",
]

#: Letters that make a sequence look like DNA when guessing (IUPAC codes are allowed once DNA is declared).
DNA_LETTERS = frozenset("ACGTN")
IUPAC_DNA = frozenset("ACGTRYSWKMBDHVN")
#: The 20 standard amino acids plus U (selenocysteine), O (pyrrolysine), B, Z, X (ambiguous/unknown).
PROTEIN_LETTERS = frozenset("ACDEFGHIKLMNPQRSTVWY" + "UOBZX")
#: Integer labels with more distinct values than this are read as a regression target.
MAX_INTEGER_CLASSES = 20
FASTA_SUFFIXES = (".fa", ".fasta", ".faa", ".fna", ".fas", ".ffn")
SEQUENCE_COLUMNS = ("sequence", "seq", "primary", "text", "sentence")
LABEL_COLUMNS = ("label", "class", "target", "y")
_MISSING = {"", "nan", "na", "n/a", "none", "null"}
_SPLIT_NAMES = {"train": "train", "training": "train", "validation": "validation", "valid": "validation",
                "val": "validation", "dev": "validation", "test": "test", "testing": "test"}
_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")
_FORMAT = 1
_READER_OPTIONS = ("sequence_column", "label_column", "split_column", "sep", "labels", "fasta_label")
_OPTIONS = {"discipline", "task", "metric", "seed", "fractions", "fmt", "workers", *_READER_OPTIONS}

Progress = Callable[[int, int], None] | None


# --------------------------------------------------------------------------------------------
# Reading files into raw rows
# --------------------------------------------------------------------------------------------

@dataclass
class _Row:
    """One example before it becomes a Record: raw sequence and label text, where it came from."""

    seq: str
    label: str
    split: str | None
    line: int | None
    record: str | None = None


def read_user_data(path: str | Path, name: str = "user", progress: Progress = None, **options) -> Dataset:
    """Read the user's file or MIDI folder into a :class:`Dataset` (nothing is saved).

    Options: ``discipline``, ``task``, ``metric``, ``seed`` (42), ``fractions`` ((0.8, 0.1, 0.1)),
    ``fmt`` (``fasta`` / ``table`` (csv, tsv) / ``midi``; else from the file), ``sequence_column``, ``label_column``,
    ``split_column``, ``sep`` (table delimiter), ``labels`` (side CSV for FASTA), ``fasta_label``
    (``auto`` / ``key`` / ``last`` / ``pipe``), ``workers`` (MIDI parsing). Raises :class:`DataError`
    naming the file and line or record for anything wrong with the data.
    """
    unknown = set(options) - _OPTIONS
    if unknown:
        raise ConfigError(f"unknown option(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(_OPTIONS))}")
    path = Path(path)
    fmt = options.pop("fmt", None) or _guess_format(path)
    fmt = {"csv": "table", "tsv": "table", "fa": "fasta"}.get(fmt, fmt)
    if fmt == "midi":
        discipline, task = options.pop("discipline", None), options.pop("task", None)
        if discipline not in (None, "music") or task not in (None, "classification"):
            raise ConfigError("a MIDI folder is a music classification dataset; drop discipline=/task=")
        _reject(options, ("seed", "fractions", "workers"), fmt)
        return read_midi_folder(path, name=name, progress=progress, **options)
    reader = {k: options.pop(k) for k in _READER_OPTIONS if k in options}
    options.pop("workers", None)
    if fmt == "fasta":
        _reject(reader, ("labels", "fasta_label", "label_column"), fmt)
        rows, notes = _read_fasta(path, **reader)
    elif fmt == "table":
        _reject(reader, ("sequence_column", "label_column", "split_column", "sep"), fmt)
        rows, notes = _read_table(path, **reader)
    else:
        raise ConfigError(f"unknown format {fmt!r}; use fasta, table or midi")
    ds = _build(rows, path, name, notes=notes, **options)
    if progress:
        progress(len(rows), len(rows))
    return ds


def _reject(options: dict, allowed: Sequence[str], fmt: str) -> None:
    bad = sorted(set(options) - set(allowed))
    if bad:
        raise ConfigError(f"option(s) {', '.join(bad)} do not apply to a {fmt} input")


def _guess_format(path: Path) -> str:
    if path.is_dir():
        return "midi"
    suffix = path.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        raise DataError("one MIDI file is not a dataset", path=path,
                        hint="give a folder with one sub-folder per class, each holding .mid/.midi files")
    if suffix in FASTA_SUFFIXES:
        return "fasta"
    if suffix in (".csv", ".tsv", ".tab"):
        return "table"
    text = read_text(path, "data file")  # also rejects binary junk and non-UTF-8 before we guess
    return "fasta" if text.lstrip().startswith(">") else "table"


def _read_fasta(path: str | Path, labels: str | Path | None = None, fasta_label: str = "auto",
                label_column: str | None = None) -> tuple[list[_Row], list[str]]:
    """FASTA records as rows (see the module docstring for where labels come from) and notes."""
    from Bio import SeqIO

    path = Path(path)
    if fasta_label not in ("auto", "key", "last", "pipe"):
        raise ConfigError(f"fasta_label must be auto, key, last or pipe, not {fasta_label!r}")
    text = read_text(path, "FASTA file")
    lines = text.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip()), 0)
    if not lines[first].startswith(">"):
        raise DataError(f"does not look like FASTA: the first line starts with {lines[first][:20]!r}, not '>'",
                        path=path, line=first + 1, hint="give a FASTA file (>header lines, then sequence lines) "
                        "or a CSV/TSV with a header row")
    header_lines = [i + 1 for i, ln in enumerate(lines) if ln.startswith(">")]
    records = list(SeqIO.parse(io.StringIO(text), "fasta"))
    if len(records) != len(header_lines):  # should not happen; fall back to record numbers
        header_lines = [None] * len(records)
    side = _read_side_labels(Path(labels), label_column) if labels is not None else None
    rows, notes = [], []
    for rec, line in zip(records, header_lines):
        seq = str(rec.seq).strip()
        if seq.endswith("*"):  # a translated stop codon, not a residue
            seq = seq[:-1]
        if side is not None:
            if rec.id not in side:
                raise DataError(f"record {rec.id} has no row in {Path(labels).name}", path=path, line=line,
                                record=rec.id, hint=f"add a row `{rec.id},<label>` to {labels}")
            label, split = side[rec.id]
        else:
            label, split = _header_label(rec.description, fasta_label, path, line, rec.id)
        rows.append(_Row(seq, label, split, line, rec.id))
    if side is not None:
        extra = len(set(side) - {r.record for r in rows})
        if extra:
            notes.append(f"{extra} ids of {Path(labels).name} have no FASTA record and were ignored")
    return rows, notes


def _header_label(description: str, rule: str, path, line, rid) -> tuple[str, str | None]:
    words = description.split()
    split = next((w[6:] for w in words if w.startswith("split=")), None)
    words = [w for w in words if not w.startswith("split=")]
    keyed = next((w[6:] for w in words if w.startswith("label=")), None)
    if rule in ("auto", "key") and keyed is not None:
        return keyed, split
    if rule in ("auto", "last") and len(words) >= 2:
        return words[-1], split
    if rule in ("auto", "pipe") and len(words) == 1 and "|" in words[0]:
        return words[0].rsplit("|", 1)[1], split
    raise DataError(f"no label in the header of record {rid}" + ("" if rule == "auto" else f" (rule {rule!r})"),
                    path=path, line=line, record=rid,
                    hint="write the label into each header (`>id label=X`, `>id X` or `>id|X`) or give a CSV of "
                         "id,label with labels=")


def _read_side_labels(path: Path, label_column: str | None) -> dict[str, tuple[str, str | None]]:
    header, body = _csv_rows(path, None, "labels CSV")
    lower = [h.lower() for h in header]
    id_col = lower.index("id") if "id" in lower else 0
    lab_col = _pick_column(header, label_column, LABEL_COLUMNS, "label", path)
    split_col = lower.index("split") if "split" in lower else None
    out: dict[str, tuple[str, str | None]] = {}
    for line, row in body:
        rid = row[id_col].strip()
        if rid in out:
            raise DataError(f"id {rid} appears twice", path=path, line=line, hint="keep one row per id")
        out[rid] = (row[lab_col], row[split_col] if split_col is not None else None)
    return out


def _read_table(path: str | Path, sequence_column: str | None = None, label_column: str | None = None,
                split_column: str | None = None, sep: str | None = None) -> tuple[list[_Row], list[str]]:
    """Rows of a CSV/TSV with a header: sequence, label and optional split column."""
    path = Path(path)
    header, body = _csv_rows(path, sep, "table")
    seq_col = _pick_column(header, sequence_column, SEQUENCE_COLUMNS, "sequence", path)
    lab_col = _pick_column(header, label_column, LABEL_COLUMNS, "label", path)
    if split_column is not None:
        split_col = _pick_column(header, split_column, (), "split", path)
    else:
        lower = [h.lower() for h in header]
        split_col = lower.index("split") if "split" in lower else None
    rows = [_Row(row[seq_col], row[lab_col], row[split_col] if split_col is not None else None, line)
            for line, row in body]
    notes = [f"columns used: sequence {header[seq_col]!r}, label {header[lab_col]!r}"
             + (f", split {header[split_col]!r}" if split_col is not None else "")]
    return rows, notes


def _csv_rows(path: Path, sep: str | None, what: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    text = read_text(path, what)
    if sep is None:
        first = text.lstrip("\r\n").split("\n", 1)[0]
        sep = "\t" if path.suffix.lower() in (".tsv", ".tab") or ("\t" in first and "," not in first) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    header: list[str] | None = None
    body = []
    try:
        for row in reader:
            if not any(c.strip() for c in row):
                continue
            if header is None:
                header = [c.strip() for c in row]
                continue
            if len(row) != len(header):
                raise DataError(f"has {len(row)} fields but the header has {len(header)}", path=path,
                                line=reader.line_num, hint="fix that row (a separator or quote too many?)")
            body.append((reader.line_num, row))
    except csv.Error as err:
        raise DataError(f"cannot be read as {'TSV' if sep == chr(9) else 'CSV'}: {err}", path=path,
                        line=reader.line_num) from None
    if header is None or not body:
        raise DataError(f"the {what} has no data rows", path=path, hint="give a header row and one row per example")
    return header, body


def _pick_column(header: list[str], given: str | None, candidates: Sequence[str], kind: str, path) -> int:
    lower = [h.lower() for h in header]
    wanted = [given.lower()] if given else list(candidates)
    for c in wanted:
        if c in lower:
            return lower.index(c)
    looked = f"{given!r}" if given else "one of " + ", ".join(candidates)
    raise DataError(f"no {kind} column ({looked}); columns found: {', '.join(header)}", path=path, line=1,
                    hint=f"rename the column or pass {kind}_column=<name>")


# --------------------------------------------------------------------------------------------
# Rows -> Dataset
# --------------------------------------------------------------------------------------------

def guess_discipline(sequences: Sequence[str]) -> str | None:
    """``dna`` (only ACGTN), ``protein`` (amino-acid letters), ``music`` (numbers 0..127 separated by
    whitespace) or None when the sequences fit none of them."""
    if sequences and all(_is_pitch_list(s) for s in sequences):
        return "music"
    letters = set()
    for s in sequences:
        letters.update("".join(s.split()).upper())
    if letters <= DNA_LETTERS:
        return "dna"
    if letters <= PROTEIN_LETTERS:
        return "protein"
    return None


def _is_pitch_list(s: str) -> bool:
    toks = s.split()
    return bool(toks) and all(t.isdigit() and int(t) <= 127 for t in toks)


def infer_task(labels: Sequence[str]) -> tuple[str, str]:
    """(task, why): classification unless all labels are numbers that are not all integers or are more
    than :data:`MAX_INTEGER_CLASSES` distinct integers."""
    try:
        values = [float(v) for v in labels]
    except ValueError:
        return "classification", "labels are names"
    distinct = set(values)
    if all(v.is_integer() for v in values) and len(distinct) <= MAX_INTEGER_CLASSES:
        return "classification", f"{len(distinct)} distinct integer labels"
    return "regression", f"numeric labels with {len(distinct)} distinct values"


def _build(rows: list[_Row], path: Path, name: str, notes: list[str], discipline: str | None = None,
           task: str | None = None, metric: str | None = None, seed: int = 42,
           fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> Dataset:
    notes = list(notes)
    for r in rows:
        r.label = r.label.strip()
        if r.label.lower() in _MISSING:
            raise DataError("label is missing or NaN", path=path, line=r.line, record=r.record,
                            hint="fill in the label or remove that example")
    # sequences
    if discipline is None:
        discipline = guess_discipline([r.seq for r in rows])
        if discipline is None:
            bad = next(r for r in rows if guess_discipline([r.seq]) is None)
            raise DataError(_first_bad_letter(bad.seq) + "; it is not DNA (ACGTN), protein (amino-acid letters) "
                            "or music (MIDI pitch numbers)", path=path, line=bad.line, record=bad.record,
                            hint="fix that sequence, or pass discipline='text' for sentences")
        notes.append(f"discipline guessed from the sequences: {discipline} (pass discipline= to override)")
    elif discipline not in DISCIPLINES:
        raise ConfigError(f"discipline must be one of {', '.join(DISCIPLINES)}, not {discipline!r}")
    symbols, n_cut = [], 0
    for r in rows:
        seq = _symbols(r, discipline, path)
        if seq is not None:
            seq, cut = truncate(seq, MAX_SYMBOLS)
            n_cut += cut
        symbols.append(seq)
    if n_cut:
        notes.append(f"{n_cut} of {len(rows)} sequences were longer than {MAX_SYMBOLS} symbols and were "
                     f"truncated to their first {MAX_SYMBOLS}")
    # labels
    if task is None:
        task, why = infer_task([r.label for r in rows])
        other = "regression" if task == "classification" else "classification"
        notes.append(f"task inferred: {task} ({why}); pass task='{other}' to override")
    if task == "classification":
        label_names = _class_names([r.label for r in rows])
        index = {n: i for i, n in enumerate(label_names)}
        labels = [index[_class_key(r.label)] for r in rows]
    elif task == "regression":
        label_names, labels = None, []
        for r in rows:
            try:
                v = float(r.label)
            except ValueError:
                v = math.nan
            if not math.isfinite(v):
                raise DataError(f"label {r.label!r} is not a finite number, but the task is regression",
                                path=path, line=r.line, record=r.record,
                                hint="fix the label, or pass task='classification'")
            labels.append(v)
    else:
        raise ConfigError(f"task must be classification or regression, not {task!r}")
    # splits
    if any(r.split is not None for r in rows):
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
        splits = stratified_split(labels if task == "classification" else [0] * len(rows), fractions, seed)
        train, val, test = fractions
        notes.append(f"random {round(train * 100)}/{round(val * 100)}/{round(test * 100)} split"
                     f"{', stratified by class' if task == 'classification' else ''} (seed {seed})")
    if "train" not in splits:
        raise DataError("no example is in the train split", path=path, hint="put some examples in train")
    empty = [s for s in SPLITS if s not in splits]
    if empty:
        notes.append(f"no examples in: {', '.join(empty)}")
    records = [Record(label=y, split=s, symbols=sym, text=r.seq.strip() if sym is None else None)
               for r, y, s, sym in zip(rows, labels, splits, symbols)]
    return make_dataset(name, discipline, task, metric or ("accuracy" if task == "classification" else "spearman"),
                        records, source=str(path), label_names=label_names, path=path, notes=notes)


def _symbols(r: _Row, discipline: str, path) -> tuple[str, ...] | None:
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
        allowed = IUPAC_DNA if discipline == "dna" else PROTEIN_LETTERS
        check_symbols(s, allowed, path, line=r.line, record=r.record,
                      kind=f"{'DNA' if discipline == 'dna' else 'protein'} sequence")
        seq = tuple(s)
    if not seq:
        raise DataError("empty sequence", path=path, line=r.line, record=r.record,
                        hint="fill it in or remove that example")
    return seq


def _first_bad_letter(seq: str) -> str:
    s = "".join(seq.split()).upper()
    for i, ch in enumerate(s):
        if ch not in PROTEIN_LETTERS:
            return f"invalid letter {ch!r} at position {i + 1}"
    return "mixed sequence"


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


# --------------------------------------------------------------------------------------------
# Saved user datasets
# --------------------------------------------------------------------------------------------

@dataclass
class UserDatasetInfo(DatasetInfo):
    """A registry entry for a saved user dataset: available while its JSON file exists."""

    json_path: Path | None = None

    def locate(self) -> Path | None:
        return self.json_path.parent if self.json_path and self.json_path.is_file() else None

    def available(self) -> tuple[bool, str]:
        if self.locate() is not None:
            return True, str(self.json_path)
        return False, f"its file {self.json_path} is gone; import the data again"


def user_datasets_dir() -> Path:
    """Folder of the saved user datasets (``cache_dir()/"user_datasets"``)."""
    d = cache_dir() / "user_datasets"
    d.mkdir(parents=True, exist_ok=True)
    return d


def check_dataset_name(name: str, overwrite: bool = False) -> str:
    """Return ``name`` if it can name a new user dataset, else raise :class:`DataError`.

    Names are 1-32 characters of ``a-z 0-9 -`` (starting and ending with a letter or digit), must not
    be taken by a built-in or paper dataset, and not by another user dataset unless ``overwrite``.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise DataError(f"dataset name {name!r} is not allowed",
                        hint="use 1-32 characters of a-z, 0-9 and '-', e.g. 'my-peptides'")
    ensure_registered()
    key = name.replace("-", "")
    for other, info in DATASETS.items():
        if other.replace("-", "").replace("_", "") != key:
            continue
        if info.origin != "user":
            raise DataError(f"the name {name!r} is taken by the {info.origin} dataset {other!r}",
                            hint="pick another name")
        if other != name or not overwrite:
            raise DataError(f"you already have a dataset named {other!r}",
                            hint="pick another name, pass overwrite=True, or remove it first")
    return name


def import_user_dataset(path: str | Path, name: str, overwrite: bool = False, progress: Progress = None,
                        **options) -> Dataset:
    """Read the user's data (:func:`read_user_data` options), save it as JSON and register it as
    ``name`` so that ``load_dataset(name)`` works from then on, in this and later processes.

    The file is written to a temporary file and renamed into place, so a failure leaves nothing behind
    (and an overwritten dataset intact).
    """
    check_dataset_name(name, overwrite)
    ds = read_user_data(path, name=name, progress=progress, **options)
    target = user_datasets_dir() / f"{name}.json"
    _write_json(ds, target)
    _register_saved(name, target, _meta(ds))
    return ds


def remove_user_dataset(name: str) -> None:
    """Delete a saved user dataset and take it out of the registry."""
    ensure_registered()
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise DataError(f"there is no user dataset named {name!r}")
    info = DATASETS.get(name)
    if info is not None and info.origin != "user":
        raise DataError(f"{name!r} is a {info.origin} dataset; only your own datasets can be removed")
    path = user_datasets_dir() / f"{name}.json"
    if not path.is_file() and info is None:
        raise DataError(f"there is no user dataset named {name!r}",
                        hint=f"yours: {', '.join(list_user_datasets()) or 'none'}")
    path.unlink(missing_ok=True)
    DATASETS.pop(name, None)


def list_user_datasets() -> list[str]:
    """Names of the saved user datasets."""
    return sorted(p.stem for p in user_datasets_dir().glob("*.json") if _NAME_RE.match(p.stem))


def _meta(ds: Dataset) -> dict:
    return {"format": _FORMAT, "name": ds.name, "discipline": ds.discipline, "task": ds.task,
            "metric": ds.metric, "label_names": ds.label_names, "source": ds.source, "voting": ds.voting,
            "notes": ds.notes, "summary": {"sizes": ds.sizes(), "num_labels": ds.num_labels}}


def _record_json(r: Record) -> str:
    d = {"label": r.label, "split": r.split}
    if r.symbols is not None:
        d["symbols"] = " ".join(r.symbols)  # symbols never contain spaces
    else:
        d["text"] = r.text
        if r.text_pair is not None:
            d["text_pair"] = r.text_pair
    if r.group is not None:
        d["group"] = r.group
    return json.dumps(d, ensure_ascii=False)


def _write_json(ds: Dataset, target: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            # Line 1 is the metadata alone, so listing datasets never reads the records.
            f.write('{"meta": ' + json.dumps(_meta(ds), ensure_ascii=False) + ',\n"records": [\n')
            for i, r in enumerate(ds.records):
                f.write(("" if i == 0 else ",\n") + _record_json(r))
            f.write("\n]}\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_meta(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        first = f.readline().strip()
    prefix = '{"meta": '
    if first.startswith(prefix) and first.endswith(","):
        try:
            return json.loads(first[len(prefix):-1])
        except json.JSONDecodeError:
            pass
    return _read_saved(path)["meta"]


def _read_saved(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["meta"]["format"] != _FORMAT:
            raise ValueError(f"format {data['meta']['format']} (expected {_FORMAT})")
        return data
    except FileNotFoundError:
        raise DataError("the saved dataset file is gone", path=path, hint="import the data again") from None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise DataError(f"the saved dataset file is damaged ({err})", path=path,
                        hint="import the data again, or remove it with remove_user_dataset") from None


def _load_saved(path: Path, progress: Progress = None, **kw) -> Dataset:
    if kw:
        raise ConfigError(f"a saved user dataset takes no options (got {', '.join(sorted(kw))})")
    data = _read_saved(path)
    meta = data["meta"]
    try:
        records = [Record(label=d["label"], split=d["split"],
                          symbols=tuple(d["symbols"].split()) if "symbols" in d else None,
                          text=d.get("text"), text_pair=d.get("text_pair"), group=d.get("group"))
                   for d in data["records"]]
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise DataError(f"the saved dataset file is damaged ({err})", path=path,
                        hint="import the data again, or remove it with remove_user_dataset") from None
    if progress:
        progress(len(records), len(records))
    return make_dataset(meta["name"], meta["discipline"], meta["task"], meta["metric"], records,
                        source=meta["source"], label_names=meta["label_names"], path=path,
                        voting=meta["voting"], notes=list(meta["notes"]))


def _register_saved(name: str, path: Path, meta: dict) -> None:
    from functools import partial

    if name in DATASETS and DATASETS[name].origin == "user":
        del DATASETS[name]
    sizes = meta.get("summary", {}).get("sizes", {})
    register(UserDatasetInfo(
        name=name, title=f"{name} (your data)", discipline=meta["discipline"], task=meta["task"],
        metric=meta["metric"], origin="user", loader=partial(_load_saved, path), json_path=path,
        description=f"imported from {meta['source']}; " + ", ".join(f"{k} {v}" for k, v in sizes.items())))


def register_saved_user_datasets() -> list[str]:
    """Register every saved user dataset (done on import); returns their names.

    A file whose metadata cannot be read, or whose name is taken by a built-in dataset, is skipped
    with a warning rather than breaking every other dataset.
    """
    names = []
    for path in sorted(user_datasets_dir().glob("*.json")):
        name = path.stem
        if not _NAME_RE.match(name):
            continue
        other = DATASETS.get(name)
        if other is not None and other.origin != "user":
            warnings.warn(f"{path}: the name {name!r} is taken by a built-in dataset; not registered")
            continue
        try:
            meta = _read_meta(path)
        except (DataError, OSError, ValueError) as err:
            warnings.warn(f"{path}: skipped, cannot read it ({err})")
            continue
        _register_saved(name, path, meta)
        names.append(name)
    return names


try:
    register_saved_user_datasets()
except OSError as _err:  # an unwritable cache must not break the built-in datasets
    warnings.warn(f"saved user datasets not registered: {_err}")
