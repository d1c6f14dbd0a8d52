"""Racing groups: the runs of one group train at the same time, so their curves grow side by side.

A launch with ``race=True`` (:func:`disc_core.runs.runner.start_group`, ``compare --background --race``, the
demos) marks each run's ``plan`` with ``race`` = the number of runs racing, and gives each run its share of
the cores (:func:`race_threads`: one thread each on a 2-core CPU). The queue then treats the group as one
unit:

- it holds :func:`race_width` of the machine's slots (``$DISC_MAX_CONCURRENT``, else one per GPU, else one
  on a CPU): the slots its runs use, never more than the machine has;
- it starts when that many slots are free, in its place in the queue (first come, first served); once one
  of its runs holds the group's slots, the others start at once instead of waiting behind each other;
- on GPUs each racer takes a free GPU, and racers beyond the free GPUs share one the group already holds.

:func:`slot_for` is the whole policy; the store calls it inside its claim transaction
(:meth:`disc_core.runs.store.RunStore.claim_slot`), the queue's estimates follow the same rules
(:func:`disc_core.runs.queue.queue_view`).
"""

from __future__ import annotations

import os
from typing import Literal

__all__ = ["race_of", "race_size", "race_width", "race_threads", "race_plans", "slot_for", "cpu_cores"]


def race_size(rec: dict) -> int:
    """How many runs race in this run's group (1: it does not race). ``rec``: a run record (dict)."""
    try:
        return max(1, int((rec.get("plan") or {}).get("race") or 1))
    except (TypeError, ValueError):
        return 1


def race_of(rec: dict) -> str | None:
    """The racing unit a run belongs to (``race/<group>``), or None for a run that queues on its own."""
    return f"race/{rec.get('group')}" if race_size(rec) > 1 else None


def race_width(n_racers: int, max_running: int) -> int:
    """Slots a group of ``n_racers`` racing runs holds: one per racer, at most the machine's slots."""
    return max(1, min(int(n_racers), int(max_running)))


def cpu_cores() -> int:
    """Cores this process may use (its CPU affinity where the OS tells, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def race_threads(n_racers: int, max_running: int, cores: int | None = None) -> int:
    """Torch threads per racer: the cores of the slots the group holds, shared out (at least one each)."""
    cores = cpu_cores() if cores is None else cores
    held = cores * race_width(n_racers, max_running) / max(1, max_running)
    return max(1, int(held // max(1, n_racers)))


def race_plans(configs: list, plans: list[dict | None] | None, max_running: int) -> tuple[list, list[dict]]:
    """(configs with their racing threads, plans marked ``race``) for a racing launch of ``configs``.

    A config that sets ``num_threads`` itself keeps it."""
    n = len(configs)
    threads = race_threads(n, max_running)
    plans = list(plans or [None] * n)
    out_cfgs, out_plans = [], []
    for c, p in zip(configs, plans):
        out_cfgs.append(c if c.num_threads else c.replace(num_threads=threads))
        out_plans.append({**(p or {}), "race": n})
    return out_cfgs, out_plans


def _unit(rec: dict) -> str:
    return race_of(rec) or f"run/{rec['id']}"


def _held(recs: list[dict], max_running: int, skip: str | None = None) -> int:
    """Slots held (or claimed ahead) by the units of ``recs``: a racing group counts once, at its width."""
    units: dict[str, int] = {}
    for r in recs:
        u = _unit(r)
        if u != skip:
            units[u] = race_width(race_size(r), max_running)
    return sum(units.values())


def slot_for(me: dict, running: list[dict], ahead: list[dict], max_running: int,
             gpus: list[str]) -> str | None | Literal[False]:
    """Whether the queued run ``me`` may start now: False (wait), else the GPU it gets (None on a CPU).

    ``running``: the runs holding slots now; ``ahead``: the queued runs served before ``me``. A racing run
    whose group already runs joins it at once; otherwise ``me``'s unit (itself, or its whole racing group)
    starts when the slots it needs are free after those held and those promised to the units ahead."""
    unit = race_of(me)
    mates = [r for r in running if unit is not None and race_of(r) == unit]
    if not mates:
        need = race_width(race_size(me), max_running)
        if _held(running, max_running) + _held(ahead, max_running, skip=unit) + need > max_running:
            return False
    if not gpus:
        return None
    used = {r.get("gpu") for r in running}
    free = [g for g in gpus if g not in used]
    if free:
        return free[0]
    shared = [r.get("gpu") for r in mates if r.get("gpu") is not None]
    return shared[0] if shared else False
