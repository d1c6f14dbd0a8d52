"""Runs on a real multi-node Ray cluster on this machine (issue 12).

``ray.cluster_utils.Cluster`` starts a head and two worker nodes, each a raylet of its own with 1 CPU:
separate processes, separate node ids, no GPU. Runs are the tiny BERT on built-in data. The store the
assertions read is the head's diskcache, exactly what the dashboard and ``runs list`` read.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from helpers import poll

ray = pytest.importorskip("ray", reason="Ray is in requirements-dev.txt; the Ray executor tests need it")

from ray.cluster_utils import Cluster  # noqa: E402

from disc_core.cli.main import main as cli_main  # noqa: E402
from disc_core.engine.config import RunConfig  # noqa: E402
from disc_core.runs import runner  # noqa: E402
from disc_core.runs.ray_executor import RayExecutor, _pack, _unpack, connect, service_name  # noqa: E402
from disc_core.runs.store import RunStore, effective_events  # noqa: E402

DEADLINE_S = 240
REPO = Path(__file__).resolve().parents[1]


def _poll(fn, what: str, timeout: float = DEADLINE_S):
    return poll(fn, what, timeout)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head and two worker nodes (1 CPU each); the workers carry a ``worker`` resource."""
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    workers = [c.add_node(num_cpus=1, resources={"worker": 1}) for _ in range(2)]
    c.wait_for_nodes()
    connect(c.address)
    yield c, workers
    ray.shutdown()
    c.shutdown()


@pytest.fixture
def store(cluster, tmp_path, monkeypatch):
    """A private run store (the head's), and the Ray executor as the one launches go to."""
    c, _ = cluster
    monkeypatch.setenv("DISC_RUNS_DIR", str(tmp_path / "runs"))
    ex = RayExecutor(address=c.address)
    monkeypatch.setattr(runner, "_executor", ex)
    return RunStore(tmp_path / "runs")


def _cfg(tiny_model: str, **kw) -> RunConfig:
    base = dict(dataset="splice-synthetic", model_name_or_path=tiny_model, learning_rate=1e-3, save_model=False,
                num_threads=1, eval_steps=5, max_eval_examples=40)
    return RunConfig(**{**base, **kw})


def test_executor_choice_and_a_clear_error_without_a_cluster(monkeypatch, tmp_path, capsys):
    from disc_core.errors import ConfigError
    from disc_core.runs.runner import LocalProcessExecutor, make_executor

    assert isinstance(make_executor("local"), LocalProcessExecutor)
    assert isinstance(make_executor("ray", address="10.0.0.1:6379"), RayExecutor)
    with pytest.raises(ConfigError, match="unknown executor"):
        make_executor("slurm")
    assert service_name(tmp_path) == service_name(tmp_path / ".")
    # nothing listens there: a one-line error at once, and no run is queued
    monkeypatch.setenv("DISC_RUNS_DIR", str(tmp_path / "runs"))
    code = cli_main(["compare", "splice-synthetic", "--background", "--executor", "ray", "--ray-address",
                     "127.0.0.1:9", "--max-steps", "2"])
    assert code == 2
    assert "no Ray cluster reachable at '127.0.0.1:9'" in capsys.readouterr().err
    assert RunStore(tmp_path / "runs").ids() == []


def test_a_queued_ray_run_whose_cluster_is_gone_can_still_be_cancelled(monkeypatch, tmp_path):
    store = RunStore(tmp_path / "runs")
    run_id = store.create(RunConfig(dataset="splice-synthetic", max_steps=2))
    store.update(run_id, executor="ray", ray_address="127.0.0.1:9")  # queued on a cluster that is no more
    assert store.get(run_id).status == "queued"  # not reaped: Ray's queue may be long
    assert runner.cancel(run_id, store=store)
    assert store.get(run_id).status == "cancelled"


def test_a_comparison_spreads_over_the_nodes_and_streams_live_metrics(store, tiny_model, capsys):
    cfgs = [_cfg(tiny_model, variant=v, max_steps=40, group="ray-cmp") for v in ("pretrained", "rand", "re-emb")]
    ids = runner.launch_group(cfgs, store=store)
    # live: a run has logged steps while it is still running, read from the head's store
    live = _poll(lambda: [r for r in (store.get(i) for i in ids) if r.status == "running" and r.step > 0
                          and r.n_events >= 2], "a running Ray run with logged steps")
    assert live[0].executor == "ray" and live[0].node
    # the dashboard's Runs page shows the Ray runs from the same store, while they run
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=90).run()
    at.switch_page("views/runs.py").run()
    at.selectbox(key="runs-group").set_value("ray-cmp").run()
    assert not at.exception, at.exception
    shown = " ".join(m.value for m in at.markdown)
    assert "ray node" in shown and ("running" in shown or "finished" in shown), shown[:2000]
    assert any("On the Ray cluster:" in c.value for c in at.caption) or not any(
        r.active for r in (store.get(i) for i in ids))
    infos = _poll(lambda: (lambda xs: xs if not any(x.active for x in xs) else None)([store.get(i) for i in ids]),
                  "the three runs to end")
    assert [i.status for i in infos] == ["finished"] * 3, [i.error for i in infos]
    assert len({i.node for i in infos}) == 3, "each run should land on its own node (SPREAD over 3 nodes)"
    for i in infos:
        d = store.run_dir(i.id)  # the run folder reached the head from the node that ran it
        assert (d / "results.json").exists() and (d / "metrics.jsonl").exists()
        res = json.loads((d / "results.json").read_text())
        assert res["score"] == pytest.approx(i.results["score"])
        steps = [e for e in effective_events(store.events(i.id)) if e["kind"] == "step"]
        assert steps and steps[-1]["step"] == 40
    # the CLI reads Ray runs like local ones, and says where each ran
    assert cli_main(["runs", "list", "--group", "ray-cmp"]) == 0
    out = capsys.readouterr().out
    assert out.count("ray node") == 3


def test_cancel_stops_a_ray_run_and_keeps_its_metrics(store, tiny_model, cluster, monkeypatch):
    run_id = runner.launch(_cfg(tiny_model, variant="rand", max_steps=5000), store=store)
    _poll(lambda: store.get(run_id).step >= 3, "the run to log a few steps")
    # a process that did not launch it (a restarted dashboard, the CLI) cancels it: the run's record says Ray
    from disc_core.runs.executor import LocalProcessExecutor

    monkeypatch.setattr(runner, "_executor", LocalProcessExecutor())
    t0 = time.monotonic()
    assert runner.cancel(run_id, store=store)
    took = time.monotonic() - t0
    info = store.get(run_id)
    assert info.status == "cancelled"
    n = len([e for e in store.events(run_id) if e["kind"] == "step"])
    assert n >= 3
    print(f"cancelled in {took:.1f} s with {n} step events kept")
    svc = RayExecutor(address=cluster[0].address).service(store)
    _poll(lambda: run_id not in ray.get(svc.tasks.remote()), "the Ray task to end")
    time.sleep(1.5)  # nothing writes after the cancel
    assert len([e for e in store.events(run_id) if e["kind"] == "step"]) == n
    assert store.get(run_id).status == "cancelled"


def test_a_lost_node_fails_the_run_and_resume_finishes_it_elsewhere(store, tiny_model, cluster):
    c, workers = cluster
    ex = RayExecutor(address=c.address, resources={"worker": 1})  # only on the worker nodes, never the head
    runner.set_executor(ex)
    run_id = runner.launch(_cfg(tiny_model, variant="rand", max_steps=60, checkpoint_steps=4, eval_steps=1000), store=store)
    rec = _poll(lambda: (lambda r: r if (r.get("synced_step") or 0) >= 4 else None)(store._rec(run_id)),
                "a checkpoint to reach the head")
    node = next(w for w in workers if w.node_id == rec["node"])
    steps_before = len([e for e in store.events(run_id) if e["kind"] == "step"])
    c.remove_node(node, allow_graceful=False)
    failed = _poll(lambda: (lambda r: r if r.status == "failed" else None)(store.get(run_id)),
                   "the run to be marked failed", timeout=60)
    assert failed.error and ("Ray task" in failed.error or "died" in failed.error or "heartbeat" in failed.error)
    assert len([e for e in store.events(run_id) if e["kind"] == "step"]) >= steps_before  # nothing lost
    workers.remove(node)
    workers.append(c.add_node(num_cpus=1, resources={"worker": 1}))
    c.wait_for_nodes()

    runner.resume(run_id, store=store)  # the run's own executor: Ray, any node with a worker resource
    done = _poll(lambda: (lambda r: r if not r.active else None)(store.get(run_id)), "the resumed run to end")
    assert done.status == "finished", done.error
    assert done.attempt == 2 and done.node != failed.node
    starts = [e for e in store.events(run_id) if e["kind"] == "start"]
    assert starts[-1]["start_step"] >= 4, "the resume should continue from the synced checkpoint"
    assert (store.run_dir(run_id) / "results.json").exists()


def test_reproduce_quick_on_ray_has_the_local_cells(cluster, tiny_model, tmp_path, capsys):
    c, _ = cluster
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    # the non-text task (4 variants x 2 seeds); the pre-training task's path is the same queue, tested locally
    common = ["reproduce", "--profile", "quick", "--only", "non-text/splice-synthetic", "--model", tiny_model,
              "--no-progress"]
    assert cli_main([*common, "--root", str(local), "--jobs", "2"]) == 0
    assert cli_main([*common, "--root", str(on_ray), "--executor", "ray", "--ray-address", c.address]) == 0
    out = capsys.readouterr().out

    def cells(root: Path) -> dict:
        return {str(p.parent.relative_to(root)): json.loads(p.read_text())
                for p in root.rglob("results.json") if "superseded" not in str(p)}

    here, there = cells(local), cells(on_ray)
    assert set(here) == set(there) and len(here) == 8
    for k in here:
        assert there[k]["metric"] == here[k]["metric"]
        assert there[k]["ran_on"]["executor"] == "ray" and here[k]["ran_on"]["executor"] == "local"
        assert there[k]["score"] == pytest.approx(here[k]["score"], abs=0.02), k
    assert len({r["ran_on"]["node"] for r in there.values()}) >= 2, "the cells should spread over the nodes"
    report = (on_ray / "REPRODUCTION.md").read_text()
    assert "Where the cells ran" in report and "ray node" in report
    assert "ran 0 cells" in out or "reused" in out
    # a second invocation reuses every cell the cluster ran
    assert cli_main([*common, "--root", str(on_ray), "--executor", "ray", "--ray-address", c.address,
                     "--no-report"]) == 0
    assert "ran 0 cells" in capsys.readouterr().out


def test_run_folders_travel_as_tar_and_a_shipped_model_lands_at_its_path(tmp_path, cluster):
    from disc_core.runs.ray_executor import _materialise

    src = tmp_path / "src"
    (src / "checkpoint").mkdir(parents=True)
    (src / "metrics.jsonl").write_text('{"step": 1}\n')
    (src / "checkpoint" / "trainer_state.pt").write_bytes(b"\x00\x01state")
    (src / "x.tmp").write_text("half-written")
    dest = tmp_path / "dest"
    (dest / "checkpoint").mkdir(parents=True)
    (dest / "checkpoint" / "stale.bin").write_text("old")  # a checkpoint folder is replaced whole
    (dest / "worker.log").write_text("kept")
    _unpack(_pack(src), dest)
    assert (dest / "metrics.jsonl").read_text() == '{"step": 1}\n'
    assert (dest / "checkpoint" / "trainer_state.pt").read_bytes() == b"\x00\x01state"
    assert not (dest / "checkpoint" / "stale.bin").exists() and (dest / "worker.log").read_text() == "kept"
    assert not (dest / "x.tmp").exists()
    model = tmp_path / "elsewhere" / "model"  # not on this "node" yet
    (src / "config.json").write_text("{}")
    _materialise({"path": str(model), "blob": [ray.put(_pack(src))]})
    assert (model / "config.json").exists() and (model / "checkpoint" / "trainer_state.pt").exists()


def test_run_folders_go_to_a_storage_uri_when_given(store, tiny_model, cluster, tmp_path, monkeypatch):
    c, _ = cluster
    uri = (tmp_path / "bucket").as_uri()  # file:///...: what s3:// or gs:// would be on a real cluster
    monkeypatch.setattr(runner, "_executor", RayExecutor(address=c.address, storage=uri,
                                                         resources={"worker": 1}))
    # the store service of this runs root is created with the storage it serves
    run_id = runner.launch(_cfg(tiny_model, variant="pretrained", max_steps=6), store=store)
    done = _poll(lambda: (lambda r: r if not r.active else None)(store.get(run_id)), "the run to end")
    assert done.status == "finished", done.error
    rec = store._rec(run_id)
    assert rec["artifacts"] == f"{uri}/{run_id}"
    stored = tmp_path / "bucket" / run_id
    assert (stored / "results.json").exists() and (stored / "metrics.jsonl").exists()
