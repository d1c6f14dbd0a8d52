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
import platform
import time
from pathlib import Path
from typing import Callable

from ..data import load_dataset
from ..data.base import Dataset
from ..fileio import atomic_write_json, atomic_write_text
from .config import BASELINES, RunConfig
from .encoding import build_mapping, cap, encode_splits, subsample
from .events import EvalLogged, JsonlListener, RunFinished, RunResumed, check_trackers, emit, tracker_listeners
from .metrics import prediction_checks
from .models import load_tokenizer, resolve_model

__all__ = ["run_experiment", "load_run", "load_finetuned", "set_seed", "prepare_data", "read_metrics", "trainers",
           "trainer_for", "resume_plan", "check_output_path"]


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (transformers' ``set_seed``; CPU runs are then repeatable)."""
    from transformers import set_seed as hf_set_seed

    hf_set_seed(seed)


def trainers() -> dict[str, Callable]:
    """The trainers by name: ``bert`` (every BERT variant: build it, fine-tune it), and one per baseline.

    Each is called ``trainer(cfg, ds, enc, listeners, checkpoint_dir=..., resume=..., pad_id=...)`` on the run's
    encoded splits and returns ``(Fitted, summary)``: a scorer and saver of the trained model, and the summary
    merged into ``results.json``. Imported on first use (they bring in torch).
    """
    from .baselines import fit_cnn, fit_kmer_lr
    from .training import fit_bert

    return {"bert": fit_bert, "kmer-lr": fit_kmer_lr, "cnn": fit_cnn}


def trainer_for(cfg: RunConfig) -> tuple[str, Callable]:
    """The name and trainer of ``cfg``: its baseline's own, else ``bert``."""
    name = cfg.variant if cfg.variant in BASELINES else "bert"
    return name, trainers()[name]


def prepare_data(cfg: RunConfig, dataset: Dataset | None = None):
    """Dataset, tokenizer, mapping and the encoded train/validation/test splits for ``cfg``.

    A ``dataset`` passed in (as a plan passes one to all cells of a task) is encoded once per mapping and
    ``max_length``, and reused by later cells in this process.
    """
    ds = dataset or load_dataset(cfg.dataset)
    tok = load_tokenizer(cfg.model_name_or_path)
    mapping = build_mapping(cfg, ds, tok)
    enc = encode_splits(ds, tok, mapping, cfg.max_length, reuse=dataset is not None)
    enc["train"] = subsample(enc["train"], cfg.train_fraction, cfg.seed, ds.task)
    enc["validation"] = cap(enc["validation"], cfg.max_eval_examples, cfg.seed)
    enc["test"] = cap(enc["test"], cfg.max_test_examples, cfg.seed)
    return ds, tok, mapping, enc


def check_output_path(path: str | Path, what: str = "--out") -> Path:
    """``path`` as a file that can be written, or a :class:`~disc_core.errors.ConfigError` that says why not
    (a folder, a parent that is missing and cannot be made, a place without write permission, /proc ...).
    The parent folder is created when it can be."""
    import os

    from ..errors import ConfigError

    path = Path(path).expanduser()
    if path.is_dir():
        raise ConfigError(f"{what} {path}: is a folder -> give a file name, e.g. {path / 'metrics.csv'}")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"{what} {path}: cannot create the folder {parent} ({err.strerror or err}) -> "
                          "give a path in a folder you can write to") from None
    if not parent.is_dir():
        raise ConfigError(f"{what} {path}: {parent} is not a folder -> give a path in a folder you can write to")
    probe = parent / f".{path.name}.write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ConfigError(f"{what} {path}: cannot write in {parent} ({err.strerror or err}) -> "
                          "give a path in a folder you can write to") from None
    return path


def _truncate_metrics(path: Path, step: int) -> None:
    """Keep the events up to the checkpoint's step: the resumed run logs the later ones again."""
    keep = [e for e in read_metrics(path.parent) if e.get("step", 0) <= step and e.get("split") != "test"]
    atomic_write_text(path, "".join(json.dumps(e) + "\n" for e in keep))


def _set_metrics_aside(path: Path) -> Path | None:
    """Move a metric log that a restart would overwrite to ``metrics.restart-N.jsonl`` (N = 1, 2 ...)."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    n = 1
    while (aside := path.with_name(f"metrics.restart-{n}.jsonl")).exists():
        n += 1
    path.replace(aside)
    return aside


def resume_plan(cfg: RunConfig, run_dir: str | Path):
    """What resuming ``run_dir`` would do, without doing it: ``(checkpoint or None, message)``.

    The message says ``resumed from step N`` (with the checkpoint used and any newer one that was unusable), or
    why there is no usable checkpoint (none saved, a damaged file) and that the run starts again at step 1.
    """
    from .training import read_checkpoint

    ckpt_dir = Path(run_dir) / "checkpoint"
    ckpt, problems = read_checkpoint(ckpt_dir)
    if ckpt is not None:
        where = "" if ckpt.path == ckpt_dir else f" (from {ckpt.path.name}: a save was interrupted)"
        msg = f"resumed from step {ckpt.step}{where}"
        if problems:
            msg += f"; not used: {'; '.join(problems)}"
        return ckpt, msg
    if cfg.variant == "kmer-lr":
        why = "kmer-lr has no optimiser steps to checkpoint"
    elif problems:
        why = "; ".join(problems)
    elif not cfg.checkpoint_steps:
        why = "none was saved (checkpoint_steps is not set)"
    else:
        why = f"none was saved before it stopped (one is saved every {cfg.checkpoint_steps} steps)"
    return None, f"no usable checkpoint ({why}): started again at step 1"


def run_experiment(cfg: RunConfig, run_dir: str | Path, listeners=(), resume: bool = False,
                   dataset: Dataset | None = None) -> dict:
    """Run one fine-tuning experiment and write its run folder. Returns the results dict.

    ``listeners`` receive the loop's events (a metrics.jsonl writer is always added, and the trackers of
    ``cfg.report_to``). With ``resume`` the run continues from the latest usable checkpoint of
    ``run_dir/checkpoint`` (see :func:`resume_plan`); without one it starts again at step 1, and the metric log
    of the earlier attempt is kept as ``metrics.restart-N.jsonl``. Either way a :class:`~.events.RunResumed`
    event and ``results["resumed"]`` say what happened.
    """
    import torch
    from transformers.utils import logging as hf_logging

    from .training import pick_device

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    device = pick_device(cfg.device)  # a GPU asked for and absent: said before anything is written
    check_trackers(cfg.report_to)  # a tracker's package missing: likewise
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    set_seed(cfg.seed)
    t0 = time.time()
    ds, tok, mapping, enc = prepare_data(cfg, dataset)
    prep_s = time.time() - t0  # data and encoding (and, below, the model): where a run's time goes
    ref = resolve_model(cfg.model_name_or_path)
    fingerprint = ds.fingerprint()  # a finished run is reused only for the same data (study.compare.cell_state)
    resolved = {"model": ref.describe(), "dataset": ds.summary(), "dataset_fingerprint": fingerprint,
                "mapping_basis": getattr(mapping, "basis", None),
                "n_train": len(enc["train"]), "n_validation": len(enc["validation"]), "n_test": len(enc["test"]),
                "truncated": {s: e.n_truncated for s, e in enc.items()},
                "python": platform.python_version(), "torch": torch.__version__,
                "device": str(device), "started": t0}
    atomic_write_json(run_dir / "config.json", {"config": cfg.to_dict(), "resolved": resolved}, default=str)
    atomic_write_json(run_dir / "mapping.json", mapping.to_dict(), default=str)
    metrics_path = run_dir / "metrics.jsonl"
    ckpt_dir = run_dir / "checkpoint"
    resumed = None
    ckpt = None
    if resume:
        ckpt, message = resume_plan(cfg, run_dir)
        if ckpt is not None:
            _truncate_metrics(metrics_path, ckpt.step)
            aside = None
        else:
            aside = _set_metrics_aside(metrics_path)
            if aside is not None:
                message += f" (the earlier attempt's metrics are kept in {aside.name})"
        resumed = {"from_step": ckpt.step if ckpt else 0, "checkpoint": str(ckpt.path) if ckpt else None,
                   "message": message, "metrics_kept_in": str(aside) if aside else None}
    elif metrics_path.exists():
        metrics_path.unlink()
    trackers = tracker_listeners(cfg, run_dir)
    listeners = [JsonlListener(metrics_path), *trackers, *listeners]
    if resumed is not None:
        emit(listeners, RunResumed(**resumed))
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    _, train = trainer_for(cfg)
    try:
        fitted, summary = train(cfg, ds, enc, listeners, checkpoint_dir=ckpt_dir if cfg.checkpoint_steps else None,
                                resume=ckpt if ckpt is not None else False, pad_id=pad_id)
        prep_s += summary.pop("model_build_s", 0.0)
        if resumed is not None:
            summary["resumed"] = resumed
        results = _finish(cfg, run_dir, ds, tok, enc, fitted, summary, listeners, t0, prep_s, fingerprint)
    except BaseException as err:
        for t in trackers:  # an MLflow run is marked failed, TensorBoard's last events are flushed
            t.close(error=err)
        raise
    emit(listeners, RunFinished(results=results))
    return results


def _finish(cfg, run_dir, ds, tok, enc, fitted, summary, listeners, t0, prep_s, fingerprint) -> dict:
    """Score the trained model on the test split (and a training sample), save it, write results.json."""
    t_test = time.time()
    test_metrics, test_logits = fitted.score(enc["test"])
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
        sample = cap(enc["train"], cfg.eval_train_examples, cfg.seed + 1)
        train_metrics, _ = fitted.score(sample)
        emit(listeners, EvalLogged(step=summary["steps"] or 0, split="train", metrics=train_metrics,
                                   elapsed_s=time.time() - t0))
        results["train"] = train_metrics
    results["wall_time_s"] = time.time() - t0
    if cfg.save_model:
        fitted.save(run_dir / "model")
        tok.save_pretrained(run_dir / "model")
    atomic_write_json(run_dir / "results.json", results, default=str)
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

    from ..errors import ModelError
    from .models import check_weights

    d = Path(run_dir) / "model"
    if not (d / "config.json").is_file():
        raise ModelError(f"{d}: no saved BERT model here (config.json missing) -> a run saves its model unless "
                         "save_model is off; baselines save theirs as kmer-lr.* / cnn.* files instead")
    check_weights(str(d))
    model = AutoModelForSequenceClassification.from_pretrained(d, trust_remote_code=False, use_safetensors=True,
                                                               local_files_only=True)
    tok = AutoTokenizer.from_pretrained(d, local_files_only=True)
    mapping = json.loads((Path(run_dir) / "mapping.json").read_text(encoding="utf-8"))
    return model, tok, mapping
