"""The job runner: launch, cancel, resume and export background runs.

A launch creates the run in the :class:`~disc_core.runs.store.RunStore` (status ``queued``) and hands
its id to an :class:`Executor`, which starts a worker (:mod:`disc_core.runs.worker`) somewhere. The
worker itself claims a slot, trains and reports through the store, so everything that reads runs
(the dashboard, ``python -m disc_core runs ...``) only ever talks to the store, whichever executor
ran them, and a restarted dashboard finds its runs again by reading the store.

The default :class:`LocalProcessExecutor` starts ``python -m disc_core.runs.worker RUN_ID`` as its own OS
process in a new session (``start_new_session``): it outlives the dashboard or CLI that launched it
and gets no SIGHUP when that terminal closes. Its output goes to ``<run folder>/worker.log``.

Queueing needs no daemon: every worker starts at once and waits in ``queued`` until it can claim
one of :func:`~disc_core.runs.worker.max_concurrent` slots in a store transaction (one at a time on a CPU
machine, one per GPU with ``CUDA_VISIBLE_DEVICES`` set to it, ``$DISC_MAX_CONCURRENT`` overrides).

A launch with a ``key`` is find-or-create (:meth:`~disc_core.runs.store.RunStore.create_group`): the
dashboard's demo button, pressed in twenty tabs at once, queues one demo; a double-clicked Launch, one group.

Cancel sends SIGTERM to the worker's process group (the worker marks itself cancelled and exits),
waits up to :data:`CANCEL_GRACE_S`, then sends SIGKILL, and marks the run cancelled if the worker
could not. Resume puts a failed or cancelled run back in the queue under the same id; its worker
continues from the run folder's last checkpoint (``checkpoint_steps``) and appends to its events.

Running on a cluster
--------------------
``RayExecutor`` (:mod:`disc_core.runs.ray_executor`, ``--executor ray`` or ``DISC_EXECUTOR=ray``) starts the
same worker as a Ray task on any node of a cluster; the run's record says which executor started it, so a
cancel or a resume from any process (the CLI, a restarted dashboard) reaches the right one.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from pathlib import Path

from ..engine.config import RunConfig
from .executor import CANCEL_GRACE_S, Executor, LocalProcessExecutor
from .store import ACTIVE, CANCELLED, FAILED, QUEUED, GroupLaunch, RunInfo, RunStore, effective_events

__all__ = ["Executor", "LocalProcessExecutor", "get_executor", "set_executor", "make_executor", "executor_of",
           "EXECUTORS", "launch", "launch_group",
           "start_group", "plan_signature", "cancel", "cancel_group", "resume", "export", "wait", "CANCEL_GRACE_S", "GroupLaunch"]

_executor: Executor | None = None
#: The executors by name (``--executor``, ``$DISC_EXECUTOR``).
EXECUTORS = ("local", "ray")


def make_executor(name: str | None = None, address: str | None = None, **kw) -> Executor:
    """``local`` (processes on this machine) or ``ray`` (tasks on the Ray cluster at ``address``)."""
    name = (name or "local").lower()
    if name == "local":
        return LocalProcessExecutor()
    if name == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(address=address, **kw)
    from ..errors import ConfigError

    raise ConfigError(f"unknown executor {name!r}; choose from {', '.join(EXECUTORS)} (DISC_EXECUTOR)")


def get_executor() -> Executor:
    """The executor launches go to: :func:`set_executor`'s, else ``$DISC_EXECUTOR`` (``local``/``ray``, with
    ``$DISC_RAY_ADDRESS``), else a :class:`LocalProcessExecutor`."""
    global _executor
    if _executor is None:
        _executor = make_executor(os.environ.get("DISC_EXECUTOR") or "local",
                                  address=os.environ.get("DISC_RAY_ADDRESS"))
    return _executor


def set_executor(executor: Executor) -> None:
    global _executor
    _executor = executor


def executor_of(store: RunStore, run_id: str) -> Executor:
    """The kind of executor that started the run (from its record), e.g. to cancel it from another process."""
    rec = store._rec(run_id)
    mine = get_executor()
    kind = rec.get("executor") or "local"
    if kind == getattr(mine, "name", "local"):
        return mine
    return make_executor(kind, address=rec.get("ray_address"))


def _submit(store: RunStore, run_id: str, resume: bool) -> None:
    try:
        get_executor().submit(store, run_id, resume=resume)
    except Exception as err:
        store.finish(run_id, FAILED, error=f"could not start the worker: {type(err).__name__}: {err}")
        raise


def launch(cfg: RunConfig, group: str | None = None, store: RunStore | None = None) -> str:
    """Queue ``cfg`` as a background run (in ``group``, default ``cfg.group``); returns the run id."""
    store = store or RunStore()
    run_id = store.create(cfg, group=group)
    _submit(store, run_id, resume=False)
    return run_id


def launch_group(configs: list[RunConfig], store: RunStore | None = None, race: bool = False) -> list[str]:
    """Queue the cells of a comparison as one group (``configs[0].group`` or a new name); returns the ids.

    Every run is created before any worker starts, so the queue serves the cells in this order. ``race``: the
    cells train at the same time, sharing the cores (:mod:`disc_core.runs.race`).
    """
    return start_group(configs, store=store, race=race).ids


def plan_signature(configs: list[RunConfig]) -> str:
    """12 hex digits naming a plan's settings: the same configs in the same order, their group aside, give
    the same signature. Launch keys are built on it (the Train page's, the demos'), so a double click or two
    tabs queue one group per plan."""
    body = json.dumps([{k: v for k, v in c.to_dict().items() if k != "group"} for c in configs], sort_keys=True)
    return hashlib.sha1(body.encode()).hexdigest()[:12]


def start_group(configs: list[RunConfig], store: RunStore | None = None, key: str | None = None, join=None,
                plans: list[dict | None] | None = None, race: bool = False) -> GroupLaunch:
    """Queue ``configs`` as one group, or join the group already queued under ``key``.

    ``key`` and ``join`` are :meth:`RunStore.create_group`'s: with a key, callers in any number of tabs,
    threads or processes create at most one group for it; only the caller that created the group starts
    its workers. ``plans`` (one per config: ``steps``, ``tokens_per_example``) feed the queue's estimates.
    ``race``: the runs train at the same time, sharing the cores (:mod:`disc_core.runs.race`).
    """
    if not configs:
        return GroupLaunch("", [], False)
    store = store or RunStore()
    if race and len(configs) > 1:
        from .race import race_plans
        from .worker import max_concurrent

        configs, plans = race_plans(configs, plans, max_concurrent())
    from .store import new_group_name

    group = configs[0].group or new_group_name(configs[0].dataset)
    launched = store.create_group(configs, group, key=key, join=join, plans=plans)
    if launched.created:
        for run_id in launched.ids:
            _submit(store, run_id, resume=False)
    return launched


def cancel(run_id: str, store: RunStore | None = None) -> bool:
    """Stop a queued or running run within ~2 s and mark it cancelled.

    Returns False when the run had already ended (finished, failed or cancelled).
    """
    store = store or RunStore()
    info = store.get(run_id)
    if not info.active:
        return False
    store.update(run_id, only_if=ACTIVE, cancel_requested=True)
    executor_of(store, run_id).cancel(store, info)
    store.finish(run_id, CANCELLED, note="cancelled by the user")
    return store.get(run_id).status == CANCELLED


def cancel_group(group: str, store: RunStore | None = None) -> list[str]:
    """Cancel every queued or running run of ``group``; returns the ids cancelled (empty: none was active).

    All of them are flagged in one transaction first, so no queued run of the group can start while the
    others are being stopped; then the queued ones are stopped (newest first) before the running ones.
    """
    store = store or RunStore()
    runs = [r for r in store.list(group=group) if r.active]
    store.request_cancel([r.id for r in runs])
    for r in sorted(runs, key=lambda r: (r.status != QUEUED, -(r.queued_at or r.created))):
        cancel(r.id, store=store)  # False when its worker, seeing the flag, already ended itself
    return [r.id for r in runs if store.get(r.id).status == CANCELLED]


def resume(run_id: str, store: RunStore | None = None, executor: Executor | None = None) -> str:
    """Continue a failed or cancelled run from its last checkpoint (same id, events appended).

    Without a checkpoint (``checkpoint_steps`` unset) the run starts over, and its note says so.
    ``executor``: where it continues (default: the kind that started it; a Ray run may land on any node).
    Raises :class:`~disc_core.runs.store.RunStateError` for a queued, running or finished run.
    """
    store = store or RunStore()
    store.get(run_id)  # detect a dead worker first: a just-killed run is resumable
    executor = executor or executor_of(store, run_id)
    store.requeue(run_id)
    try:
        executor.submit(store, run_id, resume=True)
    except Exception as err:
        store.finish(run_id, FAILED, error=f"could not start the worker: {type(err).__name__}: {err}")
        raise
    return run_id


def wait(run_ids: list[str] | str, store: RunStore | None = None, timeout: float | None = None,
         poll_s: float = 0.5) -> list[RunInfo]:
    """Block until the runs have ended (or ``timeout`` seconds passed); returns their latest state."""
    store = store or RunStore()
    ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
    end = None if timeout is None else time.monotonic() + timeout
    while True:
        infos = [store.get(i) for i in ids]
        if not any(i.active for i in infos) or (end is not None and time.monotonic() > end):
            return infos
        time.sleep(poll_s)


def _flat(ev: dict) -> dict:
    row = {k: v for k, v in ev.items() if k not in ("metrics", "results")}
    for k, v in (ev.get("metrics") or {}).items():
        row[f"eval_{k}"] = v if isinstance(v, (int, float, str, type(None))) else json.dumps(v)
    return row


def export(run_id: str, path: str | Path, fmt: str = "csv", store: RunStore | None = None) -> Path:
    """Write the run's metrics to ``path``: ``csv`` (one row per step/evaluation, evaluation metrics as
    ``eval_<name>`` columns) or ``json`` (the run's record and its events). Returns the path.

    After resumes, events superseded by a later attempt are left out (see
    :func:`~disc_core.runs.store.effective_events`).
    """
    if fmt not in ("csv", "json"):
        from ..errors import ConfigError

        raise ConfigError(f"export format must be csv or json, not {fmt!r}")
    store = store or RunStore()
    info = store.get(run_id)
    events = effective_events(store.events(run_id))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        path.write_text(json.dumps({"run": info.to_dict(), "events": events}, indent=2, default=str),
                        encoding="utf-8")
        return path
    rows = [_flat(e) for e in events if e.get("kind") in ("step", "eval")]
    columns = ["seq", "attempt", "kind", "step", "split"]
    for r in rows:
        columns += [k for k in r if k not in columns]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    return path
