"""The queue as people see it: what runs and waits on this machine, when each queued run should start and
how long a run takes here, from the measured speed of the runs this machine has finished.

Runs go one at a time on a CPU (:func:`~disc_core.runs.worker.max_concurrent`), so a second launch waits
behind the first. :func:`queue_view` orders every active run the way the workers will claim their slots
(running first, then queued by the time they joined the queue), and plays the queue forward with each
run's estimated duration: runs ahead, an estimated start and end for each.

Estimates come from measurement. :func:`measure_speed` reads the training throughput (real tokens per
second, padding excluded) and the per-run overhead (loading the model and the data, validation, the test)
of the :data:`RECENT` most recent finished runs of the same model on this host. Only when there is none
does it fall back to :data:`DEFAULT_TOKENS_PER_S` (scaled by the model's size), and
:meth:`Speed.describe` says which. A run's size is what its launcher recorded (``plan``: steps and tokens
per example, see :meth:`~disc_core.runs.store.RunStore.create`), else its ``max_steps`` and the tokens per
example of earlier runs of the same dataset.

>>> from disc_core.runs.queue import queue_view, about
>>> for e in queue_view().entries:
...     print(e.label, e.status, e.ahead, about(e.starts_in_s))
"""

from __future__ import annotations

import heapq
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

from .store import ACTIVE, FINISHED, HOST, QUEUED, RUNNING, RunInfo, RunStore

__all__ = ["status_text", "Speed", "QueueEntry", "QueueView", "GroupProgress", "measure_speed", "tokens_per_example",
           "run_steps", "run_seconds", "queue_view", "group_progress", "about", "slots",
           "DEFAULT_TOKENS_PER_S", "DEFAULT_OVERHEAD_S", "DEFAULT_TOKENS_PER_EXAMPLE", "RECENT", "RACE_GAIN",
           "DEFAULTS_FILE", "load_defaults", "race_factor", "current_tokens_per_s"]

from .defaults import (DEFAULT_OVERHEAD_S, DEFAULT_TOKENS_PER_EXAMPLE, DEFAULT_TOKENS_PER_S, DEFAULTS_FILE,
                       RACE_GAIN, load_defaults, race_factor)

#: How many of the newest finished runs of a model the speed is measured on.
RECENT = 5
#: A running run's current speed counts from this step on (its first steps include the model's warm-up).
RUNNING_FROM_STEP = 3


@dataclass
class Speed:
    """How fast one run of ``model`` goes on this machine: training tokens per second and seconds of overhead
    per run, for a run racing ``race`` runs at once (1: on its own).

    ``n_runs`` runs measured it (``n_running`` of them running now, by their current speed); 0 means the
    default (:data:`DEFAULT_TOKENS_PER_S`, divided by ``factor``, the model's cost relative to the bundled
    MiniLM). ``converted``: measured at another racing width and scaled by :func:`race_factor`."""

    model: str
    tokens_per_s: float
    overhead_s: float
    n_runs: int = 0
    factor: float = 1.0
    race: int = 1
    n_running: int = 0
    converted: bool = False

    @property
    def measured(self) -> bool:
        return self.n_runs > 0

    def describe(self) -> str:
        """One sentence: the model's speed here and where it comes from."""
        name = os.path.basename(str(self.model).rstrip("/")) or str(self.model)
        racing = (f" for each of {self.race} runs racing (sharing the cores; {RACE_GAIN:g}x the machine's "
                  f"throughput of one run, shared out)" if self.race > 1 else "")
        if self.measured:
            done = self.n_runs - self.n_running
            basis = ", ".join(x for x in (
                f"the current speed of {self.n_running} running run{'s' if self.n_running != 1 else ''}"
                if self.n_running else "",
                f"the last {done} finished run{'s' if done != 1 else ''}" if done else "") if x)
            conv = (", measured on runs racing another number of runs and scaled to this one" if self.converted
                    else "")
            return (f"{name}: measured on this machine, {self.tokens_per_s:,.0f} training tokens/s{racing} and "
                    f"{self.overhead_s:.0f} s of loading and evaluation per run ({basis}{conv})")
        scaled = f", scaled to this model's size ({self.factor:.2g}x the cost)" if self.factor != 1 else ""
        return (f"{name}: no run of it has finished on this machine yet, so a default, {self.tokens_per_s:,.0f} "
                f"tokens/s{racing} ({DEFAULT_TOKENS_PER_S:,.0f} for one run of the bundled MiniLM on an idle "
                f"2-core CPU{scaled}) and {DEFAULT_OVERHEAD_S:.0f} s per run; the estimate improves once a run "
                "has taken a few steps")


def _model_factor(model: str) -> float:
    """Cost of a training token relative to the bundled MiniLM (:func:`~disc_core.engine.models.step_cost`)."""
    from ..engine.models import step_cost

    return max(0.01, step_cost(model))


def _finished_here(runs: list[RunInfo]) -> list[RunInfo]:
    """Finished runs of this host with the timings a speed needs, newest first."""
    out = [r for r in runs if r.status == FINISHED and (r.host in (None, HOST)) and r.results
           and (r.results.get("tokens_per_s") or 0) > 0 and r.results.get("wall_time_s")]
    return sorted(out, key=lambda r: r.finished or r.created, reverse=True)


def _race_size(r: RunInfo) -> int:
    try:
        return max(1, int((r.plan or {}).get("race") or 1))
    except (TypeError, ValueError):
        return 1


def current_tokens_per_s(r: RunInfo, runs: list[RunInfo] | None = None) -> float | None:
    """A running run's speed now, from its record: steps left over its ETA (the store's ETA is its seconds per
    step so far, validation included) times its tokens per step. None before :data:`RUNNING_FROM_STEP`."""
    if r.status != RUNNING or not r.step or r.step < RUNNING_FROM_STEP or not r.eta_s or not r.total_steps:
        return None
    left = int(r.total_steps) - int(r.step)
    if left <= 0:
        return None
    c = r.config or {}
    tpe = (r.plan or {}).get("tokens_per_example") or \
        tokens_per_example(r.dataset, int(c.get("max_length") or 512), runs or [])[0]
    per_step = int(c.get("per_device_train_batch_size") or 32) * int(c.get("gradient_accumulation_steps") or 1)
    return per_step * float(tpe) * left / float(r.eta_s)


def measure_speed(model: str, runs: list[RunInfo] | None = None, store: RunStore | None = None,
                  race: int = 1) -> Speed:
    """The speed of one run of ``model`` on this machine, racing ``race`` runs at once (1: on its own).

    The median over the :data:`RECENT` newest runs of this model here racing as many runs as ``race``:
    those running now by their current speed (:func:`current_tokens_per_s`: the machine as it is now, under
    its present load) first, then finished ones. Without any, runs of another racing width (running ones
    first), scaled by :func:`race_factor`; without any run, the default from :data:`DEFAULTS_FILE`."""
    if runs is None:
        runs = (store or RunStore()).list()
    mine = [r for r in runs if (r.config or {}).get("model_name_or_path") == model]
    running = sorted(((r, t) for r in mine if r.host in (None, HOST) and r.executor != "ray"
                      for t in [current_tokens_per_s(r, runs)] if t), key=lambda x: x[0].started or 0, reverse=True)
    finished = _finished_here(mine)
    over = [max(0.0, float(r.results["wall_time_s"]) - float(r.results.get("tokens_seen") or 0)
                / float(r.results["tokens_per_s"])) for r in finished[:RECENT]]
    overhead = statistics.median(over) if over else DEFAULT_OVERHEAD_S
    now = [(t, _race_size(r), True) for r, t in running]
    done = [(float(r.results["tokens_per_s"]), _race_size(r), False) for r in finished]
    # runs at the same racing width first (running ones, the newest, before finished ones); only without any, a
    # speed of another width scaled by race_factor (how racing pays depends on the load: measured beats scaled)
    same = [x for x in now + done if x[1] == race][:RECENT]
    use = same or (now or done)[:RECENT]
    if not use:
        factor = _model_factor(model)
        return Speed(model, DEFAULT_TOKENS_PER_S / factor * race_factor(race), DEFAULT_OVERHEAD_S, 0, factor, race)
    tps = [t / race_factor(k) * race_factor(race) for t, k, _ in use]
    return Speed(model, statistics.median(tps), overhead, len(use), 1.0, race,
                 n_running=sum(1 for x in use if x[2]), converted=not same)


def tokens_per_example(dataset: str, max_length: int, runs: list[RunInfo]) -> tuple[float, bool]:
    """(real tokens per training example, measured?) for ``dataset`` at ``max_length``: from its finished runs
    here (``tokens_seen / examples_seen``), else :data:`DEFAULT_TOKENS_PER_EXAMPLE` capped at ``max_length``."""
    seen = [r.results["tokens_seen"] / r.results["examples_seen"] for r in _finished_here(runs)
            if r.dataset == dataset and (r.config or {}).get("max_length") == max_length
            and r.results.get("examples_seen")][:RECENT]
    if seen:
        return statistics.median(seen), True
    return float(min(max_length, DEFAULT_TOKENS_PER_EXAMPLE)), False


def run_steps(r: RunInfo, runs: list[RunInfo]) -> int | None:
    """Optimiser steps the run will take: known once it started, else its plan or ``max_steps``, else those of
    a finished run of the same dataset and budget; None when nothing tells."""
    if r.total_steps:
        return int(r.total_steps)
    if r.plan and r.plan.get("steps"):
        return int(r.plan["steps"])
    c = r.config or {}
    if c.get("max_steps"):
        return int(c["max_steps"])
    same = ("dataset", "train_fraction", "num_train_epochs", "per_device_train_batch_size",
            "gradient_accumulation_steps")
    for o in runs:
        if o.status == FINISHED and o.results and o.results.get("total_steps") and \
                all((o.config or {}).get(k) == c.get(k) for k in same):
            return int(o.results["total_steps"])
    return None


def run_seconds(r: RunInfo, runs: list[RunInfo], speed: Speed) -> float | None:
    """Estimated seconds of the whole run ``r`` at ``speed`` (None when its size is unknown)."""
    steps = run_steps(r, runs)
    if steps is None:
        return None
    c = r.config or {}
    tpe = (r.plan or {}).get("tokens_per_example") or \
        tokens_per_example(r.dataset, int(c.get("max_length") or 512), runs)[0]
    per_step = int(c.get("per_device_train_batch_size") or 32) * int(c.get("gradient_accumulation_steps") or 1)
    return speed.overhead_s + steps * per_step * float(tpe) / speed.tokens_per_s


_SLOTS: dict = {}


def slots() -> int:
    """Runs this machine runs at once (:func:`~disc_core.runs.worker.max_concurrent`), looked up at most once
    a minute (it may ask ``nvidia-smi``)."""
    from .worker import max_concurrent

    key = (os.environ.get("DISC_MAX_CONCURRENT"), os.environ.get("CUDA_VISIBLE_DEVICES"))
    hit = _SLOTS.get(key)
    if hit is None or time.monotonic() - hit[1] > 60:
        _SLOTS[key] = hit = (max_concurrent(), time.monotonic())
    return hit[0]


@dataclass
class QueueEntry:
    """One active run, where it stands in the queue. Times are seconds from now (None: unknown)."""

    run: RunInfo
    #: active runs served before this one (0 for a running run)
    ahead: int
    starts_in_s: float | None
    ends_in_s: float | None
    run_s: float | None
    speed: Speed

    @property
    def id(self) -> str:
        return self.run.id

    @property
    def status(self) -> str:
        return self.run.status

    @property
    def label(self) -> str:
        return self.run.label

    @property
    def measured(self) -> bool:
        """Whether its end rests on a measurement: a running run's own ETA, or a measured speed."""
        return (self.status == RUNNING and self.run.eta_s is not None and bool(self.run.step)) or self.speed.measured

    def describe(self) -> str:
        """``queued · 2 runs ahead, starts in about 4 min`` / ``running · ends in about 1 min``."""
        if self.status == RUNNING:
            return f"running · ends in {about(self.ends_in_s)}" if self.ends_in_s is not None else "running"
        ahead = "next in line" if self.ahead == 0 else f"{self.ahead} run{'s' if self.ahead != 1 else ''} ahead"
        when = "starts in " + about(self.starts_in_s) if self.starts_in_s is not None else "start time unknown"
        if self.starts_in_s is not None and not self.speed.measured:
            when += " (at a default speed: nothing has run here yet)"
        return f"queued · {ahead}, {when}"


@dataclass
class QueueView:
    """Every active run on this machine in the order the workers serve them, with estimates."""

    entries: list[QueueEntry]
    slots: int
    speeds: dict = field(default_factory=dict)
    now: float = 0.0
    #: when a run launched now would start (0: at once; None: unknown)
    free_in_s: float | None = 0.0
    #: end times of the slots held or promised once every active run has its slot (None: unknown)
    slot_ends: list[float] | None = None

    def of(self, run_id: str) -> QueueEntry | None:
        return next((e for e in self.entries if e.id == run_id), None)

    def group(self, group: str) -> list[QueueEntry]:
        return [e for e in self.entries if e.run.group == group]

    def free_for(self, width: int = 1) -> float | None:
        """When ``width`` slots are free at once for a launch now (a racing group needs its width)."""
        if self.slot_ends is None:
            return None
        return _next_start(list(self.slot_ends), self.slots, width)

    @property
    def running(self) -> list[QueueEntry]:
        return [e for e in self.entries if e.status == RUNNING]

    @property
    def queued(self) -> list[QueueEntry]:
        return [e for e in self.entries if e.status == QUEUED]


def _next_start(heap: list[float], n_slots: int, width: int = 1) -> float:
    """Seconds until ``width`` slots are free, given the end times of the runs holding or promised slots
    (popped)."""
    start = 0.0
    width = max(1, min(width, n_slots))
    while len(heap) + width > n_slots:
        start = max(start, heapq.heappop(heap))
    return start


def _unit_of(r: RunInfo) -> str:
    return f"race/{r.group}" if _race_size(r) > 1 else f"run/{r.id}"


def queue_view(store: RunStore | None = None, runs: list[RunInfo] | None = None, n_slots: int | None = None,
               now: float | None = None) -> QueueView:
    """Play the queue forward: running runs end after their ETA, queued runs take the slots they free, in
    the order the workers claim them (``queued_at``, then id). ``runs``: every run of the store (read if
    not given; finished runs are what the speeds are measured on).

    A racing group (:mod:`disc_core.runs.race`) is one unit: it holds its width in slots until its last run
    ends, its runs start together (a queued run of a group that already runs starts at once), each at the
    speed of a run racing that many (:func:`measure_speed` with ``race``)."""
    from .race import race_width

    if runs is None:
        runs = (store or RunStore()).list()
    now = time.time() if now is None else now
    n_slots = slots() if n_slots is None else max(1, n_slots)
    speeds: dict = {}

    def speed_of(r: RunInfo) -> Speed:
        key = ((r.config or {}).get("model_name_or_path", ""), _race_size(r))
        if key not in speeds:
            speeds[key] = measure_speed(key[0], runs, race=key[1])
        return speeds[key]

    here = [r for r in runs if r.executor != "ray"]  # this machine's queue; Ray places its runs itself
    running = sorted((r for r in here if r.status == RUNNING), key=lambda r: r.started or r.created)
    queued = sorted((r for r in here if r.status == QUEUED and not r.cancel_requested),
                    key=lambda r: (r.queued_at or r.created, r.id))
    entries, heap, unknown = [], [], False
    held: dict[str, list] = {}  # running units: [width, latest end]
    for r in running:
        sp = speed_of(r)
        total = run_seconds(r, runs, sp)
        if r.eta_s is not None and r.step:
            left = r.eta_s + 0.25 * sp.overhead_s  # the ETA counts training and validation; then the test
        elif total is not None:
            left = max(total - (now - (r.started or now)), 0.1 * total)
        else:
            left = None
        entries.append(QueueEntry(r, 0, 0.0, left, total, sp))
        u = held.setdefault(_unit_of(r), [race_width(_race_size(r), n_slots), 0.0])
        if left is None or u[1] is None:
            unknown, u[1] = True, None
        else:
            u[1] = max(u[1], left)
    # queued runs of a racing group that already runs join it at once
    waiting = []
    for k, r in enumerate(queued):
        u = held.get(_unit_of(r))
        if u is None:
            waiting.append((k, r))
            continue
        sp = speed_of(r)
        total = run_seconds(r, runs, sp)
        entries.append(QueueEntry(r, len(running) + k, 0.0, total, total, sp))
        if total is None or u[1] is None:
            unknown, u[1] = True, None
        else:
            u[1] = max(u[1], total)
    for width, end in held.values():
        if end is not None:
            for _ in range(width):
                heapq.heappush(heap, end)
    units: dict[str, list] = {}  # queued units in the order their first run is served
    for k, r in waiting:
        units.setdefault(_unit_of(r), []).append((k, r))
    for members in units.values():
        sizes = []
        for k, r in members:
            sp = speed_of(r)
            sizes.append((k, r, sp, run_seconds(r, runs, sp)))
        unknown = unknown or any(t is None for *_, t in sizes)  # an unknown run makes every later start unknown
        if unknown:
            entries += [QueueEntry(r, len(running) + k, None, None, t, sp) for k, r, sp, t in sizes]
            continue
        width = race_width(_race_size(members[0][1]), n_slots)
        start = _next_start(heap, n_slots, width)
        for k, r, sp, t in sizes:
            entries.append(QueueEntry(r, len(running) + k, start, start + t, t, sp))
        for _ in range(width):
            heapq.heappush(heap, start + max(t for *_, t in sizes))
    order = {r.id: i for i, r in enumerate([*running, *queued])}
    entries.sort(key=lambda e: order[e.id])
    free_in = None if unknown else _next_start(list(heap), n_slots)
    return QueueView(entries, n_slots, speeds, now, free_in, None if unknown else list(heap))


@dataclass
class GroupProgress:
    """A run group at a glance: steps done of all its runs' steps, and when its last run should end."""

    n_runs: int
    counts: dict[str, int]
    done_steps: int
    total_steps: int
    ends_in_s: float | None
    #: the end rests on the default speed for some run (nothing of its model has run here yet)
    default_speed: bool = False
    #: its runs race (train at the same time)
    racing: bool = False

    @property
    def fraction(self) -> float:
        return min(self.done_steps / self.total_steps, 1.0) if self.total_steps else 0.0

    @property
    def active(self) -> bool:
        return any(self.counts.get(s) for s in ACTIVE)

    def describe(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.counts.items())
        eta = ""
        if self.active:
            eta = f" · done in {about(self.ends_in_s)}" if self.ends_in_s is not None else " · end time unknown"
            if self.ends_in_s is not None and self.default_speed:
                eta += " (at a default speed; it is re-estimated from the measured one after a few steps)"
        if self.racing:
            counts += ", racing"
        return (f"{self.n_runs} run{'s' if self.n_runs != 1 else ''}: {counts} · {self.done_steps}/{self.total_steps} "
                f"step{'s' if self.total_steps != 1 else ''}{eta}")


def group_progress(group_runs: list[RunInfo], view: QueueView, runs: list[RunInfo] | None = None) -> GroupProgress:
    """Progress of one group's runs: a finished run counts as complete (early stopping ends it before its last
    step), a cancelled or failed one with the steps it did."""
    runs = group_runs if runs is None else runs
    done = total = 0
    for r in group_runs:
        steps = run_steps(r, runs) or r.step or 0
        total += steps
        done += steps if r.status == FINISHED else min(r.step or 0, steps)
    counts: dict[str, int] = {}
    for s in (RUNNING, QUEUED, FINISHED, "failed", "cancelled"):
        n = sum(r.status == s for r in group_runs)
        if n:
            counts[s] = n
    ends = [view.of(r.id) for r in group_runs if r.active]
    ends_in = None if any(e is None or e.ends_in_s is None for e in ends) else max((e.ends_in_s for e in ends),
                                                                                 default=0.0)
    default = any(e is not None and e.ends_in_s is not None and not e.measured for e in ends)
    return GroupProgress(len(group_runs), counts, done, total, ends_in, default,
                         any(_race_size(r) > 1 for r in group_runs))


def about(seconds: float | None) -> str:
    """``about 4 min`` / ``under a minute`` / ``about 1 h 10 min`` / ``an unknown time``."""
    if seconds is None or seconds != seconds:
        return "an unknown time"
    if seconds < 60:
        return "under a minute"
    m = int(round(seconds / 60))
    return f"about {m} min" if m < 60 else f"about {m // 60} h {m % 60:02d} min"


def status_text(r: RunInfo, entry: QueueEntry | None = None, eta: Callable[[float | None], str] = about) -> str:
    """One run's state in words, after its label: where a queued run stands, a running one's step, loss and
    ETA, a finished one's test score, and a warning when it predicts a single class (it learned nothing that
    tells the classes apart). The Runs page and ``runs show`` both print it; ``eta`` formats seconds."""
    prog = f"{r.step or 0}/{r.total_steps}" if r.total_steps else f"{r.step or 0}"
    if r.status == "queued" and r.executor == "ray":  # Ray places it: this machine's queue does not apply
        return "queued on the Ray cluster, waiting for a node"
    if r.status == "queued" and entry is not None:  # where it stands: runs ahead, when it should start
        return entry.describe()
    loss = f" · loss {r.last_loss:.4f}" if r.last_loss is not None else ""
    left = f" · ETA {eta(r.eta_s)}" if r.status == "running" and r.eta_s is not None else ""
    if r.status == "running" and not r.step:
        left = " · starting (loading the model and the data)"
    score = (f" · test {r.results['metric']} {r.results['score']:.4f}"
             if r.status == "finished" and r.results else "")
    if r.status == "finished" and r.results and r.results.get("predicts_one_class"):
        level = r.results.get("majority_accuracy")
        score += (" · predicts one class only: it learned nothing that tells the classes apart"
                  + (f" (always predicting the majority class scores {level:.4f})" if isinstance(level, float) else ""))
    note = f" · {r.note}" if r.note else ""
    where = f" · on {r.where}" if r.executor == "ray" else ""
    if r.stalled:  # its worker lives but has stopped beating: no ETA, and what to do
        since = f" for {time.time() - r.heartbeat:.0f} s" if r.heartbeat else ""
        left = (f" · stalled: no heartbeat{since} although its worker process is alive (stopped with Ctrl-Z or "
                f"SIGSTOP? swapping?); `kill -CONT {r.pid}` continues it, cancelling ends it")
    return f"{r.shown_status} · step {prog}{loss}{left}{score}{where}{note}"
