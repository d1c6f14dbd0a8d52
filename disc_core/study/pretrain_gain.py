"""Figure 3's finding as numbers: how much of the gain from pre-training the first ~2% of its steps give.

The paper fine-tunes checkpoints taken along pre-training (0, 20k, 200k, 500k, 1M steps, and Google's
BERT) and finds that "the first 20K pre-training steps (2% of the total steps) contribute to most of the
performance gain". :func:`pretrain_points` reads the ``pretrain-steps`` study's cells (one per checkpoint,
dataset and fine-tuning seed, plus the plan's own model, the "google" point); :func:`gain_share` states the
finding for one dataset: the share of the step-0 -> last-step gain reached at the checkpoint nearest 2% of
the steps, per fine-tuning seed (each seed fine-tunes every checkpoint, so the seeds pair), with a 95% t
interval over the seeds.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["pretrain_points", "gain_share", "share_verdict", "gain_table", "GOOGLE"]

#: the step value that stands for the plan's own pre-trained model (the paper's "google" point)
GOOGLE = "google"


def pretrain_points(root: str | Path) -> pd.DataFrame:
    """One row per finished fine-tuning cell of the ``pretrain-steps`` study: ``dataset``, ``label``, ``step``
    (an int, or :data:`GOOGLE`), ``seed``, ``metric``, ``score`` (the paper's metric)."""
    from .compare import headline

    base = Path(root) / "pretrain-steps" / "runs"
    rows = []
    for res in sorted(base.glob("*/*/*/seed*/results.json")):
        folder = res.parents[3].name
        step = GOOGLE if folder == GOOGLE else (int(folder.split("_", 1)[1]) if folder.startswith("step_") else None)
        if step is None:
            continue
        try:
            r = json.loads(res.read_text(encoding="utf-8"))
            metric, score = headline(r)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not isinstance(score, (int, float)) or math.isnan(score):
            continue
        rows.append({"dataset": r["dataset"], "label": r["label"], "step": step, "seed": r["seed"],
                     "metric": metric, "score": float(score)})
    return pd.DataFrame(rows, columns=["dataset", "label", "step", "seed", "metric", "score"])


def gain_share(points: pd.DataFrame, dataset: str, at: float = 0.02) -> dict | None:
    """The share of the gain from step 0 to the last checkpoint that the checkpoint nearest ``at`` of the steps
    reaches, on ``dataset``: per seed ``(s_at - s_0) / (s_last - s_0)``, their mean and a 95% t interval over
    the seeds (``scipy.stats.ttest_1samp``). None when fewer than two seeds have all three checkpoints."""
    from scipy import stats

    p = points[(points["dataset"] == dataset) & (points["step"] != GOOGLE)]
    if p.empty:
        return None
    steps = sorted(int(s) for s in p["step"].unique())
    last = steps[-1]
    if last <= 0 or len(steps) < 3:
        return None
    mid = min(steps[1:-1], key=lambda s: abs(s / last - at))
    wide = p.pivot_table(index="seed", columns="step", values="score", aggfunc="mean")
    wide = wide[[0, mid, last]].dropna() if {0, mid, last} <= set(wide.columns) else wide.iloc[0:0]
    gain = wide[last] - wide[0]
    share = ((wide[mid] - wide[0]) / gain).replace([np.inf, -np.inf], np.nan).dropna()
    out = {"dataset": dataset, "step_at": mid, "fraction_at": mid / last, "last_step": last, "seeds": len(share),
           "gain_0_to_last": float(gain.mean()) if len(gain) else float("nan"),
           "gain_0_to_at": float((wide[mid] - wide[0]).mean()) if len(wide) else float("nan"),
           "share_per_seed": [float(x) for x in share],
           "share_of_means": float((wide[mid] - wide[0]).mean() / gain.mean()) if len(gain) and gain.mean() else
           float("nan")}
    if len(share) < 2:
        return {**out, "share": float(share.mean()) if len(share) else float("nan"), "ci95": (float("nan"),) * 2}
    ci = stats.ttest_1samp(share.to_numpy(), 0.0).confidence_interval(0.95)
    return {**out, "share": float(share.mean()), "ci95": (float(ci.low), float(ci.high))}


def share_verdict(g: dict) -> str:
    """Whether "most of the gain comes by the checkpoint" holds for one :func:`gain_share` result: 'no gain',
    'one seed' (no interval), or, from its 95% interval against 0.5, 'holds', 'does not hold' or 'cannot tell'."""
    lo, hi = g["ci95"]
    if not g["gain_0_to_last"] > 0:
        return "no gain"
    if math.isnan(lo):
        return "one seed"
    return "holds" if lo > 0.5 else "does not hold" if hi < 0.5 else "cannot tell"


def gain_table(points: pd.DataFrame, at: float = 0.02) -> pd.DataFrame:
    """:func:`gain_share` for every dataset, as a table for the report and the page."""
    rows = []
    for ds in dict.fromkeys(points["dataset"]):
        g = gain_share(points, ds, at)
        if g is None:
            continue
        lo, hi = g["ci95"]
        sign = g["gain_0_to_last"]
        rows.append({"dataset": ds, "checkpoint": f"step {g['step_at']:,} ({g['fraction_at']:.0%})",
                     "seeds": g["seeds"], "gain 0 -> last": f"{sign:+.3f}",
                     "gain 0 -> checkpoint": f"{g['gain_0_to_at']:+.3f}",
                     "share of the gain (mean over seeds)": f"{g['share']:.2f}",
                     "95% CI": "" if math.isnan(lo) else f"[{lo:.2f}, {hi:.2f}]",
                     "share of the mean gains": f"{g['share_of_means']:.2f}",
                     "most of the gain (> 0.5)?": {"holds": "yes", "does not hold": "no", "cannot tell": "cannot tell",
                                                   "no gain": "n/a (no gain to share)", "one seed": "n/a"}
                     [share_verdict(g)]})
    return pd.DataFrame(rows)
