"""Racing groups (issue 26 §1): a group's runs train at the same time, one unit in the queue, and the
estimates count the slower speed of runs that share the cores.

The claim policy is checked on the store itself (no worker), the racing on real worker processes with a
tiny BERT, from the store's records: two runs of a racing group are ``running`` at the same moment, while
the runs of an ordinary group on the same one-slot machine never are.
"""

from __future__ import annotations

import socket
import time

import pytest
from helpers import poll

from disc_core.engine.config import RunConfig
from disc_core.runs.race import race_plans, race_threads, race_width, slot_for
from disc_core.runs.store import RunStore

HOST = socket.gethostname()


def _cfg(tiny_model: str, **kw) -> RunConfig:
    base = dict(dataset="splice-synthetic", model_name_or_path=tiny_model, learning_rate=1e-3, save_model=False,
                eval_steps=1000, max_eval_examples=50, max_test_examples=50)
    return RunConfig(**{**base, **kw})


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("DISC_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("DISC_MAX_CONCURRENT", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # a CPU machine: one slot
    s = RunStore()
    yield s
    for r in s.list():
        if r.active:
            from disc_core.runs.runner import cancel

            cancel(r.id, store=s)
    s.close()


def test_race_width_and_threads_share_the_cores_of_the_slots_held():
    assert race_width(3, 1) == 1 and race_width(3, 2) == 2 and race_width(2, 8) == 2
    assert race_threads(3, 1, cores=2) == 1 and race_threads(2, 1, cores=2) == 1  # one thread each, 2 cores
    assert race_threads(2, 1, cores=8) == 4 and race_threads(2, 2, cores=8) == 4
    assert race_threads(4, 4, cores=8) == 2 and race_threads(3, 2, cores=2) == 1


def test_race_plans_mark_each_run_and_keep_threads_given(tiny_model):
    cfgs = [_cfg(tiny_model, seed=1), _cfg(tiny_model, seed=2, num_threads=3)]
    out, plans = race_plans(cfgs, [{"steps": 5}, None], max_running=1)
    assert [p["race"] for p in plans] == [2, 2] and plans[0]["steps"] == 5
    assert out[0].num_threads == race_threads(2, 1) and out[1].num_threads == 3


def _rec(i, group, status="queued", race=None, gpu=None, t=0.0):
    return {"id": i, "group": group, "status": status, "gpu": gpu, "queued_at": t,
            "plan": {"race": race} if race else None}


def test_slot_policy_a_racing_group_is_one_unit_of_its_width():
    a1, a2, a3 = (_rec(f"a{k}", "A", race=3, t=k) for k in (1, 2, 3))
    b = _rec("b", "B", t=9)
    # one slot, nothing running: the first racer starts, its mates queued ahead of it do not block it
    assert slot_for(a2, [], [a1], 1, []) is None
    # a racer whose group runs joins it at once, even with the machine's only slot held by its group
    running = [{**a1, "status": "running"}]
    assert slot_for(a3, running, [a2], 1, []) is None
    # a run of another group waits while the racing group holds the slot, and behind its queued racers
    assert slot_for(b, running, [a2, a3], 1, []) is False
    assert slot_for(b, [], [a1, a2, a3], 1, []) is False
    # two slots: the group of three holds both, so b still waits; a lone run ahead leaves one slot
    assert slot_for(b, [{**a1, "status": "running"}], [], 2, []) is False
    c = _rec("c", "C", t=0)
    assert slot_for(b, [{**c, "status": "running"}], [], 2, []) is None
    # a racing group waits for its whole width: one slot of two is held by c
    assert slot_for(a1, [{**c, "status": "running"}], [], 2, []) is False
    # an ordinary group behaves as before: one slot, one run at a time
    x1, x2 = _rec("x1", "X", t=1), _rec("x2", "X", t=2)
    assert slot_for(x2, [{**x1, "status": "running"}], [], 1, []) is False


def test_slot_policy_on_gpus_racers_take_free_gpus_then_share_their_groups():
    a1, a2, a3 = (_rec(f"a{k}", "A", race=3, t=k) for k in (1, 2, 3))
    assert slot_for(a1, [], [], 2, ["0", "1"]) == "0"
    assert slot_for(a2, [{**a1, "status": "running", "gpu": "0"}], [], 2, ["0", "1"]) == "1"
    both = [{**a1, "status": "running", "gpu": "0"}, {**a2, "status": "running", "gpu": "1"}]
    assert slot_for(a3, both, [], 2, ["0", "1"]) == "0"  # shares one its group holds
    assert slot_for(_rec("b", "B", t=9), both, [], 2, ["0", "1"]) is False


def test_store_claims_follow_the_race_policy(store, tiny_model):
    from disc_core.runs.race import race_plans

    cfgs, plans = race_plans([_cfg(tiny_model, seed=s) for s in (1, 2)], None, 1)
    g = store.create_group(cfgs, "racing", plans=plans)
    other = store.create(_cfg(tiny_model, seed=3), group="after")
    a, b = g.ids
    assert store.claim_slot(other, 1, []) == (False, None)  # the racing group was queued first
    assert store.claim_slot(b, 1, []) == (True, None)  # its mate a, queued ahead, does not block it
    assert store.claim_slot(a, 1, []) == (True, None)  # joins the running group on the one slot
    assert store.claim_slot(other, 1, []) == (False, None)
    store.finish(a, "finished", results={"score": 1.0})
    assert store.claim_slot(other, 1, []) == (False, None)  # b still holds the group's slot
    store.finish(b, "finished", results={"score": 1.0})
    assert store.claim_slot(other, 1, []) == (True, None)
    store.finish(other, "cancelled")


def _running_ids(store, ids):
    recs = [store.get(i) for i in ids]
    return {r.id for r in recs if r.status == "running"}


@pytest.mark.slow
def test_racing_group_trains_two_runs_at_the_same_moment(store, tiny_model):
    """Real workers on a one-slot CPU machine: the racing group's runs are both running at one moment (from the
    store's records); an ordinary group queued behind them starts only when the race has ended, one at a time."""
    from disc_core.runs.runner import start_group, wait

    race = start_group([_cfg(tiny_model, seed=s, max_steps=400, group="race") for s in (1, 2)], store=store,
                       race=True)
    plain = start_group([_cfg(tiny_model, seed=s, max_steps=3, group="plain") for s in (3, 4)], store=store)
    both = poll(lambda: _running_ids(store, race.ids) == set(race.ids), "both racers running at once",
                timeout=180, every=0.1)
    assert both
    recs = [store.get(i) for i in race.ids]
    assert all(r.plan["race"] == 2 and r.config["num_threads"] == race_threads(2, 1) for r in recs)
    # while the race runs, the ordinary group waits for the machine's one slot
    assert not _running_ids(store, plain.ids)
    from disc_core.runs.queue import group_progress, queue_view

    view = queue_view(store)
    assert all(view.of(i).starts_in_s == 0.0 for i in race.ids)
    assert all(view.of(i).starts_in_s > 0 for i in plain.ids)  # behind the race
    assert "racing" in group_progress(store.list(group=race.group), view, store.list()).describe()
    # stop the race; the ordinary group then runs, never two at once
    from disc_core.runs.runner import cancel_group

    cancel_group(race.group, store=store)
    seen = []
    end = time.monotonic() + 240
    while time.monotonic() < end and any(store.get(i).active for i in plain.ids):
        seen.append(len(_running_ids(store, plain.ids)))
        time.sleep(0.1)
    infos = wait(plain.ids, store=store, timeout=60)
    assert [r.status for r in infos] == ["finished", "finished"] and max(seen) == 1
    race_end = max(store.get(i).finished for i in race.ids)
    assert min(r.started for r in infos) >= race_end - 1.0


def _finished(store, cfg, tokens_per_s, plan=None, wall=30.0, tokens=20_000, examples=400):
    rid = store.create(cfg, plan=plan)
    store.update(rid, status="running", host=HOST, started=time.time() - wall)
    store.finish(rid, "finished", results={"metric": "accuracy", "score": 0.5, "tokens_per_s": tokens_per_s,
                                           "tokens_seen": tokens, "examples_seen": examples, "wall_time_s": wall,
                                           "total_steps": 20})
    return rid


def test_estimates_count_the_slower_speed_of_racing_runs(store, tiny_model):
    from disc_core.runs.queue import RACE_GAIN, measure_speed, queue_view
    from disc_core.study.estimate import estimate_plan

    cfg = _cfg(tiny_model, max_steps=20, per_device_train_batch_size=10, max_length=64)
    _finished(store, cfg, 1000.0)
    solo, racing = measure_speed(tiny_model, store=store), measure_speed(tiny_model, store=store, race=3)
    assert solo.tokens_per_s == 1000.0 and racing.converted
    assert racing.tokens_per_s == pytest.approx(1000.0 * RACE_GAIN / 3) and "racing" in racing.describe()
    # a measured racing run of the same width wins over the converted solo speed
    _finished(store, cfg, 300.0, plan={"race": 3})
    again = measure_speed(tiny_model, store=store, race=3)
    assert again.tokens_per_s == 300.0 and not again.converted
    # the plan: three racing runs take the slowest one's time, not three in a row
    cfgs = [cfg.replace(seed=s, learning_rate=1e-4) for s in (1, 2, 3)]
    one_by_one, raced = estimate_plan(cfgs, store=store), estimate_plan(cfgs, store=store, race=True)
    assert raced.race and "racing" in raced.describe() and all(p["race"] == 3 for p in raced.plans())
    per_run = raced.speed.overhead_s + 20 * 10 * raced.tokens_per_example / 300.0
    assert raced.total_s == pytest.approx(per_run)
    assert one_by_one.total_s == pytest.approx(3 * (one_by_one.speed.overhead_s + 20 * 10 *
                                                    one_by_one.tokens_per_example / 1000.0))
    # the queue plays a queued racing group as one unit: all three start together after the running run
    running = store.create(cfg, group="first")
    store.update(running, status="running", started=time.time(), step=2, eta_s=40.0, total_steps=20)
    ids = [store.create(c, group="raced", plan=p) for c, p in zip(cfgs, raced.plans())]
    for rid in [running, *ids]:
        store.beat(rid)
    view = queue_view(store, n_slots=1)
    starts = {view.of(i).starts_in_s for i in ids}
    assert len(starts) == 1 and starts.pop() == pytest.approx(40.0 + 0.25 * raced.speed.overhead_s)
    for rid in [running, *ids]:
        store.finish(rid, "cancelled")


def test_queued_runs_use_the_running_runs_current_speed(store, tiny_model):
    """No run of the model has finished: the queue takes the running run's current speed, not the default."""
    from disc_core.runs.queue import DEFAULT_TOKENS_PER_S, measure_speed, queue_view

    cfg = _cfg(tiny_model, max_steps=20, per_device_train_batch_size=32)
    assert not measure_speed(tiny_model, store=store).measured
    running = store.create(cfg, group="first", plan={"steps": 20, "tokens_per_example": 62})
    # 10 of 20 steps done, 80 s left: 8 s a step, as the teacher's room measured -> 32 x 62 / 8 = 248 tokens/s
    store.update(running, status="running", host=HOST, started=time.time() - 80, step=10, eta_s=80.0,
                 total_steps=20)
    queued = store.create(cfg.replace(seed=2), group="second", plan={"steps": 20, "tokens_per_example": 62})
    for rid in (running, queued):
        store.beat(rid)
    sp = measure_speed(tiny_model, store=store)
    assert sp.measured and sp.n_running == 1 and sp.tokens_per_s == pytest.approx(32 * 62 / 8.0)
    assert sp.tokens_per_s < DEFAULT_TOKENS_PER_S / 5 and "running run" in sp.describe()
    entry = queue_view(store, n_slots=1).of(queued)
    assert entry.run_s == pytest.approx(sp.overhead_s + 20 * 8.0)
    assert "default" not in entry.describe()
    for rid in (running, queued):
        store.finish(rid, "cancelled")


def test_a_default_estimate_says_so(store, tiny_model):
    from disc_core.runs.queue import queue_view
    from disc_core.study.estimate import estimate_plan

    est = estimate_plan([_cfg(tiny_model, max_steps=20, learning_rate=1e-4)], store=store)
    assert not est.speed.measured and "default speed" in est.describe()
    q = store.create(_cfg(tiny_model, max_steps=20), plan={"steps": 20, "tokens_per_example": 62})
    store.beat(q)
    assert "default speed" in queue_view(store, n_slots=1).of(q).describe()
    store.finish(q, "cancelled")


def test_defaults_live_in_the_data_file_with_their_provenance():
    import yaml

    from disc_core.runs import queue

    data = yaml.safe_load(queue.DEFAULTS_FILE.read_text(encoding="utf-8"))
    assert set(data) >= {"tokens_per_s", "overhead_s", "tokens_per_example", "race_gain"}
    assert all(v.get("provenance") for v in data.values())
    assert queue.DEFAULT_TOKENS_PER_S == data["tokens_per_s"]["value"]
    assert queue.RACE_GAIN == data["race_gain"]["value"]


def test_tokens_per_example_come_from_the_dataset_not_128(tmp_path, monkeypatch, forget):
    """A user's 50-symbol sequences: 52 tokens an example ([CLS] + 50 + [SEP]), not the default 128."""
    monkeypatch.setenv("DISC_RUNS_DIR", str(tmp_path / "runs"))
    import random

    from disc_core.data.user import import_user_dataset
    from disc_core.study.estimate import estimate_plan

    rng = random.Random(0)
    path = tmp_path / "seqs.csv"
    path.write_text("sequence,label\n" + "".join(
        f"{''.join(rng.choice('ACGT') for _ in range(50))},{k % 2}\n" for k in range(120)), encoding="utf-8")
    name = "race-len-test"
    forget.append(name)
    import_user_dataset(path, name=name)
    est = estimate_plan([RunConfig(dataset=name, max_steps=10, learning_rate=1e-4)], store=RunStore())
    assert est.tokens_per_example == pytest.approx(52.0) and "records" in est.tokens_source


def test_compare_background_race_queues_a_racing_group(store, no_workers, capsys):
    from disc_core.cli.main import main as cli_main

    assert cli_main(["compare", "splice-synthetic", "--variants", "pretrained", "rand", "--background", "--race",
                     "--max-steps", "5"]) == 0
    assert "racing (all at once)" in capsys.readouterr().out
    runs = store.list()
    assert len(runs) == 2 and all(r.plan and r.plan["race"] == 2 for r in runs) and len(no_workers.submitted) == 2
    assert cli_main(["compare", "splice-synthetic", "--race", "--max-steps", "5"]) == 2  # needs --background


def test_a_measured_racing_speed_beats_a_scaled_one_from_a_run_of_another_width(store, tiny_model):
    """Under load a two-thread run stalls while one-thread racers keep going: a solo run running now must not
    stand in for the racing speed measured on the last race."""
    from disc_core.runs.queue import measure_speed

    cfg = _cfg(tiny_model, max_steps=20, per_device_train_batch_size=32)
    _finished(store, cfg, 250.0, plan={"race": 3})
    solo = store.create(cfg, plan={"steps": 20, "tokens_per_example": 62})
    store.update(solo, status="running", host=HOST, started=time.time() - 300, step=10, eta_s=300.0, total_steps=20)
    store.beat(solo)
    racing = measure_speed(tiny_model, store=store, race=3)
    assert racing.tokens_per_s == 250.0 and not racing.converted and racing.n_running == 0
    alone = measure_speed(tiny_model, store=store)
    assert alone.n_running == 1 and alone.tokens_per_s == pytest.approx(32 * 62 / 30.0)
    store.finish(solo, "cancelled")
