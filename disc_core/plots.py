"""Plotly figures for the dashboard (and notebooks): training curves, results, datasets, embeddings.

Every builder takes plain data (lists, dicts, DataFrames, a :class:`~disc_core.data.Dataset`) and
returns a ``plotly.graph_objects.Figure``; nothing here knows about Streamlit.

- :func:`loss_figure`: training loss of several runs, smoothed (EMA or moving average) with the raw
  curve faint behind, one fixed colour per variant (:data:`VARIANT_COLORS`), log-y, x as step or time.
- :func:`eval_figure`: a validation metric over steps or time.
- :func:`results_bar`: mean +/- std per variant with the paper's number as a marker.
- :func:`pretraining_figure`: score against pre-training steps of the checkpoint (the paper's Fig. 3).
- :func:`length_histogram`, :func:`class_balance`, :func:`symbol_frequency`: what a dataset looks like.
- :func:`embedding_projection`: where the mapped tokens' pretrained input embeddings sit (2-D PCA).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

__all__ = [
    "VARIANT_COLORS", "variant_color", "variant_order", "ema", "moving_average", "smooth", "SMOOTHERS", "RunSeries",
    "series_from_events", "loss_figure", "eval_figure", "results_bar", "pretraining_step",
    "pretraining_figure", "length_histogram", "class_balance", "symbol_frequency", "input_embeddings",
    "pca_2d", "fit_pca", "embedding_projection", "MAX_LABELS",
]

#: One colour per variant, the same on every chart (the text-shift cells share their base's hue family).
VARIANT_COLORS = {
    "pretrained": "#1f77b4", "rand": "#d62728", "re-emb": "#ff7f0e", "unused": "#2ca02c",
    "pretrained+shift": "#17becf", "rand+shift": "#e377c2", "re-emb+shift": "#bcbd22",
    "pretrained+random-shift": "#9467bd", "rand+random-shift": "#8c564b", "re-emb+random-shift": "#7f7f7f",
}
_EXTRA = ("#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd")
SMOOTHERS = ("ema", "moving average", "none")
_LAYOUT = dict(template="plotly_white", margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.2))


def variant_order(label: str) -> tuple[int, str]:
    """Sort key that lists variants in the paper's order (pretrained, re-emb, rand, unused, shifts ...)."""
    order = ["pretrained", "re-emb", "rand", "unused", *[k for k in VARIANT_COLORS if "+" in k]]
    return (order.index(label) if label in order else len(order), label)


def variant_color(label: str) -> str:
    """The fixed colour of a variant label; unknown labels get a stable colour from their name."""
    if label in VARIANT_COLORS:
        return VARIANT_COLORS[label]
    return _EXTRA[sum(map(ord, label)) % len(_EXTRA)]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[k:k + 2], 16) for k in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


# --------------------------------------------------------------------------------------------
# Smoothing
# --------------------------------------------------------------------------------------------

def ema(values: Sequence[float], alpha: float) -> np.ndarray:
    """Debiased exponential moving average (TensorBoard's): weight ``alpha`` on the past, in [0, 1).

    ``alpha = 0`` returns the values; the first points are not pulled towards zero (pandas' ``ewm`` with
    ``adjust=True``: each point's weight divided by the weights so far).
    """
    if not 0 <= alpha < 1:
        raise ValueError(f"EMA weight must be in [0, 1), got {alpha}")
    return pd.Series(values, dtype=float).ewm(alpha=1 - alpha, adjust=True).mean().to_numpy()


def moving_average(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` points (fewer at the start); same length as ``values``."""
    if window < 1:
        raise ValueError(f"moving-average window must be at least 1, got {window}")
    return pd.Series(values, dtype=float).rolling(window, min_periods=1).mean().to_numpy()


def smooth(values: Sequence[float], method: str = "ema", amount: float = 0.6) -> np.ndarray:
    """``method`` in :data:`SMOOTHERS`. ``amount`` is the EMA weight, or the window for a moving average."""
    if method == "ema":
        return ema(values, amount)
    if method == "moving average":
        return moving_average(values, max(1, int(amount)))
    if method == "none":
        return np.asarray(values, dtype=float)
    raise ValueError(f"unknown smoothing {method!r}; use one of {SMOOTHERS}")


# --------------------------------------------------------------------------------------------
# Training curves
# --------------------------------------------------------------------------------------------

@dataclass
class RunSeries:
    """One run's curves. ``evals`` maps a metric name to (steps, elapsed seconds, values)."""

    name: str
    label: str
    steps: list[int] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    evals: dict[str, tuple[list[int], list[float], list[float]]] = field(default_factory=dict)


def series_from_events(name: str, label: str, events: Iterable[Mapping], split: str = "validation") -> RunSeries:
    """Collect a run's ``step`` events (loss) and ``eval`` events of ``split`` into a :class:`RunSeries`."""
    s = RunSeries(name=name, label=label)
    for e in events:
        kind = e.get("kind")
        if kind == "step" and e.get("loss") is not None and math.isfinite(e["loss"]):
            s.steps.append(int(e["step"]))
            s.elapsed.append(float(e.get("elapsed_s", 0.0)))
            s.loss.append(float(e["loss"]))
        elif kind == "eval" and e.get("split", "validation") == split:
            for k, v in (e.get("metrics") or {}).items():
                if isinstance(v, (int, float)) and math.isfinite(v):
                    st, el, vals = s.evals.setdefault(k, ([], [], []))
                    st.append(int(e["step"]))
                    el.append(float(e.get("elapsed_s", 0.0)))
                    vals.append(float(v))
    return s


def _x_title(x: str) -> str:
    return "seconds since start" if x == "time" else "optimiser step"


def loss_figure(series: Sequence[RunSeries], smoothing: str = "ema", amount: float = 0.6, log_y: bool = False,
                x: str = "step", title: str = "Training loss", empty_note: str | None = None) -> go.Figure:
    """Training loss of every run: the smoothed curve in the variant's colour, the raw one faint behind.

    ``x`` is ``step`` or ``time`` (seconds since the run started). ``empty_note`` is what an empty chart
    says (where the runs stand: queued, starting).
    """
    fig = go.Figure()
    for s in series:
        if not s.loss:
            continue
        color = variant_color(s.label)
        xs = s.elapsed if x == "time" else s.steps
        if smoothing != "none":
            fig.add_trace(go.Scatter(x=xs, y=s.loss, mode="lines", line=dict(color=_rgba(color, 0.22), width=1),
                                     name=f"{s.name} (raw)", legendgroup=s.name, showlegend=False,
                                     hoverinfo="skip"))
        # a line needs two points: a run of one logged step is drawn as its point
        fig.add_trace(go.Scatter(x=xs, y=smooth(s.loss, smoothing, amount),
                                 mode="lines" if len(s.loss) > 1 else "markers",
                                 line=dict(color=color, width=2), marker=dict(color=color, size=8), name=s.name,
                                 legendgroup=s.name))
    fig.update_layout(title=title, xaxis_title=_x_title(x), yaxis_title="loss", **_LAYOUT)
    if log_y:
        # a narrow log range gets plotly's in-decade ticks, labelled with too few digits to tell apart
        fig.update_yaxes(type="log", tickformat=".3~g", nticks=6)
    _distinct_ticks(fig, [v for s in series for v in (s.elapsed if x == "time" else s.steps)], x)
    if not fig.data:
        _empty_note(fig, empty_note or "no steps yet: the runs are starting (loading the model and the data)")
    return fig


#: Metrics that live in [0, 1] (their axes never go past 1) and in [-1, 1]
_UNIT_METRICS = ("accuracy", "f1")
_SIGNED_METRICS = ("mcc", "spearman", "pearson")


def _distinct_ticks(fig: go.Figure, xs: Sequence[float], x: str = "step") -> None:
    """Whole-number step ticks, never two with the same label: below ~10 steps plotly puts ticks at halves,
    which an integer format prints twice."""
    if x != "step" or not xs:
        return
    span = max(xs) - min(0, min(xs))
    if span <= 10:
        fig.update_xaxes(tick0=0, dtick=1, tickformat="d")
    else:
        fig.update_xaxes(tickformat="d")


def eval_figure(series: Sequence[RunSeries], metric: str, x: str = "step",
                title: str | None = None) -> go.Figure:
    """A validation metric of every run, with markers at each evaluation."""
    fig = go.Figure()
    for s in series:
        if metric not in s.evals:
            continue
        steps, elapsed, vals = s.evals[metric]
        fig.add_trace(go.Scatter(x=elapsed if x == "time" else steps, y=vals, mode="lines+markers", name=s.name,
                                 line=dict(color=variant_color(s.label), width=2)))
    fig.update_layout(title=title or f"Validation {metric}", xaxis_title=_x_title(x), yaxis_title=metric, **_LAYOUT)
    if metric in _UNIT_METRICS or metric in _SIGNED_METRICS:
        # a score of 1.0 must not stretch the axis past what the metric can reach; markers on the edge stay
        # whole
        vals = [v for s in series for v in s.evals.get(metric, ([], [], []))[2]]
        lo = -1.0 if metric in _SIGNED_METRICS and vals and min(vals) < 0 else 0.0
        fig.update_yaxes(range=[lo, 1.0])
        fig.update_traces(cliponaxis=False)
    _distinct_ticks(fig, [v for s in series if metric in s.evals
                          for v in (s.evals[metric][1] if x == "time" else s.evals[metric][0])], x)
    if not fig.data:
        _empty_note(fig, "no validation yet: the first evaluation comes after a tenth of the steps")
    return fig


def _empty_note(fig: go.Figure, text: str) -> None:
    fig.add_annotation(text=text, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                       font=dict(color="#888"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------

def results_bar(table, title: str | None = None, chance: float | None = None) -> go.Figure:
    """Bars of ``mean`` with ``std`` error bars per ``variant`` (a :func:`disc_core.study.compare.summarize`
    table of one dataset); the paper's number, where known, as a black diamond; ``chance`` (the score of
    learning nothing: the majority class, or 0) as a dotted line."""
    fig = go.Figure()
    labels = list(table["variant"])
    fig.add_trace(go.Bar(x=labels, y=list(table["mean"]), name="this reproduction",
                         marker_color=[variant_color(v) for v in labels],
                         error_y=dict(type="data", array=[float(v) for v in table["std"]], visible=True),
                         text=[f"n={n}" for n in table["n"]], textposition="outside"))
    if "paper" in table:
        known = [(v, p) for v, p in zip(labels, table["paper"]) if _is_number(p)]
        if known:
            fig.add_trace(go.Scatter(x=[v for v, _ in known], y=[float(p) for _, p in known], mode="markers",
                                     name="the paper", marker=dict(symbol="diamond", size=12, color="black")))
    metric = table["metric"].iloc[0] if len(table) else "score"
    fig.update_layout(title=title or f"Test {metric} by variant (mean ± std over seeds)", yaxis_title=metric,
                      **_LAYOUT)
    if chance is not None and _is_number(chance) and chance > 0:
        # across the whole chart, named in the legend (a label on the line would sit on the bars' n= labels)
        fig.add_hline(y=chance, line_dash="dot", line_color="#555")
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name="chance (majority class)",
                                 line=dict(dash="dot", color="#555")))
    if metric in _UNIT_METRICS:
        fig.update_yaxes(range=[0, 1.05])  # room for the n= labels above a bar at 1.0
    return fig


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


_STEP_RE = re.compile(r"step[_-]?(\d+)(k?)", re.IGNORECASE)


def pretraining_step(model_name: str) -> int | None:
    """Pre-training steps of a checkpoint named like MultiBERTs' ``...-step_20k`` (20000), else None."""
    name = str(model_name)
    matches = list(_STEP_RE.finditer(Path(name).name)) or list(_STEP_RE.finditer(name))
    if not matches:
        return None
    m = matches[-1]  # the last one names the checkpoint (as in disc_core.study.pretrain)
    return int(m.group(1)) * (1000 if m.group(2) else 1)


def pretraining_figure(results: Sequence[Mapping]) -> go.Figure | None:
    """Score against pre-training steps (the paper's Figure 3), one line per variant label.

    ``results`` are dicts with ``model``, ``label`` and ``score``; the figure needs at least two
    distinct checkpoints whose names carry a step (see :func:`pretraining_step`), else None.
    """
    points: dict[str, dict[int, list[float]]] = {}
    for r in results:
        step = pretraining_step(r.get("model", ""))
        if step is not None and _is_number(r.get("score")):
            points.setdefault(r["label"], {}).setdefault(step, []).append(float(r["score"]))
    if len({s for d in points.values() for s in d}) < 2:
        return None
    fig = go.Figure()
    for label, by_step in points.items():
        steps = sorted(by_step)
        means = [float(np.mean(by_step[s])) for s in steps]
        stds = [float(np.std(by_step[s], ddof=1)) if len(by_step[s]) > 1 else 0.0 for s in steps]
        fig.add_trace(go.Scatter(x=steps, y=means, mode="lines+markers", name=label,
                                 error_y=dict(type="data", array=stds), line=dict(color=variant_color(label))))
    fig.update_layout(title="Score against pre-training steps of the checkpoint",
                      xaxis_title="pre-training steps", yaxis_title="score", **_LAYOUT)
    every = sorted({s for d in points.values() for s in d})
    if every[0] == 0 and len(every) > 2 and every[-1] / max(1, every[1]) > 20:
        # checkpoints spread over orders of magnitude (0, 1%, 2% ... 100%): equal spacing, so the early
        # checkpoints, where the paper sees most of the gain, are not squeezed against step 0
        fig.update_xaxes(type="category", categoryorder="array", categoryarray=every,
                         title="pre-training steps (one checkpoint per tick)")
    return fig


# --------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------

_SPLIT_COLORS = {"train": "#4c78a8", "validation": "#f58518", "test": "#54a24b"}


def length_histogram(dataset, bins: int = 40) -> go.Figure:
    """Sequence lengths (symbols, or words for text) per split, overlaid."""
    fig = go.Figure()
    for split, color in _SPLIT_COLORS.items():
        lengths = [r.length for r in dataset.split(split)]
        if lengths:
            fig.add_trace(go.Histogram(x=lengths, name=split, nbinsx=bins, marker_color=color, histnorm="percent"))
    unit = "words" if dataset.is_text else "symbols"
    fig.update_layout(barmode="group", title=f"Sequence length ({unit})", xaxis_title=unit,
                      yaxis_title="% of the split", **_LAYOUT)
    return fig


def class_balance(dataset) -> go.Figure:
    """Examples per class and split (grouped bars); for regression, a histogram of the targets."""
    fig = go.Figure()
    if dataset.task != "classification":
        for split, color in _SPLIT_COLORS.items():
            ys = [float(r.label) for r in dataset.split(split)]
            if ys:
                fig.add_trace(go.Histogram(x=ys, name=split, marker_color=color, opacity=0.6))
        fig.update_layout(barmode="overlay", title="Target values", xaxis_title="label", yaxis_title="examples",
                          **_LAYOUT)
        return fig
    for split, color in _SPLIT_COLORS.items():
        counts = dataset.class_counts(split)
        if sum(counts.values()):
            fig.add_trace(go.Bar(x=list(counts), y=list(counts.values()), name=split, marker_color=color))
    fig.update_layout(barmode="group", title="Classes per split", xaxis_title="class", yaxis_title="examples",
                      **_LAYOUT)
    return fig


def symbol_frequency(counts: Mapping[str, int] | Counter, top: int = 40, title: str | None = None) -> go.Figure:
    """Bars of the ``top`` most frequent symbols (or words), as a share of all occurrences."""
    total = sum(counts.values()) or 1
    items = Counter(counts).most_common(top)
    fig = go.Figure(go.Bar(x=[str(s) for s, _ in items], y=[n / total for _, n in items],
                           marker_color="#4c78a8", hovertemplate="%{x}: %{y:.2%}<extra></extra>"))
    fig.update_layout(title=title or f"Symbol frequencies (top {len(items)} of {len(counts)})",
                      yaxis_tickformat=".0%", yaxis_title="share", **_LAYOUT)
    fig.update_xaxes(type="category")
    return fig


# --------------------------------------------------------------------------------------------
# Embeddings
# --------------------------------------------------------------------------------------------

_EMB_KEY = re.compile(r"(^|\.)(word_embeddings)\.weight$")


def input_embeddings(model_dir: str | Path) -> np.ndarray:
    """The input word-embedding matrix ``(V, H)`` of a model folder, read from its safetensors file.

    Reads only that one tensor (no model is built, nothing is unpickled).
    """
    from safetensors import safe_open

    files = sorted(Path(model_dir).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{model_dir}: no .safetensors file; the embedding view needs safetensors weights")
    for f in files:
        with safe_open(str(f), framework="numpy") as sf:
            for key in sf.keys():
                if _EMB_KEY.search(key):
                    return np.asarray(sf.get_tensor(key), dtype=np.float32)
    raise KeyError(f"{model_dir}: no '*word_embeddings.weight' tensor in {', '.join(f.name for f in files)}")


def fit_pca(x: np.ndarray, n_components: int = 2):
    """``sklearn.decomposition.PCA`` fitted on the rows of ``x`` (float64, exact SVD), with fixed signs.

    A principal axis is defined up to its sign, and which sign an SVD returns can change with the row order or
    the library version. Here each component is turned so that its largest loading (in absolute value) is
    positive, so the same rows give the same picture every time. ``transform`` then projects any rows.
    """
    from sklearn.decomposition import PCA

    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # rows without spread: ratios NaN, not a warning
        pca = PCA(n_components=min(n_components, *x.shape), svd_solver="full").fit(x)
    comps = pca.components_
    signs = np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(axis=1)])
    pca.components_ = comps * np.where(signs == 0, 1.0, signs)[:, None]
    return pca


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project rows ``(N, H)`` onto their first two principal components: ``(N, 2)`` and the explained
    variance ratios ``(2,)`` (:func:`fit_pca`: sklearn's PCA, signs fixed; zeros past the rank)."""
    pca = fit_pca(x)
    k = pca.n_components_
    ratio = np.nan_to_num(pca.explained_variance_ratio_)
    return np.pad(pca.transform(np.asarray(x, dtype=np.float64)), ((0, 0), (0, 2 - k))), np.pad(ratio, (0, 2 - k))


#: Up to this many mapped tokens are labelled on the embedding chart; more crowd each other (hover instead)
MAX_LABELS = 12


def embedding_projection(emb: np.ndarray, ids: Sequence[int], names: Sequence[str], tokens: Sequence[str],
                         background: int = 1500, seed: int = 0, labelled: Sequence[str] | None = None) -> go.Figure:
    """The chosen token rows of ``emb`` (V, H) in 2-D, over a faint sample of ``background`` other rows.

    The PCA is fitted on the background sample plus the chosen rows, so the chosen tokens are seen
    against the spread of the whole vocabulary. Every point names its symbol and token on hover; text
    labels go on the symbols in ``labelled`` (default: all of them when there are at most
    :data:`MAX_LABELS`, else none), so that crowded points stay readable.
    """
    ids = [int(i) for i in ids]
    rng = np.random.default_rng(seed)
    others = np.setdiff1d(np.arange(emb.shape[0]), ids)
    bg = rng.choice(others, size=min(background, len(others)), replace=False) if background else np.array([], int)
    rows = np.concatenate([bg, ids]).astype(int)
    proj, ratio = pca_2d(emb[rows])
    fig = go.Figure()
    if len(bg):
        fig.add_trace(go.Scatter(x=proj[:len(bg), 0], y=proj[:len(bg), 1], mode="markers", name="other tokens",
                                 marker=dict(color="rgba(150,150,150,0.25)", size=4), hoverinfo="skip"))
    chosen = proj[len(bg):]
    shown = set(map(str, names)) if labelled is None and len(names) <= MAX_LABELS else set(map(str, labelled or ()))
    text = [f"{n} → {t}" for n, t in zip(names, tokens)]
    # labels of points close together go to alternating sides, so that neighbours do not print over each other
    sides = ("top right", "bottom left", "top left", "bottom right", "middle right", "middle left")
    order = np.argsort(chosen[:, 0], kind="stable") if len(chosen) else np.array([], int)
    position = [""] * len(chosen)
    for rank, k in enumerate(order):
        position[int(k)] = sides[rank % len(sides)]
    fig.add_trace(go.Scatter(x=chosen[:, 0], y=chosen[:, 1], mode="markers+text", name="mapped tokens",
                             text=[t if str(n) in shown else "" for n, t in zip(names, text)],
                             hovertext=text, hoverinfo="text", textposition=position or "top center",
                             textfont=dict(size=12, color="#7f1d1d"), marker=dict(color="#d62728", size=9)))
    fig.update_layout(title="Pretrained input embeddings of the mapped tokens (PCA)",
                      xaxis_title=f"PC1 ({ratio[0]:.1%} of variance)", yaxis_title=f"PC2 ({ratio[1]:.1%})",
                      **_LAYOUT)
    return fig
