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
from helpers import poll

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
    return poll(fn, what, timeout)


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
    # 600 steps: a tiny model runs them in seconds, longer than a `runs cancel` process takes to start on a loaded machine
    rid = launch(_cfg(tiny_model, max_steps=600, checkpoint_steps=5), store=store)
    assert store.get(rid).status in ("queued", "running")

    def live():
        info, events = store.get(rid), store.events(rid)
        return info.status == "running" and len(_steps(events)) >= 12 and (info, events)

    info, events = _poll(live, "step events while the run is running")
    _assert_contiguous(events)
    assert _steps(events) == list(range(1, len(_steps(events)) + 1))
    assert info.total_steps == 600 and info.last_loss is not None and info.eta_s is not None
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
    assert info.attempt == 2 and info.results["steps"] == 600 and "score" in info.results
    events = store.events(rid)
    _assert_contiguous(events)
    assert events[:len(before)] == before  # nothing of the first attempt rewritten
    second = [e for e in events if e["attempt"] == 2]
    assert second[0]["kind"] == "start" and second[0]["start_step"] >= 5  # from a checkpoint, not step 0
    assert _steps(second)[0] == second[0]["start_step"] + 1 > 1
    assert _steps(effective_events(events)) == list(range(1, 601))
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


# --------------------------------------------------------------------------------------------
# The classroom: one shared demo, the visible queue, group cancel, no zombies (issue 11)
# --------------------------------------------------------------------------------------------

_CREATE_ONCE = """
import sys, threading
from disc_core.engine.config import RunConfig
from disc_core.runs.store import RunStore
root, tag = sys.argv[1], sys.argv[2]
got = []
def press(k):
    s = RunStore(root)  # a connection of its own, as every dashboard session has
    cfgs = [RunConfig(dataset="splice-synthetic", variant=v, max_steps=5) for v in ("pretrained", "rand")]
    got.append(s.create_group(cfgs, group=f"g-{tag}-{k}", key="demo/one").group)
ts = [threading.Thread(target=press, args=(k,)) for k in range(6)]
[t.start() for t in ts]
[t.join() for t in ts]
print(" ".join(got))
"""


def test_find_or_create_makes_one_group_for_presses_from_many_processes_and_threads(store):
    """Three processes of six threads each press at once: one group is created, everyone gets it."""
    procs = [subprocess.Popen([sys.executable, "-c", _CREATE_ONCE, str(store.root), str(p)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in range(3)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=DEADLINE_S)
        assert p.returncode == 0, err
        outs += out.split()
    assert len(outs) == 18 and len(set(outs)) == 1
    assert store.groups() == outs[:1] and len(store.list()) == 2  # one group of two runs, nothing else
    assert store.keyed("demo/one").group == outs[0]


def test_demo_is_joined_while_it_runs_and_started_fresh_only_when_asked(store, no_workers):
    from disc_core.study.demo import DEMOS, JOIN_S, current_demo, start_demo

    first = start_demo("splice", store=store)
    assert first.created and len(first.ids) == len(DEMOS["splice"].variants)
    assert no_workers.submitted == first.ids  # only the creator starts workers
    again = start_demo("splice", store=store)
    assert not again.created and again.group == first.group and no_workers.submitted == first.ids
    assert current_demo("splice", store=store) == first.group
    # the demo is recorded with its size, for the queue's estimates
    assert store.get(first.ids[0]).plan["steps"] == DEMOS["splice"].steps
    # finished a moment ago: still joined; finished long ago, or cancelled: a press starts a new one
    for rid in first.ids:
        store.update(rid, status="running")
        store.finish(rid, "finished", results={"score": 0.5})
    assert start_demo("splice", store=store).group == first.group
    for rid in first.ids:
        store.update(rid, finished=time.time() - JOIN_S - 1)
    later = start_demo("splice", store=store)
    assert later.created and later.group != first.group
    fresh = start_demo("splice", fresh=True, store=store)  # asked for explicitly: a new one even so
    assert fresh.created and fresh.group not in (first.group, later.group)
    assert len(store.groups()) == 3 and all(len(store.list(group=g)) == 3 for g in store.groups())
    for rid in later.ids + fresh.ids:
        store.finish(rid, "cancelled")


def test_plan_signature_names_the_settings_not_the_group():
    """One signature per plan: the group a launch names is not part of it; every setting and the order are."""
    from disc_core.runs.runner import plan_signature
    from disc_core.study.demo import DEMOS, demo_key

    a = [RunConfig(dataset="splice", variant=v, seed=1) for v in ("pretrained", "rand")]
    sig = plan_signature(a)
    assert len(sig) == 12 and int(sig, 16) >= 0
    assert plan_signature([c.replace(group="splice-20261202-0101") for c in a]) == sig
    assert plan_signature(a[::-1]) != sig
    assert plan_signature([a[0], a[1].replace(learning_rate=2e-5)]) != sig
    assert plan_signature([a[0], a[1].replace(attention_dropout=0.0)]) != sig
    # the demo's configs carry a group stamped with the time: two presses a minute apart share one key
    demo = DEMOS["splice"]
    assert demo_key(demo.configs(group="demo-1")) == demo_key(demo.configs(group="demo-2")) \
        == f"demo/{demo.dataset}/{plan_signature(demo.configs())}"


def _finished(store, cfg, tokens_per_s=1000.0, tokens=20_000, wall=30.0, examples=400, **results):
    rid = store.create(cfg)
    store.update(rid, status="running", host=HOST_NAME, started=time.time() - wall)
    store.finish(rid, "finished", results={"metric": "accuracy", "score": 0.5, "tokens_per_s": tokens_per_s,
                                           "tokens_seen": tokens, "examples_seen": examples, "wall_time_s": wall,
                                           "total_steps": 20, **results})
    return rid


HOST_NAME = __import__("socket").gethostname()


def test_queue_view_places_runs_and_estimates_from_measured_speed(store, tiny_model):
    from disc_core.runs.queue import DEFAULT_TOKENS_PER_S, about, group_progress, measure_speed, queue_view

    # nothing finished yet: the stated default
    sp = measure_speed(tiny_model, store=store)
    assert not sp.measured and "default" in sp.describe()
    # measured: 1000 tokens/s, and 30 s of wall time of which 20 s trained -> 10 s of overhead per run
    cfg = _cfg(tiny_model, max_steps=20, per_device_train_batch_size=10, max_length=64)
    _finished(store, cfg, tokens_per_s=500.0, tokens=10_000, wall=25.0)  # older; the newest 5 count
    _finished(store, cfg)
    _finished(store, cfg)
    sp = measure_speed(tiny_model, store=store)
    assert sp.measured and sp.tokens_per_s == 1000.0 and sp.overhead_s == pytest.approx(10.0)
    assert sp.tokens_per_s != DEFAULT_TOKENS_PER_S and "measured on this machine" in sp.describe()

    # one running run (60 s of ETA left), then a group of two queued behind it, one slot
    running = store.create(cfg, group="first")
    store.update(running, status="running", started=time.time(), step=2, eta_s=60.0, total_steps=20)
    q = [store.create(cfg.replace(seed=s), group="second", plan={"steps": 20, "tokens_per_example": 50})
         for s in (1, 2)]
    for rid in [running, *q]:
        store.beat(rid)  # alive, as far as the store can tell
    view = queue_view(store, n_slots=1)
    assert [e.id for e in view.entries] == [running, *q]
    a, b = view.of(q[0]), view.of(q[1])
    per_run = 10.0 + 20 * 10 * 50 / 1000.0  # overhead + steps x batch x tokens / speed = 20 s
    assert a.ahead == 1 and b.ahead == 2
    assert a.starts_in_s == pytest.approx(60.0 + 0.25 * 10.0)  # the running run's ETA and its test
    assert b.starts_in_s == pytest.approx(a.starts_in_s + per_run) and b.run_s == pytest.approx(per_run)
    assert view.free_in_s == pytest.approx(b.ends_in_s)
    assert b.describe() == f"queued · 2 runs ahead, starts in {about(b.starts_in_s)}"
    assert about(b.starts_in_s) == "about 1 min" and about(30) == "under a minute" and about(3900) == "about 1 h 05 min"
    prog = group_progress(store.list(group="second"), view, store.list())
    assert prog.total_steps == 40 and prog.done_steps == 0 and prog.ends_in_s == pytest.approx(b.ends_in_s)
    assert "2 queued" in prog.describe() and "done in about" in prog.describe()
    # two slots: the first queued run starts at once
    assert queue_view(store, n_slots=2).of(q[0]).starts_in_s == 0.0
    for rid in [running, *q]:
        store.finish(rid, "cancelled")


def test_estimate_plan_counts_steps_and_warns(store, tiny_model):
    from disc_core.study.estimate import LONG_PLAN_S, estimate_plan, plan_steps

    base = RunConfig(dataset="splice-synthetic", model_name_or_path=tiny_model)
    assert plan_steps(base, 2700) == 255  # 3 epochs of ceil(2700 / 32) = 85 steps
    assert plan_steps(base.replace(train_fraction=0.01), 5749) == 6
    est = estimate_plan([base.replace(max_steps=100, seed=s) for s in (1, 2)], store=store)
    assert est.n_runs == 2 and est.steps == [100, 100] and est.total_steps == 200
    assert "2 runs × 100 steps = 200 steps" in est.describe()
    assert any("majority class" in w for w in est.warnings)  # 1e-5 with 100 steps
    assert not estimate_plan([base.replace(max_steps=100, learning_rate=1e-4)], store=store).warnings
    minilm = RunConfig(dataset="splice-synthetic")  # the bundled MiniLM: no run of it here, the default speed
    long = estimate_plan([minilm.replace(max_steps=100_000, learning_rate=1e-4)], store=store)
    assert not long.speed.measured
    assert long.total_s > LONG_PLAN_S and "more than 30 min" in long.warnings[0]
    assert est.plans()[0] == {"steps": 100, "tokens_per_example": round(est.tokens_per_example, 1)}


@pytest.mark.slow
def test_cancel_group_stops_running_and_queued_runs(store, tiny_model, monkeypatch):
    from disc_core.runs.runner import launch_group

    monkeypatch.setenv("DISC_MAX_CONCURRENT", "1")
    ids = launch_group([_cfg(tiny_model, max_steps=100_000, seed=s, group="big") for s in (1, 2, 3)], store=store)
    _poll(lambda: store.get(ids[0]).status == "running" and all(store.get(i).heartbeat for i in ids),
          "the first run running and the others' workers waiting")
    assert [store.get(i).status for i in ids] == ["running", "queued", "queued"]
    pids = [store.get(i).pid for i in ids]
    assert cli_main(["runs", "cancel", "--group", "big"]) == 0
    assert [store.get(i).status for i in ids] == ["cancelled"] * 3
    assert all(_gone(p) for p in pids)
    assert cli_main(["runs", "cancel", "--group", "big"]) == 1  # nothing left to cancel


@pytest.mark.slow
def test_finished_workers_are_reaped_not_left_as_zombies(store, tiny_model):
    rid = launch(_cfg(tiny_model, dataset="no-such-dataset", max_steps=5), store=store)
    pid = _poll(lambda: store.get(rid).pid, "the worker's pid")
    (info,) = wait(rid, store=store, timeout=DEADLINE_S)
    assert info.status == "failed"

    def reaped():  # no process at all: not even a zombie waiting for its parent
        return not psutil.pid_exists(pid) or psutil.Process(pid).ppid() != os.getpid()

    _poll(reaped, "the ended worker to be reaped")


def test_status_text_says_what_a_run_is_doing_and_warns_on_one_class():
    from disc_core.runs.queue import status_text
    from disc_core.runs.store import RunInfo

    base = dict(id="r1", group="g", label="pretrained", dataset="splice", seed=0, config={}, pid=None, host=None,
                created=0.0, started=None, finished=None, heartbeat=None, step=0, total_steps=100, last_loss=None,
                eta_s=None, results=None, error=None, run_dir="")
    assert status_text(RunInfo(**{**base, "status": "queued"}, executor="ray")) == \
        "queued on the Ray cluster, waiting for a node"
    assert "starting (loading the model and the data)" in status_text(RunInfo(**{**base, "status": "running"}))
    running = RunInfo(**{**base, "status": "running", "step": 40, "last_loss": 0.5, "eta_s": 90.0})
    assert status_text(running) == "running · step 40/100 · loss 0.5000 · ETA about 2 min"
    flat = RunInfo(**{**base, "status": "finished", "step": 100, "results": {
        "metric": "accuracy", "score": 0.52, "predicts_one_class": True, "majority_accuracy": 0.52}},
        note="resumed from step 40")
    text = status_text(flat)
    assert text.startswith("finished · step 100/100 · test accuracy 0.5200 · predicts one class only")
    assert "majority class scores 0.5200" in text and text.endswith("resumed from step 40")
