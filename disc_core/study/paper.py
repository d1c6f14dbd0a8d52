"""What Kao & Lee (2021) report, for side-by-side comparison.

``PAPER_TASKS`` maps our dataset names to the paper's task names, its metric and its table. The
paper's exact numbers live in ``assets/paper_results.json`` (beside the project, editable data, not
code): a cell is ``null`` where the number has not been transcribed and checked against the paper's
PDF; tables then show "n/a" rather than an invented number. ``PAPER_ORDERINGS`` states the paper's
qualitative findings, which the reproduction report tests.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

__all__ = ["PAPER_TASKS", "PAPER_ORDERINGS", "paper_row", "paper_results", "CITATION"]

CITATION = ("Wei-Tsung Kao and Hung-yi Lee. 2021. Is BERT a Cross-Disciplinary Knowledge Learner? A Surprising "
            "Finding of Pre-trained Models' Transferability. Findings of EMNLP 2021, pages 2195-2208. "
            "arXiv:2103.07162")

#: our dataset name -> (the paper's task name, the paper's table)
PAPER_TASKS = {
    "splice": ("DNA Splice", "Table 2"),
    "h3": ("DNA H3", "Table 2"),
    "h4": ("DNA H4", "Table 2"),
    "h3k9ac": ("DNA H3K9ac", "Table 2"),
    "deeploc": ("Protein Localization", "Table 2"),
    "stability": ("Protein Stability", "Table 2"),
    "fluorescence": ("Protein Fluorescence", "Table 2"),
    "maestro": ("Music Composer (MAESTRO)", "Table 2"),
    "mnli": ("MNLI", "Table 1"), "qqp": ("QQP", "Table 1"), "qnli": ("QNLI", "Table 1"),
    "sst2": ("SST-2", "Table 1"), "cola": ("CoLA", "Table 1"), "stsb": ("STS-B", "Table 1"),
    "mrpc": ("MRPC", "Table 1"), "rte": ("RTE", "Table 1"),
}

#: The paper's qualitative findings: (better, worse) pairs of variant labels on every task.
PAPER_ORDERINGS = {
    "non-text": [("pretrained", "re-emb"), ("re-emb", "rand"), ("pretrained", "unused")],
    "text": [("pretrained+shift", "rand+shift"), ("pretrained+random-shift", "rand+random-shift"),
             ("pretrained", "re-emb")],
}

_RESULTS_FILE = Path(__file__).resolve().parents[2] / "assets" / "paper_results.json"


@lru_cache(maxsize=1)
def paper_results() -> dict:
    """``{dataset: {variant label: number or None}}`` from ``assets/paper_results.json``."""
    if not _RESULTS_FILE.exists():
        return {}
    data = json.loads(_RESULTS_FILE.read_text(encoding="utf-8"))
    return data.get("results", {})


def paper_row(dataset: str) -> dict:
    """The paper's numbers for ``dataset`` by variant label (``None`` = not transcribed)."""
    return dict(paper_results().get(dataset, {}))
