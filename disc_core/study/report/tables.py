"""The report's tables of a reproduction: from its run folders, or from the results file beside a report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .cells import load_cells, pretrain_step_results
from .export import load_results
from .verdicts import tables_from_results

__all__ = ["study_tables", "STUDY_ORDER"]

#: the studies whose cells lie directly under a plan's root, in the report's order
STUDY_ORDER = ("non-text", "text", "text-1pct", "signal")


def study_tables(root: str | Path) -> dict[str, dict[str, pd.DataFrame]]:
    """``{study: {"summary": DataFrame, "orderings": DataFrame, "results": [...]}}`` of the finished cells
    under ``root``; ``root`` may also be a results file written by :func:`~.export.export_results` (the
    published report's numbers, for a dashboard without the run folders). A cell that cannot be read is
    left out (:func:`~.cells.unreadable_cells` names it)."""
    root = Path(root)
    if root.is_file():
        return load_results(root)
    by_study = {study: load_cells(root / study) for study in STUDY_ORDER}
    res, ckpts = pretrain_step_results(root)
    return tables_from_results(by_study, res, ckpts)
