"""Inside a finished run: which layers the task rewrote, how far the mapped tokens moved, what the model attends to.

Why does an English-text model help on DNA? For one finished BERT run (its saved ``model/``) and its starting point
(the same variant rebuilt from the run's config and seed: the pretrained weights, re-emb's re-drawn embeddings,
rand's initialisation), on a fixed, seeded sample of the validation split:

- **cka**: linear CKA (Kornblith et al. 2019) between the starting point's and the finished model's token
  representations, layer by layer (layer 0 = the embedding output). 1: the layer represents the sample as before,
  up to a rotation and a scale; low: fine-tuning rewrote it.
- **drift**: how far the mapped tokens' input embeddings moved (L2 distance, relative to their length, cosine
  before/after), beside the rest of the vocabulary (rows the task never used do not move at all under Adam without
  weight decay), and a 2-D PCA fitted on the starting vocabulary that places each mapped token before and after.
- **attention**: each layer's attention, per head, on the first few examples of the sample over their symbols (what a
  reader of BertViz expects), and the mean entropy of attention by layer for the finished model and its start
  (``uniform`` is the entropy of attending evenly to every symbol: the ceiling).

:func:`inspect_run` writes ``<run>/inspect/inspect.json`` (the numbers) and ``attention.npz`` (the maps) once per
sample setting and reads them back afterwards, so the dashboard never recomputes on a rerun. The figures are
plotly (:func:`cka_figure`, :func:`entropy_figure`, :func:`drift_figure`, :func:`embedding_figure`,
:func:`attention_figure`) for the dashboard and the CLI's HTML, and matplotlib PNGs (:func:`write_pngs`) for
documents.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..engine.config import BASELINES, RunConfig
from ..errors import ConfigError, ModelError

__all__ = ["INSPECT_VERSION", "DEFAULTS", "linear_cka", "attention_entropy", "embedding_drift", "resolve_run",
           "inspectable", "inspect_run", "cached_inspection", "Sample", "inspection_sample", "starting_model",
           "cka_figure", "entropy_figure", "drift_figure", "embedding_figure", "attention_figure", "write_pngs",
           "drift_table", "attention_maps"]

#: bump when what inspect.json holds changes: older caches are then recomputed
INSPECT_VERSION = 1
#: the sample: how many validation examples, each cut to at most ``max_tokens`` ids ([CLS] ... [SEP] kept), drawn
#: with ``sample_seed``; attention maps are kept for the first ``attention_examples`` of them
DEFAULTS = {"n_examples": 32, "max_tokens": 128, "sample_seed": 0, "attention_examples": 4}


# ------------------------------------------------------------------------------------------- the measures
def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear centred kernel alignment of two representations of the same ``n`` items.

    Parameters
    ----------
    x : (n, d1) and y : (n, d2) arrays, row i of both describing item i.

    Returns ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with column-centred ``Xc, Yc``: 1 for ``y = x``,
    unchanged by an orthogonal transform or a scaling of either; 0 when the two share no linear structure.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must describe the same items: {x.shape[0]} rows against {y.shape[0]}")
    x = x - x.mean(axis=0, keepdims=True)
    y = y - y.mean(axis=0, keepdims=True)
    xx, yy = np.linalg.norm(x.T @ x), np.linalg.norm(y.T @ y)
    if xx == 0 or yy == 0:
        return float("nan")  # a constant representation has no structure to compare
    return float(np.linalg.norm(y.T @ x) ** 2 / (xx * yy))


def attention_entropy(attn: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each query's attention distribution.

    Parameters
    ----------
    attn : (B, H, T, T) attention probabilities (rows sum to 1 over the keys).
    mask : (B, T) 1 for a real token, 0 for padding.

    Returns (B, H, T): entropy per example, head and query (0 at padded queries).
    """
    a = np.asarray(attn, dtype=np.float64)
    ent = -(a * np.log(np.clip(a, 1e-12, None))).sum(-1)  # (B, H, T)
    return ent * np.asarray(mask, dtype=np.float64)[:, None, :]


def embedding_drift(before: np.ndarray, after: np.ndarray, ids: Sequence[int]) -> dict:
    """How far rows ``ids`` of an embedding matrix moved, and how the other rows did.

    Parameters
    ----------
    before, after : (V, H) input embeddings at the start and the end of fine-tuning.
    ids : the rows of interest (the mapped tokens).

    Returns ``distance`` (||after - before||), ``relative`` (distance / ||before||) and ``cosine`` (before vs
    after), each a list over ``ids``; ``mean_relative`` over ``ids``; and for the other rows ``others_moved`` (how
    many moved at all), ``others_n`` and ``others_median_relative``.
    """
    before = np.asarray(before, dtype=np.float64)
    after = np.asarray(after, dtype=np.float64)
    ids = np.asarray(list(ids), dtype=np.int64)
    diff = np.linalg.norm(after - before, axis=1)  # (V,)
    norm = np.linalg.norm(before, axis=1)
    rel = diff / np.where(norm > 0, norm, 1.0)
    cos = (before * after).sum(1) / np.where(norm * np.linalg.norm(after, axis=1) > 0,
                                             norm * np.linalg.norm(after, axis=1), 1.0)
    others = np.setdiff1d(np.arange(before.shape[0]), ids)
    return {"distance": diff[ids].tolist(), "relative": rel[ids].tolist(), "cosine": cos[ids].tolist(),
            "mean_relative": float(rel[ids].mean()) if len(ids) else 0.0,
            "others_n": int(len(others)), "others_moved": int((diff[others] > 0).sum()),
            "others_median_relative": float(np.median(rel[others])) if len(others) else 0.0}


# ------------------------------------------------------------------------------------------- the run
def resolve_run(ref: str | Path, store=None) -> Path:
    """A run folder from a folder path or a run-store id (``python -m disc_core runs list``)."""
    p = Path(ref)
    if (p / "config.json").exists():
        return p
    from ..runs.store import RunNotFound, RunStore

    try:
        return Path((store or RunStore()).get(str(ref)).run_dir)
    except RunNotFound:
        raise ConfigError(f"{ref}: neither a run folder (with config.json) nor a run id of the run store -> "
                          "`python -m disc_core runs list` lists the ids") from None


def inspectable(run_dir: str | Path) -> str | None:
    """None when ``run_dir`` holds a finished BERT run with its saved model, else why not (a sentence)."""
    d = Path(run_dir)
    if not (d / "config.json").exists():
        return f"{d}: no config.json: not a run folder"
    if not (d / "results.json").exists():
        return f"{d}: the run has not finished (no results.json)"
    try:
        cfg = json.loads((d / "config.json").read_text(encoding="utf-8"))["config"]
    except (OSError, ValueError, KeyError):
        return f"{d}: config.json is unreadable"
    if cfg.get("variant") in BASELINES:
        return f"{d}: a {cfg['variant']} baseline has no BERT to look inside"
    if not list((d / "model").glob("*.safetensors")):
        return f"{d}: no saved model (the run had save_model off)"
    return None


def _config(run_dir: Path) -> RunConfig:
    return RunConfig.from_dict(json.loads((run_dir / "config.json").read_text(encoding="utf-8"))["config"])


@dataclass
class Sample:
    """The fixed validation sample: ids as the model saw them, and the symbols a reader sees."""

    input_ids: list[np.ndarray]  # each (T_i,)
    token_type_ids: list[np.ndarray] | None
    tokens: list[list[str]]  # what each position shows: [CLS], the symbols (text: the unshifted subwords), [SEP]
    labels: list[str]
    split: str


def inspection_sample(run_dir: str | Path, n_examples: int = DEFAULTS["n_examples"],
                      max_tokens: int = DEFAULTS["max_tokens"], sample_seed: int = DEFAULTS["sample_seed"],
                      dataset=None) -> Sample:
    """A seeded sample of the run's validation split (its test split when it has none), encoded with the run's
    saved mapping and tokenizer, each example cut to ``max_tokens`` ids with its last id ([SEP]) kept."""
    from transformers import AutoTokenizer

    from ..data import load_dataset
    from ..engine.encoding import encode_records
    from ..engine.mapping import mapping_from_dict

    run_dir = Path(run_dir)
    cfg = _config(run_dir)
    ds = dataset or load_dataset(cfg.dataset)
    tok = AutoTokenizer.from_pretrained(run_dir / "model", local_files_only=True)
    mapping = mapping_from_dict(json.loads((run_dir / "mapping.json").read_text(encoding="utf-8")))
    split = "validation" if ds.split("validation") else "test"
    recs = ds.split(split)
    rng = np.random.default_rng(sample_seed)
    idx = sorted(rng.choice(len(recs), size=min(n_examples, len(recs)), replace=False).tolist())
    recs = [recs[i] for i in idx]
    enc = encode_records(recs, tok, mapping, cfg.max_length, ds.task)
    if ds.is_text:  # the subwords before any shift: what a reader can read
        plain = encode_records(recs, tok, None, cfg.max_length, ds.task)
        tokens = [tok.convert_ids_to_tokens(x.tolist()) for x in plain.input_ids]
    else:
        tokens = [[tok.cls_token or "[CLS]", *r.symbols[:cfg.max_length - 2], tok.sep_token or "[SEP]"] for r in recs]

    def cut(x):
        return x if len(x) <= max_tokens else np.concatenate([x[:max_tokens - 1], x[-1:]])

    ids = [cut(x) for x in enc.input_ids]
    tt = None if enc.token_type_ids is None else [cut(x) for x in enc.token_type_ids]
    tokens = [t if len(t) <= max_tokens else [*t[:max_tokens - 1], t[-1]] for t in tokens]
    names = ds.label_names or []
    labels = [names[int(r.label)] if ds.task == "classification" and names else f"{r.label:g}" for r in recs]
    return Sample(ids, tt, tokens, labels, split)


def starting_model(cfg: RunConfig, num_labels: int, task: str):
    """The run's starting point, rebuilt: the same variant from the same model and seed (the head aside, the
    weights fine-tuning started from; rand and re-emb draw their random weights from the run's seed)."""
    from ..engine.variants import build_model

    try:
        return build_model(cfg.model_name_or_path, cfg.variant, num_labels, task, seed=cfg.seed,
                           attention_dropout=cfg.attention_dropout)
    except ModelError as err:
        raise ModelError(f"cannot rebuild the run's starting point from {cfg.model_name_or_path!r}: {err}") from err


def _eager(model):
    """Attention probabilities are returned only by the eager implementation."""
    try:
        model.set_attn_implementation("eager")
    except Exception:  # older transformers
        model.config._attn_implementation = "eager"
    return model.eval()


def _forward(model, sample: Sample, pad_id: int, n_attention: int, batch_size: int = 8):
    """Token representations per layer (L+1 arrays (N_tok, H), non-padding tokens in sample order), the mean
    attention entropy per layer (L,), and the attention maps of the first ``n_attention`` examples
    (E, L, heads, T, T) padded to the longest of them."""
    import torch

    reps: list[list[np.ndarray]] = []
    ent_sum, n_queries = None, 0
    maps = []
    for start in range(0, len(sample.input_ids), batch_size):
        rows = sample.input_ids[start:start + batch_size]
        T = max(len(r) for r in rows)
        ids = np.full((len(rows), T), pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), T), dtype=np.int64)
        tt = np.zeros((len(rows), T), dtype=np.int64)
        for b, r in enumerate(rows):
            ids[b, :len(r)], mask[b, :len(r)] = r, 1
            if sample.token_type_ids is not None:
                tt[b, :len(r)] = sample.token_type_ids[start + b]
        with torch.no_grad():
            out = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                        token_type_ids=torch.from_numpy(tt), output_hidden_states=True, output_attentions=True)
        keep = mask.astype(bool)
        for layer, h in enumerate(out.hidden_states):  # (B, T, H) each
            if len(reps) <= layer:
                reps.append([])
            reps[layer].append(h.float().numpy()[keep])
        ents = []
        for layer, a in enumerate(out.attentions):  # (B, heads, T, T) each
            a = a.float().numpy()
            ents.append(attention_entropy(a, mask).mean(axis=1).sum())  # summed over queries, mean over heads
            for b in range(len(rows)):
                if start + b < n_attention:
                    if layer == 0:
                        maps.append([])
                    n = len(rows[b])
                    maps[start + b].append(a[b, :, :n, :n])
        ent_sum = np.array(ents) if ent_sum is None else ent_sum + np.array(ents)
        n_queries += int(mask.sum())
    L = len(maps[0]) if maps else 0
    heads = maps[0][0].shape[0] if maps else 0
    Tm = max((m[0].shape[-1] for m in maps), default=0)
    att = np.zeros((len(maps), L, heads, Tm, Tm), dtype=np.float16)
    for e, m in enumerate(maps):
        n = m[0].shape[-1]
        att[e, :, :, :n, :n] = np.stack(m)
    return [np.concatenate(r) for r in reps], ent_sum / max(n_queries, 1), att


def _uniform_entropy(sample: Sample) -> float:
    """Mean over queries of log(keys): the entropy of attending evenly to every symbol of the example."""
    lengths = [len(r) for r in sample.input_ids]
    return float(sum(n * np.log(n) for n in lengths) / max(sum(lengths), 1))


def _pca_fit(x: np.ndarray):
    mean = x.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    var = s ** 2
    return mean, vt[:2], (var[:2] / var.sum()) if var.sum() > 0 else np.zeros(2)


def _mapped_tokens(mapping: dict, sample: Sample, tok, top: int = 40) -> tuple[list[int], list[str], list[str]]:
    """(token ids, symbols, tokens) whose input embeddings the drift measures: a non-text run's mapped symbols; for
    text, the ``top`` most frequent ids of the sample (after its shift) other than special tokens."""
    if mapping.get("kind") == "symbols":
        pairs = sorted(mapping["symbol_to_id"].items(), key=lambda kv: kv[1])
        ids = [int(i) for _, i in pairs]
        toks = mapping.get("tokens") or {}
        return ids, [str(s) for s, _ in pairs], [toks.get(s, tok.convert_ids_to_tokens(int(i))) for s, i in pairs]
    from collections import Counter

    special = set(tok.all_special_ids)
    counts = Counter(int(i) for r in sample.input_ids for i in r if int(i) not in special)
    shown: dict[int, str] = {}
    for r, t in zip(sample.input_ids, sample.tokens):
        for i, s in zip(r.tolist(), t):
            shown.setdefault(int(i), s)
    ids = [i for i, _ in counts.most_common(top)]
    return ids, [shown.get(i, "?") for i in ids], tok.convert_ids_to_tokens(ids)


def _cache_paths(run_dir: Path) -> tuple[Path, Path]:
    d = run_dir / "inspect"
    return d / "inspect.json", d / "attention.npz"


def cached_inspection(run_dir: str | Path, **params) -> dict | None:
    """The saved inspection of ``run_dir`` for these sample settings (defaults: :data:`DEFAULTS`), or None."""
    run_dir = Path(run_dir)
    want = {**DEFAULTS, **{k: v for k, v in params.items() if v is not None}}
    jpath, apath = _cache_paths(run_dir)
    if not (jpath.exists() and apath.exists()):
        return None
    try:
        data = json.loads(jpath.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    res = run_dir / "results.json"
    if (data.get("version") != INSPECT_VERSION or data.get("params") != want
            or (res.exists() and res.stat().st_mtime > data.get("results_mtime", 0) + 1e-6)):
        return None  # another sample, an older format, or a run finished again since
    data["attention_path"] = str(apath)
    return data


def inspect_run(run_dir: str | Path, recompute: bool = False, dataset=None, progress=None, **params) -> dict:
    """The inspection of a finished run (see the module's docstring), computed once and saved under
    ``<run_dir>/inspect/``; later calls with the same sample settings read it back.

    ``params`` override :data:`DEFAULTS` (``n_examples``, ``max_tokens``, ``sample_seed``, ``attention_examples``).
    ``progress(text)`` hears what is being done. Raises :class:`ConfigError` for a run that cannot be inspected
    (unfinished, a baseline, no saved model) and :class:`ModelError` when its starting point cannot be rebuilt.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    run_dir = Path(run_dir)
    why = inspectable(run_dir)
    if why:
        raise ConfigError(why)
    p = {**DEFAULTS, **{k: v for k, v in params.items() if v is not None}}
    if not recompute:
        hit = cached_inspection(run_dir, **p)
        if hit is not None:
            return hit
    from ..data import load_dataset

    say = progress or (lambda _: None)
    hf_logging.set_verbosity_error()
    t0 = time.time()
    cfg = _config(run_dir)
    say("reading the validation sample")
    ds = dataset or load_dataset(cfg.dataset)
    sample = inspection_sample(run_dir, p["n_examples"], p["max_tokens"], p["sample_seed"], dataset=ds)
    say("loading the fine-tuned model and rebuilding its starting point")
    tok = AutoTokenizer.from_pretrained(run_dir / "model", local_files_only=True)
    after = AutoModelForSequenceClassification.from_pretrained(run_dir / "model", local_files_only=True,
                                                               use_safetensors=True, trust_remote_code=False)
    before = starting_model(cfg, ds.num_labels, ds.task)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    say("running the sample through both models")
    rep_b, ent_b, att_b = _forward(_eager(before), sample, pad_id, p["attention_examples"])
    rep_a, ent_a, att_a = _forward(_eager(after), sample, pad_id, p["attention_examples"])
    cka = [linear_cka(x, y) for x, y in zip(rep_b, rep_a)]
    say("measuring the embeddings' drift")
    mapping = json.loads((run_dir / "mapping.json").read_text(encoding="utf-8"))
    ids, symbols, tokens = _mapped_tokens(mapping, sample, tok)
    e0 = before.get_input_embeddings().weight.detach().float().numpy()
    e1 = after.get_input_embeddings().weight.detach().float().numpy()
    drift = embedding_drift(e0, e1, ids)
    rng = np.random.default_rng(0)
    others = np.setdiff1d(np.arange(e0.shape[0]), ids)
    bg = np.sort(rng.choice(others, size=min(1500, len(others)), replace=False))
    mean, comps, ratio = _pca_fit(e0[np.concatenate([bg, ids]).astype(int)])
    drift.update(ids=ids, symbols=symbols, tokens=tokens,
                 pca={"before": ((e0[ids] - mean) @ comps.T).tolist(), "after": ((e1[ids] - mean) @ comps.T).tolist(),
                      "background": ((e0[bg] - mean) @ comps.T).tolist(), "explained": ratio.tolist()})
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    data = {"version": INSPECT_VERSION, "params": p, "run_dir": str(run_dir), "label": cfg.label,
            "variant": cfg.variant, "dataset": cfg.dataset, "seed": cfg.seed, "model": cfg.model_name_or_path,
            "metric": results.get("metric"), "score": results.get("score"),
            "results_mtime": (run_dir / "results.json").stat().st_mtime,
            "split": sample.split, "n_examples": len(sample.input_ids),
            "n_tokens": int(sum(len(r) for r in sample.input_ids)),
            "layers": list(range(len(cka))), "cka": cka,
            "entropy": {"finished": ent_a.tolist(), "start": ent_b.tolist(), "uniform": _uniform_entropy(sample)},
            "drift": drift,
            "attention": {"tokens": sample.tokens[:p["attention_examples"]],
                          "labels": sample.labels[:p["attention_examples"]],
                          "layers": int(att_a.shape[1]) if att_a.size else 0,
                          "heads": int(att_a.shape[2]) if att_a.size else 0},
            "torch": torch.__version__, "time_s": None}
    jpath, apath = _cache_paths(run_dir)
    jpath.parent.mkdir(parents=True, exist_ok=True)
    tmp = apath.with_name("attention.tmp.npz")
    np.savez_compressed(tmp, finished=att_a, start=att_b,
                        lengths=np.array([len(r) for r in sample.input_ids[:p["attention_examples"]]]))
    os.replace(tmp, apath)
    data["time_s"] = time.time() - t0
    tmp = jpath.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, jpath)
    data["attention_path"] = str(apath)
    return data


def attention_maps(data: dict, which: str = "finished") -> np.ndarray:
    """(E, L, heads, T, T) attention of the saved inspection ``data`` (``which``: ``finished`` or ``start``)."""
    with np.load(data["attention_path"], allow_pickle=False) as z:
        return np.asarray(z[which], dtype=np.float32)


def drift_table(data: dict):
    """The mapped tokens' drift as a DataFrame: symbol, token, id, distance, relative, cosine (largest first)."""
    import pandas as pd

    d = data["drift"]
    df = pd.DataFrame({"symbol": d["symbols"], "token": d["tokens"], "token id": d["ids"], "distance": d["distance"],
                       "relative": d["relative"], "cosine": d["cosine"]})
    return df.sort_values("relative", ascending=False, kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------------------------- figures
def _name(data: dict) -> str:
    return f"{data['label']} seed {data['seed']}"


def _color(label: str) -> str:
    from .. import plots

    return plots.variant_color(label)


def cka_figure(runs: Sequence[dict]):
    """CKA between the start and the end of fine-tuning, by layer, one line per inspected run."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for d in runs:
        fig.add_trace(go.Scatter(x=d["layers"], y=d["cka"], mode="lines+markers", name=_name(d),
                                 line=dict(color=_color(d["label"]))))
    fig.update_layout(title="How much of each layer fine-tuning kept (linear CKA, start vs end)",
                      xaxis_title="layer (0 = embeddings)", yaxis_title="CKA (1 = unchanged)",
                      yaxis_range=[0, 1.05], xaxis=dict(dtick=1), height=380, margin=dict(t=50, b=40))
    return fig


def entropy_figure(runs: Sequence[dict]):
    """Mean attention entropy by layer: finished (solid) and starting point (dotted), one colour per run."""
    import plotly.graph_objects as go

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
    fig.update_layout(title="Attention entropy by layer (low = focused on few symbols)", xaxis_title="layer",
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
    import plotly.graph_objects as go

    symbols, labels = _drift_axis(runs)
    fig = go.Figure()
    for d in runs:
        dr = d["drift"]
        tok = dict(zip(dr["symbols"], dr["tokens"]))
        fig.add_trace(go.Bar(x=labels, y=_drift_by_symbol(d, symbols), hovertext=[tok.get(s, "") for s in symbols],
                             name=f"{_name(d)} (mean {dr['mean_relative']:.3f})", marker_color=_color(d["label"])))
    fig.update_layout(title="How far the mapped tokens' input embeddings moved (||after - before|| / ||before||)",
                      barmode="group", yaxis_title="relative drift", height=380, margin=dict(t=50, b=40))
    return fig


def embedding_figure(data: dict, labelled: int = 12):
    """The mapped tokens in the 2-D PCA of the starting vocabulary: before (open), after (filled), joined."""
    import plotly.graph_objects as go

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
    fig.update_layout(title=f"{_name(data)}: the mapped tokens' input embeddings before and after (PCA of the start)",
                      xaxis_title=f"PC1 ({r[0]:.1%})", yaxis_title=f"PC2 ({r[1]:.1%})", height=460,
                      margin=dict(t=50, b=40))
    return fig


def attention_figure(data: dict, layer: int, head: int | None = None, example: int = 0, which: str = "finished"):
    """Heat map of one layer's attention on one example (rows: queries, columns: keys); ``head`` None averages
    the heads."""
    import plotly.graph_objects as go

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
    fig.update_layout(title=f"{_name(data)} ({which}): layer {layer + 1}, {heads}; example label "
                            f"{data['attention']['labels'][example]}",
                      xaxis_title="attended symbol (key)", yaxis_title="attending symbol (query)",
                      yaxis_autorange="reversed", height=620, margin=dict(t=50, b=40),
                      xaxis=dict(showticklabels=n <= 80, tickfont=dict(size=8)),
                      yaxis=dict(showticklabels=n <= 80, tickfont=dict(size=8)))
    return fig


def write_pngs(runs: Sequence[dict], out: str | Path, attention_layer: int | None = None) -> list[Path]:
    """matplotlib PNGs for documents: ``cka.png``, ``entropy.png``, ``drift.png`` over ``runs``, and one
    ``attention_<label>_seed<N>.png`` per run (every layer, mean of the heads, the first example)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
