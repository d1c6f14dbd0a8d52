"""The run store: every background run's spec, status, live metrics and results, indexed in one folder.

Background runs (see :mod:`disc_core.runs.runner`) live under the runs root (``$DISC_RUNS_DIR`` or the
per-user data folder), private to its user (``0700``, files ``0600``)::

    <runs root>/
      store/           the index: a diskcache (SQLite, WAL, JSON values only) shared by every process
      store.<why>-<t>/ an old store set aside after damage (kept, never deleted)
      <run id>/        the run folder, the source of truth (config.json, metrics.jsonl, results.json,
        run.json       checkpoint/ ...); run.json: a copy of the run's record, rewritten at each change
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

When the store breaks (:mod:`disc_core.runs.storedb`, :mod:`disc_core.runs.index`): an emptied, garbled or
older-version (pickle) store, or one SQLite finds malformed in the middle of a call, is set aside and rebuilt
from the run folders, and the call is retried; ``notices`` says what was done. A run folder missing from the
store is indexed again from its ``run.json``; one that cannot be read is skipped and named in ``problems``.
A store that cannot be written (a full disk) is read read-only: readers answer, writers raise
:class:`~disc_core.runs.storedb.StoreUnwritable` naming the cause.

Dead workers are found by whoever reads: :meth:`RunStore.get` and :meth:`RunStore.list` first mark a
queued or running run ``failed`` when its worker is gone (with its last words when it left some, see
:func:`~disc_core.runs.index.write_last_words`), or when the process that queued it died before starting
its worker. On the worker's own host the process id decides (the process's start time guards against a
reused pid, a zombie counts as dead); a worker on another host is dead when its heartbeat is older than
:data:`HEARTBEAT_TIMEOUT`. A live worker without a heartbeat for :func:`stall_timeout` seconds is flagged
``stalled``. Nothing the worker logged is lost: events are committed one by one as they happen.

The store is also a :class:`~disc_core.engine.events.Listener` target: :class:`StoreListener` appends the
training loop's events, which is how the worker streams live metrics.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Literal

from ..engine.config import RunConfig
from ..engine.events import Listener
from . import index
from .records import (ACTIVE, CANCELLED, FAILED, FINISHED, HEARTBEAT_TIMEOUT, HOST, QUEUED, RUNNING,  # noqa: F401
                      STARTUP_GRACE, STATUSES, GroupLaunch, RunInfo, RunNotFound, RunStateError, _pid_alive,
                      effective_events, new_group_name, new_record, new_run_id, runs_root, stall_timeout)
from .recovery import StoreFiles, guarded
from .storedb import StoreDamaged, StoreUnwritable, classify, why_unwritable

__all__ = ["runs_root", "RunInfo", "RunStore", "StoreListener", "RunNotFound", "RunStateError", "StoreDamaged",
           "StoreUnwritable", "effective_events", "STATUSES", "ACTIVE", "HEARTBEAT_TIMEOUT", "HOST", "GroupLaunch"]

DIED = ("worker process {pid} on {host} died without reporting (killed with SIGKILL or by the out-of-memory killer? "
        "its last words, if any, are in {log}); every metric it logged is kept. Resume it with "
        "`python -m disc_core runs resume {id}` to continue from its last checkpoint.")


class RunStore(StoreFiles):
    """The run store in ``root/store`` (``root`` defaults to :func:`runs_root`); run folders in ``root/<id>``.

    Any number of ``RunStore`` objects, in any number of processes, may use the same folder at once.
    ``notices``: what was done to the store (rebuilt, re-indexed, read-only), for the caller to show;
    ``problems``: run folders that could not be read (:class:`~disc_core.runs.index.FolderProblem`);
    ``read_only``: None, or why the store cannot be written now. ``echo``: also print notices to stderr.
    """

    def __init__(self, root: str | Path | None = None, echo: bool = False):
        super().__init__(Path(root).expanduser().resolve() if root is not None else runs_root().expanduser().resolve(),
                         echo=echo)
        self._own_dirs: dict[str, Path] = {}  # runs whose launcher gave their folder (they never move)

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    def _info(self, rec: dict) -> RunInfo:
        known = {f.name for f in dataclasses.fields(RunInfo)}
        hb = self._get(f"hb/{rec['id']}")
        stalled = rec["status"] in ACTIVE and hb is not None and time.time() - hb > stall_timeout()
        return RunInfo(heartbeat=hb, stalled=stalled, run_dir=str(self.run_dir(rec["id"])),  # the root may have moved
                       **{k: v for k, v in rec.items() if k in known and k not in ("heartbeat", "stalled", "run_dir")})

    @guarded
    def ids(self) -> list[str]:
        """Every run id, oldest first (run folders the store had lost are indexed again first)."""
        self._adopt()
        return list(self._get("index", []))

    @guarded
    def get(self, run_id: str) -> RunInfo:
        """The run ``run_id`` (a dead worker is detected first). Raises :class:`RunNotFound` (a KeyError)."""
        self._rec(run_id)
        self.reap([run_id])
        return self._info(self._rec(run_id))

    @guarded
    def list(self, group: str | None = None, status: str | None = None) -> list[RunInfo]:
        """Runs, newest first, optionally of one group and/or status; dead workers are detected first."""
        if status is not None and status not in STATUSES:
            raise RunStateError(f"unknown status {status!r}; choose from {', '.join(STATUSES)}")
        self.reap()
        out = []
        for run_id in reversed(self.ids()):
            rec = self._get(f"run/{run_id}")
            if rec is None or (group is not None and rec.get("group") != group) or \
                    (status is not None and rec["status"] != status):
                continue
            out.append(self._info(rec))
        out.sort(key=lambda r: (r.created, r.id), reverse=True)
        return out

    @guarded
    def groups(self) -> list[str]:
        """Group names, newest first."""
        seen: dict[str, float] = {}
        for run_id in self.ids():
            rec = self._get(f"run/{run_id}")
            if rec and rec.get("group"):
                seen[rec["group"]] = max(seen.get(rec["group"], 0.0), rec["created"])
        return sorted(seen, key=seen.get, reverse=True)

    @guarded
    def events(self, run_id: str, since: int = 0) -> list[dict]:
        """Events with ``seq > since``, oldest first; each has ``seq``, ``attempt`` and the event's fields.

        ``kind`` is ``start`` (RunStarted), ``step`` (StepLogged), ``eval`` (EvalLogged: validation
        during training, ``split == "test"`` at the end) or ``end`` (RunFinished, with the results).
        Poll with ``since`` = the last ``seq`` seen to get only the new ones.
        """
        n = self._rec(run_id).get("n_events", 0)
        out = []
        for seq in range(since + 1, n + 1):
            ev = self._get(f"ev/{run_id}/{seq}")
            if ev is not None:
                out.append(ev)
        return out

    @guarded
    def heartbeat(self, run_id: str) -> float | None:  # the worker's last heartbeat (time.time())
        return self._get(f"hb/{run_id}")

    def run_dir(self, run_id: str) -> Path:
        """The run's folder: ``<root>/<id>``, or the folder its launcher gave (a reproduction's cell folder)."""
        if run_id in self._own_dirs:
            return self._own_dirs[run_id]
        try:
            rec = self._db.get(f"run/{run_id}")
        except Exception:  # a damaged store: the default place
            rec = None
        if isinstance(rec, dict) and rec.get("own_dir") and rec.get("run_dir"):
            self._own_dirs[run_id] = Path(rec["run_dir"])
            return self._own_dirs[run_id]
        return self.root / run_id

    # ------------------------------------------------------------------------------------- writing
    @guarded
    def create(self, cfg: RunConfig, group: str | None = None, plan: dict | None = None,
               run_dir: str | Path | None = None) -> str:
        """Add a queued run of ``cfg`` (in ``group``, default ``cfg.group``); returns its id.

        ``plan`` is what the launcher knows of the run's size (``steps``, ``tokens_per_example``); the queue's
        time estimates use it (:mod:`disc_core.runs.queue`). ``run_dir``: the run's folder, when the launcher
        keeps its runs elsewhere than the store's root (``reproduce``: ``root/<study>/<dataset>/<label>/seed<N>``)."""
        group = group or cfg.group
        cfg = cfg.replace(group=group)
        run_id = new_run_id()
        own = Path(run_dir).resolve() if run_dir is not None else None
        rec = new_record(run_id, cfg.to_dict(), str(own or self.run_dir(run_id)), group=group, plan=plan)
        rec["label"] = cfg.label
        rec["own_dir"] = own is not None
        with self._db.transact(retry=True):
            while f"run/{run_id}" in self._db:  # two launchers in the same second with the same suffix
                run_id = rec["id"] = new_run_id()
                rec["run_dir"] = str(own or self.run_dir(run_id))
            self._put(rec)
            self._db.set("index", [*self._db.get("index", []), run_id])
        return run_id

    @guarded
    def create_group(self, configs: list[RunConfig], group: str, key: str | None = None, join=None,
                     plans: list[dict | None] | None = None,
                     run_dirs: list[str | Path] | None = None) -> GroupLaunch:
        """Queue ``configs`` as run group ``group``, all in one transaction, so no worker sees half a group.

        With ``key``, find-or-create: if a group was created under the same key before and ``join(records)``
        (the run records of that group, dicts with ``status``, ``finished`` ...) says yes, nothing is created
        and that group is returned (``created=False``); otherwise the new group becomes the key's group. The
        look and the creation are one SQLite transaction (``BEGIN IMMEDIATE``), so any number of callers, in
        threads or processes, pressing at once create at most one group per key. ``join=None`` always joins
        an existing group (a key that must never queue twice: a double-clicked Launch).
        """
        if key is not None:
            old = self._get(f"key/{key}")
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
            ids = [self.create(c, group=group, plan=(plans or [None] * len(configs))[k],
                               run_dir=(run_dirs or [None] * len(configs))[k])
                   for k, c in enumerate(configs)]
            if key is not None:
                self._db.set(f"key/{key}", {"group": group, "ids": ids, "created": time.time()})
        return GroupLaunch(group, ids, True)

    @guarded
    def keyed(self, key: str) -> GroupLaunch | None:  # the group last created under launch ``key``, or None
        old = self._get(f"key/{key}")
        return GroupLaunch(old["group"], list(old["ids"]), False) if old else None

    @guarded
    def update(self, run_id: str, only_if: tuple[str, ...] | None = None, **fields) -> bool:
        """Set fields of the run's record in one transaction; with ``only_if``, only in those statuses."""
        with self._db.transact(retry=True):
            rec = self._rec(run_id)
            if only_if is not None and rec["status"] not in only_if:
                return False
            rec.update(fields)
            self._put(rec)
            return True

    @guarded
    def append_event(self, run_id: str, event: dict, **fields) -> int:
        """Append one event (and update record ``fields``, e.g. step and loss) in one transaction.

        The same event twice in a row (a retry after the store was rebuilt from ``metrics.jsonl``, which
        already had it) is stored once."""
        with self._db.transact(retry=True):
            rec = self._rec(run_id)
            seq = rec.get("n_events", 0) + 1
            ev = {"seq": seq, "attempt": rec.get("attempt", 1), **json.loads(json.dumps(event, default=str))}
            last = self._db.get(f"ev/{run_id}/{seq - 1}") if seq > 1 else None
            if last is not None and {**last, "seq": seq} == ev:
                return seq - 1
            self._db.set(f"ev/{run_id}/{seq}", ev)
            rec.update(fields, n_events=seq)
            self._db.set(f"run/{run_id}", rec)
        return seq

    @guarded
    def beat(self, run_id: str) -> bool:
        """Write the heartbeat; returns whether a cancel was requested (for workers on other hosts)."""
        self._db.set(f"hb/{run_id}", time.time())
        rec = self._db.get(f"run/{run_id}")
        return bool(rec and rec.get("cancel_requested"))

    @guarded
    def attach(self, run_id: str, pid: int, host: str, pid_started: float | None, **where) -> None:
        """The worker introduces itself (its pid, host and process start time; ``where``: e.g. its Ray node)."""
        self.update(run_id, pid=pid, host=host, pid_started=pid_started, **where)
        self._db.set(f"hb/{run_id}", time.time())

    @guarded
    def mark_running(self, run_id: str, gpu: str | None = None) -> None:
        """Move a queued run to ``running`` at once (the cluster placed it: no local slot to wait for)."""
        with self._db.transact(retry=True):
            rec = self._rec(run_id)
            if rec["status"] != QUEUED:
                raise RunStateError(f"run {run_id} is {rec['status']}, not queued")
            rec.update(status=RUNNING, started=time.time(), gpu=gpu)
            self._put(rec)

    # ------------------------------------------------------------ what a worker needs beyond the methods above
    # A worker on another machine talks to the store through a proxy with the same methods
    # (:class:`disc_core.runs.ray_executor.RemoteStore`), which also moves the run folder to the head.
    def fresh(self) -> "RunStore":
        """A store object for another thread of the same worker (a connection of its own)."""
        return RunStore(self.root, echo=self.echo)

    def listeners(self, run_id: str) -> list:  # extra training listeners a worker adds (none: the folder is here)
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
        self._catch_up(run_id)
        return self.update(run_id, only_if=ACTIVE, **fields)

    @guarded
    def _catch_up(self, run_id: str) -> int:
        """Append what the run folder's ``metrics.jsonl`` has and the store lacks (the worker wrote its folder
        first and was stopped before the store); returns how many. Called when a run ends."""
        rec = self._rec(run_id)
        if rec["status"] not in ACTIVE:
            return 0
        new = index.missing_events(self.run_dir(run_id), self.events(run_id))
        for ev in new:
            self.append_event(run_id, ev)
        return len(new)

    @guarded
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
                       attempt=rec.get("attempt", 1) + 1, note=None,
                       launcher=new_record(run_id, {}, rec["run_dir"])["launcher"])
            self._put(rec)
            return rec["attempt"]

    @guarded
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
            self._put(me)
            return True, gpu

    def _free_slot(self, run_id: str, max_running: int, gpus: list[str]) -> str | None | Literal[False]:
        """False if ``run_id`` must wait; else the GPU it gets (None on CPU)."""
        me = self._rec(run_id)
        if me["status"] != QUEUED:
            raise RunStateError(f"run {run_id} is {me['status']}, not queued")
        if me.get("cancel_requested"):  # a group cancel in progress: never start, the heartbeat ends it
            return False
        # runs on a Ray cluster hold the cluster's resources, not this machine's slots
        recs = [r for r in (self._get(f"run/{i}") for i in self._get("index", [])) if r and r.get("executor") != "ray"]
        running = [r for r in recs if r["status"] == RUNNING]
        ahead = [r for r in recs if r["status"] == QUEUED and (r["queued_at"], r["id"]) < (me["queued_at"], me["id"])]
        from .race import slot_for  # a racing group takes its slots together (runs.race)

        return slot_for(me, running, ahead, max_running, gpus)

    # --------------------------------------------------------------------------------- dead workers
    def _dead_reason(self, rec: dict, now: float) -> str | None:
        if rec["status"] not in ACTIVE:
            return None
        hb = self._get(f"hb/{rec['id']}")
        run_dir = self.run_dir(rec["id"])
        log = run_dir / "worker.log"
        if rec.get("pid") and rec.get("host") == HOST:
            if _pid_alive(rec["pid"], rec.get("pid_started")):
                return None
            words = index.read_last_words(run_dir)
            if words:
                return (f"worker process {rec['pid']} on {HOST} ended without being able to record it in the run "
                        f"store; its last words (from {run_dir / index.LAST_WORDS}):\n{words}\n"
                        f"Every metric it logged is kept (metrics.jsonl). Once the cause is fixed, resume it with "
                        f"`python -m disc_core runs resume {rec['id']}`.")
            return DIED.format(pid=rec["pid"], host=HOST, id=rec["id"], log=log)
        if rec.get("host"):  # a worker on another machine: only its heartbeat tells
            if hb is None or now - hb > HEARTBEAT_TIMEOUT:
                return (f"worker on {rec['host']} sent no heartbeat for {HEARTBEAT_TIMEOUT:.0f} s (machine down, "
                        f"process killed or out of memory?); every metric it logged is kept")
            return None
        if rec.get("executor") == "ray":  # waiting in the Ray cluster's queue; the store service watches its task
            return None
        launcher = rec.get("launcher") or {}
        if hb is None and launcher.get("host") == HOST and launcher.get("pid") and not log.exists() \
                and not _pid_alive(launcher["pid"], launcher.get("started")):
            return (f"no worker was ever started for it: the process that queued it (pid {launcher['pid']}: "
                    "`compare --background`, `runs resume` or the dashboard) ended before starting the worker "
                    "(killed mid-launch?). Nothing ran, so nothing was lost; start it with "
                    f"`python -m disc_core runs resume {rec['id']}`")
        if hb is None and now - rec.get("queued_at", rec["created"]) > STARTUP_GRACE:
            return (f"the worker never started (nothing heard from it in {STARTUP_GRACE:.0f} s); " +
                    (f"see {log}" if log.exists() else "no worker process was started for it (there is no worker.log)"))
        return None

    @guarded
    def reap(self, run_ids: list[str] | None = None) -> list[str]:
        """Mark runs whose worker is gone as failed; returns their ids. Called by get/list/claim_slot.

        On a store that cannot be written the ending is shown (kept in memory) but not saved."""
        now = time.time()
        dead = []
        for run_id in (run_ids if run_ids is not None else self.ids()):
            rec = self._get(f"run/{run_id}")
            if rec is None or self._dead_reason(rec, now) is None:
                continue
            if self.read_only:
                self._overlay[f"run/{run_id}"] = {**rec, **self._ending(rec, self._dead_reason(rec, now))}
                dead.append(run_id)
                continue
            try:
                with self._db.transact(retry=True):  # look again inside the transaction: it may have just ended
                    rec = self._rec(run_id)
                    reason = self._dead_reason(rec, time.time())
                    if reason is None:
                        continue
                    self._catch_up(run_id)
                    rec = self._rec(run_id)
                    rec.update(self._ending(rec, reason))
                    self._put(rec)
                    dead.append(run_id)
            except Exception as err:
                if classify(err, self.store_dir) != "unwritable":
                    raise
                self._overlay[f"run/{run_id}"] = {**rec, **self._ending(rec, self._dead_reason(rec, now))}
                self._notice(f"warning: {why_unwritable(err, self.store_dir)} (run {run_id}'s ending is shown, "
                             "not saved)")
        return dead

    @staticmethod
    def _ending(rec: dict, reason: str) -> dict:
        if rec.get("cancel_requested"):  # killed by a cancel that has not marked it yet
            return {"status": CANCELLED, "finished": time.time(), "eta_s": None, "note": "cancelled by the user"}
        return {"status": FAILED, "finished": time.time(), "eta_s": None, "error": reason}

    @guarded
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
                    self._put(rec)
                    flagged.append(run_id)
        return flagged

    def close(self) -> None:
        self._close_db()


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
