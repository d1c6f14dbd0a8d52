"""The ``best-lr`` study: each variant at its own best learning rate, beside the paper's one rate for all.

The paper fine-tunes every variant at one learning rate, chosen on rand. A careful reader asks whether a
gap between pretrained and rand is only the rate suiting one side better. Here each variant of a pair runs
its first seed at every rate of one grid (the plan's ``lr_grid``: 3e-5, 1e-4, 3e-4), keeps the rate
with the best *validation* score (never test), and runs its other seeds at that rate
(:func:`~disc_core.study.reproduce.best_lr_choice`). :func:`best_lr_tables` reads those cells and sets the
verdict of each protocol side by side: the plan's one-rate study of the same dataset (``non-text`` or
``text``) and each variant at its best.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

__all__ = ["best_lr_cells", "best_lr_tables", "choose_rate", "PAIRS"]

#: the pair each dataset's claim is about, by whether its variants carry a text shift
PAIRS = {False: ("pretrained", "rand"), True: ("pretrained+shift", "rand+shift")}


def _read(d: Path) -> dict | None:
    """A finished cell's results (:func:`~disc_core.study.report.cells.read_result`, which names damaged cells)
    with its config's ``learning_rate``."""
    from .report.cells import read_result

    res = read_result(d)
    if not isinstance(res, dict) or not isinstance(res.get("score"), (int, float)):
        return None
    try:
        cfg = json.loads((d / "config.json").read_text(encoding="utf-8"))["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {**res, "learning_rate": cfg.get("learning_rate")}


def choose_rate(validation: dict[float, float | None], grid: tuple[float, ...] | None = None) -> float | None:
    """The one rule of the study: the rate with the best validation score (``best_validation`` of the first
    seed; ties go to the smaller rate), or None until every rate of ``grid`` (default: the rates given) has a
    finite score: the choice is made on the whole grid, never on test."""
    seen = {k: v for k, v in validation.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
    want = tuple(validation) if grid is None else grid
    if not seen or not all(any(abs(k - g) <= 1e-12 * max(1.0, abs(g)) for k in seen) for g in want):
        return None
    return max(sorted(seen), key=lambda k: seen[k])


def best_lr_cells(root: str | Path) -> list[dict]:
    """Every finished cell of the ``best-lr`` study: its results with ``learning_rate`` (from its config) and
    ``grid_cell`` (True for the first seed, which every rate of the grid runs)."""
    base = Path(root) / "best-lr"
    out = []
    for res in sorted(base.glob("lr*/*/*/seed*/results.json")):
        r = _read(res.parent)
        if r is not None:
            out.append(r)
    if out:
        first = min(r["seed"] for r in out)
        for r in out:
            r["grid_cell"] = r["seed"] == first
    return out


def plan_grids(profile: str = "laptop") -> dict[str, tuple[float, ...]]:
    """``{dataset: grid}`` of a plan's best-lr tasks."""
    from .plans import build_plan

    return {t.dataset: t.lr_grid for t in build_plan(profile).tasks if t.lr_grid}


def _chosen(cells: list[dict], dataset: str, label: str, grid: tuple[float, ...] | None) -> float | None:
    """:func:`choose_rate` over the first-seed cells of ``dataset`` / ``label`` read for the report."""
    seen = {r["learning_rate"]: r.get("best_validation") for r in cells
            if r["dataset"] == dataset and r["label"] == label and r["grid_cell"]}
    return choose_rate(seen, grid or tuple(seen))


def _fmt_ci(t: dict | None) -> tuple[str, str]:
    if t is None:
        return "", ""
    lo, hi = t["ci95"]
    return f"{t['mean_diff']:+.3f}", f"[{lo:+.3f}, {hi:+.3f}]"


def _one_rate_cells(root: Path, study: str, dataset: str, labels: tuple[str, str]) -> list[dict]:
    """The finished cells of the plan's one-rate study of ``dataset`` for the pair's two labels."""
    out = []
    for lab in labels:
        for res in sorted((root / study / dataset / lab).glob("seed*/results.json")):
            r = _read(res.parent)
            if r is not None:
                out.append(r)
    return out


def best_lr_tables(root: str | Path, grids: dict[str, tuple[float, ...]] | None = None,
                   cells: list[dict] | None = None) -> dict[str, pd.DataFrame]:
    """``{"grid": ..., "protocols": ...}``.

    ``grid``: one row per (dataset, variant, rate) of the first seed: validation and test score, and whether
    the rate was chosen. ``protocols``: one row per dataset: the pair's paired difference over seeds, its 95%
    interval and verdict under the plan's one-rate study of that dataset (``text/<dataset>`` for a shifted
    pair, else ``non-text/<dataset>``) and with each variant at its chosen rate, and whether the verdict changes.
    A side with fewer than two paired seeds says so. ``cells``: :func:`best_lr_cells` of ``root`` when the
    caller has read them already.
    """
    from .compare import headline, paired_test
    from .report.verdicts import verdict

    cells = best_lr_cells(root) if cells is None else cells
    grids = plan_grids() if grids is None else grids
    grid_rows, proto_rows = [], []
    for ds in dict.fromkeys(r["dataset"] for r in cells):
        rs = [r for r in cells if r["dataset"] == ds]
        shifted = any("+" in r["label"] for r in rs)
        better, worse = PAIRS[shifted]
        chosen = {lab: _chosen(cells, ds, lab, grids.get(ds)) for lab in (better, worse)}
        for r in sorted((r for r in rs if r["grid_cell"]), key=lambda r: (r["label"], r["learning_rate"])):
            grid_rows.append({"dataset": ds, "variant": r["label"], "learning rate": r["learning_rate"],
                              "validation": r.get("best_validation"), "test": headline(r)[1],
                              "chosen": r["learning_rate"] == chosen.get(r["label"])})
        at_best = [r for r in rs if r["learning_rate"] == chosen.get(r["label"])]
        t_best = paired_test(at_best, better, worse)
        same = _one_rate_cells(Path(root), "text" if shifted else "non-text", ds, (better, worse))
        t_one = paired_test(same, better, worse) if same else None
        one_lr = sorted({r.get("learning_rate") for r in same if r.get("label") in (better, worse)} - {None})
        v_one, v_best = (verdict(t_one) if same else "not run"), verdict(t_best)
        d1, ci1 = _fmt_ci(t_one)
        d2, ci2 = _fmt_ci(t_best)
        proto_rows.append({
            "dataset": ds, "claim": f"{better} > {worse}",
            "one rate: lr": ", ".join(f"{x:g}" for x in one_lr), "one rate: diff": d1, "one rate: 95% CI": ci1,
            "one rate: verdict": v_one,
            "each at its best: lr": " / ".join(f"{chosen[x]:g}" if chosen[x] else "grid not finished"
                                               for x in (better, worse)),
            "each at its best: seeds": t_best["n"] if t_best else len({r['seed'] for r in at_best}),
            "each at its best: diff": d2, "each at its best: 95% CI": ci2, "each at its best: verdict": v_best,
            "verdict changes": ("not yet (fewer than 2 paired seeds)" if t_best is None or t_one is None
                                else ("yes" if v_one != v_best else "no")),
        })
    return {"grid": pd.DataFrame(grid_rows), "protocols": pd.DataFrame(proto_rows)}
