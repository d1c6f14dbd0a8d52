"""The reproduction's numbers as a small JSON file beside the report (no curves, no paths), and back.

:func:`export_results` writes every finished cell's numbers and the training-loss comparison;
:func:`load_results` reads them back into the report's tables, so the dashboard's Reproduction page shows the
published report without the run folders.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from ...fileio import atomic_write_text
from .verdicts import tables_from_results

__all__ = ["RESULTS_FORMAT", "export_results", "published_info", "training_loss_table", "load_results",
           "LOSS_GAP_TITLE", "LOSS_GAP_NOTE"]


#: the keys of a results.json kept in the exported results file (no curves, no paths)
_EXPORT_KEYS = ("dataset", "variant", "label", "seed", "metric", "score", "test", "steps", "best_step",
                "best_validation", "stopped_early", "examples_seen", "tokens_seen", "train_time_s", "tokens_per_s",
                "device", "precision", "pretrain_step")
RESULTS_FORMAT = "disc_core.reproduction-results/1"


def export_results(tables: dict, path: str | Path, profile: str, model: str,
                   training_loss: pd.DataFrame | None = None, best_lr: dict | None = None) -> Path:
    """Write every finished cell's numbers (not its curves) to a small JSON file: the published report's
    data, which the dashboard's Reproduction page shows when the run folders are not on this machine.
    ``training_loss`` (:func:`~disc_core.study.evidence.loss_gap_table`, computed from the curves) goes
    with it, so the page can show Figure 2's verdicts without them. ``best_lr``
    (:func:`~.round2.best_lr_export`): the best-lr study's cells, each with its ``learning_rate``, go under
    ``studies["best-lr"]`` and its two tables under ``best_lr``."""
    data = {"format": RESULTS_FORMAT, "profile": profile, "model": model,
            "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "studies": {study: [{k: r[k] for k in _EXPORT_KEYS if k in r} for r in t["results"]]
                        for study, t in tables.items()},
            "checkpoints": [{k: c.get(k) for k in ("step", "mlm_loss")}
                            for c in tables.get("pretrain-steps", {}).get("checkpoints", [])],
            "training_loss": [] if training_loss is None else training_loss.to_dict("records")}
    if best_lr:
        data["studies"]["best-lr"] = [{k: r[k] for k in (*_EXPORT_KEYS, "learning_rate", "grid_cell") if k in r}
                                      for r in best_lr["cells"]]
        data["best_lr"] = {"grid": best_lr["grid"], "protocols": best_lr["protocols"]}
    return atomic_write_text(path, json.dumps(data, indent=1, default=float), mode=0o644)


def published_info(path: str | Path) -> dict:
    """profile, model and date of a results file (empty when unreadable)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return {k: data.get(k) for k in ("profile", "model", "generated")}
    except (OSError, ValueError):
        return {}


def training_loss_table(source: str | Path) -> pd.DataFrame:
    """The training-loss comparison (the paper's Figure 2) of a run folder root (computed from its curves)
    or of a results file written by :func:`export_results` (as published); empty when there is none."""
    from .. import evidence

    source = Path(source)
    if source.is_dir():
        return evidence.loss_gap_table(source)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return pd.DataFrame()
    rows = data.get("training_loss") if isinstance(data, dict) else None
    return pd.DataFrame(rows if isinstance(rows, list) else [])


#: the training-loss section's title and how it measures "pretrained learns faster" (report and page)
LOSS_GAP_TITLE = "Training loss: does pretrained learn faster? (the paper's Figure 2)"
LOSS_GAP_NOTE = ("For each task and seed, the mean training loss over the whole run (the area under the training-"
                 "loss curve divided by its length; every logged step counts) of the pretrained side and of the "
                 "rand side of each pair. The paper's claim holds for a task when the pretrained side's is lower on "
                 "every seed. *tenths of the run where pretrained is lower*: each paired run cut into ten equal "
                 "parts of its steps, the two sides' mean loss compared part by part (mean over seeds); it says "
                 "where along the run the verdict comes from (a curve can start higher and end lower), and does "
                 "not change it.")


def load_results(path: str | Path) -> dict[str, dict]:
    """The tables of a file written by :func:`export_results`; :class:`DataError` names what is wrong."""
    from ...errors import DataError

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"cannot read the reproduction results: {err}", path=path,
                        hint="regenerate it with `python -m disc_core reproduce --report-only ...`") from err
    if not isinstance(data, dict) or data.get("format") != RESULTS_FORMAT:
        raise DataError(f"not a reproduction results file (expected format {RESULTS_FORMAT!r})", path=path,
                        hint="point at the REPRODUCTION.json written beside a report, or at a run folder root")
    studies = data.get("studies") or {}
    return tables_from_results({k: v for k, v in studies.items() if k not in ("pretrain-steps", "best-lr")},
                               studies.get("pretrain-steps", []), data.get("checkpoints", []))
