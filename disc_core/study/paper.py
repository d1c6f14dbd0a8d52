"""What Kao & Lee (2021) report, for side-by-side comparison.

The paper's numbers live in ``assets/paper_results.json`` (editable data beside the project, not code):
every number of its result tables exactly as printed, checked number by number against the paper's text
by ``tests/test_paper.py``. Its shape::

    results[dataset][setting][split][label] = {"value": 97.5, "tables": ["Table 2"]}

- ``setting``: ``"full"`` (the whole training set) or ``"1pct"`` (text only: "shift 1000 1% data");
- ``split``: ``"test"`` (Table 2; for text the GLUE validation set the paper uses as its test set, Table 1)
  or ``"validation"`` (non-text only, the appendix's Table 2);
- ``label``: our variant labels (``pretrained``, ``rand+shift`` ...), ``specific`` (the discipline-specific
  model) and ``albert:<label>`` for the paper's ALBERT rows.

Values are in the paper's scale (percent, ``scale.factor`` = 100); our scores are 0-1, so tables show the
paper's number / 100 beside ours, with the number as printed in parentheses (:attr:`PaperCell.text`).
A cell the paper does not print is absent, and :func:`paper_cell` says "not reported" (the paper has only a
sentence about ``unused``); a dataset the paper does not use says "not in the paper". Nothing is invented.

``PAPER_ORDERINGS`` states the paper's qualitative findings, which the reproduction report tests.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

__all__ = ["paper_block", "PAPER_TASKS", "PAPER_ORDERINGS", "PAPER_SCALE", "CITATION", "PaperCell", "paper_data", "paper_results",
           "paper_row", "paper_cell", "paper_metric", "paper_splits", "paper_settings", "paper_validation_row",
           "paper_specific", "paper_setting", "paper_model", "paper_recipe", "paper_dataset_sizes", "NOT_IN_PAPER"]

_RESULTS_FILE = Path(__file__).resolve().parents[2] / "assets" / "paper_results.json"

#: what a table cell says for a dataset the paper does not use (built-in or user data)
NOT_IN_PAPER = "not in the paper"
#: the settings and splits every lookup defaults to: the paper's headline tables (Table 1, Table 2)
DEFAULT_SETTING, DEFAULT_SPLIT = "full", "test"


@lru_cache(maxsize=1)
def paper_data() -> dict:
    """The whole of ``assets/paper_results.json`` (empty when the file is missing)."""
    if not _RESULTS_FILE.exists():
        return {}
    return json.loads(_RESULTS_FILE.read_text(encoding="utf-8"))


def paper_results() -> dict:
    """``{dataset: {setting: {split: {label: cell}}}}``: the paper's printed numbers."""
    return paper_data().get("results", {})


#: the paper prints 100 x our 0-1 metrics (percent); 100 unless the JSON says otherwise
PAPER_SCALE = paper_data().get("scale", {}).get("factor", 100)

CITATION = paper_data().get("source", {}).get("citation", "Kao & Lee 2021, arXiv:2103.07162")


def _tasks() -> dict:
    return paper_data().get("tasks", {})


#: our dataset name -> (the paper's task, its tables): ("DNA Splice", "Table 2"), ("MNLI", "Appendix Table 1")
PAPER_TASKS = {ds: (t["title"], " & ".join(t["tables"]["test"])) for ds, t in _tasks().items()}

#: The paper's qualitative findings: (better, worse) pairs of variant labels on every task.
PAPER_ORDERINGS = {
    "non-text": [("pretrained", "re-emb"), ("re-emb", "rand"), ("pretrained", "unused")],
    # the paper's Table 1 sets re-emb (normal data) under BERT on shift 1000; pretrained on normal data is the
    # like-for-like comparison (the same text, only the word embeddings differ): both are tested
    "text": [("pretrained+shift", "rand+shift"), ("pretrained+random-shift", "rand+random-shift"),
             ("pretrained", "re-emb"), ("pretrained+shift", "re-emb")],
}


@dataclass(frozen=True)
class PaperCell:
    """One cell of the paper's tables, or why there is none.

    ``value`` is the number as printed (percent; ``95`` stays ``95``) or None; ``note`` then says why
    ("not reported: ..." or "not in the paper"). ``tables`` names every table printing it.
    """

    dataset: str
    label: str
    setting: str
    split: str
    value: float | int | None = None
    tables: tuple[str, ...] = ()
    metric: str | None = None
    note: str = ""
    model: str | None = None  # the discipline-specific model's name (``specific`` cells)

    @property
    def reported(self) -> bool:
        return self.value is not None

    @property
    def printed(self) -> str:
        """The number exactly as the paper prints it (``"95"``, ``"0.0"``), or the reason there is none."""
        return str(self.value) if self.reported else self.short_note

    @property
    def scaled(self) -> float | None:
        """The number on our 0-1 scale (printed / 100), decimal-exact: 95.6 -> 0.956, not 0.95599999."""
        return float(self._scaled_decimal) if self.reported else None

    @property
    def _scaled_decimal(self) -> Decimal:
        # a decimal shift of the printed digits (the scale is a power of ten), so 0.0 stays 0.000, 95 -> 0.95
        return Decimal(str(self.value)).scaleb(-round(math.log10(PAPER_SCALE)))

    @property
    def short_note(self) -> str:
        """``not reported`` / ``not in the paper`` / ``not comparable ...``: the note up to its colon."""
        return self.note.split(":")[0] if self.note else ""

    @property
    def text(self) -> str:
        """What a table shows: ``0.975 (97.5)`` (our scale, then as printed) or the short note."""
        if not self.reported:
            return self.short_note
        return f"{self._scaled_decimal} ({self.value})"

    @property
    def source(self) -> str:
        """Where it is printed: ``Table 2, test`` / ``Table 1 & Appendix Table 1, 1% data``."""
        if not self.tables:
            return ""
        where = {"1pct": "1% data"}.get(self.setting, "")
        if self.split == "validation":
            where = "validation"
        return " & ".join(self.tables) + (f", {where}" if where else "")


def paper_metric(dataset: str) -> str | None:
    """The paper's metric for ``dataset`` in our names (``accuracy``, ``f1``, ``mcc``, ``spearman``), or None."""
    return _tasks().get(dataset, {}).get("metric")


def paper_settings(dataset: str) -> list[str]:
    """The settings the paper reports for ``dataset``: ``["full", "1pct"]`` for text, ``["full"]`` otherwise."""
    return list(paper_results().get(dataset, {}))


def paper_splits(dataset: str, setting: str = DEFAULT_SETTING) -> list[str]:
    """The splits the paper reports: ``["test", "validation"]`` for non-text, ``["test"]`` for text."""
    return list(paper_results().get(dataset, {}).get(setting, {}))


def paper_row(dataset: str, setting: str = DEFAULT_SETTING, split: str = DEFAULT_SPLIT) -> dict:
    """The paper's numbers for ``dataset`` by label, as printed (``{"pretrained": 97.5, "rand": 95, ...}``).

    Default: the full-data setting and the test split (Table 2; for text Table 1, whose "test" is the GLUE
    validation set). Includes ``specific`` and ``albert:<label>`` rows; a printed '-' is None. Empty for a
    dataset, setting or split the paper does not report.
    """
    cells = paper_results().get(dataset, {}).get(setting, {}).get(split, {})
    return {label: c.get("value") for label, c in cells.items()}


def paper_validation_row(dataset: str) -> dict:
    """The appendix's Table 2 (validation numbers of the non-text tasks) for ``dataset``; empty for text."""
    return paper_row(dataset, split="validation")


def paper_cell(dataset: str, label: str, setting: str | None = DEFAULT_SETTING, split: str = DEFAULT_SPLIT,
               model: str = "bert") -> PaperCell:
    """The paper's cell for our run label, or a cell saying why there is none.

    ``model="albert"`` reads the paper's ALBERT rows. ``setting=None`` means our runs match none of the
    paper's settings (e.g. 10% of the data): "not reported".
    """
    metric = paper_metric(dataset)
    if dataset not in paper_results():
        return PaperCell(dataset, label, setting or "", split, metric=metric, note=NOT_IN_PAPER)
    key = f"{model}:{label}" if model != "bert" and label != "specific" else label
    cells = paper_results()[dataset].get(setting or "", {}).get(split, {})
    c = cells.get(key)
    if c is None:
        notes = paper_data().get("not_reported", {})
        why = notes.get(label, notes.get("default", "not reported"))
        if setting is None:
            why = "not reported: the paper's settings are the full training set and (text) 1% of it"
        return PaperCell(dataset, label, setting or "", split, metric=metric, note=why)
    return PaperCell(dataset, label, setting, split, value=c.get("value"), tables=tuple(c.get("tables", ())),
                     metric=metric, note="" if c.get("value") is not None else f"not reported: {c.get('note', '')}",
                     model=c.get("model"))


def paper_specific(dataset: str, split: str = DEFAULT_SPLIT) -> PaperCell:
    """The discipline-specific model's number (PLUS-TFM on protein, Hilbert-CNN on DNA; none for music)."""
    return paper_cell(dataset, "specific", split=split)


def paper_setting(train_fraction: float | None) -> str | None:
    """The paper's setting that a run with ``train_fraction`` compares with: 1.0 -> ``full``, 0.01 -> ``1pct``,
    anything else -> None (the paper has no number at that fraction)."""
    f = 1.0 if train_fraction is None else float(train_fraction)
    if abs(f - 1.0) < 1e-9:
        return "full"
    if abs(f - 0.01) < 1e-9:
        return "1pct"
    return None


def paper_model(model_name_or_path: str | None) -> str:
    """Which of the paper's model rows a run compares with: ``albert`` for an ALBERT model, else ``bert``
    (the paper's BERT rows are the reference for any BERT-architecture model, MiniLM included)."""
    return "albert" if "albert" in str(model_name_or_path or "").lower() else "bert"


def paper_recipe() -> dict:
    """The paper's fine-tuning recipe (Appendix A): optimizer, learning rate and its search, batch size ..."""
    return dict(paper_data().get("recipe", {}))


def paper_dataset_sizes() -> dict:
    """The paper's dataset sizes (Appendix Tables 3-6), keyed by our dataset names."""
    return {k: v for k, v in paper_data().get("dataset_sizes", {}).items() if not k.startswith("_")}


def paper_block(dataset: str, labels: list[str] | tuple[str, ...] = ()) -> dict[str, dict[str, str]]:
    """Every number the paper prints for ``dataset``, as printed: ``{column: {label: printed}}``.

    One column per setting and split (non-text: test, validation; text: full data, 1% data), named with the
    tables the numbers come from; one row per label the paper has, then each of ``labels`` (ours) it lacks
    (*not reported*). The Results page shows it beside a run group's table.
    """
    block = paper_results()[dataset]
    columns = [(setting, split) for setting, splits in block.items() for split in splits]
    rows = list(dict.fromkeys([lb for s, sp in columns for lb in block[s][sp]] + list(labels)))
    text = "1pct" in block  # text: settings (full data, 1%), one split; non-text: one setting, two splits
    names = {("full", "test"): "full data" if text else "test", ("full", "validation"): "validation",
             ("1pct", "test"): "1% data"}
    out = {}
    for setting, split in columns:
        cells = [paper_cell(dataset, lb, setting=setting, split=split) for lb in rows]
        tables = sorted({t for c in cells for t in c.tables}, key=len)
        out[f"{names.get((setting, split), setting)} ({' & '.join(tables)})"] = {
            lb: c.printed for lb, c in zip(rows, cells)}
    return out

