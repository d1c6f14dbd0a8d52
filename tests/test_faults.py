"""Nothing lost, nothing run (issue 25): background runs and their run store under injected faults.

Real worker processes training a tiny BERT, real files, real signals, a real full disk (a small tmpfs when
this runs as root): nothing of the thing under test is mocked. Every test checks that no line a worker
logged to ``metrics.jsonl`` is missing from the store, and that the message names the damage.
Bad CLI inputs and damaged checkpoints are ``tests/test_faults_inputs.py``'s.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from helpers import poll

from disc_core.engine.config import RunConfig
from disc_core.engine.experiment import read_metrics
from disc_core.runs.runner import cancel, launch, resume, wait
from disc_core.runs.store import RunStore, effective_events

REPO = Path(__file__).resolve().parents[1]
DEADLINE_S = 180
pytestmark = pytest.mark.slow


def _cfg(tiny_model: str, **kw) -> RunConfig:
    base = dict(dataset="splice-synthetic", model_name_or_path=tiny_model, learning_rate=1e-3, save_model=False,
                num_threads=1, eval_steps=1000, max_eval_examples=50)
    return RunConfig(**{**base, **kw})


def _cli(*args, root: Path, timeout: float = DEADLINE_S, **env) -> subprocess.CompletedProcess:
    """``python -m disc_core ARGS`` in its own process over the runs root ``root``."""
    return subprocess.run([sys.executable, "-m", "disc_core", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "DISC_RUNS_DIR": str(root), **env})


def _answered(out: subprocess.CompletedProcess) -> None:
    """The command answered: no traceback of its own (a failed run's recorded traceback may be in stdout)."""
    assert "Traceback" not in out.stderr, out.stderr


#: how the store names a file that is not a readable SQLite database any more
GARBLED = ("not an SQLite database", "cannot be read by SQLite", "malformed")


def _names_garbling(text: str) -> bool:
    return any(w in text for w in GARBLED)


def _logged(run_dir) -> list[tuple]:
    return [(e["kind"], e["step"], e.get("split"), e.get("time")) for e in read_metrics(run_dir)
            if e["kind"] in ("step", "eval")]


def assert_nothing_lost(store: RunStore, rid: str) -> list[dict]:
    """Every step and evaluation in the run folder's metrics.jsonl is in the store, in the same order."""
    info = store.get(rid)
    events = store.events(rid)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    stored = [(e["kind"], e["step"], e.get("split"), e.get("time")) for e in effective_events(events)
              if e["kind"] in ("step", "eval")]
    logged = _logged(info.run_dir)
    assert logged, "the worker logged nothing"
    assert stored == logged
    return events


def _steps(events) -> list[int]:
    return [e["step"] for e in effective_events(events) if e["kind"] == "step"]


@pytest.fixture
def root(tmp_path, monkeypatch):
    r = tmp_path / "runs"
    monkeypatch.setenv("DISC_RUNS_DIR", str(r))
    monkeypatch.setenv("DISC_MAX_CONCURRENT", "1")
    yield r
    if r.exists() and (r / "store").exists():
        s = RunStore(r)
        for info in s.list():  # never leave a worker behind
            if info.active:
                if info.pid:
                    try:
                        os.kill(info.pid, signal.SIGCONT)
                    except ProcessLookupError:
                        pass
                cancel(info.id, store=s)


def _running(store, rid, steps=5):
    return poll(lambda: (i := store.get(rid)).status == "running" and i.n_events > steps and i,
                f"run {rid} running with {steps} steps", DEADLINE_S)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_model):
    """A runs root with one finished run (its store at rest); tests copy it and damage the copy."""
    r = tmp_path_factory.mktemp("golden") / "runs"
    old = os.environ.get("DISC_RUNS_DIR")
    os.environ["DISC_RUNS_DIR"] = str(r)
    try:
        store = RunStore(r)
        rid = launch(_cfg(tiny_model, max_steps=8), store=store)
        (info,) = wait(rid, store=store, timeout=DEADLINE_S)
        assert info.status == "finished", info.error
        store.close()
    finally:
        os.environ.pop("DISC_RUNS_DIR") if old is None else os.environ.__setitem__("DISC_RUNS_DIR", old)
    return r, rid


def _copy(finished, root: Path) -> str:
    src, rid = finished
    shutil.copytree(src, root)
    return rid


# ----------------------------------------------------------------------------------------- workers
def test_sigkill_worker_is_failed_with_the_cause_and_keeps_every_metric(root, tiny_model):
    store = RunStore(root)
    rid = launch(_cfg(tiny_model, max_steps=100_000), store=store)
    info = _running(store, rid)
    os.kill(info.pid, signal.SIGKILL)
    info = poll(lambda: (i := store.get(rid)).status == "failed" and i, "the killed run marked failed", DEADLINE_S)
    assert "SIGKILL" in info.error and str(info.pid) in info.error and "runs resume" in info.error
    assert_nothing_lost(store, rid)


def test_sigterm_worker_ends_cancelled_and_keeps_every_metric(root, tiny_model):
    store = RunStore(root)
    rid = launch(_cfg(tiny_model, max_steps=100_000), store=store)
    info = _running(store, rid)
    os.kill(info.pid, signal.SIGTERM)
    info = poll(lambda: (i := store.get(rid)).status == "cancelled" and i, "the terminated run cancelled", DEADLINE_S)
    assert info.note == "cancelled by the user" and info.error is None
    assert_nothing_lost(store, rid)


def test_stopped_worker_is_flagged_stalled_then_recovers(root, tiny_model, monkeypatch):
    monkeypatch.setenv("DISC_STALL_S", "2")
    store = RunStore(root)
    rid = launch(_cfg(tiny_model, max_steps=100_000), store=store)
    info = _running(store, rid)
    assert not info.stalled
    os.kill(info.pid, signal.SIGSTOP)
    try:
        info = poll(lambda: (i := store.get(rid)).stalled and i, "the stopped run flagged stalled", DEADLINE_S)
        assert info.status == "running"  # alive: stalled, not dead
        listed = _cli("runs", "list", root=root, DISC_STALL_S="2")
        assert listed.returncode == 0 and "running (stalled)" in listed.stdout, listed.stdout
        shown = _cli("runs", "show", rid, root=root, DISC_STALL_S="2")
        assert "stalled: no heartbeat" in shown.stdout and f"kill -CONT {info.pid}" in shown.stdout
        assert json.loads(_cli("runs", "list", "--json", root=root, DISC_STALL_S="2").stdout)[0]["stalled"] is True
    finally:
        os.kill(info.pid, signal.SIGCONT)
    n = info.n_events
    poll(lambda: not (i := store.get(rid)).stalled and i.n_events > n, "the continued run beating again", DEADLINE_S)
    assert cancel(rid, store=store)
    assert_nothing_lost(store, rid)


_LAUNCHER = """
import sys, time
from disc_core.engine.config import RunConfig
from disc_core.runs import runner
from disc_core.runs.executor import LocalProcessExecutor
from disc_core.runs.store import RunStore

class Slow(LocalProcessExecutor):  # the real executor, with the launcher caught between two workers
    started = 0
    def submit(self, store, run_id, resume=False):
        if self.started:
            print("LAUNCHING", flush=True)
            time.sleep(600)
        self.started += 1
        super().submit(store, run_id, resume=resume)

runner.set_executor(Slow())
cfgs = [RunConfig(dataset="splice-synthetic", model_name_or_path=sys.argv[2], max_steps=6, learning_rate=1e-3,
                  num_threads=1, eval_steps=1000, max_eval_examples=50, save_model=False, seed=s, group="g")
        for s in (1, 2)]
runner.launch_group(cfgs, store=RunStore(sys.argv[1]))
"""


def test_launcher_killed_mid_launch_names_the_true_cause(root, tiny_model):
    proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(root), tiny_model], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "LAUNCHING"
    finally:
        proc.kill()
        proc.wait()
    store = RunStore(root)
    first, second = sorted(store.list(group="g"), key=lambda r: r.seed)
    info = poll(lambda: (i := store.get(second.id)).status == "failed" and i, "the never-started run failed", 30)
    assert "no worker was ever started" in info.error and "killed mid-launch" in info.error
    assert f"pid {proc.pid}" in info.error and "worker.log" not in info.error
    assert not (Path(info.run_dir) / "worker.log").exists()
    # the run whose worker did start is unharmed, and the other one runs when resumed
    (done,) = wait(first.id, store=store, timeout=DEADLINE_S)
    assert done.status == "finished", done.error
    resume(second.id, store=store)
    (info,) = wait(second.id, store=store, timeout=DEADLINE_S)
    assert info.status == "finished" and info.attempt == 2, info.error
    for r in (first, second):
        assert_nothing_lost(store, r.id)


def test_elapsed_time_carries_across_a_resume(root, tiny_model):
    store = RunStore(root)
    rid = launch(_cfg(tiny_model, max_steps=400, checkpoint_steps=5), store=store)
    poll(lambda: (Path(store.get(rid).run_dir) / "checkpoint" / "trainer_state.pt").exists() and
         store.get(rid).step >= 12, "a checkpoint and 12 steps", DEADLINE_S)
    assert cancel(rid, store=store)
    resume(rid, store=store)
    (info,) = wait(rid, store=store, timeout=DEADLINE_S)
    assert info.status == "finished", info.error
    events = assert_nothing_lost(store, rid)
    second = [e for e in events if e["attempt"] == 2 and e["kind"] == "step"]
    start = next(e for e in events if e["attempt"] == 2 and e["kind"] == "start")["start_step"]
    assert start >= 5 and second[0]["step"] == start + 1
    before = next(e for e in events if e["attempt"] == 1 and e["kind"] == "step" and e["step"] == start)
    assert second[0]["elapsed_s"] > before["elapsed_s"]  # goes on from the checkpoint, does not restart at 0
    elapsed = [e["elapsed_s"] for e in effective_events(events) if e["kind"] == "step"]
    assert elapsed == sorted(elapsed) and _steps(events) == list(range(1, 401))
    jsonl = [e["elapsed_s"] for e in read_metrics(info.run_dir) if e["kind"] == "step"]
    assert jsonl == elapsed  # the run folder's copy says the same


# -------------------------------------------------------------------------------------- the store
def test_store_truncated_to_zero_bytes_is_rebuilt_from_the_run_folders(root, finished):
    rid = _copy(finished, root)
    (root / "store" / "cache.db").write_bytes(b"")
    out = _cli("runs", "list", root=root)
    _answered(out)
    assert out.returncode == 0 and rid in out.stdout and "finished" in out.stdout
    assert "empty (0 bytes)" in out.stderr and "set aside" in out.stderr
    assert "rebuilt from the run folders" in out.stderr
    (aside,) = root.glob("store.empty-*")
    assert (aside / "cache.db").stat().st_size == 0  # kept, not deleted
    store = RunStore(root)
    info = store.get(rid)
    assert info.status == "finished" and info.results["steps"] == 8
    assert _steps(assert_nothing_lost(store, rid)) == list(range(1, 9))
    store.close()
    again = _cli("runs", "rebuild", root=root)  # on request, too: the store it replaces is kept as well
    _answered(again)
    assert again.returncode == 0 and "set aside" in again.stdout and "1 run(s)" in again.stdout
    assert len(list(root.glob("store.*-*"))) == 2
    assert_nothing_lost(RunStore(root), rid)


def test_store_garbled_with_random_bytes_gives_a_message_and_is_rebuilt(root, finished, tiny_model):
    rid = _copy(finished, root)
    junk = os.urandom(4096)
    (root / "store" / "cache.db").write_bytes(junk)
    out = _cli("runs", "list", root=root)
    _answered(out)
    assert out.returncode == 0 and rid in out.stdout
    assert _names_garbling(out.stderr) and "set aside" in out.stderr
    (aside,) = root.glob("store.*-*")
    assert (aside / "cache.db").read_bytes() == junk and _names_garbling((aside / "WHY.txt").read_text())
    (root / "store" / "cache.db").write_bytes(os.urandom(4096))  # and again, for the other commands
    show = _cli("runs", "show", rid, root=root)
    _answered(show)
    assert show.returncode == 0 and "status finished" in show.stdout and _names_garbling(show.stderr)
    (root / "store" / "cache.db").write_bytes(os.urandom(4096))
    compare = _cli("compare", "splice-synthetic", "--variants", "pretrained", "--seeds", "1", "--background",
                   "--model-name-or-path", tiny_model, "--max-steps", "3", "--learning-rate", "1e-3",
                   "--num-threads", "1", "--eval-steps", "1000", "--max-eval-examples", "50", "--no-save-model",
                   root=root)
    _answered(compare)
    assert compare.returncode == 0, compare.stdout + compare.stderr
    assert _names_garbling(compare.stderr) and "set aside" in compare.stderr  # the launch says so too
    assert len(list(root.glob("store.*-*"))) == 3
    from disc_core.runs.index import set_asides

    asides = set_asides(root)  # what the dashboard shows afterwards, whoever rebuilt it
    assert len(asides) == 3 and all(_names_garbling(a.why) for a in asides) and str(asides[0].path) in str(asides[0])
    store = RunStore(root)
    runs = store.list()
    assert len(runs) == 2
    for info in wait([r.id for r in runs], store=store, timeout=DEADLINE_S):
        assert info.status == "finished", info.error
        assert_nothing_lost(store, info.id)


def test_store_garbled_while_a_worker_trains_is_rebuilt_and_the_worker_carries_on(root, tiny_model):
    store = RunStore(root)
    rid = launch(_cfg(tiny_model, max_steps=100_000), store=store)
    info = _running(store, rid, steps=10)
    store.close()  # (this process's own descriptor closing below would drop its SQLite locks)
    db = root / "store" / "cache.db"
    with open(db, "r+b") as f:  # every byte, in place, under the worker's open connection
        f.write(os.urandom(db.stat().st_size))
    out = _cli("runs", "list", root=root)
    _answered(out)
    assert out.returncode == 0 and rid in out.stdout and "running" in out.stdout
    (aside,) = poll(lambda: list(root.glob("store.*-*")), "the damaged store set aside", DEADLINE_S)
    assert _names_garbling((aside / "WHY.txt").read_text())
    store = RunStore(root)
    n = store.get(rid).step
    again = poll(lambda: (i := store.get(rid)).step > n + 10 and i, "the worker going on in the rebuilt store",
                 DEADLINE_S)
    assert again.status == "running" and again.pid == info.pid
    assert cancel(rid, store=store)
    events = assert_nothing_lost(store, rid)
    assert _steps(events) == list(range(1, len(_steps(events)) + 1))
    log = (Path(info.run_dir) / "worker.log").read_text()
    assert "Traceback" not in log


class _Plant:
    """A pickle that, when loaded, creates a marker file: it must never be loaded."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _key(key: str) -> bytes:
    return zlib.compress(json.dumps(key).encode(), 1)  # diskcache JSONDisk's key encoding


def test_pickle_planted_in_the_store_is_never_loaded(root, finished, tmp_path):
    rid = _copy(finished, root)
    marker = tmp_path / "PWNED"
    payload = pickle.dumps(_Plant(str(marker)))
    con = sqlite3.connect(root / "store" / "cache.db")
    with con:
        n = con.execute("UPDATE Cache SET mode = 4, value = ? WHERE key = ?", (payload, _key(f"run/{rid}"))).rowcount
    con.close()
    assert n == 1
    for args in (["runs", "list"], ["runs", "show", rid], ["runs", "list", "--json"]):
        out = _cli(*args, root=root)
        _answered(out)
        assert out.returncode == 0 and rid in out.stdout
        assert not marker.exists(), "a pickle in the store was loaded"
    (aside,) = root.glob("store.damaged-*")  # set aside once, by the first command; the others found it rebuilt
    assert "pickle" in (aside / "WHY.txt").read_text()
    assert_nothing_lost(RunStore(root), rid)


def test_a_store_of_the_older_pickle_version_is_migrated_without_unpickling(root, finished, tmp_path):
    import diskcache

    rid = _copy(finished, root)
    marker = tmp_path / "PWNED"
    shutil.move(root / "store", tmp_path / "new-store")
    (root / rid / "run.json").unlink()  # the older version's run folders had no run.json
    old = diskcache.Cache(str(root / "store"))  # the old version's store: diskcache's default, pickling Disk
    old.set("index", [rid])
    old.set(f"run/{rid}", _Plant(str(marker)))
    old.close()
    out = _cli("runs", "list", root=root)
    _answered(out)
    assert out.returncode == 0 and rid in out.stdout and "finished" in out.stdout
    assert "older version" in out.stderr and "pickle" in out.stderr
    assert not marker.exists()
    assert list(root.glob("store.legacy-*"))
    assert_nothing_lost(RunStore(root), rid)


def test_unreadable_run_folder_is_named_and_the_rest_carries_on(root, finished):
    rid = _copy(finished, root)
    bad = root / "20990101-000000-abcdef"
    shutil.copytree(root / rid, bad)
    (bad / "run.json").write_text("{not json")
    (root / "store" / "cache.db").write_bytes(b"")
    out = _cli("runs", "list", root=root)
    _answered(out)
    assert out.returncode == 0 and rid in out.stdout and bad.name not in out.stdout
    assert f"{bad / 'run.json'}: is not valid JSON" in out.stderr and "runs rebuild" in out.stderr
    show = _cli("runs", "show", bad.name, root=root)
    _answered(show)
    assert show.returncode != 0 and "is not valid JSON" in show.stderr + show.stdout
    assert_nothing_lost(RunStore(root), rid)


def test_runs_folder_and_store_are_private_to_their_user(finished):
    r, rid = finished
    mode = lambda p: p.stat().st_mode & 0o777  # noqa: E731
    assert mode(r) == 0o700 and mode(r / "store") == 0o700 and mode(r / rid) == 0o700
    files = [p for p in (r / "store").iterdir()] + [r / rid / n for n in ("run.json", "metrics.jsonl", "worker.log",
                                                                           "results.json", "config.json")]
    assert any(p.name == "cache.db" for p in files)
    for p in files:
        assert mode(p) == 0o600, f"{p} is {oct(mode(p))}"
    assert_nothing_lost(RunStore(r), rid)
    assert mode(r / "store" / "cache.db") == 0o600  # opening it again leaves it private


# --------------------------------------------------------------------------------------- a full disk
def _mount_tmpfs(path: Path, size: str) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def _fill(path: Path) -> None:
    """Write zeros to ``path`` until the file system has no byte left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                continue
    finally:
        os.close(fd)


def test_full_disk_every_command_answers_and_the_run_ends_with_the_true_cause(tmp_path, monkeypatch, tiny_model):
    root = tmp_path / "runs"
    if not _mount_tmpfs(root, "8m"):
        pytest.skip("a full disk needs a small tmpfs: run as root where `mount -t tmpfs` works")
    monkeypatch.setenv("DISC_RUNS_DIR", str(root))
    monkeypatch.setenv("DISC_MAX_CONCURRENT", "1")
    try:
        store = RunStore(root)
        rid = launch(_cfg(tiny_model, max_steps=100_000), store=store)
        waiting = launch(_cfg(tiny_model, max_steps=5, seed=2), store=store)
        _running(store, rid)
        poll(lambda: store.get(waiting).heartbeat, "the queued worker waiting", DEADLINE_S)
        _fill(root / "filler")
        for args in (["runs", "list"], ["runs", "list", "--json"], ["runs", "show", rid], ["runs", "queue"],
                     ["runs", "export", rid, "--out", str(tmp_path / "m.csv")]):
            out = _cli(*args, root=root)
            _answered(out)
            assert out.returncode == 0, (args, out.stdout, out.stderr)
        assert (tmp_path / "m.csv").read_text().startswith("seq,")
        # the training run fails at its next write; its cause is the disk, named as the OS names it
        ended = poll(lambda: (i := RunStore(root).get(rid)).status == "failed" and i, "the run failed on a full disk",
                     DEADLINE_S)
        assert "No space left on device" in ended.error and "SIGKILL" not in ended.error
        out = _cli("runs", "list", root=root)
        _answered(out)
        assert out.returncode == 0 and rid in out.stdout
        (root / "filler").unlink()
        store = RunStore(root)
        info = store.get(rid)
        assert info.status == "failed" and "No space left on device" in info.error and "SIGKILL" not in info.error
        assert_nothing_lost(store, rid)
        # the queued run was not lost: it ran once there was room, or failed naming the disk
        (done,) = wait(waiting, store=store, timeout=DEADLINE_S)
        assert done.status == "finished" or "No space left on device" in done.error, done.error
        if done.status == "finished":
            assert_nothing_lost(store, waiting)
    finally:
        (root / "filler").unlink(missing_ok=True)
        s = RunStore(root)
        for r in s.list():
            if r.active:
                cancel(r.id, store=s)
        s.close()
        subprocess.run(["umount", "-l", str(root)], check=False)
