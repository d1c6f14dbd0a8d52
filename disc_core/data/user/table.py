"""CSV / TSV files with a header row: which column is the sequence, the label and the split, and the rows.

The sequence column is ``sequence_column`` or the first of :data:`SEQUENCE_COLUMNS`; the label column is
``label_column`` or the first of :data:`LABEL_COLUMNS`; the split column ``split_column`` or ``split``
(optional). A table without a label column, with only one column, or whose sequence and label would be the
same column is refused, naming the file, the columns found and how to name the label column.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

from ...errors import DataError
from ..io import read_text
from .build import Row

__all__ = ["SEQUENCE_COLUMNS", "LABEL_COLUMNS", "TABLE_SUFFIXES", "LABEL_COLUMN_ADVICE", "read_table",
           "read_table_header", "guess_columns", "pick_columns", "csv_rows", "pick_column"]

SEQUENCE_COLUMNS = ("sequence", "seq", "primary", "text", "sentence")
LABEL_COLUMNS = ("label", "class", "target", "y")
TABLE_SUFFIXES = (".csv", ".tsv", ".tab")
#: How to say which column holds the labels, on the command line and on the dashboard.
LABEL_COLUMN_ADVICE = ("Name the label column with --label-column NAME (on the Datasets page: the 'Label column' "
                       "box), or call it label, class, target or y")


def read_table(path: str | Path, sequence_column: str | None = None, label_column: str | None = None,
               split_column: str | None = None, sep: str | None = None) -> tuple[list[Row], list[str]]:
    """Rows of a CSV/TSV with a header: sequence, label and optional split column; and the notes."""
    path = Path(path)
    header, body = csv_rows(path, sep, "table")
    cols = pick_columns(header, sequence_column, label_column, split_column, path)
    seq_col, lab_col = header.index(cols["sequence"]), header.index(cols["label"])
    split_col = header.index(cols["split"]) if cols["split"] is not None else None
    rows = [Row(row[seq_col], row[lab_col], row[split_col] if split_col is not None else None, line)
            for line, row in body]
    notes = [f"columns used: sequence {header[seq_col]!r}, label {header[lab_col]!r}"
             + (f", split {header[split_col]!r}" if split_col is not None else "")]
    return rows, notes


def pick_columns(header: Sequence[str], sequence_column: str | None = None, label_column: str | None = None,
                 split_column: str | None = None, path: str | Path | None = None) -> dict[str, str | None]:
    """The columns a table is read with: ``sequence``, ``label`` and ``split`` (None: no split column), by
    the names given or the known names. :class:`DataError` naming ``path``, the columns found and what to do
    when there is no label column, only one column, or the label would be the sequence."""
    header = list(header)
    found = ", ".join(header)
    if len(header) == 1:
        raise DataError(f"the table has a single column ({header[0]!r}); it needs two, the sequences and "
                        f"their labels (columns found: {found})", path=path, line=1,
                        hint=f"Add the missing column (one label per row). {LABEL_COLUMN_ADVICE}")
    seq = header[pick_column(header, sequence_column, SEQUENCE_COLUMNS, "sequence", path)]
    lab = header[pick_column(header, label_column, LABEL_COLUMNS, "label", path)]
    if seq == lab:
        raise DataError(f"the sequence and the label would be the same column ({seq!r}); a label column is "
                        f"missing (columns found: {found})", path=path, line=1,
                        hint=f"{LABEL_COLUMN_ADVICE}: a column other than the sequences")
    if split_column is not None:
        split = header[pick_column(header, split_column, (), "split", path)]
    else:
        lower = [h.lower() for h in header]
        split = header[lower.index("split")] if "split" in lower else None
    if split in (seq, lab):
        raise DataError(f"the split column {split!r} is also the {'sequence' if split == seq else 'label'} column",
                        path=path, line=1, hint="choose a split column of its own (or none)")
    return {"sequence": seq, "label": lab, "split": split}


def csv_rows(path: Path, sep: str | None, what: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line, fields)]) of a CSV/TSV; the delimiter is ``sep`` or a tab for .tsv/.tab files and
    header lines with tabs but no commas, else a comma."""
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


def pick_column(header: list[str], given: str | None, candidates: Sequence[str], kind: str, path) -> int:
    """Index of the column named ``given`` (any case), else of the first of ``candidates``; else DataError."""
    lower = [h.lower() for h in header]
    wanted = [given.lower()] if given else list(candidates)
    for c in wanted:
        if c in lower:
            return lower.index(c)
    looked = f"{given!r}" if given else "one of " + ", ".join(candidates)
    hint = (LABEL_COLUMN_ADVICE if kind == "label" and not given
            else f"rename the column, or choose the {kind} column among those found")
    raise DataError(f"no {kind} column ({looked}); columns found: {', '.join(header)}", path=path, line=1, hint=hint)


def read_table_header(path: str | Path, sep: str | None = None) -> list[str]:
    """The column names of a CSV/TSV (its first non-empty row), for a caller that lets the user pick columns."""
    header, _ = csv_rows(Path(path), sep, "table")
    return header


def guess_columns(header: Sequence[str]) -> dict[str, str | None]:
    """The columns a table would be read with when none is chosen: ``sequence``, ``label`` and ``split``
    (None where no column has a known name; then :func:`pick_columns` says what is missing)."""
    lower = [h.lower() for h in header]

    def first(cands):
        return next((header[lower.index(c)] for c in cands if c in lower), None)

    return {"sequence": first(SEQUENCE_COLUMNS), "label": first(LABEL_COLUMNS), "split": first(("split",))}
