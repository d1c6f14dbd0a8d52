"""The run store: every background run's spec, status, live metrics and results, in one folder.

Background runs (see :mod:`disc_core.runs.runner`) live under the runs root (``$DISC_RUNS_DIR`` or the
per-user data folder)::

    <runs root>/
      store/           the store: a diskcache (SQLite, WAL) shared by every process
      <run id>/        the run folder run_experiment writes (config.json, metrics.jsonl, checkpoint/ ...)
        worker.log     the worker's stdout and stderr

Keys in the store, all small:

- ``index``             the list of run ids, oldest first
- ``run/<id>``          the run's record: spec (config), status, pid/host, times, step, loss, results, error
- ``hb/<id>``           the worker's last heartbeat (a float, written every second by its own key, so
                        heartbeats never rewrite the record)
- ``ev/<id>/<seq>``     one event (``seq`` = 1, 2, ...), written in the same transaction that bumps the
                        record's event count, step and loss; events are never rewritten or deleted
- ``grp/<group>``       a group name taken by :meth:`RunStore.create_group` (a second launch in the same
                        second gets ``<group>-2``)
- ``key/<key>``         the group last created under a launch key (:meth:`RunStore.create_group`): the one
                        demo a classroom shares, a double-clicked Launch that must queue once

Every write is one SQLite transaction (``BEGIN IMMEDIATE``), so several workers and readers share the
store safely and a process killed mid-write leaves the previous state. SQLite's write-ahead log lets
readers (the dashboard, the CLI) read while a worker writes, without blocking it.

Dead workers are found by whoever reads: :meth:`RunStore.get` and :meth:`RunStore.list` first mark a
queued or running run ``failed`` when its worker is gone. On the worker's own host the process id
decides (the process's start time guards against a reused pid, a zombie counts as dead); a worker on
another host is dead when its heartbeat is older than :data:`HEARTBEAT_TIMEOUT`. Nothing the worker
logged is lost: events are committed one by one as they happen.

The store is also a :class:`~disc_core.engine.events.Listener` target: :class:`StoreListener` appends the
training loop's events, which is how the worker streams live metrics.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from ..engine.config import RunConfig
from ..errors import DiscError
from ..engine.events import Listener

__all__ = ["runs_root", "RunInfo", "RunStore", "StoreListener", "RunNotFound", "RunStateError",
           "effective_events", "STATUSES", "ACTIVE", "HEARTBEAT_TIMEOUT", "HOST", "GroupLaunch"]

QUEUED, RUNNING, FINISHED, FAILED, CANCELLED = "queued", "running", "finished", "failed", "cancelled"
STATUSES = (QUEUED, RUNNING, FINISHED, FAILED, CANCELLED)
#: A run in one of these states has (or should have) a live worker.
ACTIVE = (QUEUED, RUNNING)
#: Seconds without a heartbeat after which a worker on another host counts as dead.
HEARTBEAT_TIMEOUT = 10.0
#: Seconds a queued run may wait for its worker to report at all before it counts as never started.
STARTUP_GRACE = 60.0
HOST = socket.gethostname()
DIED = ("worker process {pid} on {host} died without reporting (killed with SIGKILL or by the "
        "out-of-memory killer? its last words, if any, are in {log}); every metric it logged is kept. "
        "Resume it with `python -m disc_core runs resume {id}` to continue from its last checkpoint.")


def runs_root() -> Path:
    """Where run folders go: ``$DISC_RUNS_DIR`` or ``<per-user data dir>/runs`` (background runs and
    ``python -m disc_core run`` alike)."""
    import platformdirs

    return Path(os.environ.get("DISC_RUNS_DIR") or Path(platformdirs.user_data_dir("disc-transfer")) / "runs")


class RunNotFound(DiscError, KeyError):
    """No run with this id in the store."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "run not found"


class RunStateError(DiscError, ValueError):
    """An action that the run's status does not allow (resume a running run, ...)."""


@dataclass
class RunInfo:
    """One background run as the dashboard and the CLI see it."""

    id: str
    group: str | None
    label: str
    dataset: str
    seed: int
    config: dict
    status: str
    pid: int | None
    host: str | None
    created: float
    started: float | None
    finished: float | None
    heartbeat: float | None
    step: int
    total_steps: int | None
    last_loss: float | None
    eta_s: float | None
    results: dict | None
    error: str | None
    run_dir: str
    #: the GPU (CUDA_VISIBLE_DEVICES value) the run holds, None on CPU
    gpu: str | None = None
    #: 1 for the first execution, +1 per resume
    attempt: int = 1
    #: a remark for the user ("resumed from step 40", "no checkpoint: started over" ...)
    note: str | None = None
    n_events: int = 0
    #: when it last joined the queue (created or resumed): the queue serves runs in this order
    queued_at: float | None = None
    #: what the launcher knew of the run's size (``steps``, ``tokens_per_example``), for the queue's estimates
    plan: dict | None = None
    cancel_requested: bool = False
    #: what started its worker: ``local`` (a process on this machine) or ``ray`` (a task on a Ray cluster)
    executor: str = "local"
    #: the Ray node that ran it (None for a local run)
    node: str | None = None

    @property
    def where(self) -> str:
        """Where its worker runs or ran, for tables: ``host``, ``host (ray node 3f2a1c)``, or ``-`` before it starts."""
        if not self.host:
            return "ray: waiting for a node" if self.executor == "ray" and self.active else "-"
        return f"{self.host} (ray node {self.node[:6]})" if self.executor == "ray" and self.node else self.host

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def to_dict(self) -> dict:
        return asdict(self)


def effective_events(events: list[dict]) -> list[dict]:
    """The events as they stand after resumes (what ``metrics.jsonl`` holds).

    A resumed attempt begins with a ``start`` event whose ``start_step`` is the checkpoint's step; the
    step and evaluation events an earlier attempt logged after that step are superseded and dropped.
    """
    out: list[dict] = []
    for ev in events:
        if ev.get("kind") == "start" and out:
            k = ev.get("start_step", 0)
            out = [e for e in out if e.get("kind") not in ("step", "eval") or e.get("step", 0) <= k]
        out.append(ev)
    return out


def _pid_alive(pid: int, started: float | None = None) -> bool:
    """Whether process ``pid`` (started at ``started``, if known) still runs on this host."""
    import psutil

    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(p.create_time() - started) < 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # someone else's process with that pid: ours is gone
        return started is None


@dataclass
class GroupLaunch:
    """What :meth:`RunStore.create_group` did: the group, its run ids, and whether they were created now
    (False: an existing group under the same key was joined)."""

    group: str
    ids: list[str]
    created: bool


def new_run_id() -> str:
    """``20250301-142233-3fa9c1``: sorts by creation time, unique across concurrent launchers."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def new_group_name(dataset: str) -> str:
    """``splice-20250301-142233-c1a4``: a comparison's group, unique even for two launched in the same second
    (the CLI's ``compare`` and the Train page both name their groups this way)."""
    return f"{dataset}-{time.strftime('%Y%m%d-%H%M%S')}-{new_run_id()[-4:]}"


class RunStore:
    """The run store in ``root/store`` (``root`` defaults to :func:`runs_root`); run folders in ``root/<id>``.

    Any number of ``RunStore`` objects, in any number of processes, may use the same folder at once.
    """

    def __init__(self, root: str | Path | None = None):
        import diskcache

        self.root = Path(root).expanduser().resolve() if root is not None else runs_root().expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        # no eviction, no size limit: the store is a database, not a cache
        self._db = diskcache.Cache(str(self.root / "store"), timeout=60, eviction_policy="none",
                                   size_limit=2**62, cull_limit=0, statistics=0)

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    # ------------------------------------------------------------------------------------- reading
    def _rec(self, run_id: str) -> dict:
        rec = self._db.get(f"run/{run_id}")
        if rec is None:
            raise RunNotFound(f"no run {run_id!r} in the store {self.root / 'store'}; "
                              f"`python -m disc_core runs list` shows the runs there")
        return rec

    def _info(self, rec: dict) -> RunInfo:
        known = {f.name for f in dataclasses.fields(RunInfo)}
        return RunInfo(heartbeat=self._db.get(f"hb/{rec['id']}"),
                       **{k: v for k, v in rec.items() if k in known and k != "heartbeat"})

    def ids(self) -> list[str]:
        """Every run id, oldest first."""
        return list(self._db.get("index", []))

    def get(self, run_id: str) -> RunInfo:
        """The run ``run_id`` (a dead worker is detected first). Raises :class:`RunNotFound` (a KeyError)."""
        self._rec(run_id)
        self.reap([run_id])
        return self._info(self._rec(run_id))

    def list(self, group: str | None = None, status: str | None = None) -> list[RunInfo]:
        """Runs, newest first, optionally of one group and/or status; dead workers are detected first."""
        if status is not None and status not in STATUSES:
            raise RunStateError(f"unknown status {status!r}; choose from {', '.join(STATUSES)}")
        self.reap()
        out = []
        for run_id in reversed(self.ids()):
            rec = self._db.get(f"run/{run_id}")
            if rec is None or (group is not None and rec.get("group") != group) or \
                    (status is not None and rec["status"] != status):
                continue
            out.append(self._info(rec))
        out.sort(key=lambda r: (r.created, r.id), reverse=True)
        return out

    def groups(self) -> list[str]:
        """Group names, newest first."""
        seen: dict[str, float] = {}
        for run_id in self.ids():
            rec = self._db.get(f"run/{run_id}")
            if rec and rec.get("group"):
                seen[rec["group"]] = max(seen.get(rec["group"], 0.0), rec["created"])
        return sorted(seen, key=seen.get, reverse=True)

    def events(self, run_id: str, since: int = 0) -> list[dict]:
        """Events with ``seq > since``, oldest first; each has ``seq``, ``attempt`` and the event's fields.

        ``kind`` is ``start`` (RunStarted), ``step`` (StepLogged), ``eval`` (EvalLogged: validation
        during training, ``split == "test"`` at the end) or ``end`` (RunFinished, with the results).
        Poll with ``since`` = the last ``seq`` seen to get only the new ones.
        """
        n = self._rec(run_id).get("n_events", 0)
        out = []
        for seq in range(since + 1, n + 1):
            ev = self._db.get(f"ev/{run_id}/{seq}")
            if ev is not None:
                out.append(ev)
        return out

    def heartbeat(self, run_id: str) -> float | None:
        return self._db.get(f"hb/{run_id}")

    def run_dir(self, run_id: str) -> Path:
        return self.root / run_id

    # ------------------------------------------------------------------------------------- writing
    def create(self, cfg: RunConfig, group: str | None = None, plan: dict | None = None) -> str:
        """Add a queued run of ``cfg`` (in ``group``, default ``cfg.group``); returns its id.

        ``plan`` is what the launcher knows of the run's size (``steps``, ``tokens_per_example``); the queue's
        time estimates use it (:mod:`disc_core.runs.queue`)."""
        group = group or cfg.group
        cfg = cfg.replace(group=group)
        run_id = new_run_id()
        now = time.time()
        rec = {"id": run_id, "group": group, "label": cfg.label, "dataset": cfg.dataset, "seed": cfg.seed,
               "config": cfg.to_dict(), "status": QUEUED, "pid": None, "host": None, "pid_started": None,
               "created": now, "queued_at": now, "started": None, "finished": None, "step": 0,
               "start_step": 0, "total_steps": cfg.max_steps, "last_loss": None, "eta_s": None,
               "results": None, "error": None, "run_dir": str(self.run_dir(run_id)), "gpu": None,
               "attempt": 1, "note": None, "n_events": 0, "cancel_requested": False, "cwd": os.getcwd(),
               "plan": dict(plan) if plan else None}
        with self._db.transact(retry=True):
            while f"run/{run_id}" in self._db:  # two launchers in the same second with the same suffix
                run_id = rec["id"] = new_run_id()
                rec["run_dir"] = str(self.run_dir(run_id))
            self._db.set(f"run/{run_id}", rec)
            self._db.set("index", [*self._db.get("index", []), run_id])
        return run_id

    def create_group(self, configs: list[RunConfig], group: str, key: str | None = None, join=None,
                     plans: list[dict | None] | None = None) -> GroupLaunch:
        """Queue ``configs`` as run group ``group``, all in one transaction, so no worker sees half a group.

        With ``key``, find-or-create: if a group was created under the same key before and ``join(records)``
        (the run records of that group, dicts with ``status``, ``finished`` ...) says yes, nothing is created
        and that group is returned (``created=False``); otherwise the new group becomes the key's group. The
        look and the creation are one SQLite transaction (``BEGIN IMMEDIATE``), so any number of callers, in
        threads or processes, pressing at once create at most one group per key. ``join=None`` always joins
        an existing group (a key that must never queue twice: a double-clicked Launch).
        """
        if key is not None:
            old = self._db.get(f"key/{key}")
            if old:
                self.reap(list(old["ids"]))  # a dead worker decides whether the group is still joinable
        with self._db.transact(retry=True):
            if key is not None:
                old = self._db.get(f"key/{key}")
                recs = [self._db.get(f"run/{i}") for i in old["ids"]] if old else []
                if old and all(recs) and (join is None or join(recs)):
                    return GroupLaunch(old["group"], list(old["ids"]), False)
            base, n = group, 1
            while f"grp/{group}" in self._db:  # two launches in the same second under the same name
                n += 1
                group = f"{base}-{n}"
            self._db.set(f"grp/{group}", time.time())
            ids = [self.create(c, group=group, plan=(plans or [None] * len(configs))[k])
                   for k, c in enumerate(configs)]
            if key is not None:
                self._db.set(f"key/{key}", {"group": group, "ids": ids, "created": time.time()})
        return GroupLaunch(group, ids, True)

    def keyed(self, key: str) -> GroupLaunch | None:
        """The group last created under launch ``key`` (``created`` False), or None."""
        old = self._db.get(f"key/{key}")
        return GroupLaunch(old["group"], list(old["ids"]), False) if old else None

    def update(self, run_id: str, only_if: tuple[str, ...] | None = None, **fields) -> bool:
        """Set fields of the run's record in one transaction; with ``only_if``, only in those statuses."""
        with self._db.transact(retry=True):
            rec = self._rec(run_id)
            if only_if is not None and rec["status"] not in only_if:
                return False
            rec.update(fields)
            self._db.set(f"run/{run_id}", rec)
            return True

    def append_event(self, run_id: str, event: dict, **fields) -> int:
        """Append one event (and update record ``fields``, e.g. step and loss) in one transaction."""
        with self._db.transact(retry=True):
            rec = self._rec(run_id)
            seq = rec.get("n_events", 0) + 1
            self._db.set(f"ev/{run_id}/{seq}", {"seq": seq, "attempt": rec.get("attempt", 1), **event})
            rec.update(fields, n_events=seq)
            self._db.set(f"run/{run_id}", rec)
        return seq

    def beat(self, run_id: str) -> bool:
        """Write the heartbeat; returns whether a cancel was requested (for workers on other hosts)."""
        self._db.set(f"hb/{run_id}", time.time())
        rec = self._db.get(f"run/{run_id}")
        return bool(rec and rec.get("cancel_requested"))

    def attach(self, run_id: str, pid: int, host: str, pid_started: float | None, **where) -> None:
        """The worker introduces itself (its pid, host and process start time; ``where``: e.g. its Ray node)."""
        self.update(run_id, pid=pid, host=host, pid_started=pid_started, **where)
        self._db.set(f"hb/{run_id}", time.time())

    def mark_running(self, run_id: str, gpu: str | None = None) -> None:
        """Move a queued run to ``running`` at once (the cluster placed it: no local slot to wait for)."""
        with self._db.transact(retry=True):
            rec = self._rec(run_id)
            if rec["status"] != QUEUED:
                raise RunStateError(f"run {run_id} is {rec['status']}, not queued")
            rec.update(status=RUNNING, started=time.time(), gpu=gpu)
            self._db.set(f"run/{run_id}", rec)

    # ------------------------------------------------------------ what a worker needs beyond the methods above
    # A worker on another machine talks to the store through a proxy with the same methods
    # (:class:`disc_core.runs.ray_executor.RemoteStore`), which also moves the run folder to the head.
    def fresh(self) -> "RunStore":
        """A store object for another thread of the same worker (a connection of its own)."""
        return RunStore(self.root)

    def listeners(self, run_id: str) -> list:
        """Extra training listeners a worker adds (none here: the run folder is already in place)."""
        return []

    def push(self, run_id: str) -> None:
        """Bring the run folder to where the store's readers look (here it already is)."""

    def pull(self, run_id: str) -> None:
        """Bring the run folder (its checkpoint) to where the worker runs, before a resume (here it is)."""

    def finish(self, run_id: str, status: str, results: dict | None = None, error: str | None = None,
               note: str | None = None) -> bool:
        """End a queued or running run as ``finished``, ``failed`` or ``cancelled``.

        Returns False when the run had already ended (the first ending wins: a run cancelled while
        it was writing its results stays cancelled).
        """
        fields = {"status": status, "finished": time.time(), "eta_s": None}
        if results is not None:
            fields["results"] = results
        if error is not None:
            fields["error"] = error
        if note is not None:
            fields["note"] = note
        return self.update(run_id, only_if=ACTIVE, **fields)

    def requeue(self, run_id: str) -> int:
        """Put an ended (failed or cancelled) run back in the queue for a resume; returns the attempt."""
        with self._db.transact(retry=True):
            rec = self._rec(run_id)
            if rec["status"] not in (FAILED, CANCELLED):
                hint = ("cancel it first" if rec["status"] in ACTIVE else
                        "it has its results; launch a new run to train again")
                raise RunStateError(f"run {run_id} is {rec['status']}: only failed or cancelled runs "
                                    f"can be resumed ({hint})")
            rec.update(status=QUEUED, queued_at=time.time(), pid=None, host=None, pid_started=None, node=None,
                       finished=None, error=None, eta_s=None, gpu=None, cancel_requested=False,
                       attempt=rec.get("attempt", 1) + 1, note=None)
            self._db.set(f"run/{run_id}", rec)
            return rec["attempt"]

    def claim_slot(self, run_id: str, max_running: int, gpus: list[str]) -> tuple[bool, str | None]:
        """Try to move a queued run to ``running``: at most ``max_running`` runs at once, first come first
        served, one GPU each when ``gpus`` lists some. Returns (claimed, gpu)."""
        self.reap()
        # look without the write lock first: a long queue polls often and mostly finds no slot
        if self._free_slot(run_id, max_running, gpus) is False:
            return False, None
        with self._db.transact(retry=True):
            gpu = self._free_slot(run_id, max_running, gpus)
            if gpu is False:
                return False, None
            me = self._rec(run_id)
            me.update(status=RUNNING, started=time.time(), gpu=gpu)
            self._db.set(f"run/{run_id}", me)
            return True, gpu

    def _free_slot(self, run_id: str, max_running: int, gpus: list[str]) -> str | None | Literal[False]:
        """False if ``run_id`` must wait; else the GPU it gets (None on CPU)."""
        me = self._rec(run_id)
        if me["status"] != QUEUED:
            raise RunStateError(f"run {run_id} is {me['status']}, not queued")
        if me.get("cancel_requested"):  # a group cancel in progress: never start, the heartbeat ends it
            return False
        # runs on a Ray cluster hold the cluster's resources, not this machine's slots
        recs = [r for r in (self._db.get(f"run/{i}") for i in self.ids()) if r and r.get("executor") != "ray"]
        running = [r for r in recs if r["status"] == RUNNING]
        ahead = [r for r in recs if r["status"] == QUEUED and (r["queued_at"], r["id"]) < (me["queued_at"], me["id"])]
        from .race import slot_for  # a racing group takes its slots together (runs.race)

        return slot_for(me, running, ahead, max_running, gpus)

    # --------------------------------------------------------------------------------- dead workers
    def _dead_reason(self, rec: dict, now: float) -> str | None:
        if rec["status"] not in ACTIVE:
            return None
        hb = self._db.get(f"hb/{rec['id']}")
        if rec.get("pid") and rec.get("host") == HOST:
            if _pid_alive(rec["pid"], rec.get("pid_started")):
                return None
            return DIED.format(pid=rec["pid"], host=HOST, id=rec["id"], log=Path(rec["run_dir"]) / "worker.log")
        if rec.get("host"):  # a worker on another machine: only its heartbeat tells
            if hb is None or now - hb > HEARTBEAT_TIMEOUT:
                return (f"worker on {rec['host']} sent no heartbeat for {HEARTBEAT_TIMEOUT:.0f} s (machine down, "
                        f"process killed or out of memory?); every metric it logged is kept")
            return None
        if rec.get("executor") == "ray":  # waiting in the Ray cluster's queue; the store service watches its task
            return None
        if hb is None and now - rec.get("queued_at", rec["created"]) > STARTUP_GRACE:
            return f"the worker never started (nothing heard from it in {STARTUP_GRACE:.0f} s); see worker.log"
        return None

    def reap(self, run_ids: list[str] | None = None) -> list[str]:
        """Mark runs whose worker is gone as failed; returns their ids. Called by get/list/claim_slot."""
        now = time.time()
        dead = []
        for run_id in (run_ids if run_ids is not None else self.ids()):
            rec = self._db.get(f"run/{run_id}")
            if rec is None or self._dead_reason(rec, now) is None:
                continue
            with self._db.transact(retry=True):  # look again inside the transaction: it may have just ended
                rec = self._rec(run_id)
                reason = self._dead_reason(rec, time.time())
                if reason is None:
                    continue
                if rec.get("cancel_requested"):  # killed by a cancel that has not marked it yet
                    rec.update(status=CANCELLED, finished=time.time(), eta_s=None, note="cancelled by the user")
                else:
                    rec.update(status=FAILED, finished=time.time(), eta_s=None, error=reason)
                self._db.set(f"run/{run_id}", rec)
                dead.append(run_id)
        return dead

    def request_cancel(self, run_ids: list[str]) -> list[str]:
        """Flag the active runs among ``run_ids`` for cancelling, in one transaction; returns those flagged.

        A flagged queued run never claims a slot, and every flagged worker ends itself within a heartbeat
        (a second); :func:`disc_core.runs.runner.cancel_group` also signals local workers at once.
        """
        flagged = []
        with self._db.transact(retry=True):
            for run_id in run_ids:
                rec = self._db.get(f"run/{run_id}")
                if rec and rec["status"] in ACTIVE:
                    rec["cancel_requested"] = True
                    self._db.set(f"run/{run_id}", rec)
                    flagged.append(run_id)
        return flagged

    def close(self) -> None:
        self._db.close()


class StoreListener(Listener):
    """Streams the training loop's events into the store (the worker adds it to ``run_experiment``)."""

    def __init__(self, store: RunStore, run_id: str):
        self.store, self.run_id = store, run_id
        self.start_step, self.total = 0, None

    def on_start(self, ev) -> None:
        self.start_step, self.total = ev.start_step, ev.total_steps
        self.store.append_event(self.run_id, asdict(ev), total_steps=ev.total_steps, start_step=ev.start_step,
                                step=ev.start_step)

    def on_step(self, ev) -> None:
        done = ev.step - self.start_step
        eta = ev.elapsed_s / done * max((self.total or ev.step) - ev.step, 0) if done > 0 else None
        self.store.append_event(self.run_id, asdict(ev), step=ev.step, last_loss=ev.loss, eta_s=eta)

    def on_eval(self, ev) -> None:
        self.store.append_event(self.run_id, asdict(ev))

    def on_end(self, ev) -> None:
        self.store.append_event(self.run_id, asdict(ev), eta_s=0.0)
