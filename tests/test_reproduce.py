"""The reproduction command end to end (quick profile, tiny model): runs, reuse, report, figures."""

import re
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
            "--figures", str(base / "docs" / "figures"), "--no-progress"]
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


def test_plans_fit_their_budgets():
    # the laptop plan is sized for a CPU with native bf16 (AMX), as on the machine it ran on; in fp32 it is longer
    hours = {p: sum(estimate_seconds(t, "all-MiniLM-L6-v2", cpu_bf16=True) for t in build_plan(p).tasks) / 3600
             for p in PROFILES if p != "gpu"}
    # (the plan grew with what it measured: MAESTRO at 3 epochs, three DeepLoc seeds, H4's learning-rate look;
    # the report prints the measured minutes beside each task's estimate)
    assert hours["quick"] < 0.2 and 2 < hours["laptop"] < 60
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
    laptop = build_plan("laptop")
    # the learning-rate grid first, then the core claims (an interrupted plan still publishes them) ...
    keys = [t.key for t in laptop.tasks]
    assert all(k.startswith("lr-grid/") for k in keys[:4])
    assert keys[4:7] == ["text/stsb", "non-text/splice", "text-1pct/stsb"]
    assert laptop.tasks[4].variants == ("pretrained+shift", "rand+shift")
    # ... the 500-token probe after the core claims and the re-emb claim on text, at full length
    h4 = keys.index("signal/h4")
    stsb_reemb = next(i for i, t in enumerate(laptop.tasks) if t.key == "text/stsb" and "re-emb" in t.variants)
    assert h4 > stsb_reemb and laptop.tasks[h4].overrides["max_length"] == 512
    assert laptop.tasks[-1].study == "pretrain-steps"
    assert all(len(t.seeds) >= 3 for t in laptop.tasks if t.study in ("non-text", "text", "text-1pct"))
    # nothing truncated below the task's own length, and whole epochs (or a stated step budget)
    from disc_core.study.reproduce import TYPICAL_TOKENS

    for t in laptop.tasks:
        if t.study in ("non-text", "signal"):
            assert t.overrides.get("max_length", 512) >= TYPICAL_TOKENS[t.dataset], t.key
    gpu = build_plan("gpu")
    assert gpu.model == "bert-base-uncased" and all(t.overrides.get("learning_rate") == 1e-5 for t in gpu.tasks)


def test_shards_split_a_plan_without_running_a_cell_twice(tmp_path, monkeypatch):
    from disc_core.study import reproduce as R

    ran = []
    monkeypatch.setattr(R, "run_comparison", lambda cfgs, sub, **kw: ran.extend(
        (c.dataset, c.label, c.seed, c.num_threads) for c in cfgs) or [{"metric": "m", "score": 0.0, "steps": 0}])
    monkeypatch.setattr(R, "_dataset_available", lambda name: (True, ""))
    monkeypatch.setattr("disc_core.data.load_dataset", lambda name: object())
    plan = build_plan("laptop", only=["text", "non-text/splice"])
    every = [(c.dataset, c.label, c.seed) for t in plan.tasks for c in R.task_configs(t, plan.model)]
    for i in range(3):
        R.run_plan(plan, tmp_path, log=lambda *a: None, shard=(i, 3), num_threads=1)
    assert sorted(r[:3] for r in ran) == sorted(every) and len(ran) == len(every)
    assert {r[3] for r in ran} == {1}


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


def test_jobs_share_a_plan_between_processes(tiny_model, tmp_path, monkeypatch):
    """--jobs 2: two processes, every other cell each, nothing run twice; the report sees all of them."""
    monkeypatch.delenv("DISC_DATA_DIR", raising=False)
    root = tmp_path / "runs"
    rc = main(["reproduce", "--profile", "quick", "--only", "non-text/splice-synthetic", "--root", str(root),
               "--model", tiny_model, "--jobs", "2", "--report", str(tmp_path / "R.md"),
               "--figures", str(tmp_path / "f")])
    assert rc == 0
    cells = sorted(root.glob("non-text/splice-synthetic/*/seed*/results.json"))
    assert len(cells) == 4 * 2  # 4 variants x 2 seeds, each once
    logs = {p.name: p.read_text() for p in (root / "jobs").glob("shard-*.log")}
    assert set(logs) == {"shard-0.log", "shard-1.log"}
    ran = [re.findall(r"splice-synthetic (\S+) seed (\d)", text) for text in logs.values()]
    assert len(ran[0]) == len(ran[1]) == 4 and not set(ran[0]) & set(ran[1])
    assert "| splice-synthetic | pretrained > rand | 2 |" in (tmp_path / "R.md").read_text()


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


def test_laptop_plan_gives_rte_a_learning_rate_look_and_h4_its_own_rate_after_their_cells():
    plan = build_plan("laptop")
    keys = [t.key for t in plan.tasks]
    # H4: the 1e-4 probe, then three seeds at 3e-5 (its one-seed look separated the two and became seed 0)
    h4 = [t for t in plan.tasks if t.study == "non-text" and t.dataset == "h4"]
    assert len(h4) == 1 and h4[0].overrides["learning_rate"] == 3e-5 and h4[0].seeds == (0, 1, 2)
    assert not [t for t in plan.tasks if t.study == "lr-look" and t.dataset == "h4"]
    probe = next(t for t in plan.tasks if t.key == "signal/h4")
    # the same cells as the probe but for the rate: full length, no attention dropout, pretrained and rand
    assert {k: v for k, v in h4[0].overrides.items() if k != "learning_rate"} == \
        {k: v for k, v in probe.overrides.items() if k != "learning_rate"}
    assert h4[0].variants == probe.variants and plan.tasks.index(probe) < plan.tasks.index(h4[0])
    looks = [t for t in plan.tasks if t.study == "lr-look" and t.dataset == "rte"]
    assert [t.dataset for t in looks] == ["rte", "rte"]
    assert sorted(t.overrides["learning_rate"] for t in looks) == [3e-5, 3e-4]
    assert all(t.seeds == (0,) and t.variants == ("pretrained+shift", "rand+shift") for t in looks)
    assert keys.index("text/rte") < plan.tasks.index(looks[0])
