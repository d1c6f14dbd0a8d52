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
An executor only has to start ``disc_core.runs.worker.run_worker(store, run_id, resume)`` somewhere that
sees the store, and to be able to stop it. A Ray executor would look like::

    class RayExecutor(Executor):
        def submit(self, store, run_id, resume=False):
            # Ray picks the machine and the GPU (it sets CUDA_VISIBLE_DEVICES for the task, and a worker
            # then sees just that GPU); the task calls run_worker, so the engine is unchanged
            self.refs[run_id] = ray_run_worker.options(num_gpus=1).remote(str(store.root), run_id, resume)
        def cancel(self, store, info):
            store.update(info.id, cancel_requested=True)   # the worker's heartbeat sees it within 1 s
            ray.cancel(self.refs.pop(info.id), force=True)  # and Ray kills it if it does not
        def alive(self, info):
            return None  # unknown here: the store judges remote workers by their heartbeat

The store then has to be reachable from every machine: a folder on shared storage is not enough
for SQLite (its locks are unreliable over NFS), so the cluster version would swap the diskcache in
:class:`RunStore` for a small store service (a Ray actor or a database) with the same methods;
the dashboard and the engine do not change.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path

from ..engine.config import RunConfig
from .store import (ACTIVE, CANCELLED, FAILED, HOST, QUEUED, GroupLaunch, RunInfo, RunStore, _pid_alive,
                    effective_events)

__all__ = ["Executor", "LocalProcessExecutor", "get_executor", "set_executor", "launch", "launch_group",
           "start_group", "cancel", "cancel_group", "resume", "export", "wait", "CANCEL_GRACE_S", "GroupLaunch"]

#: Seconds a cancelled worker gets to end itself before SIGKILL.
CANCEL_GRACE_S = 1.5


class Executor(ABC):
    """Where workers run. The store is the only channel between a worker and everyone else."""

    @abstractmethod
    def submit(self, store: RunStore, run_id: str, resume: bool = False) -> None:
        """Start a worker for the queued run ``run_id`` (it claims its slot itself)."""

    @abstractmethod
    def cancel(self, store: RunStore, info: RunInfo) -> None:
        """Stop the run's worker (it may already be gone)."""

    @abstractmethod
    def alive(self, info: RunInfo) -> bool | None:
        """Whether the run's worker process still exists; None when this executor cannot tell."""


class LocalProcessExecutor(Executor):
    """Each run is a ``python -m disc_core.runs.worker`` process on this machine, in its own session."""

    def __init__(self):
        self._procs: dict[str, subprocess.Popen] = {}

    def _collect(self) -> None:
        """Forget our workers that ended (each is reaped by its own waiter thread, see :meth:`submit`)."""
        for run_id, proc in list(self._procs.items()):
            if proc.poll() is not None:
                del self._procs[run_id]

    @staticmethod
    def _reap_when_done(proc: subprocess.Popen) -> None:
        """Wait for the worker in a daemon thread: it is reaped the moment it exits, so a long-lived
        dashboard that launched it keeps no zombie (nothing else in that process would wait for it)."""
        threading.Thread(target=proc.wait, name=f"disc-reap-{proc.pid}", daemon=True).start()

    def submit(self, store: RunStore, run_id: str, resume: bool = False) -> None:
        self._collect()
        info = store.get(run_id)
        run_dir = Path(info.run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        # the worker must import this very disc_core, installed or not
        pkg_parent = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join([pkg_parent, *filter(None, [env.get("PYTHONPATH")])])
        cmd = [sys.executable, "-m", "disc_core.runs.worker", run_id, "--root", str(store.root)]
        if resume:
            cmd.append("--resume")
        rec_cwd = store._rec(run_id).get("cwd")  # relative model/data paths mean what they meant at launch
        cwd = rec_cwd if rec_cwd and os.path.isdir(rec_cwd) else None
        with open(run_dir / "worker.log", "ab") as log:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    env=env, cwd=cwd, start_new_session=True, close_fds=True)
        self._procs[run_id] = proc
        self._reap_when_done(proc)
        # the worker writes its own pid too; this covers the moment before it does
        store.update(run_id, only_if=ACTIVE, **({} if store._rec(run_id).get("pid") else
                                                {"pid": proc.pid, "host": HOST}))

    def alive(self, info: RunInfo) -> bool | None:
        self._collect()
        if not info.pid or info.host != HOST:
            return None
        return _pid_alive(info.pid)

    def cancel(self, store: RunStore, info: RunInfo) -> None:
        if not info.pid or info.host != HOST:
            return  # another machine's worker: the store's cancel flag reaches it through its heartbeat
        _signal_group(info.pid, signal.SIGTERM)
        deadline = time.monotonic() + CANCEL_GRACE_S
        while time.monotonic() < deadline and self.alive(info):
            time.sleep(0.05)
        if self.alive(info):
            _signal_group(info.pid, signal.SIGKILL)
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline and self.alive(info):
                time.sleep(0.02)
        self._collect()


def _signal_group(pid: int, sig: int) -> None:
    """Signal the worker's process group (it leads its own session), or just the worker."""
    try:
        pgid = os.getpgid(pid)
        if pgid == pid and pgid != os.getpgid(0):
            os.killpg(pgid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


_executor: Executor | None = None


def get_executor() -> Executor:
    """The executor launches go to (a :class:`LocalProcessExecutor` unless :func:`set_executor` changed it)."""
    global _executor
    if _executor is None:
        _executor = LocalProcessExecutor()
    return _executor


def set_executor(executor: Executor) -> None:
    global _executor
    _executor = executor


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


def launch_group(configs: list[RunConfig], store: RunStore | None = None) -> list[str]:
    """Queue the cells of a comparison as one group (``configs[0].group`` or a new name); returns the ids.

    Every run is created before any worker starts, so the queue serves the cells in this order.
    """
    return start_group(configs, store=store).ids


def start_group(configs: list[RunConfig], store: RunStore | None = None, key: str | None = None, join=None,
                plans: list[dict | None] | None = None) -> GroupLaunch:
    """Queue ``configs`` as one group, or join the group already queued under ``key``.

    ``key`` and ``join`` are :meth:`RunStore.create_group`'s: with a key, callers in any number of tabs,
    threads or processes create at most one group for it; only the caller that created the group starts
    its workers. ``plans`` (one per config: ``steps``, ``tokens_per_example``) feed the queue's estimates.
    """
    if not configs:
        return GroupLaunch("", [], False)
    store = store or RunStore()
    from .store import new_run_id

    group = configs[0].group or f"{configs[0].dataset}-{new_run_id()}"
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
    get_executor().cancel(store, info)
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


def resume(run_id: str, store: RunStore | None = None) -> str:
    """Continue a failed or cancelled run from its last checkpoint (same id, events appended).

    Without a checkpoint (``checkpoint_steps`` unset) the run starts over, and its note says so.
    Raises :class:`~disc_core.runs.store.RunStateError` for a queued, running or finished run.
    """
    store = store or RunStore()
    store.get(run_id)  # detect a dead worker first: a just-killed run is resumable
    store.requeue(run_id)
    _submit(store, run_id, resume=True)
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
