"""What a background run is, as everyone reads it: statuses, the :class:`RunInfo` record, run ids and names.

The run store (:mod:`disc_core.runs.store`) keeps one record per run; the run folder keeps a copy of it
(``run.json``, :mod:`disc_core.runs.index`), from which a lost or damaged store is rebuilt.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import DiscError

__all__ = ["runs_root", "RunInfo", "RunNotFound", "RunStateError", "effective_events", "STATUSES", "ACTIVE",
           "HEARTBEAT_TIMEOUT", "STARTUP_GRACE", "HOST", "GroupLaunch", "new_run_id", "new_group_name",
           "stall_timeout", "new_record"]

QUEUED, RUNNING, FINISHED, FAILED, CANCELLED = "queued", "running", "finished", "failed", "cancelled"
STATUSES = (QUEUED, RUNNING, FINISHED, FAILED, CANCELLED)
#: A run in one of these states has (or should have) a live worker.
ACTIVE = (QUEUED, RUNNING)
#: Seconds without a heartbeat after which a worker on another host counts as dead.
HEARTBEAT_TIMEOUT = 10.0
#: Seconds without a heartbeat after which a live worker on this host is flagged *stalled* (stopped with
#: SIGSTOP or Ctrl-Z, swapping, stuck on a disk); ``$DISC_STALL_S`` overrides.
STALL_S = 15.0
#: Seconds a queued run may wait for its worker to report at all before it counts as never started.
STARTUP_GRACE = 60.0
HOST = socket.gethostname()


def stall_timeout() -> float:
    """Seconds without a heartbeat before a live worker counts as stalled (``$DISC_STALL_S``, else 15)."""
    try:
        return max(1.0, float(os.environ.get("DISC_STALL_S") or STALL_S))
    except ValueError:
        return STALL_S


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
    #: active, its worker alive, but no heartbeat for :func:`stall_timeout` seconds (stopped, swapping ...)
    stalled: bool = False

    @property
    def where(self) -> str:
        """Where its worker runs or ran, for tables: ``host``, ``host (ray node 3f2a1c)``, or ``-`` before it starts."""
        if not self.host:
            return "ray: waiting for a node" if self.executor == "ray" and self.active else "-"
        return f"{self.host} (ray node {self.node[:6]})" if self.executor == "ray" and self.node else self.host

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def shown_status(self) -> str:
        """The status for tables: ``running (stalled)`` when its worker has stopped beating."""
        return f"{self.status} (stalled)" if self.stalled else self.status

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


def new_record(run_id: str, config: dict, run_dir: str, group: str | None = None, plan: dict | None = None) -> dict:
    """A queued run's record (what the store and ``run.json`` hold) for ``config`` (a ``RunConfig.to_dict()``).

    ``launcher``: the process that queued it, so a run whose launcher died before starting its worker is
    told apart from one whose worker died."""
    import psutil

    from ..engine.config import RunConfig

    try:
        label = RunConfig.from_dict(config).label
    except Exception:  # an older version's config: keep what it says
        label = str(config.get("variant", "?"))
    now = time.time()
    return {"id": run_id, "group": group if group is not None else config.get("group"), "label": label,
            "dataset": config.get("dataset", "?"), "seed": config.get("seed", 0), "config": config,
            "status": QUEUED, "pid": None, "host": None, "pid_started": None, "created": now, "queued_at": now,
            "started": None, "finished": None, "step": 0, "start_step": 0, "total_steps": config.get("max_steps"),
            "last_loss": None, "eta_s": None, "results": None, "error": None, "run_dir": run_dir, "gpu": None,
            "attempt": 1, "note": None, "n_events": 0, "cancel_requested": False, "cwd": os.getcwd(),
            "plan": dict(plan) if plan else None,
            "launcher": {"pid": os.getpid(), "host": HOST, "started": psutil.Process().create_time()}}
