"""Static PNGs of inspections, for documents (``python -m disc_core inspect`` writes them beside its HTML).

One function, :func:`write_pngs`, redraws the CKA, entropy and drift charts and each run's attention in
matplotlib: plotly needs a browser engine (kaleido) to write images, which the tool does not install.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np

from ...fileio import atomic_write_bytes
from .compute import attention_maps
from .figures import _color, _drift_axis, _drift_by_symbol, _name

__all__ = ["write_pngs"]


def write_pngs(runs: Sequence[dict], out: str | Path, attention_layer: int | None = None) -> list[Path]:
    """matplotlib PNGs for documents: ``cka.png``, ``entropy.png``, ``drift.png`` over ``runs``, and one
    ``attention_<label>_seed<N>.png`` per run (every layer, mean of the heads, the first example)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def _save(fig, path: Path) -> Path:
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png")
        plt.close(fig)
        return atomic_write_bytes(path, buf.getvalue())

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=110)
    for d in runs:
        ax.plot(d["layers"], d["cka"], marker="o", label=_name(d), color=_color(d["label"]))
    ax.set(xlabel="layer (0 = embeddings)", ylabel="linear CKA, start vs fine-tuned", ylim=(0, 1.05),
           title="How much of each layer fine-tuning kept")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    paths.append(_save(fig, out / "cka.png"))
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=110)
    for d in runs:
        layers = range(1, len(d["entropy"]["finished"]) + 1)
        ax.plot(layers, d["entropy"]["finished"], marker="o", label=f"{_name(d)}: fine-tuned", color=_color(d["label"]))
        ax.plot(layers, d["entropy"]["start"], ls=":", label=f"{_name(d)}: start", color=_color(d["label"]))
    if runs:
        ax.axhline(runs[0]["entropy"]["uniform"], color="grey", ls="--", lw=1, label="uniform attention")
    ax.set(xlabel="layer", ylabel="attention entropy (nats)", title="Attention entropy by layer")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    paths.append(_save(fig, out / "entropy.png"))
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=110)
    width = 0.8 / max(len(runs), 1)
    symbols, labels = _drift_axis(runs)
    for k, d in enumerate(runs):
        y = [np.nan if v is None else v for v in _drift_by_symbol(d, symbols)]
        ax.bar(np.arange(len(symbols)) + k * width, y, width, color=_color(d["label"]),
               label=f"{_name(d)} (mean {d['drift']['mean_relative']:.3f})")
    ax.set_xticks(np.arange(len(symbols)) + 0.4 - width / 2)
    ax.set_xticklabels(labels, rotation=60, fontsize=7, ha="right")
    ax.set(ylabel="||after - before|| / ||before||", title="Drift of the mapped tokens' input embeddings")
    ax.legend(fontsize=8)
    paths.append(_save(fig, out / "drift.png"))
    for d in runs:
        maps = attention_maps(d).mean(axis=2)  # (E, L, T, T)
        tokens = d["attention"]["tokens"][0]
        n, L = len(tokens), maps.shape[1]
        layers = range(L) if attention_layer is None else [attention_layer]
        cols = min(len(layers), 3)
        rows = int(np.ceil(len(layers) / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.0 * rows), dpi=110, squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for ax, layer in zip(axes.flat, layers):
            ax.axis("on")
            ax.imshow(maps[0, layer, :n, :n], cmap="Blues", vmin=0)
            ax.set_title(f"layer {layer + 1}", fontsize=9)
            if n <= 40:
                ax.set_xticks(range(n), tokens, rotation=90, fontsize=5)
                ax.set_yticks(range(n), tokens, fontsize=5)
            else:
                ax.set_xticks([])
                ax.set_yticks([])
        fig.suptitle(f"{_name(d)}: attention on one {d['split']} example (label {d['attention']['labels'][0]}), "
                     "mean of the heads; rows attend to columns", fontsize=9)
        paths.append(_save(fig, out / f"attention_{d['label']}_seed{d['seed']}.png"))
    return paths
