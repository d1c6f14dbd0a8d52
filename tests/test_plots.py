"""The plot builders the dashboard and the report draw with (``disc_core.plots``): smoothing, the loss and
validation curves, the results bar, Figure 3, the dataset figures and the embedding projection."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from disc_core import plots


def test_smoothing():
    y = [4.0, 0.0, 4.0, 0.0, 4.0, 0.0]
    assert np.allclose(plots.ema(y, 0.0), y)
    assert plots.ema([2.0, 2.0, 2.0], 0.9)[0] == pytest.approx(2.0)  # debiased: no pull towards 0
    assert np.ptp(plots.ema(y, 0.8)[2:]) < np.ptp(y)
    assert np.allclose(plots.moving_average(y, 2), [4, 2, 2, 2, 2, 2])
    with pytest.raises(ValueError):
        plots.smooth(y, "median")


def test_loss_figure_colours_raw_traces_and_axes():
    events = [{"kind": "step", "step": k, "loss": 1.0 / k, "elapsed_s": 0.5 * k} for k in range(1, 11)]
    events += [{"kind": "eval", "step": 5, "split": "validation", "elapsed_s": 2.6, "metrics": {"accuracy": 0.7}},
               {"kind": "eval", "step": 10, "split": "test", "elapsed_s": 5.1, "metrics": {"accuracy": 0.8}}]
    a = plots.series_from_events("pretrained s1", "pretrained", events)
    b = plots.series_from_events("rand s1", "rand", events)
    assert a.evals["accuracy"] == ([5], [2.6], [0.7])  # the test evaluation is not a validation point
    fig = plots.loss_figure([a, b], "moving average", 3, log_y=True, x="time")
    raw = [t for t in fig.data if t.showlegend is False]
    main = [t for t in fig.data if t.showlegend is not False]
    assert len(raw) == 2 and all("0.22" in t.line.color for t in raw)
    assert [t.line.color for t in main] == [plots.VARIANT_COLORS["pretrained"], plots.VARIANT_COLORS["rand"]]
    assert fig.layout.yaxis.type == "log" and list(main[0].x) == [0.5 * k for k in range(1, 11)]
    assert len(plots.loss_figure([a], "none").data) == 1
    assert list(plots.eval_figure([a, b], "accuracy").data[0].y) == [0.7]


def test_results_bar_and_pretraining_figure():
    table = pd.DataFrame({"variant": ["pretrained", "rand"], "metric": ["accuracy"] * 2, "mean": [0.9, 0.6],
                          "std": [0.01, 0.05], "n": [3, 3], "paper": [0.95, None]})
    fig = plots.results_bar(table)
    assert list(fig.data[0].error_y.array) == [0.01, 0.05]
    assert list(fig.data[1].x) == ["pretrained"]  # only known paper numbers are drawn
    assert plots.pretraining_step("google/multiberts-seed_0-step_20k") == 20000
    assert plots.pretraining_step("/models/ckpt-step-500") == 500 and plots.pretraining_step("bert") is None
    res = [{"model": f"google/multiberts-seed_0-step_{s}k", "label": "pretrained", "score": 0.5 + s / 4000}
           for s in (0, 20, 2000)]
    fig3 = plots.pretraining_figure(res)
    assert list(fig3.data[0].x) == [0, 20000, 2000000]
    # steps over orders of magnitude: one tick per checkpoint, in step order
    assert fig3.layout.xaxis.type == "category" and list(fig3.layout.xaxis.categoryarray) == [0, 20000, 2000000]
    assert plots.pretraining_figure(res[:1]) is None


def test_dataset_figures():
    from disc_core.data import load_dataset

    ds = load_dataset("splice-synthetic")
    assert {t.name for t in plots.class_balance(ds).data} == {"train", "validation", "test"}
    assert len(plots.length_histogram(ds).data) == 3
    fig = plots.symbol_frequency(Counter("AAAACCG"), top=2)
    assert list(fig.data[0].x) == ["A", "C"] and fig.data[0].y[0] == pytest.approx(4 / 7)


def test_embedding_projection_pca(tiny_model):
    emb = plots.input_embeddings(tiny_model)
    assert emb.shape == (30522, 32)
    proj, ratio = plots.pca_2d(np.array([[0.0, 0.0, 1.0], [2.0, 0.0, 1.0], [4.0, 0.1, 1.0]]))
    assert ratio[0] > 0.99 and np.allclose(np.abs(proj[:, 0]), [2.0, 0.0, 2.0], atol=0.01)
    fig = plots.embedding_projection(emb, [1996, 1997], ["A", "C"], ["the", "of"], background=100)
    assert len(fig.data[0].x) == 100 and list(fig.data[1].text) == ["A → the", "C → of"]



def test_eval_axes_stay_in_range_and_step_ticks_never_repeat():
    events = [{"kind": "eval", "step": k, "split": "validation", "elapsed_s": k, "metrics": {"accuracy": v, "mcc": -0.2}}
              for k, v in ((1, 0.5), (2, 0.9), (3, 1.0))]
    s = plots.series_from_events("pretrained s1", "pretrained", events)
    fig = plots.eval_figure([s], "accuracy")
    assert tuple(fig.layout.yaxis.range) == (0.0, 1.0)
    assert fig.layout.xaxis.dtick == 1 and fig.layout.xaxis.tickformat == "d"  # 1, 2, 3: not 1, 1, 2, 2, 3
    assert tuple(plots.eval_figure([s], "mcc").layout.yaxis.range) == (-1.0, 1.0)
    steps = [{"kind": "step", "step": k, "loss": 1.1 - k / 1000, "elapsed_s": k} for k in range(1, 41)]
    loss = plots.loss_figure([plots.series_from_events("a", "rand", steps)], log_y=True)
    assert loss.layout.yaxis.tickformat == ".3~g" and loss.layout.xaxis.tickformat == "d"
    empty = plots.loss_figure([], empty_note="queued · 2 runs ahead")
    assert empty.layout.annotations[0].text == "queued · 2 runs ahead"


def test_embedding_labels_only_the_chosen_symbols_when_crowded():
    emb = np.random.default_rng(0).normal(size=(200, 8)).astype(np.float32)
    names = [f"p{k}" for k in range(30)]
    fig = plots.embedding_projection(emb, list(range(30)), names, [f"t{k}" for k in range(30)], background=50)
    chosen = fig.data[-1]
    assert not any(chosen.text) and list(chosen.hovertext)[:2] == ["p0 → t0", "p1 → t1"]
    fig = plots.embedding_projection(emb, list(range(30)), names, [f"t{k}" for k in range(30)], background=50,
                                     labelled=["p3"])
    assert [t for t in fig.data[-1].text if t] == ["p3 → t3"]


def test_a_one_step_run_draws_its_point():
    """A line needs two points: a run of one logged step is drawn as a marker, not an empty chart."""
    one = plots.series_from_events("pretrained s1", "pretrained", [{"kind": "step", "step": 1, "loss": 0.7,
                                                                    "elapsed_s": 1.0}])
    fig = plots.loss_figure([one], "ema")
    shown = [t for t in fig.data if t.showlegend is not False]
    assert len(shown) == 1 and "markers" in shown[0].mode and list(shown[0].y) == [pytest.approx(0.7)]
    assert not fig.layout.annotations  # not the empty chart's note
    two = plots.series_from_events("rand s1", "rand", [{"kind": "step", "step": k, "loss": 0.7, "elapsed_s": k}
                                                       for k in (1, 2)])
    assert [t for t in plots.loss_figure([two], "none").data][0].mode == "lines"
