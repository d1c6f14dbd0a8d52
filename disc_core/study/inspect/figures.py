"""Plotly figures of inspections, for the dashboard and the CLI's HTML (the style of :mod:`disc_core.plots`: its
template, one fixed colour per variant).

Each takes saved inspections (the dicts :func:`~.compute.inspect_run` returns) and returns a
``plotly.graph_objects.Figure``: :func:`cka_figure`, :func:`entropy_figure`, :func:`drift_figure` over several
runs; :func:`embedding_figure` and :func:`attention_figure` of one.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from ... import plots
from .compute import attention_maps

__all__ = ["cka_figure", "entropy_figure", "drift_figure", "embedding_figure", "attention_figure"]

#: the plotly template of every chart of the tool (:mod:`disc_core.plots`)
TEMPLATE = "plotly_white"


def _name(data: dict) -> str:
    return f"{data['label']} seed {data['seed']}"


def _color(label: str) -> str:
    return plots.variant_color(label)


def cka_figure(runs: Sequence[dict]):
    """CKA between the start and the end of fine-tuning, by layer, one line per inspected run."""
    fig = go.Figure()
    for d in runs:
        fig.add_trace(go.Scatter(x=d["layers"], y=d["cka"], mode="lines+markers", name=_name(d),
                                 line=dict(color=_color(d["label"]))))
    fig.update_layout(template=TEMPLATE,
                      title="How much of each layer fine-tuning kept (linear CKA, start vs end)",
                      xaxis_title="layer (0 = embeddings)", yaxis_title="CKA (1 = unchanged)",
                      yaxis_range=[0, 1.05], xaxis=dict(dtick=1), height=380, margin=dict(t=50, b=40))
    return fig


def entropy_figure(runs: Sequence[dict]):
    """Mean attention entropy by layer: finished (solid) and starting point (dotted), one colour per run."""
    fig = go.Figure()
    for d in runs:
        layers = list(range(1, len(d["entropy"]["finished"]) + 1))
        c = _color(d["label"])
        fig.add_trace(go.Scatter(x=layers, y=d["entropy"]["finished"], mode="lines+markers",
                                 name=f"{_name(d)}: fine-tuned", line=dict(color=c)))
        fig.add_trace(go.Scatter(x=layers, y=d["entropy"]["start"], mode="lines", name=f"{_name(d)}: start",
                                 line=dict(color=c, dash="dot")))
    if runs:
        fig.add_hline(y=runs[0]["entropy"]["uniform"], line_dash="dash", line_color="grey",
                      annotation_text="uniform attention", annotation_position="bottom right")
    fig.update_layout(template=TEMPLATE,
                      title="Attention entropy by layer (low = focused on few symbols)", xaxis_title="layer",
                      yaxis_title="entropy (nats), mean over heads and symbols", xaxis=dict(dtick=1), height=380,
                      margin=dict(t=50, b=40))
    return fig


def _drift_axis(runs: Sequence[dict]) -> tuple[list[str], list[str]]:
    """(symbols in first-seen order, their axis labels): ``symbol → token`` when every run maps the symbol to the
    same token, the bare symbol when runs differ (the unused variant maps onto other tokens)."""
    tokens: dict[str, set] = {}
    for d in runs:
        for s, t in zip(d["drift"]["symbols"], d["drift"]["tokens"]):
            tokens.setdefault(s, set()).add(t)
    symbols = list(tokens)
    return symbols, [f"{s} → {next(iter(tokens[s]))}" if len(tokens[s]) == 1 else s for s in symbols]


def _drift_by_symbol(d: dict, symbols: Sequence[str]) -> list[float | None]:
    rel = dict(zip(d["drift"]["symbols"], d["drift"]["relative"]))
    return [rel.get(s) for s in symbols]


def drift_figure(runs: Sequence[dict]):
    """Relative drift of each mapped token's input embedding, one group of bars per symbol, one bar per run."""
    symbols, labels = _drift_axis(runs)
    fig = go.Figure()
    for d in runs:
        dr = d["drift"]
        tok = dict(zip(dr["symbols"], dr["tokens"]))
        fig.add_trace(go.Bar(x=labels, y=_drift_by_symbol(d, symbols), hovertext=[tok.get(s, "") for s in symbols],
                             name=f"{_name(d)} (mean {dr['mean_relative']:.3f})", marker_color=_color(d["label"])))
    fig.update_layout(template=TEMPLATE,
                      title="How far the mapped tokens' input embeddings moved (||after - before|| / ||before||)",
                      barmode="group", yaxis_title="relative drift", height=380, margin=dict(t=50, b=40))
    return fig


def embedding_figure(data: dict, labelled: int = 12):
    """The mapped tokens in the 2-D PCA of the starting vocabulary: before (open), after (filled), joined."""
    dr = data["drift"]
    pca = dr["pca"]
    b, a, bg = np.asarray(pca["before"]), np.asarray(pca["after"]), np.asarray(pca["background"])
    fig = go.Figure()
    if len(bg):
        fig.add_trace(go.Scatter(x=bg[:, 0], y=bg[:, 1], mode="markers", name="other tokens (start)",
                                 marker=dict(color="rgba(150,150,150,0.25)", size=4), hoverinfo="skip"))
    xs, ys = [], []
    for p, q in zip(b, a):
        xs += [p[0], q[0], None]
        ys += [p[1], q[1], None]
    if len(b):
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="rgba(214,39,40,0.5)", width=1),
                                 name="moved", hoverinfo="skip"))
    names = [f"{s} → {t}" for s, t in zip(dr["symbols"], dr["tokens"])]
    show = len(names) <= labelled
    fig.add_trace(go.Scatter(x=b[:, 0] if len(b) else [], y=b[:, 1] if len(b) else [], mode="markers",
                             name="before fine-tuning", hovertext=names, hoverinfo="text",
                             marker=dict(color="white", size=9, line=dict(color="#d62728", width=2))))
    fig.add_trace(go.Scatter(x=a[:, 0] if len(a) else [], y=a[:, 1] if len(a) else [],
                             mode="markers+text" if show else "markers", name="after fine-tuning",
                             text=names if show else None, textposition="top right", hovertext=names, hoverinfo="text",
                             marker=dict(color="#d62728", size=9)))
    r = pca["explained"]
    fig.update_layout(template=TEMPLATE,
                      title=f"{_name(data)}: the mapped tokens' input embeddings before and after (PCA of the start)",
                      xaxis_title=f"PC1 ({r[0]:.1%})", yaxis_title=f"PC2 ({r[1]:.1%})", height=460,
                      margin=dict(t=50, b=40))
    return fig


def attention_figure(data: dict, layer: int, head: int | None = None, example: int = 0, which: str = "finished"):
    """Heat map of one layer's attention on one example (rows: queries, columns: keys); ``head`` None averages
    the heads."""
    maps = attention_maps(data, which)
    tokens = data["attention"]["tokens"][example]
    n = len(tokens)
    a = maps[example, layer]  # (heads, T, T)
    m = a.mean(axis=0) if head is None else a[head]
    m = m[:n, :n]
    ticks = [f"{i}:{t}" for i, t in enumerate(tokens)]  # positions keep repeated symbols apart
    fig = go.Figure(go.Heatmap(z=m, x=ticks, y=ticks, colorscale="Blues", zmin=0,
                               hovertemplate="query %{y}<br>key %{x}<br>attention %{z:.3f}<extra></extra>"))
    heads = "mean of the heads" if head is None else f"head {head}"
    fig.update_layout(template=TEMPLATE,
                      title=f"{_name(data)} ({which}): layer {layer + 1}, {heads}; example label "
                            f"{data['attention']['labels'][example]}",
                      xaxis_title="attended symbol (key)", yaxis_title="attending symbol (query)",
                      yaxis_autorange="reversed", height=620, margin=dict(t=50, b=40),
                      xaxis=dict(showticklabels=n <= 80, tickfont=dict(size=8)),
                      yaxis=dict(showticklabels=n <= 80, tickfont=dict(size=8)))
    return fig
