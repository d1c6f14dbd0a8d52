"""The Results page's tables, computed in the core: one pool's table, its ordering checks, the paper's block."""

from __future__ import annotations

import pytest

from disc_core.engine.config import RunConfig
from disc_core.study.paper import paper_block
from disc_core.study.pooling import ordering_checks, results_table


def _row(label: str, seed: int, score: float, **kw) -> dict:
    return {"dataset": "splice", "label": label, "seed": seed, "metric": "accuracy", "score": score,
            "test": {"accuracy": score}, "train_fraction": 1.0, "model": "all-MiniLM-L6-v2", "train_time_s": 60.0,
            "majority_accuracy": 0.52, "majority_class": 0, "predicts_one_class": False, **kw}


def test_results_table_has_spread_chance_one_class_and_the_paper():
    rows = [_row("pretrained", s, v) for s, v in ((0, 0.95), (1, 0.96), (2, 0.97))]
    rows += [_row("rand", s, v, predicts_one_class=s == 0) for s, v in ((0, 0.52), (1, 0.85), (2, 0.86))]
    rows += [_row("re-emb", 0, 0.90)]
    table, shown = results_table(rows)
    assert list(table["variant"]) == ["pretrained", "rand", "re-emb"]
    assert shown.loc["pretrained", "mean ± std"] == "0.9600 ± 0.0100"
    assert shown.loc["re-emb", "mean ± std"] == "0.9000 (1 run, no spread)"
    assert shown.loc["rand", "predicts one class"] == "1 of 3 runs" and shown.loc["pretrained", "predicts one class"] == "no"
    assert shown.loc["rand", "chance level"] == "0.5200 (majority class)"
    assert shown.attrs["chance"] == pytest.approx(0.52)
    assert "97.5" in shown.loc["pretrained"].iloc[-2]  # the paper's Splice number for pretrained, as printed


def test_ordering_checks_need_seeds_and_say_what_holds():
    one_seed = [_row("pretrained", 0, 0.9), _row("rand", 0, 0.8)]
    assert ordering_checks(one_seed) == []
    rows = [_row("pretrained", s, 0.95 + 0.01 * s) for s in range(3)] + \
           [_row("rand", s, 0.85 + 0.005 * s) for s in range(3)] + [_row("re-emb", s, 0.97 - 0.001 * s) for s in range(3)]
    lines = ordering_checks(rows)
    assert lines[0].startswith("`pretrained > rand`: holds")
    assert lines[1].startswith("`pretrained > re-emb`: does not hold")  # re-emb is higher on every seed here
    assert lines[2].startswith("`re-emb > rand`: holds") and all("3 seeds" in line for line in lines)


def test_paper_block_prints_every_number_and_marks_ours_not_reported():
    block = paper_block("splice", ["pretrained", "kmer-lr"])
    test_col = next(c for c in block if c.startswith("test"))
    assert block[test_col]["pretrained"] == "97.5" and block[test_col]["rand"] == "95"
    assert any(c.startswith("validation") for c in block)
    assert block[test_col]["kmer-lr"] == "not reported"


def _section(rows, groups=("g1",)):
    from disc_core.study.pooling import Section

    return Section(list(groups), rows)


def test_exports_leave_the_spread_of_one_run_empty_and_carry_groups_and_the_one_class_flag():
    import io
    import json

    import pandas as pd

    from disc_core.study.pooling import export

    rows = [_row("pretrained", s, v, group="g1") for s, v in ((0, 0.95), (1, 0.97))]
    rows += [_row("rand", 0, 0.52, group="g1", predicts_one_class=True)]
    part = _section(rows, ["g1"])
    csv = pd.read_csv(io.StringIO(export([part], "csv", dataset="splice").data))
    assert list(csv["groups"]) == ["g1", "g1"] and list(csv["n"]) == [2, 1]
    assert csv.loc[0, "std"] == pytest.approx(0.0141421, rel=1e-4) and pd.isna(csv.loc[1, "std"])  # not 0.0
    assert list(csv["predicts_one_class"]) == [0, 1] and csv.loc[1, "chance_level"] == pytest.approx(0.52)
    data = json.loads(export([part], "json", dataset="splice").data)
    assert data["groups"] == ["g1"] and data["summary"][1]["std"] is None
    assert data["summary"][1]["predicts_one_class"] == 1 and len(data["runs"]) == 3
    md = export([part], "md", dataset="splice").data
    assert md.startswith("Groups: g1") and "rand: 1 of 1 run predict one class" in md
    # every export of another group has another file name
    names = {export([_section(rows, [g])], fmt, dataset="splice").name for g in ("g1", "g2") for fmt in ("csv", "json")}
    assert len(names) == 4 and "splice-g1-results.csv" in names


def test_the_runs_of_a_group_that_have_no_result_yet_are_named():
    from disc_core.runs.store import RunStore
    from disc_core.study.pooling import pending_note

    store = RunStore()
    cfg = RunConfig(dataset="splice-synthetic", max_steps=5, group="half-done")
    done = store.create(cfg.replace(variant="pretrained"))
    store.update(done, status="running")
    store.finish(done, "finished", results={"metric": "accuracy", "score": 0.9})
    running = store.create(cfg.replace(variant="rand"))
    store.update(running, status="running")
    note = pending_note(store.list(), ["half-done"])
    assert note.startswith("1 of 2 runs of half-done has no result yet: rand seed 42 (running)")
    assert "finished one only" in note
    store.finish(running, "cancelled")
    assert "rand seed 42 (cancelled)" in pending_note(store.list(), ["half-done"])
    assert pending_note(store.list(), ["no-such-group"]) is None


def test_cli_results_pools_exports_and_says_what_is_not_finished(monkeypatch, tmp_path, capsys):
    import json

    from disc_core.cli.main import main
    from disc_core.runs.store import RunStore

    monkeypatch.setenv("DISC_RUNS_DIR", str(tmp_path / "runs"))
    store = RunStore()
    for label, seed, score in (("pretrained", 1, 0.9), ("pretrained", 2, 0.92), ("rand", 1, 0.6)):
        rid = store.create(RunConfig(dataset="splice-synthetic", variant=label, seed=seed, max_steps=5), group="cli-g")
        store.update(rid, status="running")
        store.finish(rid, "finished", results={"metric": "accuracy", "score": score})
    store.create(RunConfig(dataset="splice-synthetic", variant="rand", seed=2, max_steps=5), group="cli-g")
    assert main(["results"]) == 0  # the newest group, as Markdown
    out = capsys.readouterr()
    assert "Groups: cli-g" in out.out and "| splice-synthetic | pretrained | accuracy | 0.9100 ± 0.0141 | 2 |" in out.out
    assert "rand seed 2 (queued)" in out.err
    out_file = tmp_path / "r.json"
    assert main(["results", "cli-g", "--format", "json", "--out", str(out_file)]) == 0
    data = json.loads(out_file.read_text())
    assert [r["variant"] for r in data["summary"]] == ["pretrained", "rand"] and data["summary"][1]["std"] is None
    assert main(["results", "no-such-group"]) == 2
    assert "no run group no-such-group" in capsys.readouterr().err


def test_the_train_pages_seeds_are_the_engines():
    from disc_core.engine import config
    from disc_core.errors import ConfigError
    from disc_core.study import plan

    assert plan.parse_seeds is config.parse_seeds  # one parser, not a copy
    assert plan.parse_seeds("3") == [3] and plan.parse_seeds("1, 2, 3") == plan.parse_seeds("1-3") == [1, 2, 3]
    with pytest.raises(ConfigError, match="'x' is not a seed"):
        plan.parse_seeds("1, x")
