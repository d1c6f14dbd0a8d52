"""FASTA files: where each record's label comes from (its header, or a side CSV of id,label).

``fasta_label="auto"``: a ``label=X`` token if there is one; otherwise the last whitespace-separated word
when the header has two or more (``>P12345 Nucleus``); otherwise the text after the last ``|`` of a one-word
header (``>seq7|kinase``); ``key`` / ``last`` / ``pipe`` picks one rule. Or ``labels=<csv>``: a side CSV
with an ``id`` column (the first header word) and a label column. A ``split=X`` header token (or a ``split``
column of the side CSV) sets the split. An id that occurs twice is said in the warnings.
"""

from __future__ import annotations

import io
from pathlib import Path

from ...errors import DataError
from ..checks import duplicate_ids
from ..io import read_text
from .build import Row
from .table import LABEL_COLUMN_ADVICE, LABEL_COLUMNS, csv_rows, pick_column

__all__ = ["FASTA_SUFFIXES", "read_fasta"]

FASTA_SUFFIXES = (".fa", ".fasta", ".faa", ".fna", ".fas", ".ffn")


def read_fasta(path: str | Path, labels: str | Path | None = None, fasta_label: str = "auto",
               label_column: str | None = None) -> tuple[list[Row], list[str], list[str]]:
    """FASTA records as rows, the notes and the warnings (see the module docstring for the labels)."""
    from Bio import SeqIO

    path = Path(path)
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
        rows.append(Row(seq, label, split, line, rec.id, rule, label_at))
    if side is not None:
        extra = len(set(side) - {r.record for r in rows})
        if extra:
            notes.append(f"{extra} ids of {Path(labels).name} have no FASTA record and were ignored")
    warnings = duplicate_ids([r.record for r in rows], [r.line for r in rows], "FASTA")
    return rows, notes, warnings


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
    """id -> (label, split or None, line) from a labels CSV; an id twice is an error (which label?)."""
    header, body = csv_rows(path, None, "labels CSV")
    lower = [h.lower() for h in header]
    id_col = lower.index("id") if "id" in lower else 0
    if len(header) == 1:
        raise DataError(f"the labels CSV has a single column ({header[0]!r}); it needs two, the FASTA ids and "
                        f"their labels (columns found: {header[0]})", path=path, line=1,
                        hint=f"Add a column with each id's label. {LABEL_COLUMN_ADVICE}")
    lab_col = pick_column(header, label_column, LABEL_COLUMNS, "label", path)
    if lab_col == id_col:
        raise DataError(f"the label column would be the id column ({header[id_col]!r}); a label column is missing "
                        f"(columns found: {', '.join(header)})", path=path, line=1,
                        hint=f"{LABEL_COLUMN_ADVICE}: a column other than the ids")
    split_col = lower.index("split") if "split" in lower else None
    out: dict[str, tuple[str, str | None, int]] = {}
    for line, row in body:
        rid = row[id_col].strip()
        if rid in out:
            raise DataError(f"id {rid} appears twice", path=path, line=line, hint="keep one row per id")
        out[rid] = (row[lab_col], row[split_col] if split_col is not None else None, line)
    return out
