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
from pathlib import Path

import numpy as np
import pandas as pd

from .config import RunConfig, parse_variant
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


def run_comparison(configs: list[RunConfig], root: str | Path, listeners_for=None, reuse: bool = True,
                   dataset=None) -> list[dict]:
    """Run every config in this process; a cell whose ``results.json`` exists is reused when ``reuse``."""
    from .experiment import run_experiment

    results = []
    for cfg in configs:
        d = cell_dir(root, cfg)
        res_path = d / "results.json"
        if reuse and res_path.exists():
            results.append(json.loads(res_path.read_text(encoding="utf-8")))
            continue
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
            "p_value": p, "holds": bool(lo > 0 and se > 0), "direction_ok": mean > 0}
