"""``report_to`` (issue 26 §3): the real TensorBoard and MLflow packages write local files beside the run's
metrics.jsonl, and reading them back gives the same numbers."""

from __future__ import annotations

import json

import pytest

from disc_core.engine.config import RunConfig
from disc_core.engine.experiment import read_metrics, run_experiment
from disc_core.errors import ConfigError

pytest.importorskip("tensorboard", reason="tensorboard is not installed (pip install -r requirements-dev.txt)")
pytest.importorskip("mlflow", reason="mlflow-skinny is not installed (pip install -r requirements-dev.txt)")


def _cfg(tiny_model, **kw):
    base = dict(dataset="splice-synthetic", model_name_or_path=tiny_model, max_steps=6, learning_rate=1e-3,
                per_device_train_batch_size=16, eval_steps=2, save_model=False, seed=3)
    base.update(kw)
    return RunConfig(**base)


@pytest.fixture(scope="module")
def tracked_run(tiny_model, tmp_path_factory):
    d = tmp_path_factory.mktemp("tracked") / "run"
    mp = pytest.MonkeyPatch()
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    try:
        res = run_experiment(_cfg(tiny_model, report_to=["tensorboard", "mlflow"]), d)
    finally:
        mp.undo()
    return d, res


def _jsonl(d):
    ev = read_metrics(d)
    steps = {e["step"]: e["loss"] for e in ev if e["kind"] == "step"}
    val = {e["step"]: e["metrics"] for e in ev if e["kind"] == "eval" and e["split"] == "validation"}
    return steps, val


def test_tensorboard_logs_the_loss_the_validation_metrics_and_the_config(tracked_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    d, res = tracked_run
    acc = EventAccumulator(str(d / "tensorboard"), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    steps, val = _jsonl(d)
    loss = {e.step: e.value for e in acc.Scalars("train/loss")}
    assert loss.keys() == steps.keys() == set(range(1, 7))
    assert all(loss[s] == pytest.approx(steps[s], rel=1e-6) for s in steps)
    accuracy = {e.step: e.value for e in acc.Scalars("validation/accuracy")}
    assert accuracy.keys() == val.keys() == {2, 4, 6}
    assert all(accuracy[s] == pytest.approx(val[s]["accuracy"]) for s in val)
    assert acc.Scalars("test/accuracy")[0].value == pytest.approx(res["score"])
    text = acc.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert '"learning_rate": 0.001' in text and '"report_to": [' in text


def test_mlflow_logs_params_metrics_and_a_finished_run_in_the_run_folder(tracked_run):
    from mlflow.tracking import MlflowClient

    d, res = tracked_run
    client = MlflowClient(tracking_uri=(d / "mlruns").resolve().as_uri())
    exp = client.get_experiment_by_name("splice-synthetic")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_name == "pretrained seed 3"
    assert run.data.params["learning_rate"] == "0.001" and run.data.params["max_steps"] == "6"
    assert run.data.tags["run_dir"] == str(d.resolve())
    steps, val = _jsonl(d)
    loss = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "train/loss")}
    assert loss == pytest.approx(steps)
    accuracy = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "validation/accuracy")}
    assert accuracy == pytest.approx({s: m["accuracy"] for s, m in val.items()})
    assert run.data.metrics["score"] == pytest.approx(res["score"])


def test_mlflow_follows_a_local_tracking_uri(tiny_model, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    store = tmp_path / "elsewhere"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.as_uri())
    run_experiment(_cfg(tiny_model, max_steps=2, report_to="mlflow"), tmp_path / "run")
    assert not (tmp_path / "run" / "mlruns").exists()
    client = MlflowClient(tracking_uri=store.as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("splice-synthetic").experiment_id])
    assert run.info.run_name == "pretrained seed 3" and {"train/loss", "validation/accuracy"} <= set(run.data.metrics)


def test_a_failed_run_is_marked_failed_in_mlflow(tiny_model, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    class Crash:
        def on_step(self, ev):
            if ev.step == 2:
                raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError):
        run_experiment(_cfg(tiny_model, report_to=["mlflow"]), tmp_path / "r", listeners=[Crash()])
    client = MlflowClient(tracking_uri=(tmp_path / "r" / "mlruns").resolve().as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("splice-synthetic").experiment_id])
    assert run.info.status == "FAILED"


def test_the_cli_flag_and_the_config_field(tiny_model, tmp_path):
    from disc_core.cli.main import main

    assert main(["run", "splice-synthetic", "--out", str(tmp_path / "r"), "--quiet", "--model-name-or-path",
                 tiny_model, "--max-steps", "2", "--no-save-model", "--report-to", "tensorboard"]) == 0
    assert list((tmp_path / "r" / "tensorboard").glob("events.out.tfevents.*"))
    saved = json.loads((tmp_path / "r" / "config.json").read_text())["config"]
    assert saved["report_to"] == ["tensorboard"]
    assert RunConfig(report_to="tensorboard, mlflow").report_to == ["tensorboard", "mlflow"]
    assert RunConfig(report_to="all").report_to == ["tensorboard", "mlflow"] and RunConfig().report_to == []
    with pytest.raises(ConfigError, match="unknown tracker 'wandb'"):
        RunConfig(report_to=["wandb"])


def test_report_to_is_not_a_result_field(tiny_model, tmp_path):
    """Old run folders (no report_to) and runs logged to a tracker are the same cell."""
    from disc_core.study.compare import cell_state

    d = tmp_path / "r"
    cfg = _cfg(tiny_model, max_steps=1)
    run_experiment(cfg, d)
    saved = json.loads((d / "config.json").read_text())
    del saved["config"]["report_to"]  # as a run written before the field existed
    (d / "config.json").write_text(json.dumps(saved))
    assert RunConfig.from_dict(saved["config"]) == cfg
    assert cell_state(d, cfg.replace(report_to=["tensorboard"])) == "done"


def test_a_missing_tracker_package_names_what_to_install(monkeypatch):
    from disc_core.engine import events

    monkeypatch.setitem(events.TRACKER_PACKAGES, "mlflow", ("no_such_module_for_this_test", "mlflow-skinny"))
    with pytest.raises(ConfigError, match=r"report_to \(--report-to\) mlflow: not installed -> run `pip install "
                                          r"mlflow-skinny`"):
        events.check_trackers(["tensorboard", "mlflow"])
