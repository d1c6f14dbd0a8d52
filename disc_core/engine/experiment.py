"""One experiment = one run folder.

``run_experiment(cfg, run_dir)`` loads the dataset, builds the token mapping and the model variant,
fine-tunes, evaluates on the test split and writes::

    run_dir/
      config.json      the full RunConfig plus what it resolved to (model path, mapping, dataset)
      mapping.json     the symbol mapping / text shift used (reload to encode new data the same way)
      metrics.jsonl    one JSON object per step and per evaluation, appended as they happen
      results.json     final metrics (test, best validation), speed, timings
      model/           the fine-tuned model (safetensors) and its tokenizer
      checkpoint/      the last resumable checkpoint (when checkpoint_steps is set)

``load_run(run_dir)`` reads it all back; ``load_finetuned(run_dir)`` reloads the model.
"""

from __future__ import annotations

import json
import os
import platform
import random
import time
from collections import Counter
from pathlib import Path

import numpy as np

from .config import BASELINES, RunConfig
from ..data import load_dataset
from ..data.base import Dataset
from .encoding import Encoded, build_mapping, encode_records
from .events import EvalLogged, JsonlListener, RunFinished, emit
from .metrics import prediction_checks
from .models import load_tokenizer, resolve_model

__all__ = ["run_experiment", "load_run", "load_finetuned", "set_seed", "prepare_data", "read_metrics"]


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU runs are then repeatable)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _subsample(enc: Encoded, fraction: float, seed: int, task: str) -> Encoded:
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


def _cap(enc: Encoded, limit: int | None, seed: int) -> Encoded:
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


def _encoded_splits(ds: Dataset, tok, mapping, max_length: int) -> dict[str, Encoded]:
    key = (id(ds), ds.name, getattr(tok, "name_or_path", ""), len(tok),
           json.dumps(mapping.to_dict(), sort_keys=True, default=str), max_length)
    if key not in _ENCODED:
        while len(_ENCODED) >= _ENCODED_MAX:
            _ENCODED.pop(next(iter(_ENCODED)))
        _ENCODED[key] = {s: encode_records(ds.split(s), tok, mapping, max_length, ds.task)
                         for s in ("train", "validation", "test")}
    return dict(_ENCODED[key])  # the caller's subsample and caps make new Encoded objects


def prepare_data(cfg: RunConfig, dataset: Dataset | None = None):
    """Dataset, tokenizer, mapping and the encoded train/validation/test splits for ``cfg``.

    A ``dataset`` passed in (as a plan passes one to all cells of a task) is encoded once per mapping and
    ``max_length``, and reused by later cells in this process.
    """
    ds = dataset or load_dataset(cfg.dataset)
    tok = load_tokenizer(cfg.model_name_or_path)
    mapping = build_mapping(cfg, ds, tok)
    if dataset is not None:
        enc = _encoded_splits(ds, tok, mapping, cfg.max_length)
    else:
        enc = {s: encode_records(ds.split(s), tok, mapping, cfg.max_length, ds.task)
               for s in ("train", "validation", "test")}
    enc["train"] = _subsample(enc["train"], cfg.train_fraction, cfg.seed, ds.task)
    enc["validation"] = _cap(enc["validation"], cfg.max_eval_examples, cfg.seed)
    enc["test"] = _cap(enc["test"], cfg.max_test_examples, cfg.seed)
    return ds, tok, mapping, enc


def _write_json(path: Path, obj) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _checkpoint_step(ckpt_dir: Path) -> int:
    import torch

    return int(torch.load(ckpt_dir / "trainer_state.pt", weights_only=True)["state"]["step"])


def _truncate_metrics(path: Path, step: int) -> None:
    """Keep the events up to the checkpoint's step: the resumed run logs the later ones again."""
    keep = [e for e in read_metrics(path.parent) if e.get("step", 0) <= step and e.get("split") != "test"]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(e) + "\n" for e in keep), encoding="utf-8")
    os.replace(tmp, path)


def run_experiment(cfg: RunConfig, run_dir: str | Path, listeners=(), resume: bool = False,
                   dataset: Dataset | None = None) -> dict:
    """Run one fine-tuning experiment and write its run folder. Returns the results dict.

    ``listeners`` receive the loop's events (a metrics.jsonl writer is always added). With
    ``resume`` the run continues from ``run_dir/checkpoint`` if there is one.
    """
    import torch
    from transformers.utils import logging as hf_logging

    from .training import evaluate, fine_tune, pick_device
    from .variants import build_model

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    set_seed(cfg.seed)
    t0 = time.time()
    ds, tok, mapping, enc = prepare_data(cfg, dataset)
    baseline = cfg.variant in BASELINES  # no BERT: engine.baselines fits it on the same encoded splits
    model = None if baseline else build_model(cfg.model_name_or_path, cfg.variant, ds.num_labels, ds.task,
                                              seed=cfg.seed, attention_dropout=cfg.attention_dropout)
    prep_s = time.time() - t0  # data, encoding and the model: where a run's time goes
    ref = resolve_model(cfg.model_name_or_path)
    fingerprint = ds.fingerprint()  # a finished run is reused only for the same data (study.compare.cell_state)
    resolved = {"model": ref.describe(), "dataset": ds.summary(), "dataset_fingerprint": fingerprint,
                "mapping_basis": getattr(mapping, "basis", None),
                "n_train": len(enc["train"]), "n_validation": len(enc["validation"]), "n_test": len(enc["test"]),
                "truncated": {s: e.n_truncated for s, e in enc.items()},
                "python": platform.python_version(), "torch": torch.__version__,
                "device": str(pick_device(cfg.device)), "started": t0}
    _write_json(run_dir / "config.json", {"config": cfg.to_dict(), "resolved": resolved})
    _write_json(run_dir / "mapping.json", mapping.to_dict())
    metrics_path = run_dir / "metrics.jsonl"
    ckpt_dir = run_dir / "checkpoint"
    if resume and (ckpt_dir / "trainer_state.pt").exists():
        _truncate_metrics(metrics_path, _checkpoint_step(ckpt_dir))
    elif metrics_path.exists():
        metrics_path.unlink()
    listeners = [JsonlListener(metrics_path), *listeners]
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    device = pick_device(cfg.device)
    if baseline:
        from .baselines import fit_baseline

        fitted, summary = fit_baseline(cfg, ds, enc, listeners, resume=resume,
                                       checkpoint_dir=ckpt_dir if cfg.checkpoint_steps else None)
        score = fitted.score
    else:
        summary = fine_tune(model, enc["train"], enc["validation"], cfg, ds.task, ds.metric, pad_id, listeners,
                            select_best=not ds.is_text,
                            checkpoint_dir=ckpt_dir if cfg.checkpoint_steps else None, resume=resume)

        def score(e: Encoded):
            return evaluate(model, e, ds.task, cfg.per_device_eval_batch_size, device, pad_id, cfg.bf16)
    t_test = time.time()
    test_metrics, test_logits = score(enc["test"])
    emit(listeners, EvalLogged(step=summary["steps"] or 0, split="test", metrics=test_metrics,
                               elapsed_s=time.time() - t0))
    results = {"dataset": ds.name, "variant": cfg.variant, "label": cfg.label, "seed": cfg.seed,
               "metric": ds.metric, "score": test_metrics[ds.metric], "test": test_metrics, **summary,
               "n_test_scored": len(enc["test"]), "prep_time_s": prep_s, "test_time_s": time.time() - t_test}
    # what the score rests on, for the run's summary: the weights' step (the best validation step when the
    # loop keeps it), the data, the majority-class level, whether one class is all it predicts
    checks = prediction_checks(ds.task, test_logits, enc["test"].labels, enc["train"].labels, enc["test"].groups)
    results.update(checks, dataset_fingerprint=fingerprint,  # text: the tokenizer truncates, uncounted (None)
                   n_truncated=None if ds.is_text else {s: e.n_truncated for s, e in enc.items()},
                   weights_step=summary["best_step"] if not ds.is_text and len(enc["validation"]) else summary["steps"])
    if "majority_class" in checks:
        results["majority_label"] = ds.label_names[checks["majority_class"]]
    if cfg.eval_train_examples:
        sample = _cap(enc["train"], cfg.eval_train_examples, cfg.seed + 1)
        train_metrics, _ = score(sample)
        emit(listeners, EvalLogged(step=summary["steps"] or 0, split="train", metrics=train_metrics,
                                   elapsed_s=time.time() - t0))
        results["train"] = train_metrics
    results["wall_time_s"] = time.time() - t0
    if cfg.save_model:
        if baseline:
            fitted.save(run_dir / "model")
        else:
            model.save_pretrained(run_dir / "model", safe_serialization=True)
        tok.save_pretrained(run_dir / "model")
    _write_json(run_dir / "results.json", results)
    emit(listeners, RunFinished(results=results))
    return results


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The events of ``metrics.jsonl`` (a torn last line from a crash is ignored)."""
    path = Path(run_dir) / "metrics.jsonl"
    out = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def load_run(run_dir: str | Path) -> dict:
    """Config, results (None if unfinished) and metric events of a run folder."""
    run_dir = Path(run_dir)
    cfg = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    res_path = run_dir / "results.json"
    results = json.loads(res_path.read_text(encoding="utf-8")) if res_path.exists() else None
    return {"config": RunConfig.from_dict(cfg["config"]), "resolved": cfg["resolved"], "results": results,
            "events": read_metrics(run_dir)}


def load_finetuned(run_dir: str | Path):
    """(model, tokenizer, mapping dict) of a finished run, from safetensors only."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    d = Path(run_dir) / "model"
    model = AutoModelForSequenceClassification.from_pretrained(d, trust_remote_code=False, use_safetensors=True,
                                                               local_files_only=True)
    tok = AutoTokenizer.from_pretrained(d, local_files_only=True)
    mapping = json.loads((Path(run_dir) / "mapping.json").read_text(encoding="utf-8"))
    return model, tok, mapping
