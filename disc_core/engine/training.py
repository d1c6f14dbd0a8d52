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

import numpy as np
import torch

from .config import RunConfig
from .encoding import Encoded, collate, make_batches
from .events import EvalLogged, RunStarted, StepLogged, emit
from .metrics import compute_metrics

__all__ = ["pick_device", "fine_tune", "evaluate", "TrainState", "DEFAULT_PATIENCE", "precision_for",
           "cpu_has_native_bf16"]

#: Evaluations without improvement before early stopping (non-text data, when not configured).
DEFAULT_PATIENCE = 5


def pick_device(pref: str = "auto") -> torch.device:
    """``auto``: CUDA if present, else Apple MPS, else CPU. Or an explicit torch device string."""
    if pref and pref != "auto":
        return torch.device(pref)
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
class TrainState:
    """What a checkpoint holds besides weights and optimiser state."""

    step: int = 0
    best_metric: float = -math.inf
    best_loss: float = math.inf
    best_step: int = 0
    bad_evals: int = 0
    examples_seen: int = 0
    tokens_seen: int = 0


def _save_checkpoint(path: Path, model, opt, sched, st: TrainState, best_state: dict | None) -> None:
    """Write a checkpoint folder atomically (a temp folder renamed over the old one)."""
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


def _load_checkpoint(path: Path, model, opt, sched) -> tuple[TrainState, dict | None]:
    from safetensors.torch import load_file

    model.load_state_dict(load_file(str(path / "model.safetensors")))
    blob = torch.load(path / "trainer_state.pt", weights_only=True)
    opt.load_state_dict(blob["optimizer"])
    sched.load_state_dict(blob["scheduler"])
    torch.set_rng_state(blob["rng"])
    best = load_file(str(path / "best.safetensors")) if (path / "best.safetensors").exists() else None
    return TrainState(**blob["state"]), best


def fine_tune(model, train: Encoded, val: Encoded | None, cfg: RunConfig, task: str, metric: str,
              pad_id: int, listeners=(), select_best: bool = True, checkpoint_dir: str | Path | None = None,
              resume: bool = False) -> dict:
    """Fine-tune ``model`` on ``train``; evaluate on ``val`` every ``cfg.eval_steps`` steps.

    With ``select_best`` (non-text data, the paper's early stopping) the weights of the best
    validation ``metric`` are restored at the end and training stops after ``patience`` evaluations
    without improvement. Returns a summary dict (steps, best step, validation metrics, speed).
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
    warm = cfg.warmup_steps

    def lr_lambda(s: int) -> float:
        if s < warm:
            return (s + 1) / max(1, warm)
        if cfg.lr_scheduler_type == "constant":
            return 1.0
        return max(0.0, (total - s) / max(1, total - warm))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
    eval_every = cfg.eval_steps or max(1, total // 10)
    patience = cfg.early_stopping_patience if cfg.early_stopping_patience is not None else DEFAULT_PATIENCE
    st, best_state = TrainState(), None
    ckpt = Path(checkpoint_dir) if checkpoint_dir else None
    if resume and ckpt is not None and (ckpt / "trainer_state.pt").exists():
        st, best_state = _load_checkpoint(ckpt, model, opt, sched)
    lengths = train.lengths
    precision = precision_for(model, device, cfg.bf16)
    emit(listeners, RunStarted(total_steps=total, steps_per_epoch=steps_per_epoch, train_examples=len(train),
                               start_step=st.step, device=str(device)))
    t0 = time.perf_counter()
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
