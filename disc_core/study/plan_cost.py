"""What a plan costs before it runs: CPU seconds of each task, the cells it holds, hours on n GPUs.

Every number the estimate is built on (tokens an example, split sizes, the measured seconds of a MiniLM step,
bf16's and attention dropout's factors, the GPU's assumed speed) lives in ``plans/costs.yaml`` with where it
comes from; this module is only the arithmetic. The report prints each task's estimate beside its measured time.
"""

from __future__ import annotations

import heapq
import math
from functools import lru_cache

from ..engine.config import RunConfig
from .plans import HERE, Plan, Task, dataset_facts

__all__ = ["estimate_seconds", "n_cells", "gpu_cell_seconds", "hours_on_gpus", "costs", "typical_tokens",
           "train_size"]


@lru_cache(maxsize=None)
def costs() -> dict:
    """``plans/costs.yaml``: ``cpu`` and ``gpu`` facts (``datasets`` is :func:`~.plans.dataset_facts`)."""
    import yaml

    return yaml.safe_load((HERE / "costs.yaml").read_text(encoding="utf-8"))


def typical_tokens(dataset: str, default: int = 128) -> int:
    return dataset_facts().get(dataset, {}).get("tokens", default)


def train_size(dataset: str, default: int = 2000) -> int:
    return dataset_facts().get(dataset, {}).get("train", default)


def _model_factor(model: str) -> float:
    """Cost of a step relative to the bundled MiniLM (:func:`~disc_core.engine.models.step_cost`)."""
    from ..engine.models import step_cost

    return max(0.02, step_cost(model))


def _interp(points, tokens: int) -> float:
    (t0, f0), (t1, f1) = points
    x = min(1.0, max(0.0, (tokens - t0) / (t1 - t0)))
    return f0 + (f1 - f0) * x


def _runs_a_variant(task: Task) -> int:
    """Cells of one variant: its seeds, plus (``best-lr``) the first seed at each other rate of the grid."""
    return len(task.seeds) + max(0, len(task.lr_grid) - 1)


def estimate_seconds(task: Task, model: str, cpu_bf16: bool | None = None) -> float:
    """Rough CPU seconds of ``task`` on an idle 2-core machine (steps x batch x tokens, plus evaluation).

    ``cpu_bf16``: whether the runs get bf16 autocast (None: as this machine would, see
    :func:`~disc_core.engine.training.precision_for`: a CPU with native bf16 and a model at least as wide
    as MiniLM); fp32 otherwise. A task without attention dropout (``attention_dropout=0``) is cheaper at
    long lengths.
    """
    c = costs()["cpu"]
    o = {**RunConfig().to_dict(), **task.overrides}
    tokens = min(o["max_length"], typical_tokens(task.dataset))
    n_train = train_size(task.dataset) * o["train_fraction"]
    B = o["per_device_train_batch_size"]
    steps = o["max_steps"] or math.ceil(math.ceil(n_train / B) * o["num_train_epochs"])
    unit = (B / 32) * (tokens / 62) * (1 + c["attention_growth_per_token"] * max(0, tokens - 62))
    if cpu_bf16 is None:
        from ..engine.training import cpu_has_native_bf16

        cpu_bf16 = o["bf16"] and task.pretrain is None and _model_factor(model) >= 0.9 and cpu_has_native_bf16()
    if cpu_bf16:
        unit *= _interp(c["bf16_step_factor"], tokens)
    if o.get("attention_dropout") == 0:
        unit *= _interp(c["no_attention_dropout_factor"], tokens)
    n_eval = dataset_facts().get(task.dataset, {}).get("eval", 1000) / 2
    if o["max_eval_examples"]:
        n_eval = min(n_eval, o["max_eval_examples"])
    evals = max(1, steps // (o["eval_steps"] or max(1, steps // 10))) + 1  # validation evals + the test
    eval_units = evals * n_eval / 32 * (tokens / 62) / 3  # a forward pass ~ 1/3 of a training step
    per_cell = (steps * unit + eval_units) * c["seconds_per_unit"] + c["seconds_per_cell"]
    if task.study == "pretrain-steps":
        factor = c["small_model_factor"] if task.pretrain is not None else _model_factor(model)
        n_ckpt = len(task.pretrain.checkpoint_fractions) if task.pretrain else len(task.checkpoints)
        pre = task.pretrain.max_steps * c["pretrain_seconds_per_step"] if task.pretrain else 0.0
        google = per_cell * _model_factor(model) * len(task.seeds) if task.google else 0.0
        return pre + per_cell * factor * n_ckpt * len(task.seeds) + google
    cost = {"kmer-lr": c["kmer_lr_seconds"] / max(per_cell * _model_factor(model), 1e-9), "cnn": c["cnn_factor"]}
    return per_cell * _model_factor(model) * sum(cost.get(v, 1.0) for v in task.variants) * _runs_a_variant(task)


def n_cells(task: Task) -> int:
    """Runs in ``task``: variants x seeds (x checkpoints for ``pretrain-steps``; x the grid for ``best-lr``)."""
    k = 1
    if task.study == "pretrain-steps":
        k = len(task.pretrain.checkpoint_fractions) if task.pretrain else len(task.checkpoints)
        k += task.google
    return len(task.variants) * _runs_a_variant(task) * k


def gpu_cell_seconds(task: Task, model: str) -> float:
    """One cell of ``task`` on one GPU: its CPU estimate (the same tokens, attention and evaluation) scaled by
    the GPU's assumed speed (``costs.yaml``: bert-base against an eighth of MiniLM's CPU speed), plus the
    per-cell start and load."""
    g, c = costs()["gpu"], costs()["cpu"]
    cpu = estimate_seconds(task, model, cpu_bf16=False) / max(1, n_cells(task))
    return cpu * c["tokens_per_s"] / (g["tokens_per_s"] * 8) + g["seconds_per_cell"]


def hours_on_gpus(plan: Plan, n_gpus: int) -> float:
    """The plan's wall-clock hours on ``n_gpus`` GPUs, one cell per GPU at a time: longest cells first, each to
    the GPU that frees up first (what Ray's queue does with one-GPU tasks, near enough)."""
    cells = sorted((gpu_cell_seconds(t, plan.model) for t in plan.tasks for _ in range(n_cells(t))), reverse=True)
    free = [0.0] * max(1, n_gpus)
    for cell in cells:
        heapq.heappush(free, heapq.heappop(free) + cell)
    return max(free) / 3600
