"""The report's Markdown sections that read the plan and its folders: budget, what has not finished, the
cells that could not be read, data splits, the cells set aside, the learning-rate grid, time to signal and
the training-loss comparison. Each returns a list of lines."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ...engine.experiment import read_metrics
from ..compare import PAPER_COLUMN, cell_dir, cell_state, markdown_table, mean_std_text, paper_text, train_time_text
from ..paper import PAPER_TASKS
from .cells import CellProblem, pretrain_step_results, read_json, read_result, rescore
from .export import LOSS_GAP_NOTE, LOSS_GAP_TITLE
from .figures import signal_figure
from .prose import keyed

__all__ = ["cell_model", "summary_md", "missing", "measured_seconds", "unreadable_section", "data_splits",
           "side_study", "lr_grid_section", "signal_section", "loss_gap_section", "set_aside_section"]


def cell_model(plan, root: Path) -> str:
    """The model a plan's cells record: the plan's, except the quick profile's ``tiny``, which
    :func:`~disc_core.study.reproduce.run_plan` creates as ``<root>/tiny-bert`` and runs from there."""
    return str(root / "tiny-bert") if plan.model == "tiny" else plan.model


def summary_md(summ: pd.DataFrame) -> str:
    rows = []
    for _, r in summ.iterrows():
        rows.append({"dataset": r["dataset"], "paper's task": PAPER_TASKS.get(r["dataset"], ("(not in the paper)",))[0],
                     "variant": r["variant"], "metric": r["metric"],
                     "ours: mean ± std": mean_std_text(r["mean"], r["std"], r["n"]), "seeds": r["n"],
                     PAPER_COLUMN: paper_text(r), "train time (mean)": train_time_text(r.get("train_time_s"))})
    return markdown_table(pd.DataFrame(rows))


def _task_cells(plan, root: Path, task) -> list[tuple[object, Path]]:
    """``(config, folder)`` of a task's cells; a ``best-lr`` task's are its grid (first seed at each rate) and
    its other seeds at each variant's chosen rate (in a folder that does not exist while the rate is open)."""
    from dataclasses import replace

    from ..reproduce import best_lr_choice, lr_sub, task_configs, task_root

    model, base = cell_model(plan, root), task_root(root, task)
    if not task.lr_grid:
        return [(c, cell_dir(base, c)) for c in task_configs(task, model)]
    out = [(c, cell_dir(base / lr_sub(lr), c)) for lr in task.lr_grid
           for c in task_configs(replace(task, seeds=task.seeds[:1]), model, learning_rate=lr)]
    chosen = best_lr_choice(task, root)
    for v in task.variants:
        lr = chosen.get(v, {}).get("learning_rate")
        sub = base / lr_sub(lr) if lr else base / "(rate not chosen yet)"
        out += [(c, cell_dir(sub, c)) for c in task_configs(replace(task, seeds=task.seeds[1:], variants=(v,)),
                                                            model, learning_rate=lr or task.lr_grid[0])]
    return out


def _states(plan, root: Path, task, unreadable: set[Path]) -> list[tuple[object, Path, str]]:
    """``(config, folder, state)`` of a task's cells; an unreadable cell counts as not finished."""
    return [(c, d, "missing" if d in unreadable else cell_state(d, c)) for c, d in _task_cells(plan, root, task)]


def missing(plan, root: Path, unreadable: set[Path] = frozenset()) -> list[str]:
    """One line per task of ``plan`` with cells still to run (or ran with another budget)."""
    out = []
    for t in plan.tasks:
        if t.study == "pretrain-steps":
            res, ckpts = pretrain_step_results(root)
            want = (len(ckpts or t.checkpoints or t.pretrain.checkpoint_fractions) + t.google) * len(t.seeds)
            google = root / "pretrain-steps" / "runs" / "google" / t.dataset
            have = (sum(1 for r in res if r["dataset"] == t.dataset)
                    + (len(list(google.glob("*/seed*/results.json"))) if t.google else 0))
            if have < want:
                out.append(f"`{t.key}`: {have} of {want} fine-tuning runs finished" if have else
                           f"`{t.key}`: not run (0 of {want} fine-tuning runs)")
            continue
        cells = _states(plan, root, t, unreadable)
        stale = [f"{c.label}/seed{c.seed}" for c, _, s in cells if s == "stale"]
        if stale:
            out.append(f"`{t.key}`: {len(stale)} finished cell(s) ran with another budget than this plan's "
                       f"({', '.join(stale[:4])}{' ...' if len(stale) > 4 else ''}); the tables include them until "
                       "the command is run again, which re-runs them")
        done = [c for c, _, s in cells if s != "missing"]
        what = f"`{t.key}` ({', '.join(t.variants)})"
        if not done:
            out.append(f"{what}: not run (0 of {len(cells)} cells)")
        elif len(done) < len(cells):
            gone = [f"{c.label}/seed{c.seed}" for c, _, _ in cells if c not in done]
            short = ", ".join(gone[:8]) + (f" and {len(gone) - 8} more" if len(gone) > 8 else "")
            out.append(f"{what}: {len(done)} of {len(cells)} cells finished; missing {short}")
    return out


def measured_seconds(plan, root: Path, task, unreadable: set[Path] = frozenset()) -> tuple[float, int]:
    """Summed wall time and count of ``task``'s finished cells (its own results.json; not pre-training). For
    ``pretrain-steps``: every checkpoint's cells and the plan's own model's (the "google" point), as
    :func:`~disc_core.reproduce.n_cells` counts them."""
    if task.study == "pretrain-steps":
        res, _ = pretrain_step_results(root)
        if task.google:
            google = sorted((Path(root) / "pretrain-steps" / "runs" / "google").glob("*/*/seed*/results.json"))
            res = res + [r for r in (read_result(f.parent) for f in google) if r is not None]
        times = [r.get("wall_time_s") or 0.0 for r in res if r.get("dataset") == task.dataset]
        return float(sum(times)), len(times)
    secs, n = 0.0, 0
    for _, d, state in _states(plan, root, task, unreadable):
        r = read_result(d) if state == "done" else None
        if r is None:
            continue
        try:
            secs += float(r.get("wall_time_s") or 0.0)
            n += 1
        except (TypeError, ValueError):
            continue
    return secs, n


def unreadable_section(problems: list[CellProblem], root: Path) -> list[str]:
    """'Cells that could not be read': each file, what is wrong with it and what to do (nothing when none)."""
    if not problems:
        return []
    skipped = [p for p in problems if p.skipped]
    L = ["## Cells that could not be read", ""]
    if skipped:
        L += [f"{len(skipped)} cell(s) are left out of every table and count as not finished:", ""]
        L += [f"- {p.text(root)}" for p in skipped] + [""]
    partial = [p for p in problems if not p.skipped]
    if partial:
        L += [f"{len(partial)} finished cell(s) have no training curve (their scores are in the tables):", ""]
        L += [f"- {p.text(root)}" for p in partial] + [""]
    return L


def data_splits(root: Path) -> list[str]:
    """'Data and splits': each dataset's sizes and notes, from the finished runs' own config.json."""
    L = ["## Data and splits", ""]
    seen = set()
    configs = sorted(root.glob("*/*/*/seed*/config.json"))
    configs += sorted(root.glob("pretrain-steps/runs/*/*/*/seed*/config.json"))
    for d in configs:
        cfg, _ = read_json(d)
        try:
            info = cfg["resolved"]["dataset"]
            name, sz = info["name"], info["sizes"]
            line = (f"- **{name}** ({info['discipline']}, {info['metric']}; train/validation/test "
                    f"{sz['train']}/{sz['validation']}/{sz['test']}): "
                    + "; ".join(info.get("notes") or [info["source"]]))
        except (TypeError, KeyError, AttributeError):
            continue  # an unreadable config: named under "Cells that could not be read"
        if name in seen:
            continue
        seen.add(name)
        L.append(line)
    return L + [""]


def side_study(side: Path) -> list[str]:
    """Every cell under ``side/<study>/<dataset>/<label>/seed<N>``: finished ones with their test score,
    unfinished ones with their last validation (a cell that cannot be read is left out)."""
    from .. import evidence
    from .cells import cell_problem

    rows = []
    for study_dir in sorted(p for p in side.iterdir() if p.is_dir()):
        for d in evidence.cell_folders(study_dir):
            if cell_problem(d) is not None:
                continue
            ev = read_metrics(d)
            r = read_result(d)
            r = rescore(r) if r is not None else None
            val = [e for e in ev if e.get("kind") == "eval" and e.get("split") == "validation"]
            steps = [e["step"] for e in ev if e.get("kind") == "step"]
            last = val[-1]["metrics"] if val else {}
            m = r["metric"] if r else next((k for k in ("accuracy", "spearman", "f1") if k in last), None)
            rows.append({"task": f"{study_dir.name}/{d.parts[-3]}", "variant": d.parts[-2], "seed": d.name[4:],
                         "steps": max(steps, default=0), "finished": "yes" if r else "no (stopped)",
                         "test": f"{r['score']:.4f} ({r['metric']})" if r else "",
                         "last validation": f"{last[m]:.4f} ({m})" if m in last else ""})
    return [markdown_table(pd.DataFrame(rows))] if rows else ["(no cells)"]


def set_aside_section(root: Path, sections: dict[str, str]) -> list[str]:
    """'Cells set aside by a change of plan': the prose file's ``set-aside: <folder>`` folders that exist."""
    sides = [(name, why) for name, why in keyed("set-aside", sections).items() if (root / name).exists()]
    if not sides:
        return []
    L = ["## Cells set aside by a change of plan", "",
         "Every cell that ran is reported. These ran under an earlier budget of this plan and were moved aside "
         "when it changed (finished cells with their test score; cells stopped by the change with their last "
         "validation).", ""]
    for name, why in sides:
        L += [f"**`{name}`**: {why}", ""] + side_study(root / name) + [""]
    return L


def lr_grid_section(plan, root: Path, sections: dict[str, str]) -> list[str]:
    """The learning-rate grid (the paper's appendix A), judged as the paper judged its own."""
    from .. import evidence
    from ..reproduce import PAPER_LR_RANGE

    grid = evidence.lr_grid_table(root, within=PAPER_LR_RANGE)
    if grid.empty:
        return []
    lr_plan = {t.overrides.get("learning_rate") for t in plan.tasks
               if t.study not in ("lr-grid", "pretrain-steps")} - {None}
    chosen = grid.loc[grid["chosen"] == "yes", "learning rate"]
    best = grid.loc[grid["best overall"] == "yes", "learning rate"].iloc[0]
    L = ["## Choosing the learning rate (the paper's appendix A)", ""]
    if sections.get("lr-grid"):
        L += [sections["lr-grid"], ""]
    L += [markdown_table(grid.assign(**{c: grid[c].map(lambda v: f"{v:.4f}") for c in grid.columns
                                        if grid[c].dtype.kind == "f" and c != "learning rate"})), "",
          (f"Within the paper's range the grid chooses {chosen.iloc[0]:g}; " if len(chosen) else "")
          + f"over all rates tried, {best:g} fits rand best. The plan's tasks use "
          + f"{', '.join(f'{v:g}' for v in sorted(lr_plan)) or '-'}."]
    for folder, note in keyed("lr-grid after", sections).items():
        if (root / folder).exists():
            L += ["", note]
    return L + [""]


def signal_section(plan, root: Path, figures_dir: Path, rel: str) -> list[str]:
    """'Time to signal': the validation metric against training tokens, seed 0 of every task (figure, table)."""
    from .. import evidence

    curves = evidence.signal_curves(root)
    if not curves:
        return []
    name = "time_to_signal.png"
    signal_figure(curves, figures_dir / name, f"Validation metric against training tokens, seed 0 ({plan.model})")
    rows = []
    for (study, ds, pair), c in curves.items():
        a, b = pair.split(" vs ")
        t = evidence.first_separation(c, a, b)
        total = max(x for x, _ in c[a])
        rows.append({"task": f"{study}/{ds}", "pair": pair,
                     "separates (≥0.02, for good) after": "does not" if t is None else f"{t / 1e3:,.0f}k tokens",
                     "of tokens trained": f"{total / 1e3:,.0f}k",
                     "last validation, pretrained side": f"{c[a][-1][1]:.3f}",
                     "last validation, rand side": f"{c[b][-1][1]:.3f}"})
    return ["## Time to signal", "",
            "Where pretrained and rand separate on this machine: the validation metric (a seeded sample of the "
            "validation split) against training tokens, seed 0 of every task. This is the paper's Figure 2 "
            "question asked of the metric instead of the loss, and it is what sized the plan: a task whose "
            "curves have not separated within its budget says nothing about transfer.", "",
            f"![validation metric against training tokens]({rel}/{name})", "",
            markdown_table(pd.DataFrame(rows)), ""]


def loss_gap_section(gaps: pd.DataFrame, problems: list[CellProblem], root: Path) -> list[str]:
    """The training-loss comparison (the paper's Figure 2), and the finished cells left out of it for want of
    a curve."""
    if gaps.empty:
        return []
    fmt = {c: gaps[c].map(lambda v: f"{v:.1f} of 10" if c.startswith("tenths") else f"{v:.4f}")
           for c in gaps.columns if gaps[c].dtype.kind == "f"}
    L = [f"## {LOSS_GAP_TITLE}", "", LOSS_GAP_NOTE, "", markdown_table(gaps.assign(**fmt)), ""]
    curveless = [p for p in problems if not p.skipped]
    if curveless:
        L += ["Left out of these verdicts, for want of a training curve (no `metrics.jsonl`; see *Cells that "
              "could not be read*): " + ", ".join(f"`{p.path.parent.relative_to(root)}`" for p in curveless)
              + ". A seed whose other side is left out is not paired.", ""]
    return L
