"""Looking inside one finished run, once: both models over the sample, the measures, and the saved inspection.

:func:`inspect_run` writes ``<run>/inspect/inspect.json`` (the numbers) and ``attention.npz`` (the maps) once per
sample setting, atomically, and :func:`cached_inspection` reads them back afterwards, so the dashboard never
recomputes on a rerun.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np

from ...errors import ConfigError
from ...fileio import atomic_write_bytes, atomic_write_json
from .measures import attention_entropy, embedding_drift, fit_pca, linear_cka
from .sample import DEFAULTS, Sample, inspectable, inspection_sample, mapped_tokens, run_config, starting_model

__all__ = ["INSPECT_VERSION", "inspect_run", "cached_inspection", "attention_maps", "drift_table"]

#: bump when what inspect.json holds changes: older caches are then recomputed
INSPECT_VERSION = 1
#: what the inspection repeats of the run's results.json (``predicts_one_class``: the run predicts a single class
#: on its test set, so its score is the majority level and its insides explain no learning)
OUTCOME_KEYS = ("metric", "score", "predicts_one_class", "predicted_classes", "majority_accuracy", "majority_label")


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

    from ...engine.encoding import Encoded, collate

    enc = Encoded(sample.input_ids, sample.token_type_ids, np.zeros(len(sample.input_ids), dtype=np.int64), None)
    reps: list[list[np.ndarray]] = []
    ent_sum, n_queries = None, 0
    maps = []
    for start in range(0, len(enc), batch_size):
        idx = np.arange(start, min(start + batch_size, len(enc)))
        batch = collate(enc, idx, pad_id)
        mask = batch["attention_mask"].numpy()
        with torch.no_grad():
            out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                        token_type_ids=batch["token_type_ids"], output_hidden_states=True, output_attentions=True)
        keep = mask.astype(bool)
        for layer, h in enumerate(out.hidden_states):  # (B, T, H) each
            if len(reps) <= layer:
                reps.append([])
            reps[layer].append(h.float().numpy()[keep])
        ents = []
        for layer, a in enumerate(out.attentions):  # (B, heads, T, T) each
            a = a.float().numpy()
            ents.append(attention_entropy(a, mask).mean(axis=1).sum())  # summed over queries, mean over heads
            for b, i in enumerate(idx):
                if i < n_attention:
                    if layer == 0:
                        maps.append([])
                    n = len(enc.input_ids[i])
                    maps[i].append(a[b, :, :n, :n])
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


def _cache_paths(run_dir: Path) -> tuple[Path, Path]:
    d = run_dir / "inspect"
    return d / "inspect.json", d / "attention.npz"


def _outcome(run_dir: Path) -> dict:
    """:data:`OUTCOME_KEYS` of the run's results.json (None where it has none)."""
    try:
        results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        results = {}
    return {k: results.get(k) for k in OUTCOME_KEYS}


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
    if "predicts_one_class" not in data:  # saved before the inspection repeated it: the run's results still say
        data.update(_outcome(run_dir))
    data["attention_path"] = str(apath)
    return data


def inspect_run(run_dir: str | Path, recompute: bool = False, dataset=None, progress=None, **params) -> dict:
    """The inspection of a finished run (see :mod:`disc_core.study.inspect`), computed once and saved under
    ``<run_dir>/inspect/``; later calls with the same sample settings read it back.

    ``params`` override :data:`DEFAULTS` (``n_examples``, ``max_tokens``, ``sample_seed``, ``attention_examples``).
    ``progress(text)`` hears what is being done. The result repeats the run's outcome (:data:`OUTCOME_KEYS`):
    ``predicts_one_class`` True says the run predicts a single class, so what it learnt is no more than the
    majority class. Raises :class:`ConfigError` for a run that cannot be inspected (unfinished, a baseline, no
    saved model) and :class:`ModelError` when its starting point cannot be rebuilt.
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
    from ...data import load_dataset

    say = progress or (lambda _: None)
    hf_logging.set_verbosity_error()
    t0 = time.time()
    cfg = run_config(run_dir)
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
    ids, symbols, tokens = mapped_tokens(mapping, sample, tok)
    e0 = before.get_input_embeddings().weight.detach().float().numpy()
    e1 = after.get_input_embeddings().weight.detach().float().numpy()
    drift = embedding_drift(e0, e1, ids)
    # the 2-D picture: a PCA of the starting vocabulary (a seeded background sample plus the mapped rows)
    rng = np.random.default_rng(0)
    others = np.setdiff1d(np.arange(e0.shape[0]), ids)
    bg = np.sort(rng.choice(others, size=min(1500, len(others)), replace=False))
    pca = fit_pca(e0[np.concatenate([bg, ids]).astype(int)])
    ratio = np.pad(pca.explained_variance_ratio_, (0, 2 - pca.n_components_))

    def project(rows):
        return np.pad(pca.transform(rows), ((0, 0), (0, 2 - pca.n_components_))).tolist()

    drift.update(ids=ids, symbols=symbols, tokens=tokens,
                 pca={"before": project(e0[ids]), "after": project(e1[ids]), "background": project(e0[bg]),
                      "explained": ratio.tolist()})
    data = {"version": INSPECT_VERSION, "params": p, "run_dir": str(run_dir), "label": cfg.label,
            "variant": cfg.variant, "dataset": cfg.dataset, "seed": cfg.seed, "model": cfg.model_name_or_path,
            **_outcome(run_dir),
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
    buf = io.BytesIO()
    np.savez_compressed(buf, finished=att_a, start=att_b,
                        lengths=np.array([len(r) for r in sample.input_ids[:p["attention_examples"]]]))
    atomic_write_bytes(apath, buf.getvalue())
    data["time_s"] = time.time() - t0
    atomic_write_json(jpath, data, indent=1)  # last: a saved inspection.json always has its maps beside it
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
