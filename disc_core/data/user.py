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
- **a folder** of MIDI files, one sub-folder per class (:func:`~disc_core.data.music.read_midi_folder`), or
  a **zip** of such a folder (``__MACOSX`` and ``._`` files are skipped, and said so).

Then: the discipline is ``discipline=`` or guessed (:func:`explain_discipline`) -- nucleotide letters
(``ACGTN``, RNA's ``U``, a few IUPAC ambiguity codes) is DNA, amino-acid letters is protein,
whitespace-separated numbers 0..127 is music (MIDI pitches), a MIDI folder is music; ``text`` must be asked
for. The task is ``task=`` or inferred: classification unless every label is a number and they are not all
integers, or there are more than :data:`MAX_INTEGER_CLASSES` distinct integers (then regression). Class
labels that differ only in case or surrounding spaces are merged (``merge_labels=False`` refuses them).
Sequences longer than :data:`~disc_core.data.base.MAX_SYMBOLS` are truncated and counted in the notes.
Splits come from a ``split`` column/token when present, else a seeded 80/10/10 split (stratified by class
for classification); a test split that would be empty is refused.

What looks wrong but can be let through is in ``Dataset.warnings`` (shown by the CLI and the dashboard, not
only kept in the notes): merged labels, FASTA labels that look like header fields (``SV=1``) or one label per
record, a discipline guessed against some of the sequences, classes with a handful of examples or none in
validation or test, and for MIDI folders every file or folder left out and why
(:mod:`~disc_core.data.checks`).

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
import time
import warnings
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..errors import ConfigError, DataError
from .base import (DATASETS, DISCIPLINES, MAX_SYMBOLS, SPLITS, Dataset, DatasetInfo, Record, cache_dir,
                   ensure_registered, make_dataset, register)
from .checks import require_test_split, split_warnings
from .io import check_symbols, read_text, truncate
from .music import METADATA_FOLDERS, MIDI_SUFFIXES, read_midi_folder
from .splits import stratified_split

__all__ = [
    "read_user_data", "import_user_dataset", "remove_user_dataset", "saved_user_dataset_meta",
    "list_user_datasets", "user_datasets_dir", "register_saved_user_datasets", "guess_discipline",
    "explain_discipline", "infer_task", "check_dataset_name", "read_table_header", "guess_columns",
    "UserDatasetInfo", "DNA_LETTERS", "PROTEIN_LETTERS", "MAX_INTEGER_CLASSES", "MAX_ZIP_BYTES",
    "DATA_SUFFIXES", "FASTA_RULES", "upload_kind", "DisciplineGuess",
]

#: Letters that make a sequence look like DNA when guessing (IUPAC codes are allowed once DNA is declared).
DNA_LETTERS = frozenset("ACGTN")
IUPAC_DNA = frozenset("ACGTRYSWKMBDHVN")
#: Nucleotide letters without ambiguity codes: DNA's, and RNA's U (RNA is read as discipline dna, U kept).
NUCLEOTIDES = frozenset("ACGTUN")
#: The 20 standard amino acids plus U (selenocysteine), O (pyrrolysine), B, Z, X (ambiguous/unknown).
PROTEIN_LETTERS = frozenset("ACDEFGHIKLMNPQRSTVWY" + "UOBZX")
#: Integer labels with more distinct values than this are read as a regression target.
MAX_INTEGER_CLASSES = 20
FASTA_SUFFIXES = (".fa", ".fasta", ".faa", ".fna", ".fas", ".ffn")
TABLE_SUFFIXES = (".csv", ".tsv", ".tab")
#: What a data file given where a dataset name belongs usually ends with.
DATA_SUFFIXES = FASTA_SUFFIXES + TABLE_SUFFIXES + MIDI_SUFFIXES + (".zip", ".txt")
#: The largest unpacked size of a zip of MIDI files (a zip bomb stops here, not the disk).
MAX_ZIP_BYTES = 2 * 1024 ** 3
#: A label that looks like a ``KEY=value`` header field (UniProt's ``OS=``, ``PE=1``, ``SV=1``), not a class.
_FIELD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*=\S*$")
SEQUENCE_COLUMNS = ("sequence", "seq", "primary", "text", "sentence")
LABEL_COLUMNS = ("label", "class", "target", "y")
_MISSING = {"", "nan", "na", "n/a", "none", "null"}
_SPLIT_NAMES = {"train": "train", "training": "train", "validation": "validation", "valid": "validation",
                "val": "validation", "dev": "validation", "test": "test", "testing": "test"}
_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")
_FORMAT = 1
_READER_OPTIONS = ("sequence_column", "label_column", "split_column", "sep", "labels", "fasta_label")
_OPTIONS = {"discipline", "task", "metric", "seed", "fractions", "fmt", "workers", "merge_labels", "source",
            *_READER_OPTIONS}
_RULES = {"last": "the last word", "pipe": "the text after the last '|'", "key": "the label= token"}
#: Where a FASTA header holds the label (``fasta_label``), in words.
FASTA_RULES = {"auto": "label=X if there is one, else the last word, else the text after the last '|'",
               "key": "the label=X token (>id label=Nucleus)", "last": "the last word (>P12345 Nucleus)",
               "pipe": "the text after the last '|' (>sp|P12345|kinase)"}

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
    rule: str | None = None  # which FASTA header rule gave the label (last, pipe, key); None: a column
    label_at: tuple[Path, int] | None = None  # (file, line) of a label kept apart from the sequence (side CSV)


def read_user_data(path: str | Path, name: str = "user", progress: Progress = None, **options) -> Dataset:
    """Read the user's file or MIDI folder into a :class:`Dataset` (nothing is saved).

    Options: ``discipline``, ``task``, ``metric``, ``seed`` (42), ``fractions`` ((0.8, 0.1, 0.1)),
    ``fmt`` (``fasta`` / ``table`` (csv, tsv) / ``midi`` / ``zip``; else from the file), ``sequence_column``,
    ``label_column``, ``split_column``, ``sep`` (table delimiter), ``labels`` (side CSV for FASTA),
    ``fasta_label`` (``auto`` / ``key`` / ``last`` / ``pipe``), ``merge_labels`` (True: labels that differ
    only in case or surrounding spaces are one class, with a warning; False: refused), ``workers`` (MIDI
    parsing), ``source`` (what the dataset says it came from; default the path). Raises :class:`DataError`
    naming the file and line or record for anything wrong with the data; ``Dataset.warnings`` holds what
    looks wrong but was let through.
    """
    unknown = set(options) - _OPTIONS
    if unknown:
        raise ConfigError(f"unknown option(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(_OPTIONS))}")
    path = Path(path)
    if not path.exists():
        raise DataError("not found", path=path, hint="check the path")
    fmt = options.pop("fmt", None) or _guess_format(path)
    fmt = {"csv": "table", "tsv": "table", "fa": "fasta"}.get(fmt, fmt)
    if fmt in ("midi", "zip"):
        discipline, task = options.pop("discipline", None), options.pop("task", None)
        if discipline not in (None, "music") or task not in (None, "classification"):
            raise ConfigError("a MIDI folder is a music classification dataset: leave the discipline and the "
                              "task unset (or music, classification)")
        _reject(options, ("seed", "fractions", "workers", "source"), "MIDI folder")
        if fmt == "zip":
            return _read_zip(path, name, progress, **options)
        return read_midi_folder(path, name=name, progress=progress, **options)
    reader = {k: options.pop(k) for k in _READER_OPTIONS if k in options}
    options.pop("workers", None)
    if fmt == "fasta":
        _reject(reader, ("labels", "fasta_label", "label_column"), "FASTA")
        rows, notes = _read_fasta(path, **reader)
    elif fmt == "table":
        _reject(reader, ("sequence_column", "label_column", "split_column", "sep"), "CSV/TSV")
        rows, notes = _read_table(path, **reader)
    else:
        raise ConfigError(f"unknown format {fmt!r}; use fasta, table, midi or zip")
    return _build(rows, path, name, notes=notes, progress=progress, **options)


def _reject(options: dict, allowed: Sequence[str], what: str) -> None:
    bad = sorted(set(options) - set(allowed))
    if bad:
        raise ConfigError(f"the {', '.join(b.replace('_', ' ') for b in bad)} option(s) do not apply to a "
                          f"{what}; leave them unset")


def upload_kind(file_name: str) -> str | None:
    """``fasta``, ``table`` or ``zip`` from a file name's suffix (None: none of them), for a caller that shows
    the options of that kind of file before reading it."""
    suffix = Path(file_name).suffix.lower()
    return ("fasta" if suffix in FASTA_SUFFIXES else "table" if suffix in TABLE_SUFFIXES
            else "zip" if suffix == ".zip" else None)


def _guess_format(path: Path) -> str:
    if path.is_dir():
        return "midi"
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return "zip"
    if suffix in MIDI_SUFFIXES:
        raise DataError("one MIDI file is not a dataset", path=path,
                        hint="give a folder with one sub-folder per class, each holding .mid/.midi files")
    if suffix in FASTA_SUFFIXES:
        return "fasta"
    if suffix in TABLE_SUFFIXES:
        return "table"
    text = read_text(path, "data file")  # also rejects binary junk and non-UTF-8 before we guess
    return "fasta" if text.lstrip().startswith(">") else "table"


def _zip_member_path(root: Path, name: str) -> Path | None:
    """Where a zip member goes under ``root``: its name's parts without drive, ``..`` or ``.``; None if empty."""
    parts = [q for q in name.replace("\\", "/").split("/") if q not in ("", ".", "..") and not q.endswith(":")]
    return root.joinpath(*parts) if parts else None


def _read_zip(path: Path, name: str, progress: Progress = None, source: str | None = None, **options) -> Dataset:
    """A zip of a MIDI folder (one sub-folder per class), unpacked into a temporary folder and read there.

    Only MIDI files are unpacked; other files become empty stand-ins so that messages can name them. A zip
    that holds the folder itself (``midi/<class>/...``) is read from that folder.
    """
    import zipfile

    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"cannot be read as a zip file ({err})", path=path,
                        hint="give a .zip of a folder of MIDI files with one sub-folder per class") from None
    with zf, tempfile.TemporaryDirectory(prefix="disc-zip-") as tmp:
        base = Path(tmp)
        members = [i for i in zf.infolist() if not i.is_dir()]
        midi = [i for i in members if Path(i.filename).suffix.lower() in MIDI_SUFFIXES]
        size = sum(i.file_size for i in midi)
        if size > MAX_ZIP_BYTES:
            raise DataError(f"its MIDI files would unpack to {size / 1e9:.1f} GB (the limit is "
                            f"{MAX_ZIP_BYTES / 1e9:.0f} GB)", path=path, hint="import the unpacked folder instead")
        real_midi = [i for i in midi if not Path(i.filename).name.startswith("._")]
        if not real_midi:
            raise DataError(f"the zip holds no .mid/.midi file ({len(members)} other files)", path=path,
                            hint="zip a folder with one sub-folder per class, each holding that class's MIDI files")
        is_midi = {id(i) for i in midi}
        for info in members:
            target = _zip_member_path(base, info.filename)
            if target is None:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                data = zf.read(info) if id(info) in is_midi else b""
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError):
                data = b""  # a damaged member stays, empty: the folder reader names it as unreadable
            target.write_bytes(data)
        root, skipped = base, []
        while True:  # a zip of the folder itself: read from inside it
            entries = list(root.iterdir())
            meta = [e for e in entries if e.name in METADATA_FOLDERS or e.name.startswith(".")]
            visible = [e for e in entries if e not in meta]
            if len(visible) == 1 and visible[0].is_dir() and any(q.is_dir() for q in visible[0].iterdir()):
                skipped += [e.name for e in meta]
                root = visible[0]
            else:
                break
        try:
            ds = read_midi_folder(root, name=name, progress=progress, source=source or str(path), **options)
        except DataError as err:  # name the zip, not the temporary folder
            raise DataError(err.message.replace(str(root), source or str(path)), path=path, line=err.line,
                            record=err.record, hint=err.hint) from None
    if skipped:
        ds.warnings.insert(0, f"ignored metadata that is not music (left by macOS or an editor): {', '.join(skipped)}")
    ds.notes.insert(0, f"read from the zip file {Path(source or path).name}: {len(real_midi)} MIDI files"
                       + (f" under {root.relative_to(base).as_posix()}/" if root != base else ""))
    return ds


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
                                record=rec.id, hint=f"add a row `{rec.id},<label>` to {Path(labels).name}")
            label, split, side_line = side[rec.id]
            rule, label_at = None, (Path(labels), side_line)
        else:
            label, split, rule = _header_label(rec.description, fasta_label, path, line, rec.id)
            label_at = None
        rows.append(_Row(seq, label, split, line, rec.id, rule, label_at))
    if side is not None:
        extra = len(set(side) - {r.record for r in rows})
        if extra:
            notes.append(f"{extra} ids of {Path(labels).name} have no FASTA record and were ignored")
    return rows, notes


def _header_label(description: str, rule: str, path, line, rid) -> tuple[str, str | None, str]:
    """(label, split, the rule that gave the label) from one FASTA header."""
    words = description.split()
    split = next((w[6:] for w in words if w.startswith("split=")), None)
    words = [w for w in words if not w.startswith("split=")]
    keyed = next((w[6:] for w in words if w.startswith("label=")), None)
    if rule in ("auto", "key") and keyed is not None:
        return keyed, split, "key"
    if rule in ("auto", "last") and len(words) >= 2:
        return words[-1], split, "last"
    if rule in ("auto", "pipe") and len(words) == 1 and "|" in words[0]:
        return words[0].rsplit("|", 1)[1], split, "pipe"
    raise DataError(f"no label in the header of record {rid}" + ("" if rule == "auto" else f" (rule {rule!r})"),
                    path=path, line=line, record=rid,
                    hint="write the label into each header (`>id label=X`, `>id X` or `>id|X`) or give the "
                         "labels in a separate CSV of id,label")


def _read_side_labels(path: Path, label_column: str | None) -> dict[str, tuple[str, str | None, int]]:
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
        out[rid] = (row[lab_col], row[split_col] if split_col is not None else None, line)
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
                    hint=f"rename the column, or choose the {kind} column among those found")


def read_table_header(path: str | Path, sep: str | None = None) -> list[str]:
    """The column names of a CSV/TSV (its first non-empty row), for a caller that lets the user pick columns."""
    header, _ = _csv_rows(Path(path), sep, "table")
    return header


def guess_columns(header: Sequence[str]) -> dict[str, str | None]:
    """The columns a table would be read with when none is chosen: ``sequence``, ``label`` and ``split``
    (None where no column has a known name)."""
    lower = [h.lower() for h in header]

    def first(cands):
        return next((header[lower.index(c)] for c in cands if c in lower), None)

    return {"sequence": first(SEQUENCE_COLUMNS), "label": first(LABEL_COLUMNS), "split": first(("split",))}


# --------------------------------------------------------------------------------------------
# Rows -> Dataset
# --------------------------------------------------------------------------------------------

@dataclass
class DisciplineGuess:
    """What :func:`explain_discipline` found: the discipline (None: none fits), why, and a warning when some
    sequences disagree with the guess."""

    discipline: str | None
    why: str
    warning: str | None = None


def explain_discipline(sequences: Sequence[str], lines: Sequence[int | None] | None = None) -> DisciplineGuess:
    """Guess the discipline of raw sequences, and say how many sequences disagree with the guess.

    - numbers 0..127 separated by whitespace in every sequence: ``music`` (MIDI pitches);
    - only nucleotide letters (``ACGTN``; RNA's ``U``): ``dna``;
    - nucleotides with IUPAC ambiguity codes (``R Y S W K M B D H V``) that make up at most a tenth of the
      letters: ``dna`` (a peptide of such letters has far more of them: ``protein``);
    - amino-acid letters: ``protein``, with a warning when most sequences read as plain DNA and a few odd
      letters decided it;
    - anything else: None.

    ``lines`` (one per sequence) let the warning point at the first disagreeing sequence.
    """
    seqs = ["".join(s.split()).upper() for s in sequences]
    n = len(seqs)
    if sequences and all(_is_pitch_list(s) for s in sequences):
        return DisciplineGuess("music", "every sequence is MIDI pitch numbers 0..127")
    letters = set().union(*map(set, seqs)) if seqs else set()

    def where(i: int) -> str:
        return f"line {lines[i]}" if lines is not None and i < len(lines) and lines[i] else f"sequence {i + 1}"

    if letters <= NUCLEOTIDES:
        if "U" not in letters:
            return DisciplineGuess("dna", "only the letters A C G T (N)")
        n_u = sum("U" in s for s in seqs)
        n_t = sum("T" in s for s in seqs)
        warn = None
        if n_t:
            warn = (f"both T and U occur ({n_t} sequences with T, {n_u} with U): RNA and DNA mixed, or a typo; "
                    f"U and T are kept as two different symbols")
        return DisciplineGuess("dna", "nucleotide letters with U: RNA, read as nucleotides (discipline dna; U is "
                                      "kept as its own symbol)", warn)
    if letters <= IUPAC_DNA | NUCLEOTIDES:
        total = sum(len(s) for s in seqs)
        odd = sum(1 for s in seqs for c in s if c not in NUCLEOTIDES)
        n_odd = [i for i, s in enumerate(seqs) if set(s) - NUCLEOTIDES]
        codes = " ".join(sorted(letters - NUCLEOTIDES))
        if odd <= 0.1 * total:
            return DisciplineGuess(
                "dna", f"nucleotides with a few IUPAC ambiguity codes ({codes})",
                f"discipline guessed: dna, but {len(n_odd)} of {n} sequences hold IUPAC ambiguity codes ({codes}; "
                f"first at {where(n_odd[0])}); they are kept as symbols of their own -- if these are proteins, "
                f"set the discipline to protein")
    if letters <= PROTEIN_LETTERS:
        plain = [i for i, s in enumerate(seqs) if set(s) <= NUCLEOTIDES]
        other = [i for i, s in enumerate(seqs) if not set(s) <= NUCLEOTIDES]
        warn = None
        if len(plain) >= len(other):
            extra = " ".join(sorted(set().union(*(set(seqs[i]) for i in other)) - NUCLEOTIDES))
            warn = (f"discipline guessed: protein, decided by {len(other)} of {n} sequences holding letters "
                    f"that are not nucleotides ({extra}; first at {where(other[0])}); the other {len(plain)} read "
                    f"as DNA -- if this is DNA, fix those sequences or set the discipline to dna")
        return DisciplineGuess("protein", "amino-acid letters", warn)
    return DisciplineGuess(None, "letters that fit no discipline")


def guess_discipline(sequences: Sequence[str]) -> str | None:
    """``dna``, ``protein``, ``music`` or None when the sequences fit none of them (see
    :func:`explain_discipline`, which also says why)."""
    return explain_discipline(sequences).discipline


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


def _merge_case(rows: list[_Row], raw: list[str], merge: bool, path) -> str | None:
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
    groups = []
    for k, c in clashes.items():
        groups.append(" + ".join(f"{sp!r} ({m})" for sp, m in c.most_common()))
    listed = "; ".join(groups[:5]) + (" ..." if len(groups) > 5 else "")
    if not merge:
        k, c = next(iter(clashes.items()))
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


def _label_warnings(rows: list[_Row], label_names: list[str]) -> list[str]:
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


def _build(rows: list[_Row], path: Path, name: str, notes: list[str], discipline: str | None = None,
           task: str | None = None, metric: str | None = None, seed: int = 42,
           fractions: Sequence[float] = (0.8, 0.1, 0.1), merge_labels: bool = True, source: str | None = None,
           progress: Progress = None) -> Dataset:
    notes, warns = list(notes), []
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
            raise DataError(_first_bad_letter(bad.seq) + "; it is not DNA (ACGTN), protein (amino-acid letters) "
                            "or music (MIDI pitch numbers)", path=path, line=bad.line, record=bad.record,
                            hint="fix that sequence, or set the discipline to text for sentences")
        notes.append(f"discipline guessed from the sequences: {discipline} ({guess.why}); set the discipline "
                     f"to override")
        if guess.warning:
            warns.append(guess.warning)
    elif discipline not in DISCIPLINES:
        raise ConfigError(f"discipline must be one of {', '.join(DISCIPLINES)}, not {discipline!r}")
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
        merged = _merge_case(rows, raw_labels, merge_labels, path)
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
    elif task == "regression":
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
    else:
        raise ConfigError(f"task must be classification or regression, not {task!r}")
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
        splits = stratified_split(labels if task == "classification" else [0] * len(rows), fractions, seed)
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
    ds = make_dataset(name, discipline, task, metric or ("accuracy" if task == "classification" else "spearman"),
                      records, source=source or str(path), label_names=label_names, path=path, notes=notes)
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
        allowed = IUPAC_DNA | NUCLEOTIDES if discipline == "dna" else PROTEIN_LETTERS
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
                            hint="pick another name, overwrite it, or remove it first")
    return name


def import_user_dataset(path: str | Path, name: str, overwrite: bool = False, progress: Progress = None,
                        **options) -> Dataset:
    """Read the user's data (:func:`read_user_data` options), save it as JSON and register it as
    ``name`` so that ``load_dataset(name)`` works from then on, in this and later processes.

    The file is written to a temporary file and renamed into place, so a failure leaves nothing behind
    (and an overwritten dataset intact). The returned dataset's ``warnings`` say what looks wrong; they are
    saved with it. Finished runs of an earlier dataset of the same name are not reused for this one (its
    :meth:`~disc_core.data.base.Dataset.fingerprint` differs when its content or split does).
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
            "notes": ds.notes, "warnings": ds.warnings, "fingerprint": ds.fingerprint(),
            "imported": time.strftime("%Y-%m-%d %H:%M:%S"),
            "summary": {"sizes": ds.sizes(), "num_labels": ds.num_labels}}


def saved_user_dataset_meta(name: str) -> dict:
    """What a saved user dataset's first line says (name, discipline, task, sizes, source, notes, warnings,
    fingerprint, when it was imported) without reading its records."""
    path = user_datasets_dir() / f"{name}.json"
    if not _NAME_RE.match(name) or not path.is_file():
        raise DataError(f"there is no user dataset named {name!r}",
                        hint=f"yours: {', '.join(list_user_datasets()) or 'none'}")
    return _read_meta(path)


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
                        voting=meta["voting"], notes=list(meta["notes"]), warnings=list(meta.get("warnings", [])))


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
