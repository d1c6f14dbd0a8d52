"""Executors: where a run's worker starts. The local one is here; Ray's is :mod:`disc_core.runs.ray_executor`.

An executor only starts ``disc_core.runs.worker`` for a queued run somewhere that reaches the store, and can
stop it; the worker claims its slot, trains and reports through the store itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path

from .store import ACTIVE, HOST, RunInfo, RunStore, _pid_alive
from .storedb import PRIVATE_FILE, private_dir

__all__ = ["Executor", "LocalProcessExecutor", "CANCEL_GRACE_S"]

#: Seconds a cancelled worker gets to end itself before SIGKILL.
CANCEL_GRACE_S = 1.5


class Executor(ABC):
    """Where workers run. The store is the only channel between a worker and everyone else."""

    #: recorded in each run it starts (``executor``), so cancel and resume find the same kind again
    name = "local"

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
        store.update(run_id, executor="local")
        info = store.get(run_id)
        run_dir = private_dir(Path(info.run_dir))
        env = dict(os.environ)
        # the worker must import this very disc_core, installed or not
        pkg_parent = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join([pkg_parent, *filter(None, [env.get("PYTHONPATH")])])
        cmd = [sys.executable, "-m", "disc_core.runs.worker", run_id, "--root", str(store.root)]
        if resume:
            cmd.append("--resume")
        rec_cwd = store._rec(run_id).get("cwd")  # relative model/data paths mean what they meant at launch
        cwd = rec_cwd if rec_cwd and os.path.isdir(rec_cwd) else None
        fd = os.open(run_dir / "worker.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
        with open(fd, "ab") as log:
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
