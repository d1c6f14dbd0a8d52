"""The best-lr study (each variant at its own best rate) and Figure 3's share of the gain, on crafted cells."""

import json
import math
from dataclasses import replace

import pytest

from disc_core.study.best_lr import best_lr_tables
from disc_core.study.pretrain_gain import gain_share, gain_table, pretrain_points
from disc_core.study.reproduce import best_lr_choice, build_plan, lr_sub, n_cells, task_configs

#: the grid the issue asks for: one seed of each variant at each rate
BEST_LR_GRID = (3e-5, 1e-4, 3e-4)


def _cell(d, dataset, label, seed, score, val=None, lr=1e-4):
    d.mkdir(parents=True)
    (d / "results.json").write_text(json.dumps({"dataset": dataset, "label": label, "variant": label.split("+")[0],
                                                "seed": seed, "metric": "accuracy", "score": score,
                                                "best_validation": val if val is not None else score}))
    (d / "config.json").write_text(json.dumps({"config": {"dataset": dataset, "learning_rate": lr, "seed": seed},
                                               "resolved": {}}))


def _best_lr_root(tmp_path, val):
    """amp-uniprot: seed 0 at every rate of the grid with validation ``val[label][lr]``; seeds 1-2 at the best."""
    root = tmp_path / "laptop"
    for label, by_lr in val.items():
        for lr, v in by_lr.items():
            _cell(root / "best-lr" / lr_sub(lr) / "amp-uniprot" / label / "seed0", "amp-uniprot", label, 0,
                  score=v - 0.01, val=v, lr=lr)
        best = max(sorted(by_lr), key=lambda r: by_lr[r])
        for s in (1, 2):
            _cell(root / "best-lr" / lr_sub(best) / "amp-uniprot" / label / f"seed{s}", "amp-uniprot", label, s,
                  score=by_lr[best] + (0.01 if label.startswith("pre") else 0.02) * s, lr=best)
    return root


def test_each_variant_gets_the_rate_its_validation_prefers_and_verdicts_are_set_side_by_side(tmp_path):
    val = {"pretrained": {3e-5: 0.80, 1e-4: 0.85, 3e-4: 0.70}, "rand": {3e-5: 0.60, 1e-4: 0.65, 3e-4: 0.75}}
    root = _best_lr_root(tmp_path, val)
    # the one-rate study at 1e-4: pretrained ahead on every seed
    for s, (p, r) in enumerate([(0.84, 0.64), (0.86, 0.62), (0.85, 0.66)]):
        _cell(root / "non-text" / "amp-uniprot" / "pretrained" / f"seed{s}", "amp-uniprot", "pretrained", s, p)
        _cell(root / "non-text" / "amp-uniprot" / "rand" / f"seed{s}", "amp-uniprot", "rand", s, r)
    task = next(t for t in build_plan("laptop", only=["best-lr/amp-uniprot"]).tasks)
    chosen = best_lr_choice(task, root)
    assert chosen["pretrained"]["learning_rate"] == 1e-4 and chosen["rand"]["learning_rate"] == 3e-4
    assert chosen["rand"]["grid"] == val["rand"]
    t = best_lr_tables(root)
    grid = t["grid"]
    assert len(grid) == 6 and grid[grid["chosen"]]["learning rate"].tolist() == [1e-4, 3e-4]
    row = t["protocols"].iloc[0]
    assert row["one rate: lr"] == "0.0001" and row["one rate: verdict"] == "holds"
    assert row["each at its best: lr"] == "0.0001 / 0.0003" and row["each at its best: seeds"] == 3
    # at its best rand is 0.74/0.77/0.79 against pretrained's 0.84/0.86/0.87: still ahead, the verdict stands
    assert row["each at its best: verdict"] == "holds" and row["verdict changes"] == "no"
    # the report's Findings say which verdicts change (here none)
    from disc_core.study.report.round2 import round2_findings
    assert round2_findings(root) == ["best-lr: with each variant at the rate its own validation chose, the verdict "
                                     "changes on 0 of 1 datasets; unchanged on amp-uniprot (holds)."]


def test_a_variant_with_an_unfinished_grid_waits_and_the_table_says_not_yet(tmp_path):
    root = _best_lr_root(tmp_path, {"pretrained": {3e-5: 0.8, 1e-4: 0.85, 3e-4: 0.7}, "rand": {3e-5: 0.6, 1e-4: 0.7}})
    task = next(t for t in build_plan("laptop", only=["best-lr/amp-uniprot"]).tasks)
    assert set(best_lr_choice(task, root)) == {"pretrained"}
    t = best_lr_tables(root)
    row = t["protocols"].iloc[0]
    assert row["one rate: verdict"] == "not run" and row["verdict changes"].startswith("not yet")
    assert row["each at its best: lr"] == "0.0001 / grid not finished"
    assert not t["grid"][t["grid"]["variant"] == "rand"]["chosen"].any()  # no choice before its whole grid ran


def test_best_lr_tasks_in_the_laptop_plan_and_their_cell_count():
    tasks = build_plan("laptop", only=["best-lr"]).tasks
    assert {t.dataset for t in tasks} == {"h4", "rte", "amp-uniprot", "cola"}
    for t in tasks:
        assert t.lr_grid == BEST_LR_GRID and t.seeds == (0, 1, 2)
        # the grid's rate wins over the plan's
        assert {c.learning_rate for c in task_configs(t, "m", learning_rate=3e-4)} == {3e-4}
        # every variant: the first seed at each rate, then two more seeds at the chosen one
        assert n_cells(t) == len(t.variants) * (len(BEST_LR_GRID) + 2)
    assert n_cells(replace(tasks[0], lr_grid=())) == len(tasks[0].variants) * 3


def _pt_root(tmp_path, scores):
    """pretrain-steps cells: ``scores[step][seed]`` on splice, plus a google point."""
    root = tmp_path / "laptop"
    for step, by_seed in scores.items():
        folder = "google" if step == "google" else f"step_{step}"
        for seed, sc in enumerate(by_seed):
            _cell(root / "pretrain-steps" / "runs" / folder / "splice" / "pretrained" / f"seed{seed}", "splice",
                  "pretrained", seed, sc)
    return root


def test_share_of_the_gain_at_two_percent_with_an_interval(tmp_path):
    root = _pt_root(tmp_path, {0: [0.50, 0.52, 0.48], 120: [0.80, 0.78, 0.79], 600: [0.85, 0.84, 0.86],
                               3000: [0.88, 0.87, 0.89], 6000: [0.90, 0.90, 0.88], "google": [0.95, 0.96, 0.95]})
    pts = pretrain_points(root)
    assert len(pts) == 18 and set(pts["step"]) == {0, 120, 600, 3000, 6000, "google"}
    g = gain_share(pts, "splice")
    assert g["step_at"] == 120 and g["fraction_at"] == pytest.approx(0.02)
    per_seed = [(0.80 - 0.50) / 0.40, (0.78 - 0.52) / 0.38, (0.79 - 0.48) / 0.40]
    assert g["share_per_seed"] == pytest.approx(per_seed)
    lo, hi = g["ci95"]
    assert lo < g["share"] < hi and lo > 0.5  # most of the gain, with its interval
    row = gain_table(pts).iloc[0]
    assert row["most of the gain (> 0.5)?"] == "yes" and row["checkpoint"] == "step 120 (2%)"
    from disc_core.study.report.round2 import round2_findings
    (line,) = round2_findings(root)
    assert line.startswith("pretrain-steps (splice): at step 120 (2% of 6,000 pre-training steps)")
    assert f"share of {g['share']:.2f}" in line and f"[{lo:.2f}, {hi:.2f}] over 3 seeds" in line
    assert line.endswith("holds here (the interval lies above 0.5).")


def test_no_gain_to_share_is_said_plainly(tmp_path):
    root = _pt_root(tmp_path, {0: [0.6, 0.6], 120: [0.5, 0.7], 6000: [0.55, 0.58]})
    row = gain_table(pretrain_points(root)).iloc[0]
    assert row["most of the gain (> 0.5)?"] == "n/a (no gain to share)"
    g = gain_share(pretrain_points(root), "splice")
    assert g["gain_0_to_last"] < 0 and not math.isnan(g["share"])
    from disc_core.study.report.round2 import round2_findings
    assert "there is no gain to share" in round2_findings(root)[0]


def test_one_rate_rule_for_the_plan_and_the_report():
    from disc_core.study.best_lr import choose_rate

    grid = (3e-5, 1e-4, 3e-4)
    assert choose_rate({3e-5: 0.91, 1e-4: 0.91, 3e-4: 0.89}, grid) == 3e-5  # a tie goes to the smaller rate
    assert choose_rate({3e-5: 0.80, 1e-4: 0.85, 3e-4: float("nan")}, grid) is None  # a NaN is not a score
    assert choose_rate({3e-5: 0.80, 1e-4: 0.85}, grid) is None  # the whole grid or no choice
    assert choose_rate({3e-5: 0.80, 1e-4: 0.85, 3e-4: None}, grid) is None
    assert choose_rate({3e-5: 0.80, 1e-4: 0.85, 3e-4: 0.95}, grid) == 3e-4


def test_a_damaged_grid_cell_holds_the_choice_back(tmp_path):
    val = {"pretrained": {3e-5: 0.80, 1e-4: 0.85, 3e-4: 0.70}, "rand": {3e-5: 0.60, 1e-4: 0.65, 3e-4: 0.75}}
    root = _best_lr_root(tmp_path, val)
    (root / "best-lr" / lr_sub(3e-4) / "amp-uniprot" / "rand" / "seed0" / "results.json").write_text("{trunc")
    task = next(t for t in build_plan("laptop", only=["best-lr/amp-uniprot"]).tasks)
    chosen = best_lr_choice(task, root)
    assert set(chosen) == {"pretrained"}
    t = best_lr_tables(root)
    assert t["protocols"].iloc[0]["each at its best: lr"] == "0.0001 / grid not finished"


def test_the_report_reads_figure_3_and_best_lr_cells_once_for_its_sections_findings_and_export(tmp_path, monkeypatch):
    """One ``reproduce --report-only`` reads each second-round cell once (it read them three times before)."""
    from disc_core.study import best_lr, pretrain_gain
    from disc_core.study.report import round2
    from disc_core.study.report.writer import write_report

    val = {"pretrained": {3e-5: 0.80, 1e-4: 0.85, 3e-4: 0.70}, "rand": {3e-5: 0.60, 1e-4: 0.65, 3e-4: 0.75}}
    root = _best_lr_root(tmp_path, val)
    for s, (p, r) in enumerate([(0.84, 0.64), (0.86, 0.62)]):  # the one-rate study, with training curves
        for label, score, loss in (("pretrained", p, 0.2), ("rand", r, 0.6)):
            d = root / "non-text" / "amp-uniprot" / label / f"seed{s}"
            _cell(d, "amp-uniprot", label, s, score)
            steps = [{"kind": "step", "step": i, "loss": loss, "examples_seen": 32 * i, "tokens_seen": 640 * i}
                     for i in range(1, 9)]
            (d / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in steps))
    for step, by_seed in {0: [0.50, 0.52], 120: [0.80, 0.78], 6000: [0.90, 0.90]}.items():
        for seed, sc in enumerate(by_seed):
            _cell(root / "pretrain-steps" / "runs" / f"step_{step}" / "splice" / "pretrained" / f"seed{seed}",
                  "splice", "pretrained", seed, sc)
    calls = {"points": 0, "cells": 0}

    def counted(fn, key):
        def wrapped(*a, **k):
            calls[key] += 1
            return fn(*a, **k)
        return wrapped

    monkeypatch.setattr(round2, "pretrain_points", counted(pretrain_gain.pretrain_points, "points"))
    monkeypatch.setattr(round2, "best_lr_cells", counted(best_lr.best_lr_cells, "cells"))
    report = write_report(build_plan("laptop", only=["best-lr/amp-uniprot"]), root, tmp_path / "R.md", tmp_path / "f")
    assert calls == {"points": 1, "cells": 1}
    text = report.read_text()
    assert "## Each variant at its own best learning rate (best-lr)" in text
    assert "- best-lr: with each variant at the rate its own validation chose" in text
    assert "- pretrain-steps (splice): at step 120" in text
    assert ("- non-text/amp-uniprot: training loss over the last quarter of steps (mean over seeds), lowest first: "
            "pretrained 0.200, rand 0.600.") in text
    exported = json.loads(report.with_suffix(".json").read_text())
    assert len(exported["studies"]["best-lr"]) == 10 and len(exported["best_lr"]["protocols"]) == 1


def test_the_budget_counts_figure_3s_google_cells_with_the_checkpoints(tmp_path):
    """The plan counts the plan's own model's cells (the "google" point) in ``pretrain-steps``; so does the
    report's measured column (it said 15 of 18 when all 18 had finished)."""
    from disc_core.study.report.sections import measured_seconds

    root = _pt_root(tmp_path, {0: [0.5, 0.5, 0.5], 120: [0.6, 0.6, 0.6], 600: [0.6, 0.6, 0.6],
                               3000: [0.7, 0.7, 0.7], 6000: [0.8, 0.8, 0.8], "google": [0.9, 0.9, 0.9]})
    for res in root.rglob("results.json"):
        r = json.loads(res.read_text())
        res.write_text(json.dumps({**r, "wall_time_s": 100.0 if "google" in str(res) else 10.0}))
    plan = build_plan("laptop", only=["pretrain-steps/splice"])
    (task,) = plan.tasks
    assert task.google and n_cells(task) == 18
    assert measured_seconds(plan, root, task) == (15 * 10.0 + 3 * 100.0, 18)
