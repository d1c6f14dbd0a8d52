"""Comparisons: variants x seeds on one dataset, and the table beside the paper's numbers.

``comparison_configs`` expands a base config into one :class:`RunConfig` per cell;
``run_comparison`` runs them in this process one after another (the background runner runs the
same configs as separate processes), reusing finished cells so a comparison can run in pieces;
``summarize`` turns results into the table (mean +/- std over seeds, number of runs, the paper's
number) and ``paired_test`` says whether one variant beats another across seeds.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..engine.config import RunConfig, parse_variant
from .paper import PAPER_TASKS, paper_row

__all__ = ["comparison_configs", "cell_dir", "run_comparison", "collect_results", "summarize",
           "to_markdown", "paired_test"]


def comparison_configs(base: RunConfig, variants: list[str], seeds: list[int], group: str | None = None) -> list[RunConfig]:
    """One config per (variant, seed); ``variants`` may carry a text shift (``rand+shift``)."""
    out = []
    for v in variants:
        name, shift = parse_variant(v)
        for s in seeds:
            # RunConfig itself sets mapping="unused" for the unused variant; the other cells keep the base's
            out.append(base.replace(variant=name, text_shift=shift or base.text_shift, seed=int(s),
                                    mapping=base.mapping if base.mapping != "unused" else "frequent",
                                    group=group or base.group))
    return out


def cell_dir(root: str | Path, cfg: RunConfig) -> Path:
    """``root/<dataset>/<label>/seed<N>``: stable, so finished cells are found again and reused."""
    return Path(root) / cfg.dataset / cfg.label / f"seed{cfg.seed}"


#: RunConfig fields that do not change a run's numbers: a finished cell is reused across them
NOT_RESULT_FIELDS = frozenset({"device", "num_threads", "save_model", "logging_steps", "group", "tags",
                               "checkpoint_steps", "per_device_eval_batch_size"})


def cell_state(d: str | Path, cfg: RunConfig) -> str:
    """``"missing"`` (no results), ``"done"`` (results of this config) or ``"stale"`` (results of another
    config in the same place: a plan whose budget changed). Fields of :data:`NOT_RESULT_FIELDS` are ignored;
    a cell without a readable ``config.json`` counts as done (nothing to compare)."""
    d = Path(d)
    if not (d / "results.json").exists():
        return "missing"
    try:
        old = RunConfig.from_dict(json.loads((d / "config.json").read_text(encoding="utf-8"))["config"]).to_dict()
    except Exception:
        return "done"
    new = cfg.to_dict()
    same = all(old.get(k) == new.get(k) for k in set(old) | set(new) if k not in NOT_RESULT_FIELDS)
    return "done" if same else "stale"


_ASIDE_STAMP: str | None = None


def set_aside(root: str | Path, d: str | Path) -> Path:
    """Move run folder ``d`` (under ``root``) to ``root/superseded-<time>/<same relative path>``: kept for the
    record, never read as a result again. Returns the new place."""
    global _ASIDE_STAMP
    root, d = Path(root), Path(d)
    _ASIDE_STAMP = _ASIDE_STAMP or time.strftime("%Y%m%d-%H%M%S")  # one folder for all this process sets aside
    dest = root / f"superseded-{_ASIDE_STAMP}" / d.relative_to(root)
    while dest.exists():  # the same cell set aside twice by one process
        dest = dest.with_name(dest.name + "+")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(d), str(dest))
    return dest


def run_comparison(configs: list[RunConfig], root: str | Path, listeners_for=None, reuse: bool = True,
                   dataset=None, log=None) -> list[dict]:
    """Run every config in this process. With ``reuse`` a finished cell of the same config is reused; a
    finished cell of another config (see :func:`cell_state`) is set aside and run again."""
    from ..engine.experiment import run_experiment

    results = []
    for cfg in configs:
        d = cell_dir(root, cfg)
        res_path = d / "results.json"
        state = cell_state(d, cfg) if reuse else "missing"
        if state == "done":
            results.append(json.loads(res_path.read_text(encoding="utf-8")))
            continue
        if state == "stale":
            dest = set_aside(root, d)
            if log:
                log(f"  {cfg.dataset} {cfg.label} seed {cfg.seed}: its config changed; the old run moved to {dest}")
        listeners = listeners_for(cfg) if listeners_for else ()
        results.append(run_experiment(cfg, d, listeners=listeners, dataset=dataset))
    return results


def collect_results(root: str | Path, dataset: str | None = None) -> list[dict]:
    """Every finished cell's results under ``root`` (optionally of one dataset)."""
    root = Path(root)
    pattern = f"{dataset}/*/seed*/results.json" if dataset else "*/*/seed*/results.json"
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(root.glob(pattern))]


def summarize(results: list[dict], with_paper: bool = True) -> pd.DataFrame:
    """Table: one row per (dataset, variant label) with mean, std, n of the paper's metric."""
    if not results:
        return pd.DataFrame(columns=["dataset", "variant", "metric", "mean", "std", "n", "paper"])
    df = pd.DataFrame([{"dataset": r["dataset"], "variant": r["label"], "metric": r["metric"],
                        "score": r["score"], "seed": r["seed"]} for r in results])
    g = df.groupby(["dataset", "variant", "metric"], sort=False)["score"]
    out = g.agg(mean="mean", std=lambda x: float(np.std(x, ddof=1)) if len(x) > 1 else 0.0, n="count").reset_index()
    if with_paper:
        out["paper"] = [paper_row(d).get(v) for d, v in zip(out["dataset"], out["variant"])]
        out["paper_task"] = [PAPER_TASKS.get(d, ("", ""))[0] for d in out["dataset"]]
    return out


def _fmt(mean: float, std: float, n: int) -> str:
    return f"{mean:.4f} ± {std:.4f}" if n > 1 else f"{mean:.4f}"


def to_markdown(table: pd.DataFrame) -> str:
    """Markdown table: variant | metric | ours (mean ± std) | runs | paper."""
    lines = ["| dataset | variant | metric | ours (mean ± std) | runs | paper |", "|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        paper = r.get("paper")
        paper_s = "n/a" if paper is None or (isinstance(paper, float) and math.isnan(paper)) else f"{paper}"
        lines.append(f"| {r['dataset']} | {r['variant']} | {r['metric']} | {_fmt(r['mean'], r['std'], r['n'])} | "
                     f"{r['n']} | {paper_s} |")
    return "\n".join(lines)


def paired_test(results: list[dict], better: str, worse: str) -> dict | None:
    """Is ``better`` > ``worse`` across seeds? Paired by seed: mean difference, a 95% t interval, p.

    Returns None when fewer than two common seeds exist. ``holds`` is True when the interval lies
    above zero; with few seeds it is often inconclusive, and the report says so.
    """
    from scipy import stats

    a = {r["seed"]: r["score"] for r in results if r["label"] == better}
    b = {r["seed"]: r["score"] for r in results if r["label"] == worse}
    seeds = sorted(set(a) & set(b))
    if len(seeds) < 2:
        return None
    d = np.array([a[s] - b[s] for s in seeds])
    mean, se = float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))
    if se == 0:
        # every seed gave the same difference: the t interval is undefined (zero width), which is no evidence
        # of significance from a handful of seeds; report the direction only
        lo = hi = mean
        p = float("nan")
    else:
        t = stats.t.ppf(0.975, len(d) - 1)
        lo, hi = mean - t * se, mean + t * se
        p = float(stats.ttest_rel([a[s] for s in seeds], [b[s] for s in seeds], alternative="greater").pvalue)
    return {"better": better, "worse": worse, "n": len(seeds), "mean_diff": mean, "ci95": (lo, hi),
            "p_value": p, "holds": bool(lo > 0 and se > 0), "direction_ok": mean > 0, "constant": se == 0}
