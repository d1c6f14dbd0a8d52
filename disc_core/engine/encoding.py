"""Records -> token ids, and padding-free batching.

Non-text records become ``[CLS] T(s1) ... T(sn) [SEP]`` where ``T`` is the symbol mapping; text
records are tokenised by the model's tokenizer (pairs with ``[SEP]`` and token type ids) and then
shifted. Batches are length-bucketed and padded only to their own longest sequence, so almost no
compute is spent on padding.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..data.base import Dataset, Record
from ..errors import ConfigError

__all__ = ["Encoded", "build_mapping", "encode_records", "encode_splits", "subsample", "cap", "make_batches",
           "collate", "SPLITS"]

#: The splits every run encodes
SPLITS = ("train", "validation", "test")


@dataclass
class Encoded:
    """Token ids of one split. ``input_ids[i]`` is an int32 array of the i-th example."""

    input_ids: list[np.ndarray]
    token_type_ids: list[np.ndarray] | None
    labels: np.ndarray
    groups: list | None
    n_truncated: int = 0

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(x) for x in self.input_ids), dtype=np.int64, count=len(self.input_ids))

    def subset(self, idx) -> "Encoded":
        idx = list(idx)
        return Encoded([self.input_ids[i] for i in idx],
                       None if self.token_type_ids is None else [self.token_type_ids[i] for i in idx],
                       self.labels[idx], None if self.groups is None else [self.groups[i] for i in idx],
                       self.n_truncated)


def build_mapping(cfg, dataset: Dataset, tokenizer):
    """The symbol mapping (non-text) or text shift (text) that ``cfg`` asks for."""
    from . import mapping as M

    if dataset.is_text:
        return M.build_text_shift(tokenizer, cfg.text_shift, c=cfg.shift_c, seed=cfg.mapping_seed,
                                  shift_special=cfg.shift_special)
    counts = dataset.symbol_counts("train")
    return M.build_symbol_mapping(dataset.alphabet, tokenizer, strategy=cfg.mapping, seed=cfg.mapping_seed,
                                  table=cfg.mapping_table, frequency_source=cfg.frequency_source,
                                  symbol_counts=counts)


def encode_records(records: list[Record], tokenizer, mapping, max_length: int, task: str) -> Encoded:
    """Encode records with the tokenizer's special ids and ``mapping`` (SymbolMapping or TextShift)."""
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    if cls_id is None or sep_id is None:  # RoBERTa-style vocabularies
        cls_id, sep_id = tokenizer.bos_token_id, tokenizer.eos_token_id
    label_dtype = np.float32 if task == "regression" else np.int64
    labels = np.array([r.label for r in records], dtype=label_dtype)
    groups = [r.group for r in records] if any(r.group is not None for r in records) else None
    if not records:
        return Encoded([], None, labels, groups)
    if max_length < 3:  # RunConfig refuses it too; a negative slice below would keep nearly every symbol
        raise ConfigError(f"max_length must be at least 3 ([CLS], one symbol, [SEP]), got {max_length}")
    if records[0].symbols is not None:
        inner = max_length - 2
        ids, n_trunc = [], 0
        for r in records:
            body = mapping.encode(r.symbols[:inner])
            n_trunc += len(r.symbols) > inner
            ids.append(np.array([cls_id, *body, sep_id], dtype=np.int32))
        return Encoded(ids, None, labels, groups, n_trunc)
    texts = [r.text for r in records]
    pairs = [r.text_pair for r in records] if records[0].text_pair is not None else None
    enc = tokenizer(texts, pairs, truncation=True, max_length=max_length, return_token_type_ids=True,
                    return_overflowing_tokens=False)
    apply = getattr(mapping, "apply", None)
    ids = [np.array(apply(x) if apply else x, dtype=np.int32) for x in enc["input_ids"]]
    tt = [np.array(x, dtype=np.int8) for x in enc["token_type_ids"]] if pairs is not None else None
    return Encoded(ids, tt, labels, groups, 0)


def subsample(enc: Encoded, fraction: float, seed: int, task: str) -> Encoded:
    """A seeded ``fraction`` of the training set; stratified by class so no class vanishes."""
    if fraction >= 1.0:
        return enc
    rng = np.random.default_rng(seed)
    if task == "classification":
        keep = []
        for c in np.unique(enc.labels):
            idx = np.flatnonzero(enc.labels == c)
            k = max(1, int(round(len(idx) * fraction)))
            keep.extend(rng.choice(idx, size=k, replace=False).tolist())
        keep.sort()
    else:
        k = max(2, int(round(len(enc) * fraction)))
        keep = sorted(rng.choice(len(enc), size=k, replace=False).tolist())
    return enc.subset(keep)


def cap(enc: Encoded, limit: int | None, seed: int) -> Encoded:
    """At most ``limit`` examples (whole groups kept together), seeded."""
    if not limit or len(enc) <= limit:
        return enc
    rng = np.random.default_rng(seed)
    if enc.groups is None:
        return enc.subset(sorted(rng.choice(len(enc), size=limit, replace=False).tolist()))
    groups = list(dict.fromkeys(enc.groups))
    rng.shuffle(groups)
    chosen, n = set(), 0
    counts = Counter(enc.groups)
    for g in groups:
        if n >= limit:
            break
        chosen.add(g)
        n += counts[g]
    return enc.subset([i for i, g in enumerate(enc.groups) if g in chosen])


#: Encoded splits of the last few (dataset, tokenizer, mapping, max_length): the cells of a plan that differ
#: only in variant or seed (pretrained+shift and rand+shift, three seeds) encode their data once.
_ENCODED: dict[tuple, dict[str, Encoded]] = {}
_ENCODED_MAX = 4


def encode_splits(ds: Dataset, tok, mapping, max_length: int, reuse: bool = False) -> dict[str, Encoded]:
    """The train, validation and test splits of ``ds`` encoded. With ``reuse`` (a dataset object shared by the
    cells of a plan) the result is kept for the next call with the same dataset, tokenizer, mapping and
    ``max_length``; the caller gets its own dict (its subsample and caps make new Encoded objects)."""
    if not reuse:
        return {s: encode_records(ds.split(s), tok, mapping, max_length, ds.task) for s in SPLITS}
    key = (id(ds), ds.name, getattr(tok, "name_or_path", ""), len(tok),
           json.dumps(mapping.to_dict(), sort_keys=True, default=str), max_length)
    if key not in _ENCODED:
        while len(_ENCODED) >= _ENCODED_MAX:
            _ENCODED.pop(next(iter(_ENCODED)))
        _ENCODED[key] = {s: encode_records(ds.split(s), tok, mapping, max_length, ds.task) for s in SPLITS}
    return dict(_ENCODED[key])


def make_batches(lengths: np.ndarray, batch_size: int, shuffle: bool, seed: int,
                 bucketing: bool = True, bucket_factor: int = 50) -> list[np.ndarray]:
    """Index batches. With bucketing, examples of similar length share a batch.

    Training (``shuffle``): a seeded permutation is cut into chunks of ``batch_size * bucket_factor``,
    each chunk sorted by length and split into batches, and the batches shuffled (the scheme of
    ``group_by_length`` samplers). Evaluation: plain length-sorted batches.
    """
    n = len(lengths)
    rng = np.random.default_rng(seed)
    if not shuffle:
        order = np.argsort(lengths, kind="stable") if bucketing else np.arange(n)
        return [order[i:i + batch_size] for i in range(0, n, batch_size)]
    perm = rng.permutation(n)
    if not bucketing:
        return [perm[i:i + batch_size] for i in range(0, n, batch_size)]
    chunk = batch_size * bucket_factor
    batches = []
    for i in range(0, n, chunk):
        part = perm[i:i + chunk]
        part = part[np.argsort(-lengths[part], kind="stable")]
        batches.extend(part[j:j + batch_size] for j in range(0, len(part), batch_size))
    order = rng.permutation(len(batches))
    return [batches[k] for k in order]


def collate(enc: Encoded, idx, pad_id: int) -> dict:
    """Pad a batch to its own longest example: ``input_ids``, ``attention_mask``, ``token_type_ids`` and
    ``labels`` as torch tensors ((B, T); labels (B,)). The one collate of the engine: training, evaluation
    and inspection all batch through it. ``idx`` is any sequence of example indices."""
    import torch

    idx = np.asarray(idx, dtype=np.int64)
    rows = [enc.input_ids[i] for i in idx]
    T = max(len(r) for r in rows)
    B = len(rows)
    input_ids = np.full((B, T), pad_id, dtype=np.int64)
    mask = np.zeros((B, T), dtype=np.int64)
    tt = np.zeros((B, T), dtype=np.int64)
    for b, r in enumerate(rows):
        input_ids[b, :len(r)] = r
        mask[b, :len(r)] = 1
        if enc.token_type_ids is not None:
            tt[b, :len(r)] = enc.token_type_ids[idx[b]]
    return {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(mask),
            "token_type_ids": torch.from_numpy(tt), "labels": torch.from_numpy(enc.labels[idx])}
