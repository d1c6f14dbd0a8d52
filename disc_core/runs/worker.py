"""The worker: one background run in its own process, ``python -m disc_core.runs.worker RUN_ID [--resume]``.

What it does, in order:

1. introduces itself to the store (pid, host, process start time) and starts a heartbeat thread
   (every second; the store marks a worker with a stale heartbeat or a dead pid as failed);
2. waits in status ``queued`` until it can claim a slot in a store transaction: at most
   :func:`max_concurrent` runs at once (``$DISC_MAX_CONCURRENT``, else one per GPU, else one), first
   come first served, so there is no scheduler daemon to keep alive;
3. sets ``CUDA_VISIBLE_DEVICES`` to its slot's GPU *before* torch is imported, then runs
   :func:`~disc_core.engine.experiment.run_experiment` in the run folder with a
   :class:`~disc_core.runs.store.StoreListener`, so every step and evaluation reaches the store as it
   happens (``metrics.jsonl`` in the run folder is a second copy);
4. records the results (``finished``) or the traceback (``failed``). When even that cannot be written (a full
   disk), the traceback goes into the *last words* file it reserved at the start
   (:func:`~disc_core.runs.index.reserve_last_words`), so the run is marked failed with its true cause later.

It runs with umask ``077``: everything it writes in the run folder is private to the user. A run store that
turns out damaged while it trains is rebuilt from the run folders and the worker carries on
(:mod:`disc_core.runs.recovery`); a store that cannot be written (a full disk) keeps a queued worker waiting.

SIGTERM (what :func:`disc_core.runs.runner.cancel` sends) or a cancel flag in the store (for a worker on
another machine) ends it as ``cancelled``: the signal handler only wakes the heartbeat thread, which
marks the run cancelled over its own database connection and exits the process at once. Nothing is
raised inside the training loop, so no store transaction of the main thread is ever cut in half.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback

from . import index
from .store import CANCELLED, FAILED, FINISHED, HOST, RunStore
from .storedb import StoreUnwritable

__all__ = ["main", "run_worker", "max_concurrent", "visible_gpus"]

#: Seconds between heartbeats (and between looks for a free slot while queued).
BEAT_S = 1.0
POLL_S = 0.5
CANCELLED_EXIT = 143  # the shell's code for "ended by SIGTERM"


def visible_gpus() -> list[str]:
    """GPU ids this worker may use: ``$CUDA_VISIBLE_DEVICES`` if set, else what ``nvidia-smi`` lists.

    Found without importing torch (CUDA must not start before a run has picked its GPU).
    """
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g.strip() for g in env.split(",") if g.strip() and g.strip() != "-1"]
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=index", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=15, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def max_concurrent(gpus: list[str] | None = None) -> int:
    """Runs allowed at once: ``$DISC_MAX_CONCURRENT``, else the number of GPUs, else 1 (CPU)."""
    env = os.environ.get("DISC_MAX_CONCURRENT")
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n < 1:
            from ..errors import ConfigError

            raise ConfigError(f"DISC_MAX_CONCURRENT must be a whole number >= 1, not {env!r}")
        return n
    return max(1, len(visible_gpus() if gpus is None else gpus))


def _say(*lines: str) -> None:
    """Print to the worker's log; a full disk must not turn a message into a second failure."""
    try:
        print(*lines, file=sys.stderr, flush=True)
    except OSError:
        pass


class _Heartbeat(threading.Thread):
    """Beats every second; on a cancel (SIGTERM or the store's flag) marks the run cancelled and exits."""

    def __init__(self, store: RunStore, run_id: str):
        super().__init__(name="disc-heartbeat", daemon=True)
        self.store, self.run_id = store, run_id
        self.wake = threading.Event()
        self.cancel_requested = False
        self.stopped = False

    def request_cancel(self, *_) -> None:  # also the SIGTERM handler: do nothing but wake the thread
        self.cancel_requested = True
        self.wake.set()

    def stop(self) -> None:
        self.stopped = True
        self.wake.set()

    def run(self) -> None:
        store = self.store.fresh()  # its own connection: never waits on a main-thread transaction of ours
        last_err = None
        while True:
            if self.cancel_requested:
                self._cancel(store)
            if self.stopped:
                return
            try:
                if store.beat(self.run_id):
                    self.cancel_requested = True
                    continue
            except Exception as err:  # a busy or full database must not kill the run; the next beat retries
                if str(err) != last_err:
                    _say(f"heartbeat: {err}")
                last_err = str(err)
            self.wake.wait(BEAT_S)
            self.wake.clear()

    def _cancel(self, store: RunStore) -> None:
        try:
            store.finish(self.run_id, CANCELLED, note="cancelled by the user")
        except BaseException as err:
            index.write_last_words(store.run_dir(self.run_id), f"cancelled by the user (SIGTERM or the store's flag); "
                                   f"the run store could not record it: {type(err).__name__}: {err}")
        finally:
            _say("cancelled")
            os._exit(CANCELLED_EXIT)


def _wait_for_slot(store: RunStore, run_id: str) -> str | None:
    gpus = visible_gpus()
    limit = max_concurrent(gpus)
    said = None
    while True:
        try:
            ok, gpu = store.claim_slot(run_id, limit, gpus)
        except StoreUnwritable as err:  # a full disk: wait in the queue until there is room again
            if str(err) != said:
                _say(f"waiting: {err}")
            said, ok, gpu = str(err), False, None
        if ok:
            return gpu
        time.sleep(POLL_S)


def run_worker(store: RunStore, run_id: str, resume: bool = False, claim: bool = True, **where) -> int:
    """Run ``run_id`` from the store in this process; returns the exit code (0 finished, 1 failed).

    ``claim=False``: a cluster scheduler (Ray) already placed the run and set ``CUDA_VISIBLE_DEVICES``; it
    starts at once instead of waiting for one of this machine's slots. ``where`` goes into the run's record
    (e.g. ``executor="ray", node=...``). ``store`` may be a proxy of the store (a worker on another machine).
    """
    import psutil

    hb = _Heartbeat(store, run_id)
    try:
        signal.signal(signal.SIGTERM, hb.request_cancel)
    except ValueError:  # not the main thread (some cluster workers): the store's cancel flag still reaches us
        pass
    run_dir = store.run_dir(run_id)
    index.reserve_last_words(run_dir)  # room for the cause of death, should the disk fill up
    store.attach(run_id, pid=os.getpid(), host=HOST, pid_started=psutil.Process().create_time(), **where)
    hb.start()
    try:
        if claim:
            gpu = _wait_for_slot(store, run_id)
            if gpu is not None:
                os.environ["CUDA_VISIBLE_DEVICES"] = gpu
        else:
            gpu = os.environ.get("CUDA_VISIBLE_DEVICES") or None
            store.mark_running(run_id, gpu)
        from ..engine.config import RunConfig
        from ..engine.experiment import run_experiment
        from .store import StoreListener

        info = store.get(run_id)
        cfg = RunConfig.from_dict(info.config)
        if resume:
            store.pull(run_id)  # a worker on another machine fetches the run folder (its checkpoint) first
            has_ckpt = (run_dir / "checkpoint" / "trainer_state.pt").exists()
            store.update(run_id, note=f"resumed (attempt {info.attempt}) from the last checkpoint" if has_ckpt else
                         "no checkpoint was saved (set checkpoint_steps to save them): started over")
        _say(f"run {run_id} attempt {info.attempt} on {HOST} pid {os.getpid()} gpu {gpu}")
        results = run_experiment(cfg, run_dir, listeners=[StoreListener(store, run_id), *store.listeners(run_id)],
                                 resume=resume)
        store.push(run_id)  # the run folder reaches the store's machine before the run counts as finished
        store.finish(run_id, FINISHED, results=results)
        index.write_last_words(run_dir, "")
        return 0
    except BaseException:
        err = traceback.format_exc()
        _say(err)
        try:
            store.push(run_id)  # what it wrote (metrics.jsonl, the last checkpoint) is kept for a resume
        except Exception as push_err:
            _say(f"could not copy the run folder back: {push_err}")
        try:
            store.finish(run_id, FAILED, error=err)
            index.write_last_words(run_dir, "")
        except BaseException as store_err:  # a full disk: the reserved last words take no new space
            words = f"{err.rstrip()}\n(the run store could not record this: {type(store_err).__name__}: {store_err})"
            _say(words[-2000:])
            index.write_last_words(run_dir, words)
        return 1
    finally:
        hb.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m disc_core.runs.worker",
                                 description="run one background run of the run store (started by the runner)")
    ap.add_argument("run_id")
    ap.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    ap.add_argument("--root", help="runs root holding the store (default: $DISC_RUNS_DIR or the user data dir)")
    args = ap.parse_args(argv)
    os.umask(0o077)  # the run folder's files: the user's only
    return run_worker(RunStore(args.root, echo=True), args.run_id, resume=args.resume)


if __name__ == "__main__":
    sys.exit(main())
