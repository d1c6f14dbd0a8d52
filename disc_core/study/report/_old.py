"""The reproduction report: tables beside the paper's numbers, ordering tests, figures, hardware, commands.

:func:`write_report` reads the run folders a :class:`~disc_core.study.reproduce.Plan` wrote under ``root``
(nothing is re-run) and writes a Markdown file plus PNG figures drawn with matplotlib (Agg):

- ``loss_<study>_<dataset>.png``  training loss per variant, mean over seeds with a min-max band (Figure 2)
- ``pretrain_steps_<dataset>.png`` test metric against pre-training steps, step 0 included (Figure 3)

Every number in the report comes from a ``results.json``; cells of the plan that have not finished are
listed as missing, never filled in. :func:`study_tables` gives the same tables as DataFrames (for the
dashboard).
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .compare import (PAPER_COLUMN, cell_dir, cell_state, collect_results, paired_test, paper_text, summarize,
                      train_time_text)
from ..engine.experiment import read_metrics
from .paper import CITATION, PAPER_ORDERINGS, PAPER_TASKS, paper_cell

__all__ = ["write_report", "study_tables", "tables_from_results", "export_results", "load_results", "published_info",
           "PAPER_GAP", "PAPER_GAP_VERDICT", "PAPER_GAP_NOTE", "paper_gap_verdict", "training_loss_table",
           "LOSS_GAP_TITLE", "LOSS_GAP_NOTE",
           "ordering_table", "loss_curve_figure", "pretrain_steps_figure",
           "pretrain_step_results", "hardware", "verdict"]

_COLORS = {"pretrained": "C0", "rand": "C3", "re-emb": "C2", "unused": "C1", "pretrained+shift": "C9",
           "rand+shift": "C6", "pretrained+random-shift": "C4", "rand+random-shift": "C5"}


# --------------------------------------------------------------------------------------------- data
def _load_cells(study_root: Path) -> list[dict]:
    return [_rescore(r) for r in collect_results(study_root)] if study_root.exists() else []


def _rescore(r: dict) -> dict:
    """A cell's score in its dataset's headline metric as it is now (a cell that finished before the metric
    changed, e.g. STS-B from Pearson to the paper's Spearman, has both in its ``test`` metrics)."""
    from ..data import get_info

    try:
        metric = get_info(r["dataset"]).metric
    except Exception:
        return r
    if metric != r.get("metric") and metric in (r.get("test") or {}):
        r = {**r, "metric": metric, "score": r["test"][metric]}
    return r


def _save_figure(fig, path: str | Path) -> Path:
    """Lay out, write (creating the folder) and close a matplotlib figure."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    _plt().close(fig)
    return path


def pretrain_step_results(root: str | Path) -> tuple[list[dict], list[dict]]:
    """(results with a ``pretrain_step`` key, the checkpoint list) of the ``pretrain-steps`` study."""
    from .pretrain import read_checkpoints

    base = Path(root) / "pretrain-steps"
    out = []
    for d in sorted((base / "runs").glob("step_*")):
        step = int(d.name.split("_", 1)[1])
        for r in collect_results(d):
            out.append({**r, "pretrain_step": step})
    return out, read_checkpoints(base / "checkpoints")


def verdict(t: dict | None) -> str:
    """'holds' (95% CI above 0), 'not significant' (right direction), 'reversed' / 'reversed (significant)'."""
    if t is None:
        return "n/a (fewer than 2 paired seeds)"
    if t["holds"]:
        return "holds"
    if t["mean_diff"] == 0:
        return "no difference"
    if t.get("constant"):  # the same nonzero difference on every seed: no variance, so no t-test
        return ("right direction" if t["direction_ok"] else "reversed") + " on every seed by the same amount (untested)"
    if t["direction_ok"]:
        return "not significant"
    return "reversed (significant)" if t["ci95"][1] < 0 else "reversed, not significant"


def ordering_table(results: list[dict], pairs: list[tuple[str, str]], close: list[tuple[str, str]] = (),
                   setting: str | None = None) -> pd.DataFrame:
    """One row per (dataset, better > worse) pair: paired mean difference, 95% CI, one-sided p, verdict.

    ``close`` pairs (the paper's "unused is close to rand") are tested two-sided: "close" when the 95%
    CI of the difference contains 0. With ``setting`` (``"full"`` or ``"1pct"``), each row also gets the
    paper's own difference for the pair (its two numbers ÷ 100, where it prints both) and where that
    difference lies against our interval (:func:`paper_gap_verdict`).
    """
    rows = []
    for ds in dict.fromkeys(r["dataset"] for r in results):
        rs = [r for r in results if r["dataset"] == ds]
        labels = {r["label"] for r in rs}
        for better, worse in pairs:
            if better in labels and worse in labels:
                t = paired_test(rs, better, worse)
                rows.append(_test_row(ds, f"{better} > {worse}", t, verdict(t),
                                      _paper_gap(ds, better, worse, setting)))
        for a, b in close:
            if a in labels and b in labels:
                t = paired_test(rs, a, b)
                v = "n/a (fewer than 2 paired seeds)" if t is None else (
                    "close (CI contains 0)" if t["ci95"][0] <= 0 <= t["ci95"][1] else "differs")
                rows.append(_test_row(ds, f"{a} ≈ {b}", t, v, _paper_gap(ds, a, b, setting)))
    columns = ["dataset", "paper's claim", "seeds", "mean diff", "95% CI", "p (one-sided)", "verdict"]
    if setting is not None:
        columns += [PAPER_GAP, PAPER_GAP_VERDICT]
    return pd.DataFrame(rows, columns=columns)


#: the ordering tables' columns that set our difference beside the paper's
PAPER_GAP, PAPER_GAP_VERDICT = "paper's diff", "ours against the paper's diff"
#: what those two columns mean (the report and the Reproduction page print it under the tables)
PAPER_GAP_NOTE = ("*paper's diff*: the paper's own difference for the pair (its two numbers ÷ 100, blank where it "
                  "prints no number for either side). Against our 95% interval: *agrees* = the paper's difference "
                  "lies inside it and 0 does not (or both are 0); *cannot tell* = both lie inside it, so our seeds "
                  "do not separate the paper's gap from none; *ours larger* / *ours smaller* = the whole interval "
                  "lies above / below the paper's difference.")


def _paper_gap(ds: str, a: str, b: str, setting: str | None) -> float | None:
    """The paper's ``a`` minus its ``b`` on our 0-1 scale, or None where it prints no number for either."""
    if setting is None:
        return None
    ca, cb = paper_cell(ds, a, setting), paper_cell(ds, b, setting)
    if not (ca.reported and cb.reported):
        return None
    return float(ca._scaled_decimal - cb._scaled_decimal)


def paper_gap_verdict(t: dict | None, gap: float | None) -> str:
    """Where the paper's difference lies against our 95% interval of the paired difference.

    *agrees*: inside it, and the interval does not also hold 0 (or the paper's difference is 0 too);
    *cannot tell*: inside it, but so is 0: our seeds do not separate the paper's gap from none;
    *ours larger* / *ours smaller*: the whole interval lies above / below the paper's difference
    (*reversed* added when it lies below 0). Blank where the paper prints no pair or we have < 2 seeds.
    """
    if gap is None or t is None:
        return ""
    lo, hi = t["ci95"]
    eps = 1e-9
    if t.get("constant") and abs(gap - lo) > eps:
        return f"ours {'larger' if gap < lo else 'smaller'} by the same amount on every seed (untested)"
    if lo - eps <= gap <= hi + eps:
        if abs(gap) > eps and lo - eps <= 0 <= hi + eps:
            return "cannot tell (our interval holds both 0 and the paper's diff)"
        return "agrees (the paper's diff is in our interval)"
    if gap < lo:
        return "ours larger"
    return "ours smaller, reversed" if hi < 0 else "ours smaller"


def _test_row(ds, claim, t, v, gap: float | None = None) -> dict:
    paper = {PAPER_GAP: "" if gap is None else f"{gap:+.4f}", PAPER_GAP_VERDICT: paper_gap_verdict(t, gap)}
    if t is None:
        return {"dataset": ds, "paper's claim": claim, "seeds": 0, "mean diff": "", "95% CI": "",
                "p (one-sided)": "", "verdict": v, **paper}
    return {"dataset": ds, "paper's claim": claim, "seeds": t["n"], "mean diff": f"{t['mean_diff']:+.4f}",
            "95% CI": f"[{t['ci95'][0]:+.4f}, {t['ci95'][1]:+.4f}]", "p (one-sided)": f"{t['p_value']:.3f}",
            "verdict": v, **paper}


def study_tables(root: str | Path) -> dict[str, dict[str, pd.DataFrame]]:
    """``{study: {"summary": DataFrame, "orderings": DataFrame, "results": [...]}}`` of the finished cells
    under ``root``; ``root`` may also be a results file written by :func:`export_results` (the
    published report's numbers, for a dashboard without the run folders)."""
    root = Path(root)
    if root.is_file():
        return load_results(root)
    by_study = {study: _load_cells(root / study) for study in ("non-text", "text", "text-1pct", "signal")}
    res, ckpts = pretrain_step_results(root)
    return tables_from_results(by_study, res, ckpts)


def tables_from_results(by_study: dict[str, list[dict]], pretrain_results: list[dict] = (),
                        checkpoints: list[dict] = ()) -> dict[str, dict]:
    """The tables of :func:`study_tables` from result dicts (``results.json`` contents)."""
    out = {}
    for study, pairs, close in (("non-text", PAPER_ORDERINGS["non-text"], [("unused", "rand")]),
                                ("text", PAPER_ORDERINGS["text"], []),
                                ("text-1pct", PAPER_ORDERINGS["text"][:2], []),
                                ("signal", [], [])):
        res = list(by_study.get(study) or [])
        if res:
            pairs = [("pretrained", "rand"), *pairs]
            # text-1pct runs use 1% of the data: they compare with the paper's "shift 1000 1% data" rows
            setting = "1pct" if study == "text-1pct" else "full"
            out[study] = {"summary": summarize(res, setting=setting),
                          "orderings": ordering_table(res, pairs, close, setting=setting),
                          "results": res}
    res = list(pretrain_results)
    if res:
        df = pd.DataFrame([{"dataset": r["dataset"], "step": r["pretrain_step"], "score": r["score"],
                            "metric": r["metric"], "seed": r["seed"]} for r in res])
        g = df.groupby(["dataset", "metric", "step"])["score"]
        summ = g.agg(mean="mean", std=lambda x: float(np.std(x, ddof=1)) if len(x) > 1 else 0.0,
                     n="count").reset_index()
        loss = {c["step"]: c.get("mlm_loss") for c in checkpoints}
        summ["mlm_loss"] = [loss.get(s) for s in summ["step"]]
        out["pretrain-steps"] = {"summary": summ, "results": res, "checkpoints": list(checkpoints)}
    return out


#: the keys of a results.json kept in the exported results file (no curves, no paths)
_EXPORT_KEYS = ("dataset", "variant", "label", "seed", "metric", "score", "test", "steps", "best_step",
                "best_validation", "stopped_early", "examples_seen", "tokens_seen", "train_time_s", "tokens_per_s",
                "device", "precision", "pretrain_step")
RESULTS_FORMAT = "disc_core.reproduction-results/1"


def export_results(tables: dict, path: str | Path, profile: str, model: str,
                   training_loss: pd.DataFrame | None = None) -> Path:
    """Write every finished cell's numbers (not its curves) to a small JSON file: the published report's
    data, which the dashboard's Reproduction page shows when the run folders are not on this machine.
    ``training_loss`` (:func:`~disc_core.study.evidence.loss_gap_table`, computed from the curves) goes
    with it, so the page can show Figure 2's verdicts without them."""
    data = {"format": RESULTS_FORMAT, "profile": profile, "model": model,
            "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "studies": {study: [{k: r[k] for k in _EXPORT_KEYS if k in r} for r in t["results"]]
                        for study, t in tables.items()},
            "checkpoints": [{k: c.get(k) for k in ("step", "mlm_loss")}
                            for c in tables.get("pretrain-steps", {}).get("checkpoints", [])],
            "training_loss": [] if training_loss is None else training_loss.to_dict("records")}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float), encoding="utf-8")
    os.replace(tmp, path)
    return path


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
    from . import evidence

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
    from ..errors import DataError

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
    return tables_from_results({k: v for k, v in studies.items() if k != "pretrain-steps"},
                               studies.get("pretrain-steps", []), data.get("checkpoints", []))


# -------------------------------------------------------------------------------------------- figures
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _smooth(y: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or len(y) < k:
        return y
    c = np.convolve(y, np.ones(k) / k, mode="valid")
    return np.concatenate([np.full(k - 1, np.nan), c])


def loss_curve_figure(curves: dict[str, list[list[tuple[int, float]]]], title: str, path: str | Path,
                      smooth: int | None = None) -> Path:
    """Training loss against steps per variant: mean over seeds, band = min..max over seeds.

    ``curves`` maps a variant label to one ``[(step, loss), ...]`` list per seed.
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for label, runs in curves.items():
        runs = [r for r in runs if r]
        if not runs:
            continue
        n = min(len(r) for r in runs)
        steps = np.array([s for s, _ in runs[0][:n]])
        Y = np.array([[l for _, l in r[:n]] for r in runs])  # (seeds, steps)
        k = smooth or max(1, n // 8)
        Y = np.array([_smooth(y, k) for y in Y])
        if 1 < k <= n:  # the moving average starts at its k-th point
            steps, Y = steps[k - 1:], Y[:, k - 1:]
        c = _COLORS.get(label)
        seeds = f"{len(runs)} seed" + ("s" if len(runs) > 1 else "")
        ax.plot(steps, np.nanmean(Y, axis=0), label=f"{label} ({seeds})", color=c, lw=1.6)
        if len(runs) > 1:
            ax.fill_between(steps, np.nanmin(Y, axis=0), np.nanmax(Y, axis=0), color=c, alpha=0.18, lw=0)
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("training loss" + (" (moving average)" if (smooth or 2) > 1 else ""))
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save_figure(fig, path)


def pretrain_steps_figure(summary: pd.DataFrame, path: str | Path, title: str = "",
                          mlm_losses: list[float] | None = None) -> Path:
    """Test metric (mean ± std over seeds) against pre-training steps on a symlog axis (step 0 shown);
    a second panel shows the MLM training loss (the whole curve when ``mlm_losses`` is given)."""
    plt = _plt()
    has_loss = bool(mlm_losses) or ("mlm_loss" in summary and summary["mlm_loss"].notna().any())
    fig, axes = plt.subplots(1, 2 if has_loss else 1, figsize=(9.6 if has_loss else 5.6, 3.8), dpi=110)
    axes = np.atleast_1d(axes)
    s = summary.sort_values("step")
    steps = s["step"].to_numpy(dtype=float)
    nz = steps[steps > 0]
    lin = float(nz.min()) if len(nz) else 1.0

    def axis(ax, ticks=steps):
        ax.set_xscale("symlog", linthresh=lin)
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(int(x)) for x in ticks], fontsize=7)
        ax.minorticks_off()
        ax.grid(alpha=0.3)

    ax = axes[0]
    ax.errorbar(steps, s["mean"], yerr=s["std"], marker="o", capsize=3, color="C0")
    axis(ax)
    ax.set_xlabel("pre-training steps (symlog; 0 = random initialisation)")
    ax.set_ylabel(f"test {s['metric'].iloc[0]} after fine-tuning")
    ax.set_title(title or "Fine-tuned metric against pre-training steps", fontsize=10)
    if has_loss:
        if mlm_losses:
            y = np.asarray(mlm_losses, dtype=float)
            axes[1].plot(np.arange(1, len(y) + 1), _smooth(y, max(1, len(y) // 50)), color="C1", lw=1.2)
        m = s[s["mlm_loss"].notna()] if "mlm_loss" in s else s.iloc[:0]
        axes[1].plot(m["step"], m["mlm_loss"], "o", color="C1")
        axis(axes[1], sorted(set(steps) | ({float(len(mlm_losses))} if mlm_losses else set())))
        axes[1].set_xlabel("pre-training steps")
        axes[1].set_ylabel("MLM training loss")
        axes[1].set_title("Pre-training progress (dots: checkpoints)", fontsize=10)
    return _save_figure(fig, path)


def _curves(study_root: Path, dataset: str) -> dict[str, list[list[tuple[int, float]]]]:
    curves: dict[str, list] = {}
    for d in sorted((study_root / dataset).glob("*/seed*")):
        if not (d / "results.json").exists():
            continue
        ev = [(e["step"], e["loss"]) for e in read_metrics(d) if e.get("kind") == "step"]
        curves.setdefault(d.parent.name, []).append(ev)
    order = list(_COLORS)
    return dict(sorted(curves.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99))


# ------------------------------------------------------------------------------------------- hardware
def hardware(results: list[dict] | None = None) -> dict:
    """What ran the report: platform, CPU count, torch, device, and the runs' measured speed."""
    import torch

    hw = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
          "cpu_count": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
          "torch_threads": torch.get_num_threads(),
          "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"}
    try:
        hw["load_average"] = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        pass
    if results:
        hw["devices_used"] = ", ".join(sorted({str(r.get("device")) for r in results}))
        hw["compute_hours"] = sum(r.get("wall_time_s", 0) for r in results) / 3600
    return hw


# --------------------------------------------------------------------------------------------- writer
def _fmt(m: float, s: float, n: int) -> str:
    return f"{m:.4f} ± {s:.4f}" if n > 1 else f"{m:.4f}"


def _md(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(str(r[c]) for c in cols) + " |")
    return "\n".join(lines)


def _summary_md(summ: pd.DataFrame) -> str:
    rows = []
    for _, r in summ.iterrows():
        rows.append({"dataset": r["dataset"], "paper's task": PAPER_TASKS.get(r["dataset"], ("(not in the paper)",))[0],
                     "variant": r["variant"], "metric": r["metric"], "ours: mean ± std": _fmt(r["mean"], r["std"], r["n"]),
                     "seeds": r["n"], PAPER_COLUMN: paper_text(r),
                     "train time (mean)": train_time_text(r.get("train_time_s"))})
    return _md(pd.DataFrame(rows))


def _missing(plan, root: Path) -> list[str]:
    from .reproduce import task_configs, task_root

    out = []
    for t in plan.tasks:
        if t.study == "pretrain-steps":
            res, ckpts = pretrain_step_results(root)
            want = len(ckpts or t.checkpoints or t.pretrain.checkpoint_fractions) * len(t.seeds)
            have = sum(1 for r in res if r["dataset"] == t.dataset)
            if have < want:
                out.append(f"`{t.key}`: {have} of {want} fine-tuning runs finished" if have else
                           f"`{t.key}`: not run (0 of {want} fine-tuning runs)")
            continue
        cfgs = task_configs(t, plan.model)
        state = {(c.label, c.seed): cell_state(cell_dir(task_root(root, t), c), c) for c in cfgs}
        stale = [f"{c.label}/seed{c.seed}" for c in cfgs if state[c.label, c.seed] == "stale"]
        if stale:
            out.append(f"`{t.key}`: {len(stale)} finished cell(s) ran with another budget than this plan's "
                       f"({', '.join(stale[:4])}{' ...' if len(stale) > 4 else ''}); the tables include them until "
                       "the command is run again, which re-runs them")
        done = [c for c in cfgs if state[c.label, c.seed] != "missing"]
        what = f"`{t.key}` ({', '.join(t.variants)})"
        if not done:
            out.append(f"{what}: not run (0 of {len(cfgs)} cells)")
        elif len(done) < len(cfgs):
            missing = [f"{c.label}/seed{c.seed}" for c in cfgs if c not in done]
            short = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
            out.append(f"{what}: {len(done)} of {len(cfgs)} cells finished; missing {short}")
    return out


def _late_loss(root: Path, study: str, ds: str) -> dict[str, float]:
    """Mean training loss over the last quarter of steps, per variant (averaged over seeds): Figure 2's view."""
    out = {}
    for label, runs in _curves(root / study, ds).items():
        vals = [np.mean([l for _, l in r[-max(1, len(r) // 4):]]) for r in runs if r]
        if vals:
            out[label] = float(np.mean(vals))
    return out


CLAIM = "paper's claim"


def _precision(r: dict) -> str:
    """A run's precision; before runs recorded it, a CPU run was always fp32 and a CUDA run bf16."""
    return r.get("precision") or ("bf16" if str(r.get("device", "cpu")).startswith("cuda") else "fp32")


def _findings(tables: dict, root: Path | None = None) -> list[str]:
    """Plain sentences computed from the numbers (the report's discussion starts from these)."""
    out = []
    # the headline: on how many task settings does pretrained beat rand (and re-emb), the paper's main claims
    for pairs, name in (((("pretrained", "rand"), ("pretrained+shift", "rand+shift"),
                          ("pretrained+random-shift", "rand+random-shift")), "pretrained > rand"),
                        ((("pretrained", "re-emb"),), "pretrained > re-emb")):
        claims = {f"{a} > {b}" for a, b in pairs}
        rows = [(study, r) for study in ("non-text", "text", "text-1pct") if study in tables
                for _, r in tables[study]["orderings"].iterrows() if r[CLAIM] in claims]
        untestable = [f"{s}/{r['dataset']}" for s, r in rows if r["verdict"].startswith("n/a")]
        rows = [(s, r) for s, r in rows if not r["verdict"].startswith("n/a")]
        if rows:
            held = [f"{s}/{r['dataset']} ({r[CLAIM].split(' > ')[0]})" for s, r in rows if r["verdict"] == "holds"]
            out.append(f"**{name}** (95% interval of the paired difference above 0): holds on {len(held)} of "
                       f"{len(rows)} task settings tested" + (": " + ", ".join(held) if held else "")
                       + (f" (not testable yet, fewer than 2 paired seeds: {', '.join(untestable)})" if untestable
                          else "") + ".")
    for study in ("non-text", "text", "text-1pct"):
        if study not in tables:
            continue
        res = tables[study]["results"]
        for ds in dict.fromkeys(r["dataset"] for r in res):
            rs = [r for r in res if r["dataset"] == ds]
            # what the metric counts: pieces where segments are voted (n_groups), else examples
            n_test = min((r.get("test", {}).get("n_groups") or r.get("test", {}).get("n") or 10**9) for r in rs)
            if n_test < 100:
                out.append(f"{study}/{ds}: the test set has {n_test} examples (after voting, where it applies): one "
                           f"example moves accuracy by {100 / n_test:.1f} points.")
            seg = _segment_tests(tables[study]["orderings"], rs, ds)
            if seg:
                out.append(f"{study}/{ds}: per segment, before the vote (not the paper's metric, but "
                           f"{min(r['test']['n'] for r in rs):,}+ test segments instead of {n_test} pieces): "
                           + "; ".join(seg) + ".")
            prec = {}
            for r in rs:
                prec.setdefault(r["label"], set()).add(_precision(r))
            # the pairs the orderings table compared on this dataset (its claims "a > b")
            o = tables[study]["orderings"]
            pairs = [tuple(c.split(" > ")) for c in o.loc[o["dataset"] == ds, CLAIM] if " > " in c]
            mixed = [f"{a} ({'/'.join(sorted(prec[a]))}) > {b} ({'/'.join(sorted(prec[b]))})" for a, b in pairs
                     if a in prec and b in prec and prec[a] | prec[b] != prec[a] & prec[b]]
            if mixed:
                out.append(f"{study}/{ds}: compared cells that ran in different precisions: {'; '.join(mixed)} "
                           "(bf16 autocast came to this CPU between them): the difference also carries the "
                           "precision's.")
            flat = [r for r in rs if "mcc" in r.get("test", {}) and abs(r["test"]["mcc"]) < 1e-9]
            if flat:
                out.append(f"{study}/{ds}: {len(flat)} of {len(rs)} runs predict a single class on the test set "
                           f"(MCC 0: {', '.join(sorted({r['label'] for r in flat}))}); within this budget they have "
                           "not started to learn the task, so their score is the majority-class rate.")
            if root is not None:
                late = _late_loss(root, study, ds)
                if len(late) > 1:
                    order = sorted(late, key=late.get)
                    out.append(f"{study}/{ds}: training loss over the last quarter of steps (mean over seeds), lowest "
                               "first: " + ", ".join(f"{k} {late[k]:.3f}" for k in order) + ".")
    for study in ("non-text", "text", "text-1pct"):
        if study not in tables:
            continue
        o = tables[study]["orderings"]
        for claim in dict.fromkeys(o["paper's claim"]):
            sub = o[o["paper's claim"] == claim]
            untested = int(sub["verdict"].str.startswith("n/a").sum())
            sub = sub[~sub["verdict"].str.startswith("n/a")]
            n = len(sub)
            if untested:
                out.append(f"{study}: `{claim}`: not testable yet on {untested} dataset(s) (fewer than 2 paired seeds).")
            if not n:
                continue
            if "≈" in claim:
                k = int((sub["verdict"].str.startswith("close")).sum())
                out.append(f"{study}: `{claim}`: close on {k} of {n} datasets.")
            else:
                h = int((sub["verdict"] == "holds").sum())
                ns = int((sub["verdict"] == "not significant").sum())
                rv = int(sub["verdict"].str.startswith("reversed").sum())
                nd = int((sub["verdict"] == "no difference").sum())
                same = int(sub["verdict"].str.startswith("right direction on every seed").sum())
                out.append(f"{study}: `{claim}`: holds on {h}, same direction but not significant on {ns}"
                           + (f", same direction by the same amount on every seed (untestable) on {same}" if same else "")
                           + f", reversed on {rv}" + (f", no difference on {nd}" if nd else "") + f" of {n} datasets.")
    for study in ("text", "text-1pct", "non-text"):
        o = tables.get(study, {}).get("orderings")
        if o is None or PAPER_GAP_VERDICT not in o:
            continue
        o = o[o[PAPER_GAP_VERDICT] != ""]
        if len(o):
            kinds = {}
            for _, r in o.iterrows():
                kinds.setdefault(r[PAPER_GAP_VERDICT].split(" (")[0], []).append(
                    f"{r['dataset']} {r[CLAIM]} ({r['mean diff']} against {r[PAPER_GAP]})")
            out.append(f"{study}: against the paper's own difference for each pair it prints (its two numbers ÷ 100; "
                       f"{len(o)} pair{'s' if len(o) != 1 else ''}): "
                       + "; ".join(f"{k} on {len(v)}: {', '.join(v)}" for k, v in kinds.items()) + ".")
    if "pretrain-steps" in tables:
        s = tables["pretrain-steps"]["summary"].sort_values("step")
        for ds, g in s.groupby("dataset"):
            first, last = g.iloc[0], g.iloc[-1]
            gain = last["mean"] - first["mean"]
            best = g.loc[g["mean"].idxmax()]
            if len(g) > 2 and gain <= 0:
                out.append(f"pretrain-steps ({ds}): no gain from pre-training here: step 0 (random initialisation) "
                           f"gives {first['mean']:.4f}, the last checkpoint (step {int(last['step'])}) "
                           f"{last['mean']:.4f}; the best is step {int(best['step'])} with {best['mean']:.4f}. "
                           "The paper's Figure 3 shape (most of the gain early) does not appear at this scale.")
            elif len(g) > 2 and abs(gain) > 1e-9:
                reach = g[g["mean"] - first["mean"] >= 0.9 * gain] if gain > 0 else g.iloc[-1:]
                at = int(reach["step"].iloc[0])
                out.append(f"pretrain-steps ({ds}): step 0 gives {first['mean']:.4f}, the last checkpoint (step "
                           f"{int(last['step'])}) {last['mean']:.4f}; 90% of that gain is reached at step {at} "
                           f"({100 * at / max(1, last['step']):.0f}% of the pre-training steps).")
            else:
                out.append(f"pretrain-steps ({ds}): step 0 {first['mean']:.4f}, last {last['mean']:.4f}.")
    return out


def _segment_tests(orderings: pd.DataFrame, rs: list[dict], ds: str) -> list[str]:
    """The orderings' pairs tested again on segment accuracy, for a task voted per piece (MAESTRO, composers)."""
    if not rs or not all(isinstance((r.get("test") or {}).get("segment_accuracy"), (int, float)) for r in rs):
        return []
    seg = [{"label": r["label"], "seed": r["seed"], "score": float(r["test"]["segment_accuracy"])} for r in rs]
    out = []
    for claim in orderings.loc[orderings["dataset"] == ds, CLAIM]:
        if " > " not in claim:
            continue
        t = paired_test(seg, *claim.split(" > "))
        if t is not None:
            out.append(f"{claim} by {t['mean_diff']:+.4f} [{t['ci95'][0]:+.4f}, {t['ci95'][1]:+.4f}] over {t['n']} "
                       f"seeds: {verdict(t)}")
    return out


def write_report(plan, root: str | Path, report_path: str | Path, figures_dir: str | Path,
                 commands: list[str] | None = None, discussion: str | None = None) -> Path:
    """Write the Markdown report of ``plan``'s finished runs under ``root`` and its figures."""
    from . import evidence
    from .reproduce import STUDIES, estimate_seconds

    root, report_path, figures_dir = Path(root), Path(report_path), Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    rel = os.path.relpath(figures_dir, report_path.parent)
    tables = study_tables(root)
    all_res = [r for t in tables.values() for r in t["results"]]
    hw = hardware(all_res)
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
    tps = [r["tokens_per_s"] for r in all_res if r.get("tokens_per_s") and r["dataset"] in ("splice",)
           and "pretrain_step" not in r]
    if tps:
        L.append(f"- Measured MiniLM training throughput on Splice: median {np.median(tps):,.0f} tokens/s "
                 f"(an idle 2-core machine does ~1,700 tokens/s: one batch of 32 x 62 tokens in 1.15 s). "
                 f"Load average while writing this report: {hw.get('load_average', '?')}.")
    L += ["", "Profiles of the same command (`--profile`); estimates are for an idle 2-core CPU:", "",
          "| profile | model | tasks | estimated hours | what it is |", "|---|---|---|---|---|"]
    from .reproduce import PROFILES, build_plan, hours_on_gpus, n_cells

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
          "| task | variants | seeds | estimated minutes | measured minutes (cells finished) | budget (differs from the paper's) |",
          "|---|---|---|---|---|---|"]
    measured_total = 0.0
    for t in plan.tasks:
        secs, n = _measured_seconds(plan, root, t)
        measured_total += secs
        done = f"{secs / 60:.0f} ({n} of {n_cells(t)})" if n else "-"
        L.append(f"| `{t.key}` | {', '.join(t.variants)} | {len(t.seeds)} | {estimate_seconds(t, plan.model) / 60:.0f} "
                 f"| {done} | {t.why} |")
    L += ["", f"Measured so far: {measured_total / 3600:.1f} h of cell time for this plan's tasks "
          f"(~{measured_total / 7200:.1f} h of the machine with two cells at a time).", ""]
    missing = _missing(plan, root)
    L += ["## What has not finished", ""]
    L += [f"- {m}" for m in missing] if missing else ["Every cell of the plan has finished."]
    L.append("")
    L += _where_section(root)
    # data splits, from the finished runs' own config.json
    L += ["## Data and splits", ""]
    seen = set()
    for d in sorted(root.glob("*/*/*/seed*/config.json")) + sorted(root.glob("pretrain-steps/runs/*/*/*/seed*/config.json")):
        info = json.loads(d.read_text(encoding="utf-8"))["resolved"]["dataset"]
        if info["name"] in seen:
            continue
        seen.add(info["name"])
        sz = info["sizes"]
        L.append(f"- **{info['name']}** ({info['discipline']}, {info['metric']}; train/validation/test "
                 f"{sz['train']}/{sz['validation']}/{sz['test']}): " + "; ".join(info.get("notes") or [info["source"]]))
    L.append("")
    paper_note = ("Paper: the paper's bert-base-uncased number ÷ 100 (our 0-1 scale), then as printed (percent): "
                  "text from Table 1 / the appendix's Table 1 (1% data: its 'shift 1000 1% data' rows), non-text "
                  "from Table 2 (test). *not reported*: the paper prints no number (unused: only a sentence); "
                  "*not in the paper*: a dataset it does not use. Baseline rows (`kmer-lr`, `cnn`: no BERT, computed "
                  "here on the same split) show the paper's discipline-specific model instead (its 'specific' row: "
                  "Hilbert-CNN on DNA, PLUS-TFM on protein, numbers it copies from other papers; none for music). "
                  "*train time*: the mean over seeds of the training loop's (or the fit's) seconds.")
    gaps = evidence.loss_gap_table(root)  # every run's curve read once: the section below and the export
    L += _evidence_sections(plan, root, figures_dir, rel, gaps)
    for study in ("non-text", "text", "text-1pct", "signal"):
        if study == "signal" and study not in tables and not any(t.study == study for t in plan.tasks):
            continue  # a plan without one-seed probes
        title, where = STUDIES[study]
        L += [f"## {title} (the paper's {where})", ""]
        if study not in tables:
            L += ["No finished runs yet.", ""]
            continue
        t = tables[study]
        L += [_summary_md(t["summary"]), "", paper_note, "",
              "Ordering checks, paired by seed (mean difference of the metric, 95% t interval, one-sided paired "
              "t-test p). *holds* = the interval lies above 0; *not significant* = right direction, interval "
              "contains 0; *no difference* = identical scores; *reversed* = wrong direction. " + PAPER_GAP_NOTE, "",
              _md(t["orderings"]), ""]
        for ds in dict.fromkeys(r["dataset"] for r in t["results"]):
            curves = _curves(root / study, ds)
            if not curves:
                continue
            name = f"loss_{study}_{ds}.png"
            loss_curve_figure(curves, f"{ds}: training loss ({study}, {plan.model})", figures_dir / name)
            L += [f"![training loss on {ds}]({rel}/{name})", ""]
    L += ["## Pre-training steps (the paper's Figure 3)", ""]
    if "pretrain-steps" in tables:
        p = tables["pretrain-steps"]
        s = p["summary"].sort_values(["dataset", "step"])
        rows = [{"dataset": r["dataset"], "pre-training step": int(r["step"]),
                 "MLM loss": "" if r["mlm_loss"] is None or r["mlm_loss"] != r["mlm_loss"] else f"{r['mlm_loss']:.3f}",
                 "metric": r["metric"], "mean ± std": _fmt(r["mean"], r["std"], r["n"]), "seeds": r["n"]}
                for _, r in s.iterrows()]
        ck = root / "pretrain-steps" / "checkpoints" / "checkpoints.json"
        if ck.exists():
            L += [f"Pre-training corpus: {json.loads(ck.read_text(encoding='utf-8')).get('corpus', '?')}.", ""]
        L += [_md(pd.DataFrame(rows)), ""]
        for ds, g in s.groupby("dataset"):
            name = f"pretrain_steps_{ds}.png"
            lp = root / "pretrain-steps" / "checkpoints" / "mlm_losses.json"
            pretrain_steps_figure(g, figures_dir / name, f"{ds}: fine-tuned after N pre-training steps",
                                  json.loads(lp.read_text(encoding="utf-8")) if lp.exists() else None)
            L += [f"![metric against pre-training steps]({rel}/{name})", ""]
    else:
        L += ["No finished runs yet.", ""]
    if (root / "lr-look").exists():
        L += ["## A learning-rate look before a claim is called failed", "",
              "Where both sides of an ordering stay at chance at the plan's learning rate (RTE under shift 1000), or "
              "the pretrained side stays at the majority class while rand learns (H4's probe, as Splice did at 3e-4), "
              "one seed of each at other rates (the folder name) says whether the task cannot be learned here in "
              "this budget or the rate was wrong for it. The plan's own cells, at its rate, are in the tables above; "
              "these do not replace them. H4's look at 3e-5 separated the two and became seed 0 of H4's "
              "three-seed task at that rate (the non-text table); the 1e-4 probe is under *Time to signal*.", ""]
        L += _side_study(root / "lr-look") + [""]
    sides = [(name, why) for name, why in SIDE_STUDIES.items() if (root / name).exists()]
    if sides:
        L += ["## Cells set aside by a change of plan", "",
              "Every cell that ran is reported. These ran under an earlier budget of this plan and were moved aside "
              "when it changed (finished cells with their test score; cells stopped by the change with their last "
              "validation).", ""]
        for name, why in sides:
            L += [f"**`{name}`**: {why}", ""] + _side_study(root / name) + [""]
    L += ["## Findings (computed from the tables above)", ""]
    L += [f"- {f}" for f in _findings(tables, root)] or ["- none yet"]
    L += ["", "## Discussion: where and why this differs from the paper", ""]
    L += [discussion or _DEFAULT_DISCUSSION, ""]
    report_path.write_text("\n".join(L), encoding="utf-8")
    export_results(tables, report_path.with_suffix(".json"), plan.profile, plan.model, training_loss=gaps)
    return report_path


#: folders of a plan's root holding cells of an earlier budget, and why they were set aside
SIDE_STUDIES = {
    "at-3e-4": "learning rate 3e-4, the lr grid's best rate for rand, above the paper's searched range. On Splice "
               "pretrained stayed at the majority class while rand learned, and one of the three pretrained+shift "
               "STS-B seeds collapsed while the other two beat rand+shift by far (the table): the plan moved to "
               "1e-4, the grid's choice within the paper's range.",
    "at-1-epoch": "one epoch instead of the paper's three. The learning-rate grid's first pass (rand on MRPC): at one "
                  "epoch no rate left the majority class, so the criterion could not choose and the grid moved to 3 "
                  "epochs. STS-B with shift 1000 at 1e-4: pretrained+shift had barely moved past rand+shift (the "
                  "table); the plan moved the GLUE tasks to the paper's 3 epochs. MAESTRO, seed 0, at one epoch (195 "
                  "steps): pretrained and rand had the same validation piece accuracy (0.278 of 18 pieces) and nearly "
                  "the same segment accuracy (0.29 against 0.28), although pretrained's training loss was well below "
                  "(1.78 against 2.15), so the plan moved MAESTRO to the paper's 3 epochs. Only pretrained's cell "
                  "is here: rand's was stopped in its test scoring when the plan changed, and its folder was "
                  "deleted with the other unfinished cells.",
}


def _measured_seconds(plan, root: Path, task) -> tuple[float, int]:
    """Summed wall time and count of ``task``'s finished cells (its own results.json; not pre-training)."""
    from .reproduce import task_configs, task_root

    if task.study == "pretrain-steps":
        res, _ = pretrain_step_results(root)
        times = [r.get("wall_time_s") or 0.0 for r in res if r.get("dataset") == task.dataset]
        return float(sum(times)), len(times)
    secs, n = 0.0, 0
    for c in task_configs(task, plan.model):
        d = cell_dir(task_root(root, task), c)
        if cell_state(d, c) != "done":
            continue
        try:
            secs += float(json.loads((d / "results.json").read_text(encoding="utf-8")).get("wall_time_s") or 0.0)
            n += 1
        except (OSError, ValueError):
            continue
    return secs, n


def _where_section(root: Path) -> list[str]:
    """'Where the cells ran': each finished cell's ``ran_on`` (local machine or Ray node) and precision, counted."""
    counts: dict[tuple[str, str], list[str]] = {}
    for p in sorted(root.rglob("results.json")):
        rel = p.parent.relative_to(root)
        if any(part.startswith("superseded") for part in rel.parts):
            continue
        try:
            res = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        where = res.get("ran_on")
        if not where:
            key = "not recorded (a cell from before cells recorded where they ran)"
        elif where.get("executor") == "ray":
            key = f"`{where.get('host')}` (ray node {str(where.get('node'))[:6]})"
        else:
            key = f"`{where.get('host')}` (local)"
        precision = _precision(res) + ("" if res.get("precision") else " (not recorded)")
        counts.setdefault((key, precision), []).append(str(rel.parts[0]))
    if not counts:
        return []
    L = ["## Where the cells ran", "",
         "Precision: `bf16` is bf16 autocast (CUDA, or a CPU with AMX / AVX512-BF16 for a model of hidden size >= "
         "256), `fp32` plain; a compared pair whose two sides ran in different precisions is named under "
         "Findings.", "",
         "| where | precision | cells | studies |", "|---|---|---|---|"]
    for (key, precision), studies in sorted(counts.items(), key=lambda kv: -len(kv[1])):
        L.append(f"| {key} | {precision} | {len(studies)} | {', '.join(sorted(set(studies)))} |")
    return L + [""]


def _side_study(side: Path) -> list[str]:
    """Every cell under ``side/<study>/<dataset>/<label>/seed<N>``: finished ones with their test score,
    unfinished ones with their last validation."""
    from . import evidence

    rows = []
    for study_dir in sorted(p for p in side.iterdir() if p.is_dir()):
        for d in evidence.cell_folders(study_dir):
            ev = read_metrics(d)
            res = d / "results.json"
            r = _rescore(json.loads(res.read_text(encoding="utf-8"))) if res.exists() else None
            val = [e for e in ev if e.get("kind") == "eval" and e.get("split") == "validation"]
            steps = [e["step"] for e in ev if e.get("kind") == "step"]
            last = val[-1]["metrics"] if val else {}
            m = r["metric"] if r else next((k for k in ("accuracy", "spearman", "f1") if k in last), None)
            rows.append({"task": f"{study_dir.name}/{d.parts[-3]}", "variant": d.parts[-2], "seed": d.name[4:],
                         "steps": max(steps, default=0), "finished": "yes" if r else "no (stopped)",
                         "test": f"{r['score']:.4f} ({r['metric']})" if r else "",
                         "last validation": f"{last[m]:.4f} ({m})" if m in last else ""})
    return [_md(pd.DataFrame(rows))] if rows else ["(no cells)"]


def _evidence_sections(plan, root: Path, figures_dir: Path, rel: str, gaps: pd.DataFrame) -> list[str]:
    """The learning-rate grid, the time-to-signal figure and the training-loss comparison (:mod:`.evidence`)."""
    from . import evidence

    L = []
    from .reproduce import PAPER_LR_RANGE

    grid = evidence.lr_grid_table(root, within=PAPER_LR_RANGE)
    if not grid.empty:
        lr_plan = {t.overrides.get("learning_rate") for t in plan.tasks
                   if t.study not in ("lr-grid", "pretrain-steps")} - {None}
        chosen = grid.loc[grid["chosen"] == "yes", "learning rate"]
        best = grid.loc[grid["best overall"] == "yes", "learning rate"].iloc[0]
        L += ["## Choosing the learning rate (the paper's appendix A)", "",
              "The paper chose Adam and 1e-5 for bert-base by a grid search on MRPC between 1e-4 and 1e-7, judged by "
              "the randomly initialised model's F1 on the training set. The same procedure for this model: rand on "
              "MRPC for the paper's 3 epochs at each learning rate, then scored on a seeded sample of 1,000 training "
              "examples; the grid also went above the paper's range. (The pre-training-steps study fine-tunes a much "
              "smaller model and keeps its own rate.)", "",
              _md(grid.assign(**{c: grid[c].map(lambda v: f"{v:.4f}") for c in grid.columns
                                 if grid[c].dtype.kind == "f" and c != "learning rate"})), "",
              (f"Within the paper's range the grid chooses {chosen.iloc[0]:g}; " if len(chosen) else "")
              + f"over all rates tried, {best:g} fits rand best. The plan's tasks use "
              + f"{', '.join(f'{v:g}' for v in sorted(lr_plan)) or '-'}."]
        if (root / "at-3e-4").exists():
            L += ["", "The grid's unrestricted choice, 3e-4, was tried first and abandoned (see *Cells set aside by a "
                  "change of plan* below): the criterion looks only at rand, and at 3e-4 the pretrained model could "
                  "not use its start."]
        L.append("")
    curves = evidence.signal_curves(root)
    if curves:
        name = "time_to_signal.png"
        evidence.signal_figure(curves, figures_dir / name,
                               f"Validation metric against training tokens, seed 0 ({plan.model})")
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
        L += ["## Time to signal", "",
              "Where pretrained and rand separate on this machine: the validation metric (a seeded sample of the "
              "validation split) against training tokens, seed 0 of every task. This is the paper's Figure 2 "
              "question asked of the metric instead of the loss, and it is what sized the plan: a task whose "
              "curves have not separated within its budget says nothing about transfer.", "",
              f"![validation metric against training tokens]({rel}/{name})", "", _md(pd.DataFrame(rows)), ""]
    if not gaps.empty:
        fmt = {c: gaps[c].map(lambda v: f"{v:.1f} of 10" if c.startswith("tenths") else f"{v:.4f}")
               for c in gaps.columns if gaps[c].dtype.kind == "f"}
        L += [f"## {LOSS_GAP_TITLE}", "", LOSS_GAP_NOTE,
              "", _md(gaps.assign(**fmt)), ""]
    return L


_DEFAULT_DISCUSSION = """\
- **Model size.** The paper fine-tunes bert-base-uncased (12 layers, hidden 768, 110M parameters). The laptop
  profile uses the bundled all-MiniLM-L6-v2 (6 layers, hidden 384, 22M parameters), distilled from a larger
  model and then trained as a sentence encoder: its pretrained weights are a different starting point, and a
  smaller network from scratch (rand) is also a different baseline than bert-base from scratch.
- **Budget: depth, not breadth.** The first laptop plan spread ~2 h over 297 cells of 16-60 steps; every
  variant of most tasks stayed at the majority class and the tables read as ties (its report, every cell, is
  kept in `docs/archive/laptop-v1/`). This plan trains fewer
  tasks for whole epochs (the paper's 3 where a task fits, 1 for SST-2's 60k sentences, 200 steps for 1% of
  STS-B), at the learning rate its own grid chose (see above), and validates on a 300-example sample about eight times a
  run; the test set is scored once, in full. Tasks run in the order of the paper's core claims, so the
  report publishes them first and lists what has not finished.
- **Learning rate.** The paper's 1e-5 was chosen for bert-base by a grid between 1e-4 and 1e-7 judged by rand's
  training F1 on MRPC; the same grid for this model is above. Above the paper's range, 3e-4 fits rand best, and
  the plan first ran at 3e-4: pretrained then stayed at Splice's majority class while rand learned, and one of
  three pretrained STS-B seeds collapsed. The criterion looks only at rand; a pretrained network needs a
  smaller step to keep what it starts with (the paper's recipe has no warm-up that would soften it). The plan
  uses the grid's choice within the paper's range, 1e-4, and every 3e-4 cell that ran is reported above.
- **Full-length inputs or deferred.** No input is cut below its task's own length: Splice's 60 bp, the
  peptides, STS-B/MRPC/RTE/CoLA pairs at 128 WordPiece tokens, MAESTRO's 128-note segments (voted per piece).
  The 500-bp histone marks and DeepLoc's proteins at 512 tokens cost ~19 s a step of 32 in the first probes
  here. Two things made a full-length H4 run affordable (benchmarks/RESULTS.md): bf16 autocast on this CPU's
  AMX units, and no dropout on the attention probabilities, which on a CPU takes PyTorch's attention off its
  fused kernel (a bf16 step of 32 x 502 tokens: 17.5 s with BERT's 0.1, 4.3 s without, on two threads). In
  the plan's two one-thread jobs side by side an H4 step took ~25 s with attention dropout and ~8.4 s without
  (both H4 variants ran without it; the hidden-layer dropout stays; every other task keeps BERT's). One seed
  of the paper's 3 epochs at the plan's 1e-4 (249 steps, ~36 min a cell; *Time to signal on the long-sequence
  tasks*) left pretrained at the majority class while rand learned a little (test 0.582 against 0.658). The
  paper trained H4 on ~13k sequences, five times the 2.6k here, and a pretrained network can need a smaller
  step (Splice did at 3e-4), so one seed at 3e-5 came next: there pretrained left the majority class by the
  middle of the run and rand did not (test 0.726 against 0.548), and that seed became the first of three at
  3e-5, both sides at the same rate as in the paper's recipe. Read H4 with its history: the rate was chosen
  after pretrained failed at 1e-4, and no rate was searched for rand (its one seed at 1e-4, 0.658, is the
  best rand H4 score here). MAESTRO (128-note segments, no length problem) tied at one epoch (*Cells set
  aside*); at the paper's 3, pretrained beats rand on the paper's metric, the vote per piece, on every seed,
  while per segment, before the vote, the two are level (Findings): the gap is 3 of 20 test pieces (two per
  composer) a seed, so read it with care; the validation pieces of seed 0 showed a larger one. DeepLoc's public copy holds no training file, so its
  1,428 training proteins make 3 epochs only 135 steps at 512 tokens (~15 min a cell): seed 0 ran first, alone,
  as a probe, as H4's did; pretrained left the majority class and rand did not, so the probe became seed 0 of
  three. H3 and H3K9ac (2.7k and 5k training sequences of 502 tokens, ~2 h and
  ~4 h of this machine for three seeds at H4's budget) are left to a later sitting or the gpu profile.
- **Data splits.** The histone marks here are the GUE/EMP files, which hold dev and test only (the paper split
  14,965-27,782 sequences 90/5/5). Like the paper, this tool pools every example that is here (dev and test)
  and splits it 90/5/5 at random, stratified and seeded: about 2.6k training sequences for H3 and H4 instead of
  the paper's ~13k, but twice what `dev.csv` alone would give (`pool=False` keeps the GUE test set instead).
  DeepLoc trains on its published validation set (1.4k proteins). Text test sets are the GLUE dev sets, as in
  the paper.
- **Hardware and precision.** Two CPU cores, run as two one-thread processes side by side (`reproduce --jobs
  2`; see benchmarks/RESULTS.md); a shared machine runs slower than the estimates, which are for an idle one.
  Cells that ran before 2026-12-01 ran in fp32; later ones in bf16 autocast where the CPU has native bf16
  ("Where the cells ran" counts both; a task whose variants ran in different precisions is named under
  Findings).
- **Training loss: two exceptions.** The training loss of the pretrained side is below rand's on every seed
  of every task but two (mean over the run; the table also says where along the run). *1% of STS-B*: both
  sides start near 9 (predicting 0 on STS-B's 0-5 scale); rand reaches the loss of predicting the label mean
  (~2.3) within about 5 steps, pretrained takes 20-30; pretrained is then the lower one until about step 100
  of 200, and both end near 0.05 on 52 training pairs, rand a little lower. With the whole training set
  pretrained's loss is below on every seed and in 8 of 10 tenths of the run: on 1% the verdict is decided by
  the first steps and by the last ones, where both have nearly memorised 52 pairs. *SST-2 under shift 1000*
  (60k sentences, one epoch): pretrained+shift starts lower, but rand+shift's loss falls below it after ~400
  of 1,895 steps and stays there, and its test accuracy is lower too (reversed, significant), which is what
  the paper's own SST-2 numbers show (79.6 against 81.0; ours 0.800 against 0.815). The paper's Figure 2 shows
  STS-B for text; its "always" does not carry to SST-2 here, on the one text task where its own table has
  pretrained+shift below rand+shift.
- **Seeds.** Three seeds per cell: *holds* means the 95% t interval of the paired difference lies above 0 with
  2 degrees of freedom, a demanding test; *not significant* mostly means too few seeds to tell.
- **The pre-training-steps study** pre-trains a 2-layer BERT on ~87k GLUE sentences for minutes, not
  bert-base on Wikipedia for days; it shows whether the *shape* of the paper's curve (most of the gain early)
  appears at small scale, not the paper's numbers. Early in MLM pre-training a small model first learns token
  frequencies before it learns context; checkpoints from that phase can fine-tune *worse* than the random
  initialisation. With network access, `--checkpoints google/multiberts-seed_0-step_0k ... step_2000k`
  fine-tunes the real MultiBERTs checkpoints instead.
- **Reproducing at the paper's scale** needs a GPU: `python -m disc_core reproduce --profile gpu` uses
  bert-base-uncased (downloaded once from the hub, or a local copy via `--model FOLDER`), learning rate
  1e-5, 3 epochs, max_length 512, 3 seeds; roughly a day of one modern GPU for all tasks.
"""
