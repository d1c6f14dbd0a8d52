"""Comparisons: variants x seeds on one dataset, and the table beside the paper's numbers.

``comparison_configs`` expands a base config into one :class:`RunConfig` per cell;
``run_comparison`` runs them in this process one after another (the background runner runs the
same configs as separate processes), reusing finished cells so a comparison can run in pieces;
``summarize`` turns results into the table (mean +/- std over seeds, number of runs, the paper's
number for the same setting: full data or 1%, on our 0-1 scale and as printed) and ``paired_test``
says whether one variant beats another across seeds. Both use the paper's metric (:func:`headline`).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..engine.config import BASELINES, RunConfig, parse_variant
from .paper import PAPER_TASKS, PaperCell, paper_cell, paper_metric, paper_model, paper_setting

__all__ = ["comparison_configs", "cell_dir", "run_comparison", "collect_results", "headline", "summarize",
           "to_markdown", "markdown_table", "mean_std_text", "paper_text", "PAPER_COLUMN", "paired_scores",
           "paired_test", "train_time_text"]


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
                               "checkpoint_steps", "per_device_eval_batch_size", "report_to"})


def cell_state(d: str | Path, cfg: RunConfig, fingerprint: str | None = None) -> str:
    """``"missing"`` (no results), ``"done"`` (results of this config) or ``"stale"`` (results of another
    config in the same place: a plan whose budget changed). Fields of :data:`NOT_RESULT_FIELDS` are ignored;
    a cell without a readable ``config.json`` counts as done (nothing to compare).

    With ``fingerprint`` (the dataset's :meth:`~disc_core.data.base.Dataset.fingerprint` now), results of
    other data are ``"stale"`` too: a dataset re-imported under the same name is run again. A run recorded
    before runs kept their data's fingerprint is not judged on its data."""
    d = Path(d)
    if not (d / "results.json").exists():
        return "missing"
    try:
        old = RunConfig.from_dict(json.loads((d / "config.json").read_text(encoding="utf-8"))["config"]).to_dict()
    except Exception:
        return "done"
    new = cfg.to_dict()
    same = all(old.get(k) == new.get(k) for k in set(old) | set(new) if k not in NOT_RESULT_FIELDS)
    if not same:
        return "stale"
    return "stale" if fingerprint is not None and recorded_fingerprint(d) not in (None, fingerprint) else "done"


def recorded_fingerprint(d: str | Path) -> str | None:
    """The dataset fingerprint a finished run recorded in its ``results.json`` (None: none recorded)."""
    try:
        return json.loads((Path(d) / "results.json").read_text(encoding="utf-8")).get("dataset_fingerprint")
    except (OSError, ValueError, AttributeError):
        return None


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
    """Run every config in this process. With ``reuse`` a finished cell of the same config on the same data
    (the dataset's fingerprint) is reused; a finished cell of another config or other data (see
    :func:`cell_state`) is set aside and run again. ``log`` hears of each cell set aside and, when any is
    reused, ``reused N of M cells``."""
    from ..data import load_dataset
    from ..engine.experiment import run_experiment

    results, reused, loaded = [], 0, {}
    for cfg in configs:
        d = cell_dir(root, cfg)
        res_path = d / "results.json"
        state = cell_state(d, cfg) if reuse else "missing"
        why = "its config changed"
        if state == "done":  # the same config; is it the same data? (the dataset loaded once, only to know)
            ds = dataset if dataset is not None else loaded.get(cfg.dataset)
            if ds is None:
                ds = loaded[cfg.dataset] = load_dataset(cfg.dataset)
            state = cell_state(d, cfg, ds.fingerprint())
            why = "its dataset's content or split changed (imported again?)"
        if state == "done":
            results.append(json.loads(res_path.read_text(encoding="utf-8")))
            reused += 1
            continue
        if state == "stale":
            dest = set_aside(root, d)
            if log:
                log(f"  {cfg.dataset} {cfg.label} seed {cfg.seed}: {why}; the old run moved to {dest}")
        listeners = listeners_for(cfg) if listeners_for else ()
        # a cell stopped part-way with a resumable checkpoint (checkpoint_steps) goes on from it
        resume = state == "missing" and (d / "checkpoint" / "trainer_state.pt").exists()
        if resume and log:
            log(f"  {cfg.dataset} {cfg.label} seed {cfg.seed}: continues from its checkpoint")
        results.append(run_experiment(cfg, d, listeners=listeners, dataset=dataset or loaded.get(cfg.dataset),
                                      resume=resume))
    if reused and log:
        log(f"reused {reused} of {len(configs)} cells: finished runs of the same config on the same data under {root}")
    return results


def collect_results(root: str | Path, dataset: str | None = None) -> list[dict]:
    """Every finished cell's results under ``root`` (optionally of one dataset)."""
    root = Path(root)
    pattern = f"{dataset}/*/seed*/results.json" if dataset else "*/*/seed*/results.json"
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(root.glob(pattern))]


def headline(r: dict) -> tuple[str, float]:
    """``(metric, score)`` of one result on the paper's metric for its dataset.

    A run's headline is its dataset's metric, which is the paper's; runs recorded before a dataset's headline
    changed (STS-B was Pearson, the paper's is Spearman) still hold the paper's metric among their ``test``
    metrics, so every table and test compares the same metric with the paper's number.
    """
    want = paper_metric(r.get("dataset", ""))  # a bare {label, seed, score} result keeps its score
    test = r.get("test") or {}
    if want and want != r.get("metric") and isinstance(test.get(want), (int, float)):
        return want, float(test[want])
    return r.get("metric"), r["score"]


def _group_paper_cell(dataset: str, label: str, metric: str, rows: list[dict], setting, model) -> PaperCell:
    """The paper's cell for one table row: its setting from the runs' data fraction (unless given), its
    model rows (BERT, or ALBERT for an ALBERT model), and "not comparable" if the metrics differ."""
    if setting is None:
        settings = {paper_setting(r.get("train_fraction")) for r in rows}
        setting = settings.pop() if len(settings) == 1 else None  # mixed fractions pooled: no paper number
    models = {paper_model(model or r.get("model")) for r in rows}
    # a baseline's row shows the paper's discipline-specific model (Hilbert-CNN, PLUS-TFM), its own "baseline"
    label = "specific" if parse_variant(label)[0] in BASELINES else label
    cell = paper_cell(dataset, label, setting=setting, model=models.pop() if len(models) == 1 else "bert")
    if cell.reported and cell.metric and cell.metric != metric:
        return PaperCell(dataset, label, cell.setting, cell.split, metric=cell.metric,
                         note=f"not comparable: the paper reports {cell.metric}, these runs {metric}")
    return cell


def summarize(results: list[dict], with_paper: bool = True, setting: str | None = None,
              model: str | None = None) -> pd.DataFrame:
    """Table: one row per (dataset, variant label) with mean, std, n of the paper's metric (0-1), and the
    paper's number beside it.

    ``paper`` is the paper's number on our 0-1 scale (printed / 100; NaN where it has none),
    ``paper_printed`` the number as printed (percent), ``paper_text`` what tables show (``0.975 (97.5)``, or
    ``not reported`` / ``not in the paper`` / ``not comparable``) and ``paper_source`` its table.
    ``setting`` (``full`` / ``1pct``) and ``model`` (a model name, or ``bert`` / ``albert``) pick the paper's
    row; by default they come from each result's ``train_fraction`` (1.0 unless given: a run with 0.01
    compares with "shift 1000 1% data") and ``model`` keys. A baseline's row (``kmer-lr``, ``cnn``) shows the
    paper's discipline-specific model (its ``specific`` row: Hilbert-CNN, PLUS-TFM), named in ``paper_source``.
    ``train_time_s`` is the mean training time over the seeds (NaN where results do not record it).
    """
    cols = ["dataset", "variant", "metric", "mean", "std", "n", "train_time_s"]
    if with_paper:
        cols += ["paper", "paper_printed", "paper_text", "paper_source", "paper_task"]
    if not results:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame([{"dataset": r["dataset"], "variant": r["label"], "metric": m, "score": sc, "seed": r["seed"],
                        "i": i, "train_time_s": r.get("train_time_s", np.nan)}
                       for i, r in enumerate(results) for m, sc in [headline(r)]])
    g = df.groupby(["dataset", "variant", "metric"], sort=False)
    out = g["score"].agg(mean="mean", std=lambda x: float(np.std(x, ddof=1)) if len(x) > 1 else 0.0,
                         n="count").reset_index()
    out["train_time_s"] = g["train_time_s"].mean().to_numpy(dtype=float)
    if with_paper:
        members = g["i"].agg(list).tolist()
        cells = [_group_paper_cell(d, v, m, [results[i] for i in idx], setting, model)
                 for (d, v, m), idx in zip(zip(out["dataset"], out["variant"], out["metric"]), members)]
        out["paper"] = [c.scaled for c in cells]
        out["paper_printed"] = [str(c.value) if c.reported else "" for c in cells]
        out["paper_text"] = [c.text for c in cells]
        out["paper_source"] = [c.source + (f", discipline-specific model: {c.model}" if c.label == "specific" and
                                           c.reported else "") for c in cells]
        out["paper_task"] = [PAPER_TASKS.get(d, ("", ""))[0] for d in out["dataset"]]
    return out[cols]


def mean_std_text(mean: float, std: float, n: int) -> str:
    """``0.9123 ± 0.0100`` over several seeds, ``0.9123`` for one (every table that shows ours)."""
    return f"{mean:.4f} ± {std:.4f}" if n > 1 else f"{mean:.4f}"


def _plain_pipe():
    """tabulate's pipe format without padding cells to the column's width: ``| a | b |`` over ``|---|---|``
    (the tables' format since before they were written with tabulate; a diff of two reports stays small)."""
    from tabulate import DataRow, TableFormat

    row = DataRow("| ", " | ", " |")
    return TableFormat(lineabove=None, linebelowheader=lambda widths, aligns: "|" + "---|" * len(widths),
                       linebetweenrows=None, linebelow=None, headerrow=row, datarow=row, padding=0,
                       with_header_hide=None)


def markdown_table(df: pd.DataFrame) -> str:
    """``df`` as a Markdown table (``DataFrame.to_markdown``): every value as ``str`` writes it, unaligned."""
    return df.to_markdown(index=False, tablefmt=_plain_pipe(), disable_numparse=True, stralign=None,
                          numalign=None)


#: the header of the paper's column, wherever tables show it: the same 0-1 scale as ours, then as printed
PAPER_COLUMN = "paper ÷100 (as printed)"


def paper_text(r) -> str:
    """The paper's cell of one summary row as tables show it (tables without ``paper_text``: from ``paper``)."""
    text = r.get("paper_text")
    if isinstance(text, str) and text:
        return text
    if "paper" not in r:  # a table summarized without the paper's numbers
        return ""
    paper = r.get("paper")
    return "not reported" if paper is None or (isinstance(paper, float) and math.isnan(paper)) else f"{paper}"


def train_time_text(seconds) -> str:
    """A mean training time as tables show it (``42 s``, ``3.5 min``, ``1.2 h``; ``–`` when not recorded)."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "–"
    s = float(seconds)
    return f"{s:.1f} s" if s < 10 else f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h"


def to_markdown(table: pd.DataFrame) -> str:
    """Markdown table: dataset | variant | metric | ours (mean ± std, 0-1) | runs | paper (÷100, as printed) |
    its table | training time (mean over seeds)."""
    rows = [{"dataset": r["dataset"], "variant": r["variant"], "metric": r["metric"],
             "ours (mean ± std)": mean_std_text(r["mean"], r["std"], r["n"]), "runs": r["n"],
             PAPER_COLUMN: paper_text(r), "paper's table": r.get("paper_source") or "",
             "train time": train_time_text(r.get("train_time_s"))} for _, r in table.iterrows()]
    return markdown_table(pd.DataFrame(rows, columns=["dataset", "variant", "metric", "ours (mean ± std)", "runs",
                                                      PAPER_COLUMN, "paper's table", "train time"]))


def paired_scores(results: list[dict], a: str, b: str) -> tuple[list, list[float], list[float]]:
    """``(seeds, a's scores, b's scores)`` on the seeds both labels have, in seed order, on the paper's metric
    (like :func:`summarize`'s table): the pairs :func:`paired_test` tests."""
    sa = {r["seed"]: headline(r)[1] for r in results if r["label"] == a}
    sb = {r["seed"]: headline(r)[1] for r in results if r["label"] == b}
    seeds = sorted(set(sa) & set(sb))
    return seeds, [sa[x] for x in seeds], [sb[x] for x in seeds]


def paired_test(results: list[dict], better: str, worse: str) -> dict | None:
    """Is ``better`` > ``worse`` across seeds? Paired by seed: mean difference, a 95% t interval, p.

    Returns None when fewer than two common seeds exist. ``holds`` is True when the interval lies
    above zero; with few seeds it is often inconclusive, and the report says so.
    """
    from scipy import stats

    seeds, xa, xb = paired_scores(results, better, worse)
    if len(seeds) < 2:
        return None
    d = np.subtract(xa, xb)
    mean, constant = float(d.mean()), bool(d.std(ddof=1) == 0)
    if constant:
        # every seed gave the same difference: the t interval is undefined (zero width), which is no evidence
        # of significance from a handful of seeds; report the direction only
        lo = hi = mean
        p = float("nan")
    else:
        ci = stats.ttest_rel(xa, xb).confidence_interval(0.95)  # two-sided: the mean difference ± t·se
        lo, hi = float(ci.low), float(ci.high)
        p = float(stats.ttest_rel(xa, xb, alternative="greater").pvalue)
    return {"better": better, "worse": worse, "n": len(seeds), "mean_diff": mean, "ci95": (lo, hi),
            "p_value": p, "holds": bool(lo > 0 and not constant), "direction_ok": mean > 0, "constant": constant}
