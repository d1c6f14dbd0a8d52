"""Background runs with real worker processes, a tiny BERT and the built-in synthetic splice data.

Each test gets its own runs root (store + run folders) in tmp_path. Polling loops have generous
deadlines: the runs are a few seconds of work, but CI machines are slow and shared.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from disc_core.cli.main import main as cli_main
from disc_core.engine.config import RunConfig
from disc_core.engine.experiment import read_metrics
from disc_core.runs.runner import cancel, export, launch, resume, wait
from disc_core.runs.store import RunStateError, RunStore, effective_events

REPO = Path(__file__).resolve().parents[1]
DEADLINE_S = 120


def _cfg(tiny_model: str, **kw) -> RunConfig:
    base = dict(dataset="splice-synthetic", model_name_or_path=tiny_model, learning_rate=1e-3, save_model=False,
                num_threads=1, eval_steps=1000, max_eval_examples=50)
    return RunConfig(**{**base, **kw})


def _poll(fn, what: str, timeout: float = DEADLINE_S):
    """``fn()`` until it returns something truthy; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = fn()
        if got:
            return got
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def _steps(events: list[dict]) -> list[int]:
    return [e["step"] for e in events if e["kind"] == "step"]


def _assert_contiguous(events: list[dict]) -> None:
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def _gone(pid: int) -> bool:
    """No such process, or only its zombie (this test process launched it and has not reaped it)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("DISC_RUNS_DIR", str(tmp_path / "runs"))
    s = RunStore()
    yield s
    for r in s.list():  # never leave a worker behind, whatever the test did
        if r.active:
            cancel(r.id, store=s)


@pytest.mark.slow
def test_live_metrics_cancel_and_resume_from_checkpoint(store, tiny_model):
    rid = launch(_cfg(tiny_model, max_steps=150, checkpoint_steps=5), store=store)
    assert store.get(rid).status in ("queued", "running")

    def live():
        info, events = store.get(rid), store.events(rid)
        return info.status == "running" and len(_steps(events)) >= 12 and (info, events)

    info, events = _poll(live, "step events while the run is running")
    _assert_contiguous(events)
    assert _steps(events) == list(range(1, len(_steps(events)) + 1))
    assert info.total_steps == 150 and info.last_loss is not None and info.eta_s is not None
    newer = store.events(rid, since=events[-1]["seq"])  # incremental reads return only what is new
    assert all(e["seq"] > events[-1]["seq"] for e in newer)

    # cancel from another process, as `python -m disc_core runs cancel ID` does
    pid = info.pid
    out = subprocess.run([sys.executable, "-m", "disc_core", "runs", "cancel", rid], cwd=REPO,
                         capture_output=True, text=True, timeout=DEADLINE_S)
    assert out.returncode == 0 and "cancelled" in out.stdout, out.stderr
    info = store.get(rid)
    assert info.status == "cancelled"
    assert _gone(pid)
    assert cancel(rid, store=store) is False  # already ended
    before = store.events(rid)
    assert len(before) == info.n_events >= len(events)

    assert resume(rid, store=store) == rid
    (info,) = wait(rid, store=store, timeout=DEADLINE_S)
    assert info.status == "finished", info.error
    assert info.attempt == 2 and info.results["steps"] == 150 and "score" in info.results
    events = store.events(rid)
    _assert_contiguous(events)
    assert events[:len(before)] == before  # nothing of the first attempt rewritten
    second = [e for e in events if e["attempt"] == 2]
    assert second[0]["kind"] == "start" and second[0]["start_step"] >= 5  # from a checkpoint, not step 0
    assert _steps(second)[0] == second[0]["start_step"] + 1 > 1
    assert _steps(effective_events(events)) == list(range(1, 151))
    with pytest.raises(RunStateError, match="only failed or cancelled"):
        resume(rid, store=store)


@pytest.mark.slow
def test_killed_worker_is_marked_failed_and_other_processes_see_the_run(store, tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("DISC_MAX_CONCURRENT", "1")
    rid = launch(_cfg(tiny_model, max_steps=100_000), store=store)
    info = _poll(lambda: (i := store.get(rid)).status == "running" and i.n_events >= 5 and i, "a running run")

    # one run at a time: a second one waits in the queue, and can be cancelled there
    waiting = launch(_cfg(tiny_model, max_steps=10), store=store)
    w = _poll(lambda: (i := store.get(waiting)).heartbeat and i, "the queued worker's first heartbeat")
    assert w.status == "queued" and store.get(rid).status == "running"
    assert cancel(waiting, store=store) is True
    assert store.get(waiting).status == "cancelled" and _gone(w.pid)

    # a second process over the same store (what a restarted dashboard does) finds the running run
    out = subprocess.run([sys.executable, "-m", "disc_core", "runs", "list", "--json"], cwd=REPO,
                         capture_output=True, text=True, timeout=DEADLINE_S, check=True).stdout
    listed = {r["id"]: r for r in json.loads(out)}
    assert listed[rid]["status"] == "running" and listed[rid]["pid"] == info.pid

    seen = store.events(rid)
    os.kill(info.pid, signal.SIGKILL)
    info = _poll(lambda: (i := store.get(rid)).status == "failed" and i, "the killed run to be marked failed")
    assert "died" in info.error and "SIGKILL" in info.error
    events = store.events(rid)
    assert events[:len(seen)] == seen
    _assert_contiguous(events)
    assert _steps(events) == list(range(1, len(_steps(events)) + 1))

    path = export(rid, tmp_path / "m.csv", store=store)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("seq,") and len(lines) - 1 == len([e for e in events if e["kind"] in ("step", "eval")])
    data = json.loads(export(rid, tmp_path / "m.json", fmt="json", store=store).read_text())
    assert data["run"]["status"] == "failed" and len(data["events"]) == len(events)


@pytest.mark.slow
def test_failed_run_keeps_its_traceback(store, tiny_model, capsys):
    rid = launch(_cfg(tiny_model, dataset="no-such-dataset", max_steps=5), store=store)
    (info,) = wait(rid, store=store, timeout=DEADLINE_S)
    assert info.status == "failed"
    assert "Traceback" in info.error and "no-such-dataset" in info.error
    assert cli_main(["runs", "show", rid]) == 0
    shown = capsys.readouterr().out
    assert "status failed" in shown and "no-such-dataset" in shown
    assert cli_main(["runs", "list", "--status", "failed"]) == 0
    assert rid in capsys.readouterr().out


@pytest.mark.slow
def test_two_launchers_at_once_keep_every_metric_apart(store, tiny_model, monkeypatch):
    monkeypatch.setenv("DISC_MAX_CONCURRENT", "2")
    compare = [sys.executable, "-m", "disc_core", "compare", "splice-synthetic", "--variants", "pretrained", "rand",
               "--seeds", "1", "--background", "--model-name-or-path", tiny_model, "--max-steps", "20",
               "--learning-rate", "1e-3", "--num-threads", "1", "--eval-steps", "1000", "--max-eval-examples", "50",
               "--no-save-model"]
    script = ("import sys; from disc_core.engine.config import RunConfig; from disc_core.runs.runner import launch_group; "
              "cfgs = [RunConfig(dataset='splice-synthetic', model_name_or_path=sys.argv[1], max_steps=20, "
              "learning_rate=1e-3, num_threads=1, eval_steps=1000, max_eval_examples=50, save_model=False, seed=s, "
              "group='mine') for s in (2, 3)]; print(*launch_group(cfgs))")
    procs = [subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for cmd in (compare, [sys.executable, "-c", script, tiny_model])]
    for p in procs:
        out, err = p.communicate(timeout=DEADLINE_S)
        assert p.returncode == 0, err
    # the launchers have exited; their workers go on
    runs = store.list()
    assert len(runs) == 4
    by_group: dict[str, list] = {}
    for r in runs:
        by_group.setdefault(r.group, []).append(r)
    assert sorted(r.seed for r in by_group.pop("mine")) == [2, 3]
    ((group, cells),) = by_group.items()
    assert group.startswith("splice-synthetic") and sorted(r.label for r in cells) == ["pretrained", "rand"]
    assert group in store.groups()

    infos = wait([r.id for r in runs], store=store, timeout=4 * DEADLINE_S)
    for r in infos:
        assert r.status == "finished", r.error
        assert r.results["steps"] == 20
        events = store.events(r.id)
        _assert_contiguous(events)
        assert _steps(events) == list(range(1, 21))
        # the worker's own metrics.jsonl is a second copy: the store holds exactly this run's events
        jsonl = [(e["step"], e["loss"]) for e in read_metrics(r.run_dir) if e["kind"] == "step"]
        assert [(e["step"], e["loss"]) for e in events if e["kind"] == "step"] == jsonl
        assert events[-1]["kind"] == "end" and events[-1]["results"]["seed"] == r.seed
    # the queue never ran more than DISC_MAX_CONCURRENT at once
    for r in infos:
        at_once = [o for o in infos if o.started <= r.started < o.finished]
        assert len(at_once) <= 2


def test_queue_serves_runs_in_order_one_gpu_each(store, tiny_model, monkeypatch):
    # store level only, no workers: three queued runs compete for two GPUs
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.delenv("DISC_MAX_CONCURRENT", raising=False)
    from disc_core.runs.worker import max_concurrent, visible_gpus

    gpus = visible_gpus()
    assert gpus == ["0", "1"] and max_concurrent(gpus) == 2
    a, b, c = (store.create(_cfg(tiny_model, seed=s), group="g") for s in (1, 2, 3))
    assert store.claim_slot(c, 2, gpus) == (False, None)  # a and b were queued first
    assert store.claim_slot(a, 2, gpus) == (True, "0")
    assert store.claim_slot(b, 2, gpus) == (True, "1")
    assert store.claim_slot(c, 2, gpus) == (False, None)  # both GPUs busy
    store.finish(a, "finished", results={"score": 1.0})
    assert store.claim_slot(c, 2, gpus) == (True, "0")
    assert [r.id for r in store.list(group="g")] == [c, b, a]
    assert {r.gpu for r in store.list(status="running")} == {"0", "1"}
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setenv("DISC_MAX_CONCURRENT", "3")
    assert visible_gpus() == [] and max_concurrent([]) == 3
    for r in (b, c):
        store.finish(r, "cancelled")


def test_store_survives_a_writer_killed_mid_write(store, tiny_model):
    rid = store.create(_cfg(tiny_model))
    script = ("import sys\nfrom disc_core.runs.store import RunStore\ns = RunStore(sys.argv[1])\ni = 0\n"
              "while True:\n    i += 1\n    s.append_event(sys.argv[2], {'kind': 'step', 'step': i}, step=i)\n")
    writer = subprocess.Popen([sys.executable, "-c", script, str(store.root), rid], cwd=REPO)
    try:
        _poll(lambda: store.get(rid).n_events >= 300, "300 appended events")
    finally:
        writer.kill()
        writer.wait()
    info, events = store.get(rid), store.events(rid)
    _assert_contiguous(events)
    assert _steps(events) == list(range(1, info.n_events + 1)) and info.step == info.n_events
    store.append_event(rid, {"kind": "step", "step": info.n_events + 1})  # and it takes writes again
    assert store.get(rid).n_events == info.n_events + 1
    store.finish(rid, "cancelled")
