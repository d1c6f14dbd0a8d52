"""Discipline-specific baselines, run on the same data, splits, metrics and run folders as the BERT variants.

The paper's Table 2 copies its "specific" numbers (Hilbert-CNN on DNA, PLUS-TFM on protein) from other papers;
these two are computed here, on the split the BERT variants see, so a reader can weigh transfer against what a
plain domain model gets and what it costs:

- ``kmer-lr``: counts of every k-mer of length 1..k of the symbol sequence (DNA k-mers, amino-acid k-mers, pitch
  n-grams for music, subword n-grams for text), log-scaled and L2-normalised per sequence, into a logistic
  regression (classification) or ridge regression (regression) from scikit-learn. ``k`` and the regularisation
  are chosen on the validation split from a small grid (:data:`KMER_RANGE`, :data:`LR_C`, :data:`RIDGE_ALPHA`).
  No optimiser steps, so no loss curve: its results say so (``steps`` is None) instead of inventing one. Given
  the seed (which only picks the data fraction and the capped splits) it is deterministic.
- ``cnn``: a small 1-D convolutional network over the same symbol ids (symbol and position embeddings, residual
  dilated convolution blocks, masked mean and max pooling, a linear head; about a million weights besides the
  symbol embedding, like Hilbert-CNN's 961K), trained by the engine's own loop (:func:`~.training.fine_tune`:
  Adam, early stopping on validation, events) at its own learning rate ``RunConfig.cnn_learning_rate`` (1e-3; a
  small network trained from scratch barely moves at BERT's 1e-5).

Both read the run's encoded splits (:func:`~.experiment.prepare_data`): the symbols through the run's token
mapping, a one-to-one renaming, so k-mers of token ids are k-mers of symbols; text through the model's
tokenizer. Music is scored per piece by voting over segments, as for BERT (:func:`~.metrics.compute_metrics`).
:func:`~.experiment.run_experiment` picks its trainer from :func:`~.experiment.trainers` (``fit_kmer_lr``,
``fit_cnn`` or the BERT one, :func:`~.training.fit_bert`) and writes the same run folder.
"""

from __future__ import annotations

import io
import json
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Sequence

import numpy as np
import torch
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

from ..fileio import atomic_write_bytes, atomic_write_text
from .config import BASELINES, RunConfig
from .encoding import Encoded
from .events import EvalLogged, emit
from .metrics import compute_metrics
from .training import Fitted

__all__ = ["BASELINES", "KMER_RANGE", "LR_C", "RIDGE_ALPHA", "kmer_counts", "kmer_vocabulary", "kmer_matrix",
           "symbol_sequences", "ConvNet", "count_parameters", "Fitted", "fit_kmer_lr", "fit_cnn"]

#: the k-mer lengths tried on the validation split, by discipline (longer k-mers are too sparse to count)
KMER_RANGE = {"dna": (1, 2, 3, 4, 5, 6), "protein": (1, 2, 3), "music": (1, 2, 3), "text": (1, 2)}
#: inverse regularisation strengths of the logistic regression tried on the validation split
LR_C = (1.0, 10.0, 100.0)
#: ridge penalties tried on the validation split (regression tasks)
RIDGE_ALPHA = (0.1, 1.0, 10.0)
#: a k-mer must occur this often in the training split to be a feature (singletons only add noise and width)
MIN_COUNT = 2
#: the cnn keeps at most this many distinct training ids (by frequency; the rest share one "unknown" id)
CNN_MAX_VOCAB = 8000


# --------------------------------------------------------------------------------------------- k-mers
def kmer_counts(seq: Sequence, k: int) -> Counter:
    """Counts of every k-mer (contiguous run of exactly ``k`` symbols) of ``seq``, keyed by tuple.

    ``kmer_counts("ACGTA", 2)`` -> ``{("A","C"): 1, ("C","G"): 1, ("G","T"): 1, ("T","A"): 1}``.
    """
    seq = list(seq)
    return Counter(tuple(seq[i:i + k]) for i in range(len(seq) - k + 1))


def kmer_vocabulary(seqs: Sequence[Sequence], k_max: int, min_count: int = MIN_COUNT) -> dict[tuple, int]:
    """Column of every k-mer (length 1..``k_max``) seen at least ``min_count`` times in ``seqs``.

    Columns are ordered by length, then by the k-mer, so the same training data gives the same columns.
    """
    counts: Counter = Counter()
    for s in seqs:
        for k in range(1, k_max + 1):
            counts.update(kmer_counts(s, k))
    kept = sorted((g for g, c in counts.items() if c >= min_count), key=lambda g: (len(g), g))
    return {g: i for i, g in enumerate(kept)}


def kmer_matrix(seqs: Sequence[Sequence], vocab: dict[tuple, int], k_max: int):
    """Raw k-mer counts ``(N, V)`` (scipy CSR) of ``seqs`` over ``vocab``'s columns, k-mers of length 1..k_max;
    k-mers outside the vocabulary are dropped."""
    from scipy import sparse

    rows, cols, vals = [], [], []
    for i, s in enumerate(seqs):
        c: Counter = Counter()
        for k in range(1, k_max + 1):
            c.update(kmer_counts(s, k))
        for g, n in c.items():
            j = vocab.get(g)
            if j is not None:
                rows.append(i)
                cols.append(j)
                vals.append(n)
    return sparse.csr_matrix((np.asarray(vals, dtype=np.float64), (rows, cols)), shape=(len(seqs), len(vocab)))


def symbol_sequences(enc: Encoded, is_text: bool) -> list[list[int]]:
    """The id sequences k-mers are counted over: a non-text example without its [CLS] and [SEP] (so its k-mers
    are exactly the symbols' k-mers, renamed one-to-one by the mapping), a text example as tokenized."""
    if is_text:
        return [x.tolist() for x in enc.input_ids]
    return [x[1:-1].tolist() for x in enc.input_ids]


def _features(counts, columns: np.ndarray):
    """log(1 + count) of the chosen columns, each row scaled to unit L2 norm (an empty row stays zero)."""
    from sklearn.preprocessing import normalize

    x = counts[:, columns].astype(np.float64)
    x.data = np.log1p(x.data)
    return normalize(x, norm="l2")


# --------------------------------------------------------------------------------------------- results
def _scored(task: str, logits: np.ndarray, enc: Encoded) -> dict:
    """The run's metrics of ``logits`` on ``enc`` (voting per piece where ``enc`` has groups)."""
    return compute_metrics(task, logits, enc.labels, enc.groups)


def _log_proba(clf, x, n_classes: int) -> np.ndarray:
    """(N, n_classes) log-probabilities; a class absent from training gets probability ~0."""
    out = np.full((x.shape[0], n_classes), np.log(1e-12))
    p = clf.predict_proba(x)
    out[:, clf.classes_.astype(int)] = np.log(np.clip(p, 1e-12, 1.0))
    return out


def fit_kmer_lr(cfg: RunConfig, ds, enc: dict[str, Encoded], listeners=(), checkpoint_dir=None,
                resume=False, pad_id: int = 0) -> tuple[Fitted, dict]:
    """k-mer counts -> logistic (or ridge) regression; k and the penalty chosen on the validation split.

    The trainers' common signature (engine.experiment.trainers); ``checkpoint_dir``, ``resume`` and ``pad_id``
    mean nothing here: the fit has no steps to checkpoint (a resumed run fits again, deterministically).

    Returns the fitted baseline and the summary ``run_experiment`` merges into ``results.json``: ``steps`` None
    (no optimiser steps, no loss curve), ``train_time_s`` (counting, every fit of the grid and its validation
    scoring), and ``baseline`` (k, the penalty, the grid's validation scores, the number of features).
    """
    from sklearn.linear_model import LogisticRegression, Ridge

    t0 = time.perf_counter()
    regression = ds.task == "regression"
    ks = KMER_RANGE.get(ds.discipline, (1, 2, 3))
    train_seqs = symbol_sequences(enc["train"], ds.is_text)
    vocab = kmer_vocabulary(train_seqs, max(ks))
    lengths = np.array([len(g) for g in vocab], dtype=np.int64)
    k_max = max(ks)
    counts = {s: kmer_matrix(symbol_sequences(e, ds.is_text), vocab, k_max) for s, e in enc.items()}
    y = enc["train"].labels
    val = enc["validation"]
    has_val = len(val) > 0
    grid, best = [], None
    val_time = 0.0
    for k in ks:
        columns = np.flatnonzero(lengths <= k)
        if not len(columns):
            continue
        x = _features(counts["train"], columns)
        for penalty in (RIDGE_ALPHA if regression else LR_C):
            tf = time.perf_counter()
            if regression:
                model = Ridge(alpha=penalty, random_state=cfg.seed).fit(x, y)
            else:
                model = LogisticRegression(C=penalty, max_iter=2000, random_state=cfg.seed).fit(x, y)
            entry = {"k": k, ("alpha" if regression else "C"): penalty, "features": int(len(columns)),
                     "fit_s": round(time.perf_counter() - tf, 3)}
            if has_val:
                tv = time.perf_counter()
                xv = _features(counts["validation"], columns)
                logits = model.predict(xv) if regression else _log_proba(model, xv, ds.num_labels)
                m = _scored(ds.task, logits, val)
                val_time += time.perf_counter() - tv
                entry["validation"] = m[ds.metric]
                # ties (common: the same accuracy on a small validation set) keep the earlier, simpler model
                if best is None or m[ds.metric] > best[0]["validation"]:
                    best = (entry, model, columns, m)
            elif best is None or (k == ks[len(ks) // 2] and penalty == 1.0):  # no validation: a middle choice
                best = (entry, model, columns, {})
            grid.append(entry)
    train_time = time.perf_counter() - t0
    chosen, model, columns, val_metrics = best
    if val_metrics:
        emit(listeners, EvalLogged(step=0, split="validation", metrics=val_metrics, elapsed_s=train_time))

    def score(e: Encoded) -> tuple[dict, np.ndarray]:
        x = _features(kmer_matrix(symbol_sequences(e, ds.is_text), vocab, k_max), columns)
        logits = model.predict(x) if regression else _log_proba(model, x, ds.num_labels)
        return _scored(ds.task, logits, e), logits

    def save(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        kmers = [list(g) for g, j in vocab.items() if lengths[j] <= chosen["k"]]
        coef = np.atleast_2d(model.coef_).astype(np.float32)
        buf = io.BytesIO()
        np.savez(buf, coef=coef, intercept=np.atleast_1d(model.intercept_).astype(np.float32),
                 classes=np.arange(coef.shape[0]) if regression else model.classes_)
        atomic_write_bytes(folder / "kmer-lr.npz", buf.getvalue())
        atomic_write_text(folder / "kmer-lr.json", json.dumps(
            {"baseline": "kmer-lr", "k": chosen["k"], "penalty": chosen.get("C", chosen.get("alpha")),
             "features": "log(1 + count) of every k-mer of length 1..k over token ids (non-text: [CLS] and [SEP] "
                         "left out), L2-normalised per sequence; columns in this order",
             "kmers": kmers}), encoding="utf-8")

    summary = {"steps": None, "total_steps": None, "best_step": None,
               "best_validation": chosen.get("validation"), "stopped_early": False,
               "examples_seen": len(enc["train"]), "tokens_seen": None, "train_time_s": train_time,
               "validation_time_s": val_time, "device": "cpu", "last_validation": val_metrics,
               "no_steps": "kmer-lr is fitted by scikit-learn's solver, not by optimiser steps: it has no loss curve",
               "baseline": {"name": "kmer-lr", "model": "logistic regression" if not regression else "ridge regression",
                            "chosen": chosen, "grid": grid, "vocabulary": len(vocab),
                            "selected_on": "validation" if has_val else "nothing (no validation split)"}}
    return Fitted("kmer-lr", score, save), summary


# --------------------------------------------------------------------------------------------- cnn
def count_parameters(model, exclude_embedding: bool = False) -> int:
    """Number of trainable weights (optionally without the input embedding's)."""
    n = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if exclude_embedding:
        n -= model.emb.weight.numel()
    return int(n)


class ConvBlock(nn.Module):
    """``x + Dropout(GELU(Conv1d_dilated(LayerNorm(x))))``, padded positions kept at zero."""

    def __init__(self, width: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.conv = nn.Conv1d(width, width, kernel_size, dilation=dilation, padding=dilation * (kernel_size - 1) // 2)
        self.act, self.drop = nn.GELU(), nn.Dropout(dropout)

    def forward(self, h, mask):  # h (B, T, C), mask (B, T, 1)
        y = self.conv(self.norm(h).transpose(1, 2)).transpose(1, 2)  # (B, T, C)
        return (h + self.drop(self.act(y))) * mask


class ConvNet(nn.Module):
    """Embedding -> residual dilated 1-D convolutions -> masked mean and max pooling -> linear head.

    Called like a Hugging Face classifier (``input_ids``, ``attention_mask``, ``token_type_ids``, ``labels`` ->
    ``.loss``, ``.logits``), so the engine's loop and ``evaluate`` train and score it unchanged. With the defaults
    (width 256, kernel 3, dilations 1-16, 512 positions) it holds about 1.1M weights; the symbol embedding adds
    ``vocab_size x 256`` (a few thousand for DNA, two million for text's 8,000 subwords).
    """

    def __init__(self, vocab_size: int, num_labels: int, task: str, width: int = 256, kernel_size: int = 3,
                 dilations: Sequence[int] = (1, 2, 4, 8, 16), dropout: float = 0.1, max_positions: int = 512):
        super().__init__()
        self.task = task
        self.config = SimpleNamespace(num_labels=num_labels, vocab_size=vocab_size, width=width,
                                      kernel_size=kernel_size, dilations=list(dilations), dropout=dropout,
                                      max_positions=max_positions)
        self.emb = nn.Embedding(vocab_size, width, padding_idx=0)
        # where a symbol sits matters (a splice junction is at the centre): learned positions, as BERT has
        self.pos_emb = nn.Embedding(max_positions, width)
        self.type_emb = nn.Embedding(2, width)  # sentence A / B of a text pair
        self.blocks = nn.ModuleList(ConvBlock(width, kernel_size, d, dropout) for d in dilations)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(2 * width, num_labels)

    def forward(self, input_ids, attention_mask, token_type_ids=None, labels=None):
        mask = attention_mask.unsqueeze(-1).to(self.emb.weight.dtype)  # (B, T, 1)
        pos = torch.arange(input_ids.shape[1], device=input_ids.device).clamp(max=self.pos_emb.num_embeddings - 1)
        h = self.emb(input_ids) + self.pos_emb(pos)  # (B, T, C)
        if token_type_ids is not None:
            h = h + self.type_emb(token_type_ids.clamp(0, 1))
        h = h * mask
        for blk in self.blocks:
            h = blk(h, mask)
        h = self.norm(h)
        mean = (h * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (B, C)
        mx = h.masked_fill(mask == 0, torch.finfo(h.dtype).min).amax(1)  # (B, C)
        logits = self.head(torch.cat([mean, mx], dim=-1))  # (B, num_labels)
        loss = None
        if labels is not None:
            if self.task == "regression":
                loss = nn.functional.mse_loss(logits.squeeze(-1).float(), labels.float())
            else:
                loss = nn.functional.cross_entropy(logits.float(), labels.long())
        return SequenceClassifierOutput(loss=loss, logits=logits)


def _id_table(enc: dict[str, Encoded], max_vocab: int = CNN_MAX_VOCAB) -> np.ndarray:
    """Lookup table token id -> compact id: 0 padding, 1 unknown, 2.. the training split's ids by frequency."""
    counts = Counter()
    for x in enc["train"].input_ids:
        counts.update(x.tolist())
    top = max((int(x.max()) for e in enc.values() for x in e.input_ids if len(x)), default=0)
    table = np.ones(top + 1, dtype=np.int64)
    for j, (tid, _) in enumerate(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_vocab]):
        table[tid] = j + 2
    return table


def _remap(e: Encoded, table: np.ndarray) -> Encoded:
    ids = [table[np.minimum(x, len(table) - 1)] if len(x) else x.astype(np.int64) for x in e.input_ids]
    # ids past the table (only when scoring new data) fall on its last entry; mark them unknown instead
    ids = [np.where(x0 >= len(table), 1, x1) for x0, x1 in zip(e.input_ids, ids)]
    return Encoded(ids, e.token_type_ids, e.labels, e.groups, e.n_truncated)


def fit_cnn(cfg: RunConfig, ds, enc: dict[str, Encoded], listeners=(), checkpoint_dir=None,
            resume=False, pad_id: int = 0) -> tuple[Fitted, dict]:
    """Train :class:`ConvNet` with the engine's loop (early stopping on validation for non-text data); its ids
    are compact (0 padding), so ``pad_id`` is not used."""
    from .training import evaluate, fine_tune, pick_device

    table = _id_table(enc)
    data = {s: _remap(e, table) for s, e in enc.items()}
    torch.manual_seed(cfg.seed)
    n_labels = 1 if ds.task == "regression" else ds.num_labels
    model = ConvNet(int(table.max()) + 1, n_labels, ds.task)
    run_cfg = cfg.replace(learning_rate=cfg.cnn_learning_rate)
    summary = fine_tune(model, data["train"], data["validation"], run_cfg, ds.task, ds.metric, 0, listeners,
                        select_best=not ds.is_text, checkpoint_dir=checkpoint_dir, resume=resume)
    device = pick_device(cfg.device)
    tps = summary.pop("tokens_per_s")  # not a BERT speed: kept apart so the queue's estimates never read it

    def score(e: Encoded) -> tuple[dict, np.ndarray]:
        return evaluate(model, _remap(e, table), ds.task, cfg.per_device_eval_batch_size, device, 0, cfg.bf16)

    def save(folder: Path) -> None:
        from safetensors.torch import save

        atomic_write_bytes(folder / "cnn.safetensors",
                           save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}))
        atomic_write_text(folder / "cnn.json", json.dumps(
            {"baseline": "cnn", "task": ds.task, **vars(model.config),
             "id_table": "token id i -> embedding row id_table[i] (0 padding, 1 unknown)",
             "id_table_values": table.tolist()}), encoding="utf-8")

    summary["baseline"] = {"name": "cnn", "parameters": count_parameters(model),
                           "parameters_without_embedding": count_parameters(model, exclude_embedding=True),
                           "vocabulary": int(table.max()) + 1, "learning_rate": cfg.cnn_learning_rate,
                           "tokens_per_s": tps, **{k: v for k, v in vars(model.config).items() if k != "num_labels"}}
    return Fitted("cnn", score, save), summary
