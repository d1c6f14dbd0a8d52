"""The dashboard, page by page, through Streamlit's AppTest (no browser); the plot builders are tested in
``test_plots.py``.

Each page test drives the app the way a user does (``app.py`` and its navigation) and asserts on what
the page shows. Training uses the tiny BERT fixture; the run store is the per-test-session one that
``conftest.py`` points ``DISC_RUNS_DIR`` at.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from disc_core.engine.config import RunConfig

ROOT = Path(__file__).resolve().parent.parent


def _app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, at.exception
    return at


def _figure(at: AppTest, k: int):
    """The k-th plotly chart on the page, as a plotly Figure."""
    import plotly.io as pio

    return pio.from_json(at.get("plotly_chart")[k].proto.spec)


def _values(v) -> list:
    """A trace's data array; plotly's JSON packs numeric arrays as base64 (``{"dtype", "bdata"}``)."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)


def _texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error", "success", "title")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------

def test_overview_explains_and_demo_button_queues_runs_and_opens_them(no_workers):
    at = _app()
    assert "Pretrained beats scratch" in _texts(at)
    at.button(key="overview-demo").click().run()
    assert not at.exception, at.exception
    from disc_core.runs.store import RunStore

    group = at.session_state["_shared_group"]
    queued = RunStore().list(group=group)
    assert sorted(r.label for r in queued) == ["pretrained", "rand", "re-emb"]
    assert all(r.dataset == "splice-synthetic" and r.config["max_steps"] for r in queued)
    assert no_workers.submitted and set(no_workers.submitted) == {r.id for r in queued}
    # the button took us to the Runs page, on the demo's group, which lists its three queued runs
    assert at.query_params.get("group") in (group, [group])
    assert at.selectbox(key="runs-group").value == group
    lines = [m.value for m in at.markdown if "seed 1" in m.value]
    assert len(lines) == 3 and all("queued" in line for line in lines)
    for r in queued:  # no worker serves them: leave nothing queued for the other tests
        RunStore().finish(r.id, "cancelled")


def test_datasets_page_shows_a_builtin_dataset():
    at = _app("datasets")
    assert at.selectbox(key="datasets-builtin-name").value == "splice-synthetic"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["train"] == "2,700" and metrics["classes"] == "3" and metrics["paper metric"] == "accuracy"
    assert len(at.get("plotly_chart")) == 3  # classes, lengths, symbol frequencies
    examples = at.dataframe[0].value
    assert len(examples) == 8 and set(examples["sequence"].iloc[0].split()) <= set("ACGT")
    at.selectbox(key="datasets-builtin-name").set_value("amp-tm").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["classes"] == "2"


def test_datasets_page_says_where_to_put_missing_paper_files(monkeypatch, tmp_path):
    monkeypatch.setenv("DISC_DATA_DIR", str(tmp_path / "empty"))
    at = _app("datasets")
    at.radio(key="datasets-origin").set_value("The paper's").run()
    at.selectbox(key="datasets-paper-name").set_value("splice").run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "Put the files here" in warning and "download splice" in warning
    assert at.button(key="datasets-download")  # offered; not clicked: no network in tests


@pytest.mark.realdata
def test_datasets_page_downloads_with_progress_then_shows_the_data(real_data_dir, monkeypatch, tmp_path):
    """The download button over a loopback mirror of the real files (no internet needed)."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(real_data_dir))
    handler.log_message = lambda *a: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        monkeypatch.setenv("DISC_DOWNLOAD_MIRROR", f"http://127.0.0.1:{srv.server_address[1]}")
        monkeypatch.setenv("DISC_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.setenv("DISC_DATA_DIR", str(tmp_path / "empty"))
        at = _app("datasets")
        at.radio(key="datasets-origin").set_value("The paper's").run()
        at.selectbox(key="datasets-paper-name").set_value("splice").run()
        at.button(key="datasets-download").click().run()
    finally:
        srv.shutdown()
        srv.server_close()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert {m.label: m.value for m in at.metric}["train"] == "2,871"
    assert (tmp_path / "cache" / "downloads" / "dna_splice" / "splice.txt").is_file()


def test_download_failure_is_an_error_box(monkeypatch, tmp_path):
    from disc_core.errors import DownloadError

    def offline(name, progress=None, **kw):
        progress(0, 100)
        raise DownloadError("cannot reach raw.githubusercontent.com; are you offline?")

    monkeypatch.setattr("disc_core.data.download.download", offline)
    monkeypatch.setenv("DISC_DATA_DIR", str(tmp_path / "empty"))
    at = _app("datasets")
    at.radio(key="datasets-origin").set_value("The paper's").run()
    at.selectbox(key="datasets-paper-name").set_value("splice").run()
    at.button(key="datasets-download").click().run()
    assert not at.exception
    assert "are you offline" in " ".join(e.value for e in at.error)


def test_bad_upload_shows_the_loaders_message_not_a_traceback():
    at = _app("datasets")
    at.radio(key="datasets-origin").set_value("Your own").run()
    at.file_uploader(key="datasets-upload").upload("../../etc/evil name.csv", b"sequence,label\nACGT,1\nACGA,1\n",
                                                   "text/csv")
    at.text_input(key="datasets-upload-name").set_value("bad-one").run()
    at.button(key="datasets-import").click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "only one class" in errors and "evil name.csv" in errors and "disc-upload-" not in errors
    assert not (Path("/etc") / "evil name.csv").exists()


def test_good_upload_is_imported_and_shown():
    rows = ["sequence,label"] + [f"{'ACGT' * 5}{'A' * (k % 7)},{'yes' if k % 2 else 'no'}" for k in range(40)]
    at = _app("datasets")
    at.radio(key="datasets-origin").set_value("Your own").run()
    at.file_uploader(key="datasets-upload").upload("mine.csv", "\n".join(rows).encode(), "text/csv")
    at.text_input(key="datasets-upload-name").set_value("upload-ok").run()
    at.button(key="datasets-import").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="datasets-user-name").value == "upload-ok"
    assert sum(int(m.value.replace(",", "")) for m in at.metric[:3]) == 40


def test_mapping_page_strategies_table_and_chips():
    at = _app("mapping")
    table = at.dataframe[0].value
    assert list(table["symbol"]) and set(table["symbol"]) == set("ACGT")
    assert not table["token"].str.startswith("[").any()  # frequent: whole words, no special/unused rows
    assert "background:" in _texts(at)  # coloured chips drawn
    at.radio(key="mapping-strategy").set_value("unused").run()
    assert at.dataframe[0].value["token"].str.startswith("[unused").all()
    at.radio(key="mapping-strategy").set_value("custom").run()
    at.text_area(key="mapping-table").set_value("A,the\nC,the\nG,of\nT,and").run()
    assert not at.exception
    assert "one-to-one" in " ".join(e.value for e in at.error)  # enforced, and shown as an error box


def test_mapping_page_embedding_projection():
    at = _app("mapping")
    at.toggle(key="mapping-emb").set_value(True).run()
    assert not at.exception, at.exception
    fig = _figure(at, -1)
    chosen = [t for t in fig.data if t.name == "mapped tokens"][0]
    assert len(_values(chosen.x)) == 4 and "the" in " ".join(chosen.text)


def test_mapping_page_text_shift_shows_both_sentences(tmp_path):
    from disc_core.data.user import import_user_dataset

    csv = tmp_path / "sentences.csv"
    csv.write_text("sentence,label\n" + "\n".join(f"the film was {w},{k % 2}" for k, w in
                                                   enumerate(["good", "bad", "fine", "awful"] * 5)))
    import_user_dataset(csv, name="tiny-text", discipline="text", overwrite=True)
    at = _app("mapping")
    at.selectbox(key="mapping-dataset").set_value("tiny-text").run()
    assert not at.exception, at.exception
    assert at.radio(key="mapping-text-mode").value == "shift" and at.number_input(key="mapping-c").value == 1000
    text = "\n".join(t.value for t in at.text)
    assert "the film was" in text  # the original sentence
    shifted = at.dataframe[0].value
    assert (shifted["shifted_id"] != shifted["token_id"]).any()


def test_train_page_starts_from_a_plan_it_does_not_warn_about_and_offers_the_papers_recipe(own_store):
    at = _app("train")
    # this machine's first plan: 1e-4 (the demo's), one seed, the most steps whose estimate raises no warning
    assert at.number_input(key="train-lr").value == pytest.approx(1e-4)
    assert at.text_input(key="train-seeds").value == "1" and at.number_input(key="train-max-steps").value == 200
    assert at.multiselect(key="train-variants").value == ["pretrained", "rand", "re-emb"]
    assert not at.warning and "3 runs × 200 steps = 600 steps" in _infos(at)
    assert at.number_input(key="train-batch").value == 32
    assert at.selectbox(key="train-attn-dropout").value == "model's own (0.1)"  # the paper's recipe: BERT's
    assert "Device:" in _texts(at)
    at.button(key="train-paper").click().run()  # the paper's recipe, one click: the page warns about it
    assert at.number_input(key="train-lr").value == pytest.approx(1e-5)
    assert at.text_input(key="train-seeds").value == "1, 2, 3" and at.number_input(key="train-max-steps").value == 0
    assert "cannot be told apart" in " ".join(w.value for w in at.warning)
    at.text_input(key="train-seeds").set_value("1, x").run()
    assert "is not a seed" in " ".join(e.value for e in at.error)
    assert at.button(key="train-launch").disabled


def test_train_page_keeps_its_settings_when_you_leave_it(own_store):
    at = _app("train")
    at.number_input(key="train-max-steps").set_value(7).run()
    at.text_input(key="train-seeds").set_value("4, 5").run()
    at.multiselect(key="train-variants").set_value(["rand"]).run()
    at.switch_page("views/results.py").run()
    at.switch_page("views/train.py").run()
    assert not at.exception, at.exception
    assert at.number_input(key="train-max-steps").value == 7 and at.text_input(key="train-seeds").value == "4, 5"
    assert at.multiselect(key="train-variants").value == ["rand"]
    assert "2 runs × 7 steps" in _infos(at)


def test_train_custom_mapping_takes_a_table_checked_before_launch(own_store, no_workers, tiny_model):
    at = _app("train")
    at.radio(key="train-model-source").set_value("local folder").run()
    at.text_input(key="train-model-ref").set_value(tiny_model).run()
    at.number_input(key="train-max-steps").set_value(2).run()
    at.selectbox(key="train-mapping").set_value("custom").run()
    assert not at.exception, at.exception
    assert at.button(key="train-launch").disabled  # no table yet: Launch is off, and the page says why
    assert "Launch needs a valid mapping table" in " ".join(w.value for w in at.warning)
    at.text_area(key="train-table").set_value("A,the\nC,of\nG,and\nT,notaword").run()
    errors = " ".join(e.value for e in at.error)
    assert "line 4" in errors and "notaword" in errors and at.button(key="train-launch").disabled
    at.text_area(key="train-table").set_value("A,the\nC,of\nG,and\nT,to").run()
    assert not at.error and not at.button(key="train-launch").disabled
    at.button(key="train-launch").click().run()
    assert not at.exception, at.exception
    runs = own_store.list()
    assert len(runs) == 3 and all(r.config["mapping"] == "custom" for r in runs)
    table = Path(runs[0].config["mapping_table"])  # kept in the run store, where the workers read it
    assert table.is_file() and table.parent == own_store.root / "tables" and "T,to" in table.read_text()


def test_train_launch_creates_runs_that_the_runs_page_shows_and_cancels(tiny_model):
    """Launch from Train (tiny model folder, few steps) -> real background workers -> the Runs page.

    The runs are cancelled from the page instead of awaited: training to the end, live curves and the
    results table are what the browser test watches.
    """
    from disc_core.runs.store import RunStore

    at = _app("train")
    at.radio(key="train-model-source").set_value("local folder").run()
    at.text_input(key="train-model-ref").set_value(tiny_model).run()
    at.multiselect(key="train-variants").set_value(["pretrained", "rand"]).run()
    at.text_input(key="train-seeds").set_value("1").run()
    at.number_input(key="train-max-steps").set_value(3).run()
    at.slider(key="train-fraction").set_value(0.5).run()
    at.selectbox(key="train-attn-dropout").set_value("off (0.0)").run()
    at.button(key="train-launch").click().run()
    assert not at.exception, at.exception
    assert "Queued 2 runs" in " ".join(s.value for s in at.success)
    group = at.session_state["_shared_group"]
    runs = RunStore().list(group=group)
    assert sorted(r.label for r in runs) == ["pretrained", "rand"]
    assert all(r.config["model_name_or_path"] == tiny_model and r.config["max_steps"] == 3
               and r.config["train_fraction"] == 0.5 and r.config["learning_rate"] == 1e-4
               and r.config["attention_dropout"] == 0.0 for r in runs)

    at.switch_page("views/runs.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="runs-group").value == group
    lines = [m.value for m in at.markdown if "seed 1" in m.value]
    assert len(lines) == 2 and all(("queued" in ln or "running" in ln or "finished" in ln) for ln in lines)
    for r in runs:
        if RunStore().get(r.id).active:
            at.button(key=f"runs-cancel-{r.id}").click().run()
            assert not at.exception, at.exception
    assert all(not i.active for i in RunStore().list(group=group))  # no worker left behind


def test_results_page_table_paper_numbers_exports_and_figure3():
    from disc_core.runs.store import RunStore

    store = RunStore()
    for step, seed, label, score in [(0, 1, "pretrained", 0.60), (0, 2, "pretrained", 0.62), (0, 1, "rand", 0.50),
                                     (0, 2, "rand", 0.51), (20, 1, "pretrained", 0.80), (20, 2, "pretrained", 0.84)]:
        cfg = RunConfig(dataset="splice", variant=label, seed=seed, group="fig3",
                        model_name_or_path=f"/ckpts/step_{step}k")
        run_id = store.create(cfg)
        store.update(run_id, status="running")
        store.finish(run_id, "finished", results={"metric": "accuracy", "score": score})
    at = _app("results")
    assert not at.exception, at.exception
    assert at.selectbox(key="results-dataset").value == "splice"
    assert at.selectbox(key="results-model").value == "/ckpts/step_20k"  # the last checkpoint first
    assert list(at.table[0].value.index) == ["pretrained"]
    at.selectbox(key="results-model").set_value("/ckpts/step_0k").run()
    table = at.table[0].value
    assert list(table.index) == ["pretrained", "rand"] and list(table["runs"]) == [2, 2]
    assert table.loc["rand", "mean ± std"] == "0.5050 ± 0.0071"
    # the paper's Table 2 beside ours, on our 0-1 scale with the number as printed
    assert table.loc["pretrained", "paper ÷100 (as printed)"] == "0.975 (97.5)"
    assert table.loc["rand", "paper ÷100 (as printed)"] == "0.95 (95)" and table.loc["rand", "paper's table"] == "Table 2"
    paper = at.table[1].value  # every number the paper prints for Splice, as printed
    assert paper.loc["specific", "test (Table 2)"] == "94.1" and paper.loc["rand", "validation (Appendix Table 2)"] == "96.2"
    assert [b.label for b in at.get("download_button")] == ["CSV", "JSON", "Markdown"]
    assert "pretrained > rand" in _texts(at)  # the paired test across seeds
    fig3 = _figure(at, -1)
    assert "pre-training steps" in fig3.layout.title.text and _values(fig3.data[0].x) == [0, 20000]


def test_runs_cancel_button_cancels_a_queued_run(monkeypatch):
    from disc_core.runs.store import RunStore

    store = RunStore()
    run_id = store.create(RunConfig(group="to-cancel", max_steps=5))
    at = _app()
    at.switch_page("views/runs.py").run()
    at.selectbox(key="runs-group").set_value("to-cancel").run()
    at.button(key=f"runs-cancel-{run_id}").click().run()
    assert not at.exception, at.exception
    assert store.get(run_id).status == "cancelled"


def test_empty_run_store_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("DISC_RUNS_DIR", str(tmp_path / "no-runs"))
    for page in ("runs", "results"):
        at = _app(page)
        assert "No" in " ".join(i.value for i in at.info) and "Train" in " ".join(i.value for i in at.info)


def test_a_failed_run_shows_its_error(monkeypatch):
    from disc_core.runs.store import RunStore

    store = RunStore()
    run_id = store.create(RunConfig(group="broken", max_steps=5))
    store.update(run_id, status="running")
    store.finish(run_id, "failed", error="DataError: symbol 'Z' (position 3) is not in the frequent mapping")
    at = _app()
    at.switch_page("views/runs.py").run()
    at.selectbox(key="runs-group").set_value("broken").run()
    assert "symbol 'Z'" in " ".join(e.value for e in at.error)


def test_demo_configs_are_the_three_variants_on_builtin_data():
    from disc_core.study.demo import DEMO_STEPS, demo_configs

    cfgs = demo_configs()
    assert [c.label for c in cfgs] == ["pretrained", "rand", "re-emb"]
    assert len({c.group for c in cfgs}) == 1 and cfgs[0].group.startswith("demo-")
    assert all(c.max_steps == DEMO_STEPS and c.dataset == "splice-synthetic" and c.seed == 1 for c in cfgs)
    assert RunConfig.from_dict(cfgs[0].to_dict()) == cfgs[0]


def test_reproduction_page_empty_then_shows_the_study_tables(tiny_model, tmp_path, monkeypatch):
    from disc_core.engine.config import RunConfig as _RC
    from disc_core.study.compare import comparison_configs, run_comparison

    at = _app("reproduction")
    # the published numbers (docs/REPRODUCTION.json, committed with the report) come first
    assert at.radio(key="repro-source").value == "Published report"
    text = _texts(at)
    assert "docs/REPRODUCTION.json" in text and "| splice | pretrained | accuracy |" in text
    assert "| 0.975 (97.5) | Table 2 |" in text  # the paper's number beside ours, ÷100 and as printed
    # the orderings set the paper's own difference beside ours: Splice, 97.5 against 95.0
    o = next(d.value for d in at.dataframe if "paper's diff" in d.value.columns and "splice" in set(d.value["dataset"]))
    row = o[(o["dataset"] == "splice") & (o["paper's claim"] == "pretrained > rand")].iloc[0]
    assert row["paper's diff"] == "+0.0250" and row["ours against the paper's diff"]
    assert any("*cannot tell*" in c.value for c in at.caption)
    # and the training-loss comparison (the paper's Figure 2), which the published file carries without curves
    losses = next(d.value for d in at.dataframe if "seeds where pretrained is lower" in d.value.columns)
    assert {"text", "non-text"} <= set(losses["study"]) and set(losses["verdict"]) >= {"below on every seed"}
    at.radio(key="repro-source").set_value("My run folders").run()
    at.text_input(key="repro-root").set_value(str(tmp_path / "none")).run()
    assert not at.exception
    assert "No reproduction runs under" in _texts(at)

    root = tmp_path / "repro"
    base = _RC(dataset="splice-synthetic", model_name_or_path=tiny_model, max_steps=2, save_model=False,
               max_eval_examples=16)
    run_comparison(comparison_configs(base, ["pretrained", "rand"], [1, 2]), root / "non-text")
    at.text_input(key="repro-root").set_value(str(root)).run()
    assert not at.exception, at.exception
    text = _texts(at)
    assert "| splice-synthetic | pretrained | accuracy |" in text and "| splice-synthetic | rand | accuracy |" in text
    orderings = at.dataframe[0].value
    assert "pretrained > rand" in set(orderings["paper's claim"])


# --------------------------------------------------------------------------------------------
# The classroom (issue 11): one shared demo, the visible queue, launch with eyes open, honest results
# --------------------------------------------------------------------------------------------

@pytest.fixture
def own_store(monkeypatch, tmp_path):
    """A run store of this test's own (the session's store holds the other tests' runs)."""
    from disc_core.runs.store import RunStore

    monkeypatch.setenv("DISC_RUNS_DIR", str(tmp_path / "runs"))
    return RunStore()


def _infos(at: AppTest) -> str:
    return " ".join(i.value for i in at.info)


def test_two_sessions_pressing_the_demo_share_one_demo_and_a_fresh_one_is_explicit(own_store, no_workers):
    first, second = _app(), _app()
    from disc_core.study.demo import DEMO_STEPS

    assert f"How long here:** 3 runs × {DEMO_STEPS} steps = {3 * DEMO_STEPS} steps" in _texts(first)  # its time here
    assert "all-MiniLM-L6-v2: no run of it has" in _texts(first) and "so a default" in _texts(first)
    first.button(key="overview-demo").click().run()
    second.button(key="overview-demo").click().run()  # a second tab, a moment later
    assert not first.exception and not second.exception
    group = first.selectbox(key="runs-group").value
    assert second.selectbox(key="runs-group").value == group and own_store.groups() == [group]
    assert len(no_workers.submitted) == 3  # one demo's workers, not two
    assert "You started the demo" in _infos(first) and "you joined it" in _infos(second)
    third = _app()  # the Overview now says a press joins the demo that is on; a new one only when asked for
    said = _infos(third).replace("**", "")
    assert f"A demo with these settings is queued now ({group})" in said and "you join it" in said
    # not the cost of a new demo: the queue ahead is the demo itself (the STS-B demo's card, where the data is
    # here, still gives its own cost)
    assert f"How long here:** 3 runs × {DEMO_STEPS}" not in _texts(third)
    third.button(key="overview-demo-fresh-splice").click().run()
    assert not third.exception and len(own_store.groups()) == 2 and len(no_workers.submitted) == 6


def test_the_scrambled_text_demo_is_offered_only_with_stsb(own_store, no_workers, monkeypatch, tmp_path):
    monkeypatch.setenv("DISC_DATA_DIR", str(tmp_path / "empty"))
    at = _app()
    assert "needs the STS-B data" in _texts(at)
    with pytest.raises(KeyError):
        at.button(key="overview-demo-stsb-shift")


@pytest.mark.realdata
def test_the_scrambled_text_demo_on_stsb(real_data_dir, own_store, no_workers):
    at = _app()
    assert "2 runs × 200 steps" in _texts(at) and "57.0 against 4.3" in _texts(at)
    at.button(key="overview-demo-stsb-shift").click().run()
    assert not at.exception, at.exception
    runs = own_store.list(group=at.session_state["_shared_group"])
    assert sorted(r.label for r in runs) == ["pretrained+shift", "rand+shift"]
    assert all(r.config["train_fraction"] == 0.01 and r.config["max_steps"] == 200 for r in runs)


def test_train_page_estimates_the_plan_and_warns_before_launch(own_store):
    at = _app("train")
    # steps and epochs sit outside the collapsed recipe
    assert "train-max-steps" not in [n.key for n in at.expander[0].number_input]
    assert "train-max-steps" in [n.key for n in at.number_input] and "train-epochs" in [n.key for n in at.number_input]
    # the paper's recipe on splice-synthetic: 3 epochs of 85 steps, 9 runs, at the default speed (no run here yet)
    at.button(key="train-paper").click().run()
    assert "Before you launch:** 9 runs × 255 steps = 2,295 steps: about 41 min on this machine" in _infos(at)
    warnings = " ".join(w.value for w in at.warning)
    assert "more than 30 min" in warnings and "stays at the majority class" in warnings
    at.number_input(key="train-lr").set_value(1e-4).run()
    at.number_input(key="train-max-steps").set_value(60).run()
    at.text_input(key="train-seeds").set_value("1").run()
    assert "3 runs × 60 steps = 180 steps: about 4 min" in _infos(at) and not at.warning


def test_train_launch_clicked_twice_queues_once(own_store, no_workers, tiny_model):
    at = _app("train")
    at.radio(key="train-model-source").set_value("local folder").run()
    at.text_input(key="train-model-ref").set_value(tiny_model).run()
    at.text_input(key="train-seeds").set_value("1").run()
    at.number_input(key="train-max-steps").set_value(3).run()
    at.button(key="train-launch").click().run()
    at.button(key="train-launch").click().run()  # the double click
    assert not at.exception, at.exception
    assert len(own_store.groups()) == 1 and len(own_store.list()) == 3
    success = " ".join(s.value for s in at.success)
    assert "Queued 3 runs" in success and "queued · " in success  # where its first run stands
    assert any(link.proto.page.endswith("runs") or "Runs" in link.proto.label for link in at.get("page_link"))
    at.button(key="train-launch-again").click().run()  # asked for explicitly: a second copy
    assert len(own_store.groups()) == 2 and len(own_store.list()) == 6
    assert [p.get("steps") for p in (r.plan for r in own_store.list())] == [3] * 6  # sizes kept for the queue


def _finished_run(store, cfg, group, score=0.5, **results):
    run_id = store.create(cfg, group=group)
    store.update(run_id, status="running")
    store.finish(run_id, "finished", results={"metric": "accuracy", "score": score, "tokens_per_s": 1000.0,
                                              "tokens_seen": 20_000, "examples_seen": 400, "wall_time_s": 30.0,
                                              **results})
    return run_id


def test_runs_page_shows_the_queue_the_groups_eta_and_cancels_the_group(own_store):
    cfg = RunConfig(dataset="splice-synthetic", max_steps=20, per_device_train_batch_size=10)
    _finished_run(own_store, cfg, "done")  # measured speed: 1000 tokens/s, 10 s of overhead a run
    running = own_store.create(cfg, group="first")
    own_store.update(running, status="running", started=time.time(), step=5, eta_s=60.0, total_steps=20)
    queued = [own_store.create(cfg.replace(seed=s), group="second", plan={"steps": 20, "tokens_per_example": 50})
              for s in (1, 2)]
    for rid in [running, *queued]:
        own_store.beat(rid)  # alive as far as the store can tell (no worker in this test)
    at = _app("runs")
    at.selectbox(key="runs-group").set_value("second").run()
    assert not at.exception, at.exception
    lines = [m.value for m in at.markdown if " seed " in m.value]
    from disc_core.runs.queue import queue_view

    view = queue_view(own_store)  # each queued run's line is the queue's own word for it (runs ahead, start)
    said = [view.of(r).describe() for r in queued]
    assert said[0].startswith("queued · 1 run ahead, starts in about ") and "2 runs ahead" in said[1]
    assert all(any(f"seed {s} — {d}" in ln for ln in lines) for s, d in zip((1, 2), said)), (lines, said)
    bar = at.get("progress")[0].proto.text
    assert "Group second: 2 runs: 2 queued · 0/40 steps · done in about 2 min" in bar, bar
    panel = next(d.value for d in at.dataframe if "runs ahead" in d.value)  # the queue panel
    assert list(panel["status"]) == ["running", "queued", "queued"] and list(panel["runs ahead"]) == ["", "1", "2"]
    # the panel names the speeds behind the estimates, in the queue's own words
    assert all(sp.describe() in _texts(at) for sp in view.speeds.values()) and view.speeds
    at.button(key="runs-cancel-group").click().run()
    assert not at.exception, at.exception
    assert [own_store.get(r).status for r in queued] == ["cancelled", "cancelled"]
    assert own_store.get(running).status == "running"  # another group's run goes on
    own_store.finish(running, "cancelled")


def test_results_default_to_one_group_pool_only_same_configs_and_count_a_seed_once(own_store):
    base = RunConfig(dataset="splice-synthetic", max_steps=20, learning_rate=1e-4)
    level = {"majority_class": 0, "majority_accuracy": 0.52}
    for group, seeds in (("lr4-a", (1, 2)), ("lr4-b", (2, 3))):  # the same config; seed 2 run twice
        for s in seeds:
            for label, score in (("pretrained", 0.9 + s / 100), ("rand", 0.6 + s / 100)):
                _finished_run(own_store, base.replace(variant=label, seed=s), group, score, **level)
    for label in ("pretrained", "rand"):  # the newest group: another learning rate, one seed, one class only
        _finished_run(own_store, base.replace(variant=label, seed=1, learning_rate=1e-5), "lr5", 0.52,
                      predicts_one_class=True, **level)
    at = _app("results")
    assert not at.exception, at.exception
    assert at.multiselect(key="results-groups-splice-synthetic").value == ["lr5"]  # the newest group, alone
    table = at.table[0].value
    assert table.loc["pretrained", "mean ± std"] == "0.5200 (1 run, no spread)"
    assert table.loc["rand", "chance level"] == "0.5200 (majority class)"
    assert table.loc["rand", "predicts one class"] == "1 of 1 run"
    # two configurations chosen: not pooled; the page says what differs
    at.multiselect(key="results-groups-splice-synthetic").set_value(["lr5", "lr4-a"]).run()
    warning = " ".join(w.value for w in at.warning)
    assert "not pooled" in warning and "learning_rate: 1e-05 (lr5) vs 0.0001 (lr4-a)" in warning
    assert len(at.table) == 2 and list(at.table[1].value["runs"]) == [2, 2]
    # the same configuration: pooled, seed 2 counted once (the newer run)
    at.multiselect(key="results-groups-splice-synthetic").set_value(["lr4-a", "lr4-b"]).run()
    assert not at.warning and len(at.table) == 1
    table = at.table[0].value
    assert list(table["runs"]) == [3, 3] and table.loc["pretrained", "mean ± std"] == "0.9200 ± 0.0100"
    assert "repeat a variant and seed of a newer run (pretrained seed 2, rand seed 2)" in _texts(at)
    assert table.loc["pretrained", "predicts one class"] == "no"
    every_run = next(d.value for d in at.dataframe if "run" in d.value)
    assert "None" not in every_run.to_string() and "nan" not in every_run.to_string()


def test_results_start_from_the_group_of_the_address(own_store):
    base = RunConfig(dataset="splice-synthetic", max_steps=20)
    for group in ("older", "newer"):
        _finished_run(own_store, base.replace(variant="pretrained"), group)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state["_shared_group"] = "older"  # as the Runs page or a launch leaves it (and ?group= does)
    at.run().switch_page("views/results.py").run()
    assert not at.exception, at.exception
    assert at.multiselect(key="results-groups-splice-synthetic").value == ["older"]


def test_mapping_chips_colour_a_symbol_and_its_token_alike_and_the_table_has_no_missing_cells():
    import re

    at = _app("mapping")
    html_blocks = [m.value for m in at.markdown if "background:" in m.value]
    symbols, tokens = html_blocks[0], html_blocks[1]  # the first sample: its symbols, then their tokens
    span = re.compile(r'background:([^;]+);[^>]*>([^<]*)</span>')
    sym, tok = span.findall(symbols), span.findall(tokens)
    assert len(sym) == len(tok) and [c for c, _ in sym] == [c for c, _ in tok]  # position by position
    by_symbol = {}
    for c, s in sym:
        by_symbol.setdefault(s, set()).add(c)
    assert all(len(c) == 1 for c in by_symbol.values())  # a symbol has one colour
    assert len({next(iter(c)) for c in by_symbol.values()}) == len(by_symbol)  # distinct symbols, distinct colours
    at.radio(key="mapping-strategy").set_value("unused").run()
    table = at.dataframe[0].value
    assert set(table["frequency_rank"]) == {"not ranked"} and not table.isna().any().any()


def test_reproduction_page_states_its_significance_rule_and_has_contents():
    at = _app("reproduction")
    text = _texts(at)
    assert "Significance rule" in text and "lies above 0" in text
    contents = next(m.value for m in at.markdown if m.value.startswith("**Contents**"))
    # one entry per study the published numbers hold (docs/REPRODUCTION.json), each linking to its section
    import json

    studies = list(json.loads((ROOT / "docs" / "REPRODUCTION.json").read_text())["studies"])
    assert studies and all(f"(#study-{s})" in contents for s in studies)


def test_chip_colours_are_distinct_for_any_number_of_symbols():
    from ui.chips import CHIP_COLORS, chip_colors

    four = chip_colors("ACGT")
    assert len(set(four.values())) == 4 and set(four.values()) <= set(CHIP_COLORS)
    many = chip_colors([f"s{k}" for k in range(88)])  # a piano's worth of MIDI pitches
    assert len(set(many.values())) == 88
    assert chip_colors("TGCA") == four  # the same symbols, the same colours


def test_runs_page_tells_ray_runs_apart_from_this_machines_queue(own_store):
    cfg = RunConfig(dataset="splice-synthetic", max_steps=20)
    waiting = own_store.create(cfg, group="on-ray")
    own_store.update(waiting, executor="ray", ray_address="head:6379")  # in Ray's queue, no node yet
    local = own_store.create(cfg, group="here")
    at = _app()
    at.switch_page("views/runs.py").run()
    at.selectbox(key="runs-group").set_value("on-ray").run()
    assert not at.exception, at.exception
    shown = " ".join(m.value for m in at.markdown)
    assert "queued on the Ray cluster, waiting for a node" in shown
    assert any("On the Ray cluster: 0 running, 1 waiting for a node" in c.value for c in at.caption)
    # this machine's queue holds the local run only
    assert any("On this machine: 0 running, 1 queued" in e.label for e in at.expander)
    assert own_store.get(local).status == "queued" and own_store.get(waiting).status == "queued"


# --------------------------------------------------------------------------------------------
# Roles (issue 25): served to a room, the teacher secret gates what changes state
# --------------------------------------------------------------------------------------------

@pytest.fixture
def served(monkeypatch):
    """The dashboard served beyond localhost (``--server.address 0.0.0.0``) with a teacher secret."""
    from streamlit import config

    monkeypatch.setenv("DISC_TEACHER_SECRET", "s3cret-for-the-room")
    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    yield "s3cret-for-the-room"
    config.set_option("server.address", before)


def test_a_student_watches_and_presses_the_demo_and_the_secret_makes_a_teacher(served, own_store, no_workers):
    cfg = RunConfig(dataset="splice-synthetic", max_steps=5)
    run_id = own_store.create(cfg, group="lesson")
    at = _app()
    assert at.sidebar.text_input(key="role-secret")  # the field to enter the secret
    assert "Student" in " ".join(c.value for c in at.sidebar.caption)
    at.switch_page("views/runs.py").run()
    at.selectbox(key="runs-group").set_value("lesson").run()
    assert at.button(key=f"runs-cancel-{run_id}").disabled and at.button(key="runs-cancel-group").disabled
    at.switch_page("views/train.py").run()
    assert at.button(key="train-launch").disabled and at.radio(key="train-model-source").disabled
    at.sidebar.text_input(key="role-secret").set_value("not the secret").run()
    assert at.button(key="train-launch").disabled and "not the teacher's" in " ".join(
        c.value for c in at.sidebar.caption)
    at.switch_page("views/overview.py").run()
    at.button(key="overview-demo").click().run()  # a student presses the shared demo: allowed
    assert not at.exception, at.exception
    assert any(g.startswith("demo-") for g in own_store.groups())
    at.sidebar.text_input(key="role-secret").set_value(served).run()  # the teacher types the secret
    assert "Teacher" in " ".join(c.value for c in at.sidebar.caption)
    at.switch_page("views/runs.py").run()
    at.selectbox(key="runs-group").set_value("lesson").run()
    assert not at.button(key=f"runs-cancel-{run_id}").disabled
    at.button(key="runs-cancel-group").click().run()
    assert own_store.get(run_id).status == "cancelled"
    at.switch_page("views/train.py").run()
    assert not at.button(key="train-launch").disabled and not at.radio(key="train-model-source").disabled


def test_served_without_a_secret_nobody_changes_state(own_store, monkeypatch):
    from streamlit import config

    monkeypatch.delenv("DISC_TEACHER_SECRET", raising=False)
    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    try:
        at = _app("train")
        assert at.button(key="train-launch").disabled
        assert "without a teacher secret" in " ".join(c.value for c in at.sidebar.caption)
    finally:
        config.set_option("server.address", before)
    at = _app("train")  # served on localhost (the default config): everything is allowed, no secret field
    assert not at.button(key="train-launch").disabled
    with pytest.raises(KeyError):
        at.sidebar.text_input(key="role-secret")


# --------------------------------------------------------------------------------------------
# One demo per room (issue 26), and the CLI's demo command
# --------------------------------------------------------------------------------------------

def test_a_cancelled_fresh_demo_leaves_the_rooms_demo_the_one_to_join(own_store, no_workers):
    from disc_core.runs.runner import cancel_group
    from disc_core.study.demo import current_demo, demo_card, start_demo

    room = start_demo("splice", store=own_store)
    assert room.created and current_demo("splice", store=own_store) == room.group
    fresh = start_demo("splice", fresh=True, store=own_store)
    assert fresh.created and fresh.group != room.group
    cancel_group(fresh.group, store=own_store)
    # the Overview still shows the room's demo, and a press joins it instead of starting a second one
    assert current_demo("splice", store=own_store) == room.group
    card = demo_card("splice", store=own_store)
    assert card.group == room.group and card.state == "queued" and "you join it" in card.text
    again = start_demo("splice", store=own_store)
    assert not again.created and again.group == room.group
    assert len(own_store.groups()) == 2 and len(no_workers.submitted) == 6
    # the room's demo ends without finishing; a fresh one that runs is the one a press joins
    cancel_group(room.group, store=own_store)
    other = start_demo("splice", fresh=True, store=own_store)
    assert start_demo("splice", store=own_store).group == other.group == current_demo("splice", store=own_store)


def test_cli_demo_prints_its_group_and_joins_the_demo_on(own_store, no_workers, capsys):
    from disc_core.cli.main import main

    assert main(["demo", "--background"]) == 0
    first = capsys.readouterr().out
    group = first.splitlines()[0].removeprefix("group: ")
    assert first.startswith("group: demo-") and "queued 3 runs" in first
    assert main(["demo", "splice", "--background"]) == 0  # as a second press of the button: joins it
    second = capsys.readouterr().out
    assert second.splitlines()[0] == f"group: {group}" and "joined the demo that is on" in second
    assert own_store.groups() == [group] and len(no_workers.submitted) == 3


def test_runs_and_results_pages_say_a_run_stalled_and_the_store_was_rebuilt(own_store, monkeypatch):
    """The store's notes reach the dashboard, not only `runs list`: a live worker that stopped beating shows as
    stalled (no ETA, what to do), and a garbled store is set aside, rebuilt from the run folders and said so."""
    import os

    from disc_core.runs.store import HOST, RunStore

    cfg = RunConfig(dataset="splice-synthetic", max_steps=20, per_device_train_batch_size=10)
    _finished_run(own_store, cfg, "done")
    rid = own_store.create(cfg, group="stuck")
    own_store.update(rid, status="running", started=time.time(), step=5, eta_s=60.0, total_steps=20,
                     pid=os.getpid(), host=HOST)  # a live process: stalled, not dead
    own_store.beat(rid)
    monkeypatch.setenv("DISC_STALL_S", "1")
    time.sleep(1.2)
    assert own_store.get(rid).stalled
    at = _app("runs")
    at.selectbox(key="runs-group").set_value("stuck").run()
    line = next(m.value for m in at.markdown if " seed " in m.value)
    assert "running (stalled)" in line and "no heartbeat" in line and "ETA" not in line, line
    panel = next(d.value for d in at.dataframe if "runs ahead" in d.value)
    assert list(panel["status"]) == ["running (stalled)"]
    own_store.update(rid, status="cancelled")
    own_store.close()

    junk = os.urandom(4096)
    (Path(own_store.root) / "store" / "cache.db").write_bytes(junk)
    at = _app("results")
    warned = " ".join(w.value for w in at.warning)
    assert "set aside" in warned and "rebuilt" in warned, warned
    assert len(list(Path(own_store.root).glob("store.*-*"))) == 1
    assert {r.group for r in RunStore().list()} == {"done", "stuck"}  # nothing lost
