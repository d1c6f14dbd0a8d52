"""Which runs can be looked inside, and the fixed sample an inspection runs through a run's two models.

:func:`inspection_sample` draws a seeded sample of the run's validation split and encodes it exactly as the run
did (its saved mapping and tokenizer); :func:`starting_model` rebuilds the weights fine-tuning started from.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...engine.config import BASELINES, RunConfig
from ...errors import ConfigError, ModelError

__all__ = ["DEFAULTS", "resolve_run", "inspectable", "Sample", "inspection_sample", "starting_model"]

#: the sample: how many validation examples, each cut to at most ``max_tokens`` ids ([CLS] ... [SEP] kept), drawn
#: with ``sample_seed``; attention maps are kept for the first ``attention_examples`` of them
DEFAULTS = {"n_examples": 32, "max_tokens": 128, "sample_seed": 0, "attention_examples": 4}


def resolve_run(ref: str | Path, store=None) -> Path:
    """A run folder from a folder path or a run-store id (``python -m disc_core runs list``)."""
    p = Path(ref)
    if (p / "config.json").exists():
        return p
    from ...runs.store import RunNotFound, RunStore

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


def run_config(run_dir: Path) -> RunConfig:
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

    from ...data import load_dataset
    from ...engine.encoding import encode_records
    from ...engine.mapping import mapping_from_dict

    run_dir = Path(run_dir)
    cfg = run_config(run_dir)
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
    from ...engine.variants import build_model

    try:
        return build_model(cfg.model_name_or_path, cfg.variant, num_labels, task, seed=cfg.seed,
                           attention_dropout=cfg.attention_dropout)
    except ModelError as err:
        raise ModelError(f"cannot rebuild the run's starting point from {cfg.model_name_or_path!r}: {err}") from err


def mapped_tokens(mapping: dict, sample: Sample, tok, top: int = 40) -> tuple[list[int], list[str], list[str]]:
    """(token ids, symbols, tokens) whose input embeddings the drift measures: a non-text run's mapped symbols; for
    text, the ``top`` most frequent ids of the sample (after its shift) other than special tokens."""
    if mapping.get("kind") == "symbols":
        pairs = sorted(mapping["symbol_to_id"].items(), key=lambda kv: kv[1])
        ids = [int(i) for _, i in pairs]
        toks = mapping.get("tokens") or {}
        return ids, [str(s) for s, _ in pairs], [toks.get(s, tok.convert_ids_to_tokens(int(i))) for s, i in pairs]
    special = set(tok.all_special_ids)
    counts = Counter(int(i) for r in sample.input_ids for i in r if int(i) not in special)
    shown: dict[int, str] = {}
    for r, t in zip(sample.input_ids, sample.tokens):
        for i, s in zip(r.tolist(), t):
            shown.setdefault(int(i), s)
    ids = [i for i, _ in counts.most_common(top)]
    return ids, [shown.get(i, "?") for i in ids], tok.convert_ids_to_tokens(ids)
