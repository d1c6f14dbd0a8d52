"""The reproduction command end to end (quick profile, tiny model): runs, reuse, report, figures."""

import re
from pathlib import Path
from dataclasses import replace

import pandas as pd
import pytest

from disc_core.cli.main import main
from disc_core.study.reproduce import PROFILES, build_plan, estimate_seconds

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tiny_model, tmp_path_factory):
    """One quick-profile run through the CLI, without the real data (built-in datasets only)."""
    mp = pytest.MonkeyPatch()
    mp.delenv("DISC_DATA_DIR", raising=False)
    base = tmp_path_factory.mktemp("repro")
    corpus = base / "corpus.txt"
    corpus.write_text("the cat sat on the mat .\na dog ran in the park .\nit was a good film .\n")
    args = ["reproduce", "--profile", "quick", "--root", str(base / "runs"), "--model", tiny_model,
            "--corpus", str(corpus), "--report", str(base / "docs" / "REPORT.md"),
            "--figures", str(base / "docs" / "figures"), "--no-progress", "--jobs", "2"]
    rc = main(args)
    yield base, args, rc
    mp.undo()


def test_quick_profile_runs_every_cell_and_writes_the_report(quick, capsys):
    base, _, rc = quick
    assert rc == 0
    cells = sorted((base / "runs").rglob("results.json"))
    # 4 variants x 2 seeds on splice-synthetic + 3 checkpoints x 1 seed; text/mrpc skipped without GLUE data
    assert len(cells) == 8 + 3
    assert (base / "runs" / "pretrain-steps" / "checkpoints" / "step_0" / "config.json").exists()
    report = (base / "docs" / "REPORT.md").read_text()
    assert "## Non-text transfer (the paper's Table 2)" in report
    assert re.search(r"\| splice-synthetic \| \(not in the paper\) \| re-emb \| accuracy \| \d\.\d{4} ± \d\.\d{4} \| 2 \| not in the paper \|",
                     report)
    assert "| splice-synthetic | pretrained > rand | 2 |" in report and "unused ≈ rand" in report
    assert "`text/mrpc` (pretrained, rand+shift): not run (0 of 4 cells)" in report  # missing cells listed, not invented
    assert "| splice-synthetic | 0 |" in report and "| splice-synthetic | 40 |" in report  # Figure 3 table
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert {"figures/loss_non-text_splice-synthetic.png", "figures/pretrain_steps_splice-synthetic.png"} <= set(links)
    for link in links:
        assert (base / "docs" / link).read_bytes()[:8] == PNG
    assert "python -m disc_core reproduce --profile quick" in report


def test_second_invocation_reuses_every_finished_run(quick, capsys):
    base, args, _ = quick
    before = {p: p.stat().st_mtime_ns for p in (base / "runs").rglob("*") if p.name in ("results.json", "metrics.jsonl",
                                                                                         "model.safetensors")}
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "ran 0 cells, reused 11" in out
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_report_only_and_bad_filter(quick, tmp_path, capsys):
    base, args, _ = quick
    rc = main(["reproduce", "--profile", "quick", "--root", str(base / "runs"), "--report-only",
               "--report", str(tmp_path / "r.md"), "--figures", str(tmp_path / "f")])
    assert rc == 0 and "## Pre-training steps" in (tmp_path / "r.md").read_text()
    assert main(["reproduce", "--profile", "quick", "--only", "nosuch", "--dry-run"]) == 2
    assert "matches no task" in capsys.readouterr().err
    # --quick is --profile quick
    assert main(["reproduce", "--quick", "--root", str(tmp_path / "q"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "non-text/splice-synthetic" in out and "non-text/deeploc" not in out


def test_the_estimate_models_bf16_and_attention_dropout():
    # the laptop plan is sized for a CPU with native bf16 (AMX), as on the machine it ran on; in fp32 it is longer
    hours = {p: sum(estimate_seconds(t, "all-MiniLM-L6-v2", cpu_bf16=True) for t in build_plan(p).tasks) / 3600
             for p in PROFILES if p != "gpu"}
    assert hours["quick"] < 0.2 < hours["laptop"]
    fp32 = sum(estimate_seconds(t, "all-MiniLM-L6-v2", cpu_bf16=False) for t in build_plan("laptop").tasks) / 3600
    assert fp32 > 1.25 * hours["laptop"]  # bf16 in training mode: 1.3x (502 tokens) to 1.4x (62) a step
    # without attention dropout a 502-token step is ~4x cheaper; at 62 tokens it changes nothing
    h4 = next(t for t in build_plan("laptop").tasks if t.key == "signal/h4")
    with_dropout = replace(h4, overrides={**h4.overrides, "attention_dropout": None})
    ratio = estimate_seconds(with_dropout, "all-MiniLM-L6-v2", True) / estimate_seconds(h4, "all-MiniLM-L6-v2", True)
    assert 3 < ratio < 4.5
    splice = next(t for t in build_plan("laptop").tasks if t.key == "non-text/splice")
    assert estimate_seconds(replace(splice, overrides={**splice.overrides, "attention_dropout": 0.0}),
                            "all-MiniLM-L6-v2", True) == estimate_seconds(splice, "all-MiniLM-L6-v2", True)


def test_laptop_budgets_are_whole_epochs_at_full_length():
    from disc_core.study.plan_cost import typical_tokens
    from disc_core.study.plans import epoch_steps

    laptop = build_plan("laptop")
    for t in laptop.tasks:
        o = t.overrides
        # nothing truncated below the task's own length
        if t.study in ("non-text", "signal", "best-lr"):
            assert o.get("max_length", 512) >= typical_tokens(t.dataset), t.key
        # whole epochs of the training set, or a budget the task's text states
        frac = o.get("train_fraction", 1.0)
        whole = o["max_steps"] % epoch_steps(t.dataset, 1, fraction=frac) == 0
        assert whole or f"{o['max_steps']} steps" in t.why, t.key
        assert o["eval_steps"] == max(1, o["max_steps"] // 8)
        if t.study in ("non-text", "text", "text-1pct", "best-lr", "pretrain-steps"):
            assert len(t.seeds) >= 3, t.key
    gpu = build_plan("gpu")
    assert gpu.model == "bert-base-uncased" and all(t.overrides.get("learning_rate") == 1e-5 for t in gpu.tasks)


def test_a_plan_file_expands_lists_and_grids_and_names_what_it_cannot_read(tmp_path):
    from disc_core.errors import ConfigError

    f = tmp_path / "mine.yaml"
    f.write_text("model: tiny\nbudget: true\nseeds: [0, 1]\nconfig: {learning_rate: 1.0e-04}\ntasks:\n"
                 "  - {study: lr-look, dataset: [splice, amp-tm], variants: [pretrained, rand], epochs: 2,\n"
                 "     each: {learning_rate: [3.0e-05, 3.0e-04]}, why: 'lr {learning_rate:g}, {ep}'}\n")
    plan = build_plan(str(f))
    assert [t.key for t in plan.tasks] == ["lr-look/splice/lr3e-05", "lr-look/splice/lr3e-04",
                                          "lr-look/amp-tm/lr3e-05", "lr-look/amp-tm/lr3e-04"]
    t = plan.tasks[0]
    assert t.overrides["learning_rate"] == 3e-5 and t.seeds == (0, 1) and plan.model == "tiny"
    assert t.why == f"lr 3e-05, 2 epochs ({t.overrides['max_steps']} steps of batch 32)"
    f.write_text("tasks:\n  - {study: text, dataset: mrpc, variants: [rand], epoch: 3}\n")
    with pytest.raises(ConfigError, match=r"unknown keys \['epoch'\]"):
        build_plan(str(f))
    f.write_text("tasks: [oops")
    with pytest.raises(ConfigError, match="mine.yaml: cannot read the plan"):
        build_plan(str(f))


def test_results_file_round_trip_and_bad_file(quick, tmp_path):
    """The JSON written beside the report gives the same tables as the run folders (the dashboard reads it)."""
    from disc_core.errors import DataError
    from disc_core.study.report import export_results, study_tables

    base, _, _ = quick
    tables = study_tables(base / "runs")
    path = export_results(tables, tmp_path / "R.json", "quick", "tiny")
    again = study_tables(path)
    assert set(again) == set(tables)
    for study in tables:
        pd.testing.assert_frame_equal(again[study]["summary"], tables[study]["summary"])
    assert (base / "docs" / "REPORT.json").is_file()  # written by the CLI beside its report
    # the training-loss comparison travels with it (the curves do not): the same table from either source
    from disc_core.study.report import training_loss_table

    losses = training_loss_table(base / "runs")
    assert len(losses) and "seeds where pretrained is lower" in losses
    pd.testing.assert_frame_equal(training_loss_table(base / "docs" / "REPORT.json"), losses)
    assert training_loss_table(tmp_path / "missing.json").empty
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(DataError, match="bad.json.*not a reproduction results file"):
        study_tables(bad)
    bad.write_text("{oops")
    with pytest.raises(DataError, match="cannot read"):
        study_tables(bad)


@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_cell_of_every_profile_is_a_valid_run_config(profile):
    """A typo in a profile's overrides fails here, not hours into a reproduction (the gpu profile included,
    which no test can run here)."""
    from disc_core.engine.config import RunConfig
    from disc_core.study.reproduce import task_configs

    plan = build_plan(profile)
    for t in plan.tasks:
        ck = {"path": "ckpt", "step": 0} if t.study == "pretrain-steps" else None
        cfgs = task_configs(t, plan.model, ck)
        assert len(cfgs) == len(t.variants) * len(t.seeds)
        for c in cfgs:
            assert RunConfig.from_dict(c.to_dict()) == c
    if profile == "gpu":
        assert all(t.overrides.get("max_length", 512) >= 128 and "max_steps" not in t.overrides for t in plan.tasks)


def test_a_cell_of_another_config_is_set_aside_and_run_again(tiny_model, tmp_path):
    """Resuming a plan whose budget changed must not reuse old numbers under the new budget."""
    from dataclasses import replace

    from disc_core.study.compare import cell_dir, cell_state, collect_results, run_comparison
    from disc_core.engine.config import RunConfig

    cfg = RunConfig(dataset="splice-synthetic", model_name_or_path=tiny_model, max_steps=2, eval_steps=2,
                    max_eval_examples=16, save_model=False, num_threads=1)
    root = tmp_path / "non-text"
    first = run_comparison([cfg], root)[0]
    d = cell_dir(root, cfg)
    assert cell_state(d, cfg) == "done"
    # fields that do not change the numbers: reused as they are
    same = replace(cfg, num_threads=2, group="other", tags=["x"], device="cpu")
    assert cell_state(d, same) == "done" and run_comparison([same], root)[0] == first
    # another budget: the old cell is kept aside and the new one runs
    longer = replace(cfg, max_steps=3, eval_steps=3)
    assert cell_state(d, longer) == "stale"
    log = []
    again = run_comparison([longer], root, log=log.append)[0]
    assert again["steps"] == 3 and first["steps"] == 2
    assert "config changed" in log[0]
    old = list(root.glob("superseded-*/splice-synthetic/pretrained/seed*/results.json"))
    assert len(old) == 1
    assert [r["steps"] for r in collect_results(root)] == [3]  # only the current cell is a result
    assert cell_state(tmp_path / "nowhere", cfg) == "missing"


def test_jobs_train_cells_side_by_side_through_the_run_store(tiny_model, tmp_path, monkeypatch):
    """--jobs 2: the cells are background runs of the run store (its queue, two at a time, workers started by
    the executor), each in its cell folder; reproduce starts no process of its own and the report sees all."""
    import os

    from disc_core.runs.store import RunStore

    monkeypatch.delenv("DISC_DATA_DIR", raising=False)
    monkeypatch.delenv("DISC_MAX_CONCURRENT", raising=False)
    monkeypatch.setenv("DISC_RUNS_DIR", str(tmp_path / "store"))
    root = tmp_path / "runs"
    rc = main(["reproduce", "--profile", "quick", "--only", "non-text/splice-synthetic", "--root", str(root),
               "--model", tiny_model, "--jobs", "2", "--report", str(tmp_path / "R.md"),
               "--figures", str(tmp_path / "f"), "--no-progress"])
    assert rc == 0
    cells = sorted(p.parent for p in root.glob("non-text/splice-synthetic/*/seed*/results.json"))
    assert len(cells) == 4 * 2  # 4 variants x 2 seeds, each once
    assert not (root / "jobs").exists()  # no shard processes, no shard logs
    store = RunStore()
    runs = [store.get(i) for i in store.ids()]
    assert len(runs) == 8 and {r.status for r in runs} == {"finished"}
    assert sorted(Path(r.run_dir) for r in runs) == sorted(c.resolve() for c in cells)
    assert all(r.pid and r.pid != os.getpid() for r in runs)  # each a worker of the executor
    assert {r.config["num_threads"] for r in runs} == {max(1, (os.cpu_count() or 2) // 2)}
    # two at a time: some pair of runs overlapped
    assert any(a.started < b.finished and b.started < a.finished for a in runs for b in runs if a is not b)
    assert "| splice-synthetic | pretrained > rand | 2 |" in (tmp_path / "R.md").read_text()
    # a second call reuses every cell and queues nothing
    assert main(["reproduce", "--profile", "quick", "--only", "non-text/splice-synthetic", "--root", str(root),
                 "--model", tiny_model, "--no-report", "--no-progress"]) == 0
    assert len(store.ids()) == 8


def test_gpu_hours_pack_cells_longest_first(capsys):
    from disc_core.study.reproduce import build_plan, gpu_cell_seconds, hours_on_gpus, n_cells

    plan = build_plan("gpu")
    cells = [gpu_cell_seconds(t, plan.model) for t in plan.tasks for _ in range(n_cells(t))]
    assert len(cells) == sum(n_cells(t) for t in plan.tasks) > 100
    one, eight, many = hours_on_gpus(plan, 1), hours_on_gpus(plan, 8), hours_on_gpus(plan, 10_000)
    assert one == pytest.approx(sum(cells) / 3600)  # one GPU: every cell in a row
    assert many == pytest.approx(max(cells) / 3600)  # a GPU per cell: the longest cell
    assert one / 8 <= eight < one / 4  # eight GPUs: close to an eighth, never better
    assert main(["reproduce", "--profile", "gpu", "--dry-run", "--gpus", "1", "8"]) == 0
    out = capsys.readouterr().out
    assert f"on 1 GPU(s): ~{one:.1f} h" in out and f"on 8 GPU(s): ~{eight:.1f} h" in out and "assumed" in out
