"""The report's sections for the second round of evidence: each variant at its own best learning rate
(:mod:`disc_core.study.best_lr`) and Figure 3's finding as numbers (:mod:`disc_core.study.pretrain_gain`).
Each returns a list of Markdown lines; nothing is re-run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..best_lr import best_lr_cells, best_lr_tables
from ..compare import markdown_table, mean_std_text
from ..pretrain_gain import GOOGLE, gain_table, pretrain_points, share_verdict

__all__ = ["Round2", "best_lr_section", "pretrain_gain_section", "google_point", "gpu_budget_line",
           "best_lr_export", "best_lr_tables_of", "round2_findings"]


@dataclass(frozen=True)
class Round2:
    """The second round's numbers read from a run folder root once: Figure 3's points
    (:func:`~disc_core.study.pretrain_gain.pretrain_points`) and the best-lr study's tables
    (:func:`~disc_core.study.best_lr.best_lr_tables`, from its cells), for the report's sections, its findings
    and its export."""

    root: Path
    points: pd.DataFrame
    best_lr_cells: list[dict]
    best_lr: dict[str, pd.DataFrame]

    @classmethod
    def read(cls, root: str | Path) -> "Round2":
        root = Path(root)
        cells = best_lr_cells(root)
        return cls(root, pretrain_points(root), cells, best_lr_tables(root, cells=cells))


def _round2(r: "Round2 | str | Path") -> Round2:
    return r if isinstance(r, Round2) else Round2.read(r)


def gpu_budget_line(dataset: str) -> str:
    """What the ``gpu`` profile (bert-base, the paper's recipe) would spend on ``dataset``'s non-text or text
    task: its estimated GPU minutes, from the plan's own estimate."""
    from ..reproduce import build_plan, gpu_cell_seconds, n_cells

    plan = build_plan("gpu")
    tasks = [t for t in plan.tasks if t.dataset == dataset and t.study in ("non-text", "text")]
    if not tasks:
        return ""
    secs = sum(gpu_cell_seconds(t, plan.model) * n_cells(t) for t in tasks)
    cells = sum(n_cells(t) for t in tasks)
    return (f"the `gpu` profile runs {dataset} with bert-base and the paper's recipe in {cells} cells, ~{secs / 60:.0f} "
            "GPU-minutes at its assumed speed (`reproduce --profile gpu --only " + dataset + " --dry-run --gpus 1`)")


def best_lr_section(root: "Round2 | Path") -> list[str]:
    L = ["## Each variant at its own best learning rate (best-lr)", ""]
    t = _round2(root).best_lr
    if t["grid"].empty:
        return L + ["No finished runs yet.", ""]
    L += ["Each variant of the pair ran its first seed at every rate of the grid; its rate is the one with the best "
          "validation score (the selection never sees test), and its other seeds ran at that rate. *one rate*: the "
          "plan's own study of the dataset, every variant at one rate (the paper's protocol). *verdict*: as in the "
          "ordering checks (95% t interval of the paired difference over seeds).", "",
          "The grid (first seed; *chosen*: the rate its validation preferred):", "",
          markdown_table(t["grid"].assign(**{"learning rate": t["grid"]["learning rate"].map(lambda x: f"{x:g}"),
                                             "validation": t["grid"]["validation"].map(lambda x: f"{x:.4f}"),
                                             "test": t["grid"]["test"].map(lambda x: f"{x:.4f}"),
                                             "chosen": t["grid"]["chosen"].map(lambda x: "yes" if x else "")})),
          "", "Both protocols side by side:", "", markdown_table(t["protocols"]), ""]
    for _, r in t["protocols"].iterrows():
        v = r["each at its best: verdict"]
        if v != "holds" and not v.startswith("n/a"):
            line = gpu_budget_line(r["dataset"])
            if line:
                L.append(f"- {r['dataset']}: the ordering does not hold at each side's best rate here; {line}.")
    return L + [""]


def google_point(points: pd.DataFrame, dataset: str) -> tuple[float, float, int] | None:
    g = points[(points["dataset"] == dataset) & (points["step"] == GOOGLE)]["score"]
    if g.empty:
        return None
    return float(g.mean()), float(g.std(ddof=1)) if len(g) > 1 else 0.0, len(g)


def pretrain_gain_section(root: "Round2 | Path") -> list[str]:
    """The share of the gain at ~2% of the steps, per dataset, and the google point beside the checkpoints."""
    points = _round2(root).points
    if points.empty:
        return []
    L = ["The paper: \"the first 20K pre-training steps (2% of the total steps) contribute to most of the "
         "performance gain\". Here, per dataset, the share of the step-0 -> last-checkpoint gain that the checkpoint "
         "nearest 2% of the steps reaches, per fine-tuning seed (each seed fine-tunes every checkpoint), with a 95% "
         "t interval over the seeds; *most of the gain* = the interval lies above 0.5.", ""]
    table = gain_table(points)
    L += [markdown_table(table) if not table.empty else "Not enough checkpoints finished for the share yet.", ""]
    rows = []
    for ds in dict.fromkeys(points["dataset"]):
        g = google_point(points, ds)
        if g is not None:
            rows.append({"dataset": ds, "google (the plan's own model)": mean_std_text(g[0], g[1], g[2]),
                         "seeds": g[2]})
    if rows:
        L += ["The paper's \"google\" point (the fully pre-trained model fine-tuned with the same recipe):", "",
              markdown_table(pd.DataFrame(rows)), ""]
    return L


def best_lr_export(root: "Round2 | Path") -> dict:
    """The best-lr study for the results file: every cell with its ``learning_rate``, and both tables."""
    r = _round2(root)
    t = r.best_lr
    return {"cells": r.best_lr_cells, "grid": t["grid"].to_dict("records"),
            "protocols": t["protocols"].to_dict("records")}


def best_lr_tables_of(source: str | Path) -> dict[str, pd.DataFrame]:
    """The best-lr study's two tables (``grid``, ``protocols``) from a run folder root or from the results file
    written beside a report (the Reproduction page); empty tables when there is none."""
    import json

    source = Path(source)
    if source.is_dir():
        return best_lr_tables(source) if (source / "best-lr").exists() else {"grid": pd.DataFrame(),
                                                                            "protocols": pd.DataFrame()}
    try:
        data = json.loads(source.read_text(encoding="utf-8")).get("best_lr") or {}
    except (OSError, ValueError, AttributeError):
        data = {}
    return {k: pd.DataFrame(data.get(k) or []) for k in ("grid", "protocols")}


def _share_sentence(g: dict) -> str:
    """Figure 3's finding for one dataset, from :func:`~disc_core.study.pretrain_gain.gain_share`."""
    head = (f"pretrain-steps ({g['dataset']}): at step {g['step_at']:,} ({g['fraction_at']:.0%} of "
            f"{g['last_step']:,} pre-training steps)")
    v = share_verdict(g)
    if v == "no gain":
        return (f"{head} there is no gain to share: the last checkpoint scores {g['gain_0_to_last']:+.3f} against "
                "step 0 (mean over seeds), so the paper's \"first 2% of the steps give most of the gain\" cannot "
                "be tested on this task at this scale.")
    lo, hi = g["ci95"]
    ci = "no interval (one seed)" if lo != lo else f"95% CI [{lo:.2f}, {hi:.2f}] over {g['seeds']} seeds"
    verdict = {"holds": "holds here (the interval lies above 0.5)",
               "does not hold": "does not hold here (the interval lies below 0.5)",
               "cannot tell": "cannot be told from these seeds (the interval contains 0.5)",
               "one seed": "needs more seeds"}[v]
    return (f"{head} the fine-tuned score reaches a share of {g['share']:.2f} of the step-0 -> last-checkpoint "
            f"gain of {g['gain_0_to_last']:+.3f} ({ci}): the paper's \"first 2% of the steps give most of the "
            f"gain\" {verdict}.")


def round2_findings(root: "Round2 | Path") -> list[str]:
    """The Findings' sentences for Figure 3 (the share of the gain at ~2% of the steps, with its interval) and
    for the best-lr study (which verdicts change when each variant gets its own best rate)."""
    from ..pretrain_gain import gain_share

    out = []
    r2 = _round2(root)
    points = r2.points
    for ds in dict.fromkeys(points["dataset"]) if not points.empty else ():
        g = gain_share(points, ds)
        if g is not None:
            out.append(_share_sentence(g))
    t = r2.best_lr["protocols"]
    if not t.empty:
        finished = ~t["verdict changes"].str.startswith("not yet")
        done = t[finished]
        changed = done[done["verdict changes"] == "yes"]
        def _side(r, k):
            return f"{r[k + ': verdict']} ({r[k + ': diff']} {r[k + ': 95% CI']})"
        parts = [f"{r['dataset']} `{r['claim']}` {_side(r, 'one rate')} -> {_side(r, 'each at its best')}"
                 for _, r in changed.iterrows()]
        kept = [f"{r['dataset']} ({r['each at its best: verdict']})" for _, r in done.iterrows()
                if r["verdict changes"] == "no"]
        line = (f"best-lr: with each variant at the rate its own validation chose, the verdict changes on "
                f"{len(changed)} of {len(done)} datasets" + (": " + "; ".join(parts) if parts else ""))
        if kept:
            line += "; unchanged on " + ", ".join(kept)
        pending = list(t[~finished]["dataset"])
        if pending:
            line += "; not finished: " + ", ".join(pending)
        out.append(line + ".")
    return out
