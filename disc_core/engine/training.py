"""The fine-tuning loop: optimise, evaluate, checkpoint, and report through events.

One readable loop in plain PyTorch (no Trainer): Adam, linear decay, optional warm-up and clipping,
gradient accumulation, length-bucketed dynamically padded batches, bf16 autocast on CUDA and on CPUs
with native bf16 matmuls (AMX / AVX512-BF16) for models wide enough to gain from it, periodic
evaluation with best-checkpoint selection and early stopping, and resumable checkpoints.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .config import MAX_STEPS, RunConfig
from .encoding import Encoded, collate, make_batches
from .events import EvalLogged, RunStarted, StepLogged, emit
from .metrics import compute_metrics

__all__ = ["pick_device", "fine_tune", "evaluate", "TrainState", "DEFAULT_PATIENCE", "precision_for",
           "cpu_has_native_bf16", "Checkpoint", "read_checkpoint", "make_scheduler", "Fitted"]

#: Evaluations without improvement before early stopping (non-text data, when not configured).
DEFAULT_PATIENCE = 5


def pick_device(pref: str = "auto") -> torch.device:
    """``auto``: CUDA if present, else Apple MPS, else CPU. Or an explicit torch device string, which must be
    there: ``cuda`` on a machine without a usable GPU raises :class:`~disc_core.errors.ConfigError`."""
    if pref and pref != "auto":
        from ..errors import ConfigError

        try:
            dev = torch.device(pref)
        except (RuntimeError, TypeError) as err:
            raise ConfigError(f"device (--device) {pref!r} is not a device torch knows ({err}) -> "
                              "use auto, cpu, cuda, cuda:N or mps") from None
        if dev.type == "cuda":
            n = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if not n:
                build = "this torch is a CPU-only build" if torch.version.cuda is None else \
                    "torch sees no CUDA GPU (driver missing, or CUDA_VISIBLE_DEVICES empty)"
                raise ConfigError(f"device (--device) {pref}: no GPU here ({build}) -> use --device auto or cpu, "
                                  "or run it on a machine with an NVIDIA GPU and a CUDA build of torch")
            if dev.index is not None and dev.index >= n:
                raise ConfigError(f"device (--device) {pref}: this machine has {n} GPU(s), cuda:0 to cuda:{n - 1} "
                                  "-> pick one of those, or --device cuda")
        if dev.type == "mps" and not (getattr(torch.backends, "mps", None) is not None
                                      and torch.backends.mps.is_available()):
            raise ConfigError(f"device (--device) {pref}: Apple's MPS is not available here -> use auto or cpu")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


#: On CPU, bf16 autocast pays off only for wide enough layers. Measured on a 2-core Xeon with AMX
#: (benchmarks/RESULTS.md): an all-MiniLM-L6-v2 (hidden 384) training step is 1.3-1.6x as fast in bf16,
#: while a hidden-32 test model runs ~8% slower (casts cost more than its tiny matmuls).
CPU_BF16_MIN_HIDDEN = 256


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (Intel AMX or AVX512-BF16); emulated bf16 is slower."""
    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except Exception:  # a torch without these probes: stay in fp32
        return False


def precision_for(model, device: torch.device, bf16: bool = True) -> str:
    """``"bf16"`` (autocast) or ``"fp32"`` for this model on this device when the config allows bf16.

    CUDA: always bf16. CPU: bf16 when the CPU has native bf16 matmuls and the model's hidden size is at
    least ``CPU_BF16_MIN_HIDDEN``; the environment variable ``DISC_CPU_BF16=0`` forces fp32 (``1`` forces
    bf16). Anything else (MPS) runs fp32.
    """
    if not bf16:
        return "fp32"
    if device.type == "cuda":
        return "bf16"
    if device.type != "cpu":
        return "fp32"
    force = os.environ.get("DISC_CPU_BF16")
    if force in ("0", "1"):
        return "bf16" if force == "1" else "fp32"
    hidden = getattr(getattr(model, "config", None), "hidden_size", 0) or 0
    return "bf16" if hidden >= CPU_BF16_MIN_HIDDEN and cpu_has_native_bf16() else "fp32"


def _autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return torch.autocast(device.type, enabled=False)


@torch.no_grad()
def evaluate(model, enc: Encoded, task: str, batch_size: int, device: torch.device, pad_id: int,
             bf16: bool = True) -> tuple[dict, np.ndarray]:
    """Metrics of ``model`` on ``enc`` (voting by group when groups are set) and the raw logits."""
    was_training = model.training
    model.eval()
    out = np.zeros((len(enc), model.config.num_labels), dtype=np.float32)
    losses, n = 0.0, 0
    precision = precision_for(model, device, bf16)
    for idx in make_batches(enc.lengths, batch_size, shuffle=False, seed=0):
        batch = {k: v.to(device) for k, v in collate(enc, idx, pad_id).items()}
        with _autocast(device, precision):
            res = model(**batch)
        out[idx] = res.logits.float().cpu().numpy()
        losses += float(res.loss) * len(idx)
        n += len(idx)
    model.train(was_training)
    logits = out if task != "regression" else out[:, 0]
    metrics = compute_metrics(task, logits, enc.labels, enc.groups)
    metrics["loss"] = losses / max(n, 1)
    return metrics, logits


@dataclass
class Fitted:
    """A trained model of any trainer (BERT, a baseline): ``score(enc) -> (metrics, logits)`` on any split of
    the run, ``save(folder)`` writes it."""

    name: str
    score: Callable[[Encoded], tuple[dict, np.ndarray]]
    save: Callable[[Path], None]


@dataclass
class TrainState:
    """What a checkpoint holds besides weights and optimiser state."""

    step: int = 0
    best_metric: float = -math.inf
    best_loss: float = math.inf
    best_step: int = 0
    bad_evals: int = 0
    examples_seen: int = 0
    tokens_seen: int = 0
    #: training seconds of earlier attempts (a resumed run's ``elapsed_s`` goes on from there)
    elapsed_s: float = 0.0


CHECKPOINT_FILES = ("model.safetensors", "trainer_state.pt")  # and best.safetensors when a best step is kept


@dataclass
class Checkpoint:
    """A checkpoint read back whole (every file loaded, so it is known to be usable): ``path`` is the folder it
    came from (``checkpoint`` or, after a crash in the middle of a save, ``checkpoint.old`` /
    ``checkpoint.tmp``)."""

    path: Path
    step: int
    model: dict
    trainer: dict
    best: dict | None

    def apply(self, model, opt, sched) -> tuple[TrainState, dict | None]:
        model.load_state_dict(self.model)
        opt.load_state_dict(self.trainer["optimizer"])
        sched.load_state_dict(self.trainer["scheduler"])
        torch.set_rng_state(self.trainer["rng"])
        return TrainState(**self.trainer["state"]), self.best


def _save_checkpoint(path: Path, model, opt, sched, st: TrainState, best_state: dict | None) -> None:
    """Write a checkpoint so that a crash at any moment leaves one complete checkpoint on disk.

    The new one is written whole into ``<path>.tmp`` (trainer_state.pt last) and flushed; then the current one
    is renamed to ``<path>.old``, the new one to ``<path>``, and ``.old`` removed. Between the two renames
    ``<path>`` is missing, but ``.old`` (the previous step) and ``.tmp`` (the new one) are both complete:
    :func:`read_checkpoint` looks at all three and takes the latest step whose files all load. The files are
    not fsynced (a save every few steps would wait on the disk each time): a process that dies leaves them in
    the page cache, and after a power cut a damaged file is caught by :func:`read_checkpoint`, which loads every
    file before it trusts a checkpoint.
    """
    from safetensors.torch import save_file

    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp / "model.safetensors"))
    if best_state is not None:
        save_file(best_state, str(tmp / "best.safetensors"))
    torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "state": vars(st),
                "rng": torch.get_rng_state()}, tmp / "trainer_state.pt")
    old = path.with_name(path.name + ".old")
    if path.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def _read_one(path: Path) -> Checkpoint:
    """Load every file of one checkpoint folder; raises ValueError saying which file is unusable and why."""
    from safetensors.torch import load_file

    for name in CHECKPOINT_FILES:
        if not (path / name).is_file():
            raise ValueError(f"{path / name} is missing")
        if (path / name).stat().st_size == 0:
            raise ValueError(f"{path / name} is empty (0 bytes)")
    try:
        trainer = torch.load(path / "trainer_state.pt", weights_only=True)
        step = int(trainer["state"]["step"])
        trainer["optimizer"], trainer["scheduler"], trainer["rng"]  # noqa: B018 - the keys a resume needs
    except Exception as err:
        raise ValueError(f"{path / 'trainer_state.pt'} cannot be read ({type(err).__name__}: {err})") from None
    loaded = {}
    for name in ("model.safetensors", "best.safetensors"):
        if name == "best.safetensors" and not (path / name).exists():
            loaded[name] = None
            continue
        try:
            loaded[name] = load_file(str(path / name))
        except Exception as err:
            raise ValueError(f"{path / name} cannot be read ({type(err).__name__}: {err})") from None
    return Checkpoint(path, step, loaded["model.safetensors"], trainer, loaded["best.safetensors"])


def read_checkpoint(checkpoint_dir: str | Path) -> tuple[Checkpoint | None, list[str]]:
    """The latest usable checkpoint of ``checkpoint_dir`` and why the others were not used.

    Looks at ``checkpoint_dir`` and, for a save interrupted between its renames, ``<dir>.old`` and ``<dir>.tmp``;
    each is loaded whole (weights, optimiser, scheduler, step) before it is trusted. Returns ``(None, problems)``
    when none is usable (``problems`` empty when there was no checkpoint at all).
    """
    base = Path(checkpoint_dir)
    found: list[Checkpoint] = []
    problems: list[str] = []
    for path in (base, base.with_name(base.name + ".old"), base.with_name(base.name + ".tmp")):
        if not path.is_dir():
            continue
        try:
            found.append(_read_one(path))
        except ValueError as err:
            if path.name.endswith(".tmp"):  # a save that never finished: nothing was lost, not worth a word
                continue
            problems.append(str(err))
    if not found:
        return None, problems
    return max(found, key=lambda c: c.step), problems


def make_scheduler(opt, cfg: RunConfig, total: int):
    """transformers' learning-rate schedule for ``cfg``: linear decay to 0 at ``total`` (or constant) after
    ``cfg.warmup_steps`` steps of linear warm-up from 0."""
    from transformers import get_scheduler

    name = cfg.lr_scheduler_type
    if name == "constant" and cfg.warmup_steps:
        name = "constant_with_warmup"  # transformers' "constant" ignores the warm-up
    return get_scheduler(name, opt, num_warmup_steps=cfg.warmup_steps, num_training_steps=total)


def fine_tune(model, train: Encoded, val: Encoded | None, cfg: RunConfig, task: str, metric: str,
              pad_id: int, listeners=(), select_best: bool = True, checkpoint_dir: str | Path | None = None,
              resume: bool | Checkpoint = False) -> dict:
    """Fine-tune ``model`` on ``train``; evaluate on ``val`` every ``cfg.eval_steps`` steps.

    With ``select_best`` (non-text data, the paper's early stopping) the weights of the best
    validation ``metric`` are restored at the end and training stops after ``patience`` evaluations
    without improvement. Returns a summary dict (steps, best step, validation metrics, speed).

    ``resume``: a :class:`Checkpoint` already read (run_experiment reads it to keep the metric log in step), or
    True to read ``checkpoint_dir``'s latest usable one here (none usable: start at step 1).
    """
    device = pick_device(cfg.device)
    model.to(device)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, betas=(cfg.adam_beta1, cfg.adam_beta2),
                           eps=cfg.adam_epsilon, weight_decay=cfg.weight_decay)
    B, accum = cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps
    micro_per_epoch = math.ceil(len(train) / B)
    steps_per_epoch = max(1, math.ceil(micro_per_epoch / accum))
    total = cfg.max_steps or max(1, int(math.ceil(steps_per_epoch * cfg.num_train_epochs)))
    if total > MAX_STEPS:
        from ..errors import ConfigError

        raise ConfigError(f"num_train_epochs (--num-train-epochs) {cfg.num_train_epochs:g} is {total:,} optimiser steps "
                          f"on {len(train):,} training examples, more than the {MAX_STEPS:,} a run may take -> give "
                          "fewer epochs, or --max-steps")
    sched = make_scheduler(opt, cfg, total)
    eval_every = cfg.eval_steps or max(1, total // 10)
    patience = cfg.early_stopping_patience if cfg.early_stopping_patience is not None else DEFAULT_PATIENCE
    st, best_state = TrainState(), None
    ckpt = Path(checkpoint_dir) if checkpoint_dir else None
    if isinstance(resume, Checkpoint):
        st, best_state = resume.apply(model, opt, sched)
    elif resume and ckpt is not None:
        found, _ = read_checkpoint(ckpt)
        if found is not None:
            st, best_state = found.apply(model, opt, sched)
    lengths = train.lengths
    precision = precision_for(model, device, cfg.bf16)
    emit(listeners, RunStarted(total_steps=total, steps_per_epoch=steps_per_epoch, train_examples=len(train),
                               start_step=st.step, device=str(device)))
    t0 = time.perf_counter() - st.elapsed_s  # a resumed run's clock goes on from its checkpoint
    tok_window, t_window = 0, time.perf_counter()
    val_metrics: dict = {}
    val_time = 0.0  # seconds spent on validation inside the loop (where a run's time goes)
    stopped_early = False
    while st.step < total and not stopped_early:
        epoch = st.step // steps_per_epoch
        batches = make_batches(lengths, B, shuffle=True, seed=cfg.seed + epoch, bucketing=cfg.length_bucketing)
        first = (st.step % steps_per_epoch) * accum
        for k in range(first, len(batches), accum):
            group = batches[k:k + accum]
            n_ex = sum(len(b) for b in group)
            loss_sum, toks = 0.0, 0
            for idx in group:
                batch = {key: v.to(device, non_blocking=True) for key, v in collate(train, idx, pad_id).items()}
                with _autocast(device, precision):
                    loss = model(**batch).loss
                (loss * (len(idx) / n_ex)).backward()
                loss_sum += float(loss.detach()) * len(idx)
                toks += int(batch["attention_mask"].sum())
            if cfg.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            lr = sched.get_last_lr()[0]
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            st.step += 1
            st.examples_seen += n_ex
            st.tokens_seen += toks
            tok_window += toks
            now = time.perf_counter()
            if st.step % cfg.logging_steps == 0 or st.step == total:
                emit(listeners, StepLogged(step=st.step, epoch=st.step / steps_per_epoch, loss=loss_sum / n_ex,
                                           learning_rate=lr, examples_seen=st.examples_seen,
                                           tokens_seen=st.tokens_seen,
                                           tokens_per_s=tok_window / max(now - t_window, 1e-9),
                                           elapsed_s=now - t0))
                tok_window, t_window = 0, now
            if val is not None and len(val) and (st.step % eval_every == 0 or st.step == total):
                t_val = time.perf_counter()
                val_metrics, _ = evaluate(model, val, task, cfg.per_device_eval_batch_size, device, pad_id, cfg.bf16)
                emit(listeners, EvalLogged(step=st.step, split="validation", metrics=val_metrics,
                                           elapsed_s=time.perf_counter() - t0))
                score, vloss = val_metrics[metric], val_metrics["loss"]
                # ties on the metric (common early on: majority-class accuracy) go to the lower loss
                if score > st.best_metric or (score == st.best_metric and vloss < st.best_loss):
                    st.best_metric, st.best_loss, st.best_step, st.bad_evals = score, vloss, st.step, 0
                    if select_best:
                        best_state = {k: v.detach().to("cpu", copy=True).contiguous()
                                      for k, v in model.state_dict().items()}
                else:
                    st.bad_evals += 1
                    if select_best and patience and st.bad_evals >= patience:
                        stopped_early = True
                t_window = time.perf_counter()  # evaluation time is not training throughput
                val_time += t_window - t_val
            if ckpt is not None and cfg.checkpoint_steps and st.step % cfg.checkpoint_steps == 0:
                st.elapsed_s = time.perf_counter() - t0
                _save_checkpoint(ckpt, model, opt, sched, st, best_state)
            if st.step >= total or stopped_early:
                break
    train_time = time.perf_counter() - t0
    if select_best and best_state is not None:
        model.load_state_dict(best_state)
    return {"steps": st.step, "total_steps": total, "best_step": st.best_step if val is not None else st.step,
            "best_validation": st.best_metric if val is not None else None, "stopped_early": stopped_early,
            "examples_seen": st.examples_seen, "tokens_seen": st.tokens_seen, "train_time_s": train_time,
            "validation_time_s": val_time,
            "tokens_per_s": st.tokens_seen / max(train_time - val_time, 1e-9), "device": str(device),
            "precision": precision, "last_validation": val_metrics}


def fit_bert(cfg: RunConfig, ds, enc: dict[str, Encoded], listeners=(), checkpoint_dir: str | Path | None = None,
             resume: bool | Checkpoint = False, pad_id: int = 0) -> tuple[Fitted, dict]:
    """The BERT trainer: build ``cfg.variant`` on ``cfg.model_name_or_path`` (engine.variants) and fine-tune it
    on the run's encoded splits, keeping the best validation step for non-text data (the paper's early
    stopping). Same signature and return as the baselines' trainers (engine.baselines)."""
    from .variants import build_model

    t0 = time.perf_counter()
    model = build_model(cfg.model_name_or_path, cfg.variant, ds.num_labels, ds.task, seed=cfg.seed,
                        attention_dropout=cfg.attention_dropout)
    build_s = time.perf_counter() - t0
    summary = fine_tune(model, enc["train"], enc["validation"], cfg, ds.task, ds.metric, pad_id, listeners,
                        select_best=not ds.is_text, checkpoint_dir=checkpoint_dir, resume=resume)
    summary["model_build_s"] = build_s
    device = pick_device(cfg.device)

    def score(e: Encoded) -> tuple[dict, np.ndarray]:
        return evaluate(model, e, ds.task, cfg.per_device_eval_batch_size, device, pad_id, cfg.bf16)

    def save(folder: Path) -> None:
        model.save_pretrained(folder, safe_serialization=True)

    return Fitted("bert", score, save), summary
