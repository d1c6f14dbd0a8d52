"""Before a launch: how many runs and steps a plan is, how long it takes on this machine, and what to warn about.

The time comes from the measured speed of this machine (:func:`disc_core.runs.queue.measure_speed`: tokens
per second of the newest finished runs of the same model, a stated default without one) and the plan's
size: optimiser steps (``max_steps``, or epochs over the training set) x batch x tokens per example (measured
on earlier runs of the dataset, else the dataset's typical length). The wait is the queue ahead of it
(:func:`disc_core.runs.queue.queue_view`).

>>> from disc_core.study.estimate import estimate_plan
>>> est = estimate_plan(configs)             # configs: the RunConfigs a launch would queue
>>> est.describe(), est.warnings
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

from ..engine.config import RunConfig
from ..runs.queue import Speed, about, measure_speed, queue_view, slots, tokens_per_example
from ..runs.store import RunInfo, RunStore

__all__ = ["PlanEstimate", "estimate_plan", "plan_steps", "train_size", "dataset_tokens", "LONG_PLAN_S", "FEW_STEPS",
           "PAPER_LR"]

#: A plan longer than this (seconds, queue wait excluded) gets a warning: a class would wait for it.
LONG_PLAN_S = 30 * 60
#: The paper's learning rate, and the number of steps at or below which it leaves every variant at the
#: majority class on the bundled MiniLM (the demo at 1e-5: not even pretrained moved within 40 steps; the
#: first laptop plan: a few dozen steps a cell, nearly all ties).
PAPER_LR = 1e-5
FEW_STEPS = 300


def _facts() -> dict:
    """Per known dataset: typical tokens an example and the training set's size (the plans' dataset facts)."""
    try:
        from .plans import dataset_facts
    except ImportError:  # before the plans moved into study.plans
        from .reproduce import TRAIN_SIZES, TYPICAL_TOKENS

        return {d: {"tokens": TYPICAL_TOKENS.get(d), "train": TRAIN_SIZES.get(d)}
                for d in set(TRAIN_SIZES) | set(TYPICAL_TOKENS)}
    return dataset_facts()


def train_size(dataset: str) -> int | None:
    """Training examples of a known dataset (the paper's and the built-in ones), else None."""
    return _facts().get(dataset, {}).get("train")


def plan_steps(cfg: RunConfig, n_train: int | None) -> int | None:
    """Optimiser steps of ``cfg``, as the training loop counts them (None: epochs over an unknown size)."""
    if cfg.max_steps:
        return int(cfg.max_steps)
    if not n_train:
        return None
    kept = max(1, int(round(n_train * cfg.train_fraction))) if cfg.train_fraction < 1 else n_train
    per_epoch = max(1, math.ceil(math.ceil(kept / cfg.per_device_train_batch_size) / cfg.gradient_accumulation_steps))
    return max(1, int(math.ceil(per_epoch * cfg.num_train_epochs)))


_LENGTHS: dict = {}
#: Seconds a dataset's measured length is reused before it is measured again (a page re-estimates often).
LENGTH_CACHE_S = 120.0
#: Training examples tokenized to measure a text dataset's length.
LENGTH_SAMPLE = 200


def dataset_tokens(dataset: str, max_length: int, model: str | None = None) -> float | None:
    """Mean tokens per training example of ``dataset`` at ``max_length``, from its records: symbols (one
    token each) plus [CLS] and [SEP]; a text dataset's first :data:`LENGTH_SAMPLE` training examples through
    ``model``'s tokenizer. None when the dataset cannot be loaded here."""
    key = (dataset, max_length, model)
    hit = _LENGTHS.get(key)
    if hit is not None and time.monotonic() - hit[1] < LENGTH_CACHE_S:
        return hit[0]
    from ..data import load_dataset

    try:
        ds = load_dataset(dataset)
    except Exception:  # not here (real data missing) or unreadable: the caller falls back
        return None
    recs = ds.split("train") or ds.records
    if not recs:
        return None
    if ds.is_text:
        from ..engine.models import load_tokenizer

        tok = load_tokenizer(model) if model else load_tokenizer()
        sample = recs[:LENGTH_SAMPLE]
        ids = [tok(r.text, r.text_pair, truncation=True, max_length=max_length)["input_ids"] for r in sample]
        value = float(sum(len(i) for i in ids) / len(ids))
    else:
        value = float(sum(min(max_length, r.length + 2) for r in recs) / len(recs))
    _LENGTHS[key] = (value, time.monotonic())
    return value


def _tokens_per_example(cfg: RunConfig, runs: list[RunInfo]) -> tuple[float, str]:
    measured, ok = tokens_per_example(cfg.dataset, cfg.max_length, runs)
    if ok:
        return measured, "measured on earlier runs of this dataset"
    typical = _facts().get(cfg.dataset, {}).get("tokens")
    if typical:
        return float(min(cfg.max_length, typical)), "the dataset's typical length"
    got = dataset_tokens(cfg.dataset, cfg.max_length, cfg.model_name_or_path)
    if got is not None:
        return got, "the dataset's records (their mean length)"
    return measured, "a default length"


@dataclass
class PlanEstimate:
    """The size and the expected time of a plan of runs on this machine."""

    n_runs: int
    steps: list[int | None]
    tokens_per_example: float
    tokens_source: str
    run_s: list[float | None]
    #: every run, ``slots`` at a time, from its first start (None: some run's size is unknown)
    total_s: float | None
    #: until the queue ahead lets the first run start (0: at once)
    wait_s: float | None
    speed: Speed
    slots: int
    warnings: list[str] = field(default_factory=list)
    #: the runs race (train at the same time, sharing the cores): ``total_s`` is the slowest one's time
    race: bool = False

    @property
    def total_steps(self) -> int | None:
        return None if any(s is None for s in self.steps) else sum(self.steps)

    def plans(self) -> list[dict]:
        """What the run store keeps of each run's size (``RunStore.create(plan=...)``), for the queue."""
        race = {"race": self.n_runs} if self.race and self.n_runs > 1 else {}
        return [{"steps": s, "tokens_per_example": round(self.tokens_per_example, 1), **race} if s else
                (race or None) for s in self.steps]

    def describe(self) -> str:
        """``3 runs x 60 steps = 180 steps; about 4 min on this machine, one run at a time``."""
        if not self.n_runs:
            return "no runs"
        known = [s for s in self.steps if s is not None]
        steps = (f"{known[0]:,} step{'s' if known[0] != 1 else ''}" if len(set(known)) == 1 and len(known) == self.n_runs else
                 f"{min(known):,}-{max(known):,} steps" if known else "an unknown number of steps")
        total = f" = {self.total_steps:,} steps" if self.total_steps is not None and self.n_runs > 1 else ""
        at_once = ("all at once, racing" if self.race and self.n_runs > 1 else
                   "one run at a time" if self.slots == 1 else f"{self.slots} runs at a time")
        when = f"{about(self.total_s)} on this machine ({at_once})" if self.total_s is not None else \
            "a time that cannot be estimated (epochs over a dataset of unknown size)"
        wait = ""
        if self.wait_s:
            wait = f"; the queue ahead of it first takes {about(self.wait_s)}"
        if self.total_s is not None and not self.speed.measured:
            wait += (" (at a default speed: nothing of this model has run on this machine yet; the queue "
                     "re-estimates from the measured speed once a run has taken a few steps)")
        return f"{self.n_runs} run{'s' if self.n_runs != 1 else ''} × {steps}{total}: {when}{wait}."


def estimate_plan(configs: list[RunConfig], n_train: int | None = None, store: RunStore | None = None,
                  runs: list[RunInfo] | None = None, race: bool = False) -> PlanEstimate:
    """Size, time and warnings of queueing ``configs`` now (``n_train``: the training set's size when the
    dataset is not a known one; only needed for epoch budgets). ``race``: the runs will race (all at once,
    each at the slower speed of a run sharing the cores, :mod:`disc_core.runs.race`)."""
    if runs is None:
        runs = (store or RunStore()).list()
    if not configs:
        return PlanEstimate(0, [], 0.0, "", [], 0.0, 0.0, measure_speed("", runs), slots())
    cfg = configs[0]
    n_train = n_train or train_size(cfg.dataset)
    steps = [plan_steps(c, n_train) for c in configs]
    tpe, source = _tokens_per_example(cfg, runs)
    race = bool(race and len(configs) > 1)
    speed = measure_speed(cfg.model_name_or_path, runs, race=len(configs) if race else 1)
    run_s = [None if s is None else
             speed.overhead_s + s * c.per_device_train_batch_size * c.gradient_accumulation_steps * tpe / speed.tokens_per_s
             for c, s in zip(configs, steps)]
    n_slots = slots()
    total = None
    if all(t is not None for t in run_s):
        heap = [0.0] * (len(run_s) if race else min(n_slots, len(run_s)))
        for t in run_s:
            heapq.heappush(heap, heapq.heappop(heap) + t)
        total = max(heap)
    from ..runs.race import race_width

    view = queue_view(runs=runs, n_slots=n_slots)
    wait = view.free_for(race_width(len(configs), n_slots) if race else 1)
    est = PlanEstimate(len(configs), steps, tpe, source, run_s, total, wait, speed, n_slots, race=race)
    est.warnings = _warnings(configs, est)
    return est


def _warnings(configs: list[RunConfig], est: PlanEstimate) -> list[str]:
    out = []
    if est.total_s is not None and est.total_s > LONG_PLAN_S:
        out.append(f"This plan takes {about(est.total_s)} on this machine, more than {LONG_PLAN_S // 60} min: "
                   "everyone launching after it waits that long. Fewer seeds, variants or steps, a fraction "
                   "of the data, or a GPU make it shorter.")
    few = [s for c, s in zip(configs, est.steps) if c.learning_rate <= PAPER_LR * 1.0001 and s is not None
           and s <= FEW_STEPS]
    if few:
        out.append(f"The paper's learning rate 1e-5 with only {max(few)} steps: at a few hundred steps or fewer every "
                   "variant stays at the majority class (it predicts one class only), so the variants cannot be told "
                   "apart. The paper trains 3 epochs of bert-base; with this model and budget use 1e-4 "
                   "(what the demo and the laptop reproduction use) or many more steps.")
    return out
