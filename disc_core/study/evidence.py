"""What a reproduction's run folders show beyond the final scores: the learning-rate grid, time to signal,
and whether pretrained's training loss runs below rand's.

All of it is read from the cells' own ``metrics.jsonl`` (every step and evaluation) and ``results.json``;
nothing is re-run; a cell that cannot be read is left out (:func:`disc_core.study.report.cells.unreadable_cells`
names it). :mod:`disc_core.study.report` prints the tables and draws the figures.

- :func:`lr_grid_table`: the ``lr-grid`` study, one row per learning rate, judged as the paper judged its
  own grid (appendix A): by rand's F1 on the training set.
- :func:`signal_curves`: validation metric against training tokens for the paired variants of one seed
  (pretrained vs rand, or their shifted versions): where the two separate on this machine.
- :func:`loss_gap_table`: per task and seed, the mean training loss over the run of pretrained and of rand
  (the area under the paper's Figure 2 curves divided by its length); "below on every seed" is the claim.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..engine.experiment import read_metrics

__all__ = ["PAIRS", "lr_grid_table", "signal_curves", "loss_gap_table", "tenths_below", "first_separation",
           "cell_folders"]

#: (pretrained-side label, rand-side label): the pairs whose curves and losses are compared.
PAIRS = (("pretrained", "rand"), ("pretrained+shift", "rand+shift"),
         ("pretrained+random-shift", "rand+random-shift"))


def cell_folders(study_root: str | Path) -> list[Path]:
    """Finished or not, every cell folder ``<dataset>/<label>/seed<N>`` under a study's folder."""
    root = Path(study_root)
    return sorted(p.parent for p in root.glob("*/*/seed*/config.json"))


def _cells(folders) -> list[dict]:
    """The readable cells of ``folders`` (:func:`cell_folders`): config, results (None: unfinished) and events;
    a cell whose config.json or results.json cannot be read is left out."""
    from .report.cells import cell_problem, read_json

    out = []
    for d in folders:
        if cell_problem(d) is not None:
            continue
        res = d / "results.json"
        out.append({"dir": d, "dataset": d.parts[-3], "label": d.parts[-2], "seed": int(d.name[4:]),
                    "config": read_json(d / "config.json")[0]["config"],
                    "results": read_json(res)[0] if res.exists() else None, "events": read_metrics(d)})
    return out


def lr_grid_table(root: str | Path, metric: str = "f1", within: tuple[float, float] | None = None) -> pd.DataFrame:
    """One row per learning rate of ``root/lr-grid/lr*/``: rand's training ``metric`` (the paper's criterion),
    its training accuracy, the mean loss of the last tenth of the steps, validation and test ``metric``;
    ``chosen`` marks the best training score (ties: the lower late loss) among the rates ``within`` the
    given (low, high) range (all rates when None); ``best overall`` marks the best of all."""
    rows = []
    for sub in sorted(Path(root, "lr-grid").glob("lr*")):
        for c in _cells(cell_folders(sub)):
            r = c["results"]
            if r is None:
                continue
            losses = [e["loss"] for e in c["events"] if e.get("kind") == "step"]
            tail = losses[-max(1, len(losses) // 10):]
            val = [e for e in c["events"] if e.get("kind") == "eval" and e.get("split") == "validation"]
            rows.append({"learning rate": c["config"].get("learning_rate"), "variant": c["label"],
                         "steps": r.get("steps"),
                         f"train {metric}": (r.get("train") or {}).get(metric, np.nan),
                         "train accuracy": (r.get("train") or {}).get("accuracy", np.nan),
                         "late training loss": float(np.mean(tail)) if tail else np.nan,
                         f"validation {metric}": val[-1]["metrics"].get(metric, np.nan) if val else np.nan,
                         f"test {metric}": (r.get("test") or {}).get(metric, np.nan)})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df = df.sort_values("learning rate").reset_index(drop=True)
    order = df.sort_values([f"train {metric}", "late training loss"], ascending=[False, True]).index
    inside = [i for i in order if within is None or within[0] <= df.loc[i, "learning rate"] <= within[1]]
    df["best overall"] = ["yes" if i == order[0] else "" for i in df.index]
    df["chosen"] = ["yes" if inside and i == inside[0] else "" for i in df.index]
    return df


def _pairs_present(labels: set[str]) -> list[tuple[str, str]]:
    return [(a, b) for a, b in PAIRS if a in labels and b in labels]


def signal_curves(root: str | Path, studies=("text", "text-1pct", "non-text", "signal"), seed: int = 0,
                  ) -> dict[tuple[str, str, str], dict[str, list[tuple[int, float]]]]:
    """``{(study, dataset, pair name): {label: [(training tokens, validation metric), ...]}}`` for ``seed``.

    Each evaluation's step is turned into training tokens through the step events (the tokens seen by
    then), so tasks of different lengths share one x axis.
    """
    out: dict = {}
    for study in studies:
        cells = _cells(d for d in cell_folders(Path(root) / study) if d.name == f"seed{seed}")
        by_ds: dict[str, dict[str, dict]] = {}
        for c in cells:
            by_ds.setdefault(c["dataset"], {})[c["label"]] = c
        for ds, by_label in by_ds.items():
            for a, b in _pairs_present(set(by_label)):
                curves = {}
                for lab in (a, b):
                    ev = by_label[lab]["events"]
                    tokens = {e["step"]: e["tokens_seen"] for e in ev if e.get("kind") == "step"}
                    metric = (by_label[lab]["results"] or {}).get("metric") or _metric_of(ev)
                    pts = [(tokens.get(e["step"], 0), e["metrics"].get(metric)) for e in ev
                           if e.get("kind") == "eval" and e.get("split") == "validation" and metric in e["metrics"]]
                    if pts:
                        curves[lab] = pts
                if len(curves) == 2:
                    out[(study, ds, f"{a} vs {b}")] = curves
    return out


def _metric_of(events: list[dict]) -> str | None:
    for e in events:
        if e.get("kind") == "eval":
            for m in ("accuracy", "spearman", "f1", "mcc", "pearson"):
                if m in e["metrics"]:
                    return m
    return None


def first_separation(curves: dict[str, list[tuple[int, float]]], better: str, worse: str,
                     margin: float = 0.02) -> int | None:
    """Training tokens at the first evaluation from which ``better`` stays ahead of ``worse`` by ``margin``."""
    a, b = dict(curves[better]), dict(curves[worse])
    common = sorted(set(a) & set(b))
    for i, t in enumerate(common):
        if all(a[u] - b[u] >= margin for u in common[i:]):
            return t
    return None


def loss_gap_table(root: str | Path, studies=("text", "text-1pct", "non-text", "signal")) -> pd.DataFrame:
    """Per (study, dataset, pair): seeds, the mean training loss over the run of each side (averaged over
    seeds), and on how many seeds the pretrained side's is lower. The claim "pretrained's training loss is
    below rand's" holds for a task when it is lower on every paired seed.

    Beside it, where along the run pretrained is lower: each paired run is cut into ten equal parts of its
    logged steps and the two sides' mean loss compared part by part (``tenths where pretrained is lower``,
    mean over seeds), so a curve that starts higher and then falls below shows as such, not only as a mean.
    """
    rows = []
    for study in studies:
        cells = [c for c in _cells(cell_folders(Path(root) / study)) if c["results"] is not None]
        by_key: dict[tuple[str, int], dict[str, list[float]]] = {}
        for c in cells:
            losses = [e["loss"] for e in c["events"] if e.get("kind") == "step"]
            if losses:
                by_key.setdefault((c["dataset"], c["seed"]), {})[c["label"]] = losses
        for ds in dict.fromkeys(k[0] for k in by_key):
            labels = set().union(*(v for (d, _), v in by_key.items() if d == ds))
            for a, b in _pairs_present(labels):
                paired = [(v[a], v[b]) for (d, _), v in sorted(by_key.items()) if d == ds and a in v and b in v]
                if not paired:
                    continue
                la = np.array([np.mean(x) for x, _ in paired])
                lb = np.array([np.mean(y) for _, y in paired])
                below = int(np.sum(la < lb))
                # the verdict first: the table is wide, and a page shows its left columns first
                rows.append({"study": study, "dataset": ds, "pair": f"{a} vs {b}", "seeds": len(paired),
                             "verdict": "below on every seed" if below == len(paired) else
                             ("above on every seed" if below == 0 else f"below on {below} of {len(paired)} seeds"),
                             "seeds where pretrained is lower": below,
                             "tenths of the run where pretrained is lower": float(np.mean(
                                 [tenths_below(x, y) for x, y in paired])),
                             "mean loss, pretrained side": float(la.mean()), "mean loss, rand side": float(lb.mean())})
    return pd.DataFrame(rows)


def tenths_below(a: list[float], b: list[float]) -> int:
    """In how many of ten equal parts of two aligned loss curves ``a``'s mean is below ``b``'s (the curves
    are cut to the shorter one; a curve of fewer than ten steps has as many parts as steps)."""
    n = min(len(a), len(b))
    if not n:
        return 0
    parts = np.array_split(np.arange(n), min(10, n))
    x, y = np.asarray(a[:n]), np.asarray(b[:n])
    return int(sum(x[p].mean() < y[p].mean() for p in parts))
