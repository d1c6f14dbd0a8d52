"""The Markdown report of a reproduction plan: :func:`write_report`.

It reads the run folders a :class:`~disc_core.study.reproduce.Plan` wrote under ``root`` (nothing is
re-run) and writes a Markdown file, its figures (:mod:`.figures`) and the results file beside it
(:mod:`.export`). Every number comes from a ``results.json``; cells of the plan that have not finished are
listed as missing, never filled in, and a cell that cannot be read is named, with what to do, instead of
stopping the report. The prose that is this study's own comes from ``docs/report-discussion.md``
(:mod:`.prose`).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pandas as pd

from ...fileio import atomic_write_text
from ..compare import markdown_table, mean_std_text
from ..paper import CITATION
from . import sections as S
from .cells import loss_curves, read_json, unreadable_cells
from .export import export_results
from .figures import loss_curve_figure, pretrain_steps_figure
from .findings import findings
from .hardware import hardware, throughput_lines, where_section
from .prose import prose
from .round2 import Round2, best_lr_export, best_lr_section, google_point, gpu_budget_line, pretrain_gain_section
from .tables import study_tables
from .verdicts import PAPER_GAP_NOTE

__all__ = ["write_report", "PAPER_NOTE"]

#: what the paper's column and the baselines' rows of a study table mean (printed under each)
PAPER_NOTE = ("Paper: the paper's bert-base-uncased number ÷ 100 (our 0-1 scale), then as printed (percent): "
              "text from Table 1 / the appendix's Table 1 (1% data: its 'shift 1000 1% data' rows), non-text "
              "from Table 2 (test). *not reported*: the paper prints no number (unused: only a sentence); "
              "*not in the paper*: a dataset it does not use. Baseline rows (`kmer-lr`, `cnn`: no BERT, computed "
              "here on the same split) show the paper's discipline-specific model instead (its 'specific' row: "
              "Hilbert-CNN on DNA, PLUS-TFM on protein, numbers it copies from other papers; none for music). "
              "*train time*: the mean over seeds of the training loop's (or the fit's) seconds.")


def _header(plan, root: Path, report_path: Path, commands, hw: dict, all_res: list[dict], text: dict) -> list[str]:
    L = [f"# Reproducing Kao & Lee (2021) with disc_core: profile `{plan.profile}`", "",
         f"> {CITATION}", "",
         "Every number below comes from a run folder written by this tool's own commands; nothing is copied in "
         "by hand. The paper's own numbers (`assets/paper_results.json`, every number of its Tables 1-2 as printed, "
         "checked against its text by `tests/test_paper.py`) are shown beside ours; where the paper prints none "
         "the cell says so, and none is invented.", "",
         f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} from `{root}`.", "",
         "## How to regenerate", "", "```bash"]
    L += commands or [f"python -m disc_core reproduce --profile {plan.profile} --root {root}"]
    L += ["```", "",
          "The command is resumable: every finished cell (`<root>/<study>/<dataset>/<variant>/seed<N>/results.json`) "
          "is reused, so it can run in pieces and be stopped at any time (only the cell in progress is lost). "
          "`--report-only` rewrites this file and the figures from whatever has finished. Every finished cell's "
          f"numbers are also written to `{report_path.with_suffix('.json').name}` beside this file: the dashboard's "
          "Reproduction page shows the same tables from it.", "",
          "## Hardware and budget", "",
          f"- Model: `{plan.model}`: {plan.about}.",
          f"- Machine: {hw['platform']}, {hw['processor']}, {hw['cpu_count']} CPU cores, CUDA: {hw['cuda']}; "
          f"Python {hw['python']}, torch {hw['torch']}.",
          ]
    if "compute_hours" in hw:
        L.append(f"- Runs in this report used {hw['compute_hours']:.2f} h of wall-clock time, summed over runs "
                 f"(cells that ran at the same time count twice), on {hw['devices_used']}.")
    return L + throughput_lines(all_res, hw, text)


def _budget(plan, root: Path, unreadable: set[Path]) -> list[str]:
    """The profiles of the command, and each task's estimated and measured minutes."""
    from ..reproduce import PROFILES, build_plan, estimate_seconds, hours_on_gpus, n_cells

    L = ["", "Profiles of the same command (`--profile`); estimates are for an idle 2-core CPU:", "",
         "| profile | model | tasks | estimated hours | what it is |", "|---|---|---|---|---|"]
    for name in PROFILES:
        pl = build_plan(name)
        est = sum(estimate_seconds(t, pl.model) for t in pl.tasks) / 3600
        est_s = f"{est:.1f}" if name != "gpu" else (f"(GPU: ~{hours_on_gpus(pl, 1):.0f} h of one A100-class GPU at an "
                                                   "assumed 100k tokens/s; `--dry-run --gpus 1 8 32`)")
        L.append(f"| `{name}`{' (this report)' if name == plan.profile else ''} | `{pl.model}` | {len(pl.tasks)} | "
                 f"{est_s} | {pl.about} |")
    L += ["", "*measured*: the finished cells' own wall time, summed (cells that ran side by side, `--jobs 2`, "
          "each on one thread, count in full: the plan's wall clock is about half of it); *estimated*: an idle "
          "2-core CPU running the task's cells one after another on two threads.", "",
          "| task | variants | seeds | estimated minutes | measured minutes (cells finished) | "
          "budget (differs from the paper's) |",
          "|---|---|---|---|---|---|"]
    measured_total = 0.0
    for t in plan.tasks:
        secs, n = S.measured_seconds(plan, root, t, unreadable)
        measured_total += secs
        done = f"{secs / 60:.0f} ({n} of {n_cells(t)})" if n else "-"
        L.append(f"| `{t.key}` | {', '.join(t.variants)} | {len(t.seeds)} | {estimate_seconds(t, plan.model) / 60:.0f} "
                 f"| {done} | {t.why} |")
    return L + ["", f"Measured so far: {measured_total / 3600:.1f} h of cell time for this plan's tasks "
                f"(~{measured_total / 7200:.1f} h of the machine with two cells at a time).", ""]


def _studies(plan, root: Path, tables: dict, figures_dir: Path, rel: str) -> list[str]:
    """One section per study: the summary beside the paper, the ordering checks, a loss figure per dataset."""
    from ..reproduce import STUDIES

    L = []
    for study in ("non-text", "text", "text-1pct", "signal"):
        if study == "signal" and study not in tables and not any(t.study == study for t in plan.tasks):
            continue  # a plan without one-seed probes
        title, where = STUDIES[study]
        L += [f"## {title} (the paper's {where})", ""]
        if study not in tables:
            L += ["No finished runs yet.", ""]
            continue
        t = tables[study]
        L += [S.summary_md(t["summary"]), "", PAPER_NOTE, "",
              "Ordering checks, paired by seed (mean difference of the metric, 95% t interval, one-sided paired "
              "t-test p). *holds* = the interval lies above 0; *not significant* = right direction, interval "
              "contains 0; *no difference* = identical scores; *reversed* = wrong direction. " + PAPER_GAP_NOTE, "",
              markdown_table(t["orderings"]), ""]
        fails = [r["dataset"] for _, r in t["orderings"].iterrows()
                 if r["paper's claim"].endswith("> rand") or r["paper's claim"].endswith("> rand+shift")
                 if r["verdict"] != "holds" and not r["verdict"].startswith("n/a")] if not t["orderings"].empty else []
        lines = [gpu_budget_line(ds) for ds in dict.fromkeys(fails)]
        if any(lines):
            L += ["Where pretrained > rand does not hold here, what the paper's own budget would cost on a GPU:", ""]
            L += [f"- {ln}." for ln in lines if ln] + [""]
        for ds in dict.fromkeys(r["dataset"] for r in t["results"]):
            curves = loss_curves(root / study, ds)
            if not curves:
                continue
            name = f"loss_{study}_{ds}.png"
            loss_curve_figure(curves, f"{ds}: training loss ({study}, {plan.model})", figures_dir / name)
            L += [f"![training loss on {ds}]({rel}/{name})", ""]
    return L


def _pretrain_steps(r2: Round2, tables: dict, figures_dir: Path, rel: str) -> list[str]:
    """The pre-training-steps study (the paper's Figure 3): its table and a figure per dataset."""
    root = r2.root
    L = ["## Pre-training steps (the paper's Figure 3)", ""]
    if "pretrain-steps" not in tables:
        return L + ["No finished runs yet.", ""]
    s = tables["pretrain-steps"]["summary"].sort_values(["dataset", "step"])
    rows = [{"dataset": r["dataset"], "pre-training step": int(r["step"]),
             "MLM loss": "" if r["mlm_loss"] is None or r["mlm_loss"] != r["mlm_loss"] else f"{r['mlm_loss']:.3f}",
             "metric": r["metric"], "mean ± std": mean_std_text(r["mean"], r["std"], r["n"]), "seeds": r["n"]}
            for _, r in s.iterrows()]
    ck = root / "pretrain-steps" / "checkpoints" / "checkpoints.json"
    if ck.exists():
        meta, _ = read_json(ck)
        L += [f"Pre-training corpus: {meta.get('corpus', '?') if isinstance(meta, dict) else '?'}.", ""]
    L += [markdown_table(pd.DataFrame(rows)), ""]
    mlm_losses, _ = read_json(root / "pretrain-steps" / "checkpoints" / "mlm_losses.json")
    if not (isinstance(mlm_losses, list) and all(isinstance(x, (int, float)) for x in mlm_losses)):
        mlm_losses = None  # no curve (or an unreadable one): the checkpoints' own losses only
    points = r2.points
    for ds, g in s.groupby("dataset"):
        name = f"pretrain_steps_{ds}.png"
        gp = google_point(points, ds)
        pretrain_steps_figure(g, figures_dir / name, f"{ds}: fine-tuned after N pre-training steps", mlm_losses,
                              google=(gp[0], gp[1], "the plan's model") if gp else None)
        L += [f"![metric against pre-training steps]({rel}/{name})", ""]
    return L + pretrain_gain_section(r2)


def write_report(plan, root: str | Path, report_path: str | Path, figures_dir: str | Path,
                 commands: list[str] | None = None, discussion: str | None = None) -> Path:
    """Write the Markdown report of ``plan``'s finished runs under ``root``, its figures and its results file.

    A cell that cannot be read is left out, named in the report's "Cells that could not be read" and on
    stderr; ``discussion`` replaces the prose file's."""
    from .. import evidence

    root, report_path, figures_dir = Path(root), Path(report_path), Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    rel = os.path.relpath(figures_dir, report_path.parent)
    text = prose()
    problems = unreadable_cells(root)
    for p in problems:
        print(f"report: {'skipped' if p.skipped else 'no curve for'} {p.text()}", file=sys.stderr)
    unreadable = {p.path.parent for p in problems if p.skipped}
    tables = study_tables(root)
    all_res = [r for t in tables.values() for r in t["results"]]
    hw = hardware(all_res)
    L = _header(plan, root, report_path, commands, hw, all_res, text)
    L += _budget(plan, root, unreadable)
    gone = S.missing(plan, root, unreadable)
    L += ["## What has not finished", ""]
    L += [f"- {m}" for m in gone] if gone else ["Every cell of the plan has finished."]
    L.append("")
    L += S.unreadable_section(problems, root)
    L += where_section(root)
    L += S.data_splits(root)
    gaps = evidence.loss_gap_table(root)  # every run's curve read once: the section below and the export
    L += S.lr_grid_section(plan, root, text) + S.signal_section(plan, root, figures_dir, rel)
    L += S.loss_gap_section(gaps, problems, root)
    L += _studies(plan, root, tables, figures_dir, rel)
    r2 = Round2.read(root)  # Figure 3's points and the best-lr tables, read once for sections, findings, export
    L += _pretrain_steps(r2, tables, figures_dir, rel)
    if (root / "best-lr").exists() or any(t.lr_grid for t in plan.tasks):
        L += best_lr_section(r2)
    if (root / "lr-look").exists():
        L += ["## A learning-rate look before a claim is called failed", ""]
        L += ([text["lr-look"], ""] if text.get("lr-look") else [])
        L += S.side_study(root / "lr-look") + [""]
    L += S.set_aside_section(root, text)
    L += ["## Findings (computed from the tables above)", ""]
    L += [f"- {f}" for f in findings(tables, round2=r2)] or ["- none yet"]
    L += ["", "## Discussion: where and why this differs from the paper", ""]
    L += [discussion or text.get("discussion", ""), "", ""]
    atomic_write_text(report_path, "\n".join(L), mode=0o644)
    export_results(tables, report_path.with_suffix(".json"), plan.profile, plan.model, training_loss=gaps,
                   best_lr=best_lr_export(r2) if (root / "best-lr").exists() else None)
    return report_path
