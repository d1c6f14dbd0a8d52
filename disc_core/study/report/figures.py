"""Every static figure of the reproduction report, written as PNG with matplotlib (Agg).

- :func:`loss_curve_figure`: training loss per variant, mean over seeds with a min-max band (Figure 2)
- :func:`pretrain_steps_figure`: test metric against pre-training steps, step 0 included (Figure 3)
- :func:`signal_figure`: validation metric against training tokens, one panel per task and pair

The dashboard draws the same data interactively with plotly (:mod:`disc_core.plots`); these are the files a
Markdown report links to.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["COLORS", "loss_curve_figure", "pretrain_steps_figure", "signal_figure", "trailing_mean"]

#: one matplotlib colour per variant label, the same in every figure of the report
COLORS = {"pretrained": "C0", "rand": "C3", "re-emb": "C2", "unused": "C1", "pretrained+shift": "C9",
          "rand+shift": "C6", "pretrained+random-shift": "C4", "rand+random-shift": "C5"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path, **savefig) -> Path:
    """Lay out, write (creating the folder) and close a matplotlib figure."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, **savefig)
    _plt().close(fig)
    return path


def trailing_mean(y, k: int) -> np.ndarray:
    """The mean of each point and the ``k - 1`` before it (NaN until there are ``k``); ``y`` unchanged when
    ``k <= 1`` or there are fewer than ``k`` points."""
    y = np.asarray(y, dtype=float)
    if k <= 1 or len(y) < k:
        return y
    return pd.Series(y).rolling(k).mean().to_numpy()


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
        Y = np.array([trailing_mean(y, k) for y in Y])
        if 1 < k <= n:  # the moving average starts at its k-th point
            steps, Y = steps[k - 1:], Y[:, k - 1:]
        c = COLORS.get(label)
        seeds = f"{len(runs)} seed" + ("s" if len(runs) > 1 else "")
        ax.plot(steps, np.nanmean(Y, axis=0), label=f"{label} ({seeds})", color=c, lw=1.6)
        if len(runs) > 1:
            ax.fill_between(steps, np.nanmin(Y, axis=0), np.nanmax(Y, axis=0), color=c, alpha=0.18, lw=0)
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("training loss" + (" (moving average)" if (smooth or 2) > 1 else ""))
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def pretrain_steps_figure(summary: pd.DataFrame, path: str | Path, title: str = "",
                          mlm_losses: list[float] | None = None, google: tuple[float, float, str] | None = None) -> Path:
    """Test metric (mean ± std over seeds) against pre-training steps on a symlog axis (step 0 shown);
    a second panel shows the MLM training loss (the whole curve when ``mlm_losses`` is given). ``google``
    (mean, std, name): the fully pre-trained model's score, drawn as a dashed line with its band (the paper's
    "google" point)."""
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
    ax.errorbar(steps, s["mean"], yerr=s["std"], marker="o", capsize=3, color="C0", label="checkpoints")
    if google is not None:
        g_mean, g_std, g_name = google
        ax.axhline(g_mean, ls="--", color="C2", lw=1.2, label=f"google: {g_name}")
        ax.axhspan(g_mean - g_std, g_mean + g_std, color="C2", alpha=0.12, lw=0)
        ax.legend(fontsize=7, loc="lower right")
    axis(ax)
    ax.set_xlabel("pre-training steps (symlog; 0 = random initialisation)")
    ax.set_ylabel(f"test {s['metric'].iloc[0]} after fine-tuning")
    ax.set_title(title or "Fine-tuned metric against pre-training steps", fontsize=10)
    if has_loss:
        if mlm_losses:
            y = np.asarray(mlm_losses, dtype=float)
            axes[1].plot(np.arange(1, len(y) + 1), trailing_mean(y, max(1, len(y) // 50)), color="C1", lw=1.2)
        m = s[s["mlm_loss"].notna()] if "mlm_loss" in s else s.iloc[:0]
        axes[1].plot(m["step"], m["mlm_loss"], "o", color="C1")
        axis(axes[1], sorted(set(steps) | ({float(len(mlm_losses))} if mlm_losses else set())))
        axes[1].set_xlabel("pre-training steps")
        axes[1].set_ylabel("MLM training loss")
        axes[1].set_title("Pre-training progress (dots: checkpoints)", fontsize=10)
    return _save(fig, path)


def signal_figure(curves: dict, path: str | Path, title: str = "") -> Path | None:
    """One panel per (study, dataset, pair): validation metric against training tokens (seed 0)."""
    if not curves:
        return None
    plt = _plt()
    keys = list(curves)
    n = len(keys)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        study, ds, pair = key
        for lab, pts in curves[key].items():
            x, y = zip(*pts)
            ax.plot(np.array(x) / 1e3, y, marker="o", ms=3, label=lab,
                    color="tab:blue" if lab.startswith("pretrained") else "tab:orange")
        ax.set_title(f"{ds} ({study})", fontsize=9)
        ax.set_xlabel("training tokens (thousands)", fontsize=8)
        ax.set_ylabel("validation metric", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path, dpi=110)
