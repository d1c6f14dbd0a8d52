"""The "Inside the model" page through Streamlit's AppTest: finished tiny-BERT runs of one group in a run store of
the test's own, looked inside once on a button press, then drawn from the saved numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from disc_core.engine.config import RunConfig
from disc_core.engine.experiment import run_experiment

ROOT = Path(__file__).resolve().parent.parent


def _app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception, at.exception
    at.switch_page("views/inspect.py").run()
    assert not at.exception, at.exception
    return at


def _figure(at: AppTest, key: str):
    import plotly.io as pio

    for chart in at.get("plotly_chart"):
        if key in chart.proto.id:
            return pio.from_json(chart.proto.spec)
    raise AssertionError(f"no chart {key!r} on the page")


def _array(v) -> np.ndarray:
    """A trace's data; plotly's JSON packs numeric arrays as base64 (``{"dtype", "bdata", "shape"}``)."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
        return a.reshape([int(n) for n in str(v["shape"]).split(",")]) if "shape" in v else a
    return np.asarray(v, dtype=float)


@pytest.fixture
def store(monkeypatch, tmp_path):
    from disc_core.runs.store import RunStore

    monkeypatch.setenv("DISC_RUNS_DIR", str(tmp_path / "runs"))
    return RunStore()


def _finished(store, cfg, group):
    run_id = store.create(cfg, group=group)
    store.update(run_id, status="running")
    res = run_experiment(cfg, store.run_dir(run_id))
    store.finish(run_id, "finished", results=res)
    return run_id


def test_without_finished_runs_the_page_says_what_to_do(store):
    at = _app()
    assert any("No finished run with a saved model" in i.value for i in at.info)


def test_the_page_looks_inside_pretrained_and_rand_once_then_draws_them(store, tiny_model):
    base = RunConfig(dataset="splice-synthetic", model_name_or_path=tiny_model, seed=1, max_steps=6, eval_steps=3,
                     learning_rate=1e-3, per_device_train_batch_size=16)
    for v in ("pretrained", "rand", "kmer-lr"):
        _finished(store, base.replace(variant=v), "g1")
    at = _app()
    assert at.multiselect(key="inspect-runs-g1").value == ["pretrained seed 1", "rand seed 1"]
    assert "kmer-lr seed 1" not in at.multiselect(key="inspect-runs-g1").options  # a baseline has no BERT
    at.select_slider(key="inspect-examples").set_value(8).run()
    assert any("Not looked inside yet" in i.value for i in at.info)
    at.button(key="inspect-go").click().run()
    assert not at.exception, at.exception
    cka = _figure(at, "inspect-cka")
    assert [t.name for t in cka.data] == ["pretrained seed 1", "rand seed 1"]
    assert all(len(t.y) == 3 and all(0 <= y <= 1 + 1e-9 for y in t.y) for t in cka.data)  # embeddings + 2 layers
    drift = _figure(at, "inspect-drift")
    assert len(drift.data) == 2 and all(len(t.x) == 4 for t in drift.data)  # A, C, G, T
    assert len(_figure(at, "inspect-entropy").data) == 4  # fine-tuned and start of each run
    heat = _figure(at, "inspect-att").data[0]
    z = _array(heat.z)
    assert z.shape[0] == z.shape[1] == len(heat.x)
    assert z.sum(axis=1) == pytest.approx(np.ones(len(z)), abs=5e-3)  # attention rows sum to 1
    # saved beside the runs: a fresh session draws at once, without the button
    again = _app()
    again.select_slider(key="inspect-examples").set_value(8).run()
    assert not any("Not looked inside yet" in i.value for i in again.info)
    assert len(_figure(again, "inspect-cka").data) == 2
    # another layer and head of the other run redraw the heat map from the saved maps
    again.selectbox(key="inspect-att-run").set_value("rand seed 1").run()
    again.selectbox(key="inspect-att-layer").set_value(1).run()
    again.selectbox(key="inspect-att-head").set_value(0).run()
    assert not again.exception, again.exception
    assert "rand seed 1" in _figure(again, "inspect-att").layout.title.text
    assert "layer 1, head 0" in _figure(again, "inspect-att").layout.title.text
