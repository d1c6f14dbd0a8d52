"""The reproduction report: damaged cells never stop it, its tables and statistics through pandas / tabulate /
scipy give the numbers the hand-written code gave, and its prose is data."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from disc_core.cli.main import main
from disc_core.study.report import (PAPER_GAP, PAPER_GAP_VERDICT, findings, ordering_table, paper_gap_verdict,
                                    tables_from_results, verdict)
from disc_core.study.report import cells as C

PKG = Path(__file__).resolve().parents[1] / "disc_core"
ONLY = ["--only", "non-text/splice-synthetic"]


@pytest.fixture(scope="module")
def quick_root(tmp_path_factory):
    """The quick profile's non-text task (4 variants x 2 seeds of splice-synthetic), run through the CLI with
    the profile's own model (``tiny``, which run_plan creates under the root), without the real data."""
    mp = pytest.MonkeyPatch()
    mp.delenv("DISC_DATA_DIR", raising=False)
    base = tmp_path_factory.mktemp("report")
    rc = main(["reproduce", "--profile", "quick", *ONLY, "--root", str(base / "runs"), "--no-report", "--no-progress",
               "--jobs", "2"])  # two cells at a time through the run store: half the wall time on two cores
    assert rc == 0 and len(list((base / "runs").rglob("results.json"))) == 8
    yield base / "runs"
    mp.undo()


def _report(root: Path, out: Path, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["reproduce", "--profile", "quick", *ONLY, "--root", str(root), "--report-only",
               "--report", str(out / "R.md"), "--figures", str(out / "figures")])
    captured = capsys.readouterr()
    return rc, (out / "R.md").read_text(encoding="utf-8"), captured.err


def _copy(root: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "runs"
    shutil.copytree(root, dest, ignore=shutil.ignore_patterns("tiny-bert"))
    (dest / "tiny-bert").symlink_to(root / "tiny-bert")  # the cells recorded this folder as their model
    return dest


def test_a_quick_report_of_its_own_cells_says_every_cell_finished(quick_root, tmp_path, capsys):
    """The cells ran from ``<root>/tiny-bert`` while the plan names ``tiny``: the same config, not another
    budget (the report compared the model's name with the folder and called every cell stale)."""
    rc, report, err = _report(quick_root, tmp_path, capsys)
    assert rc == 0 and err == ""
    assert "ran with another budget" not in report
    assert "Every cell of the plan has finished." in report
    assert "Cells that could not be read" not in report
    assert "| splice-synthetic | (not in the paper) | pretrained | accuracy |" in report


def test_four_damaged_cells_are_skipped_and_named_and_the_report_carries_on(quick_root, tmp_path, capsys):
    root = _copy(quick_root, tmp_path)
    cell = root / "non-text" / "splice-synthetic"
    good = json.loads((cell / "pretrained" / "seed0" / "results.json").read_text())
    damage = {"pretrained/seed0": "",                                         # an empty results.json
              "rand/seed0": json.dumps(good)[:40],                            # half a JSON object
              "re-emb/seed0": json.dumps([good]),                             # a JSON list
              "unused/seed0": json.dumps({**good, "label": "unused", "score": "0.91"})}  # a string score
    for where, text in damage.items():
        (cell / where / "results.json").write_text(text)
    rc, report, err = _report(root, tmp_path / "out", capsys)
    assert rc == 0
    section = report[report.index("## Cells that could not be read"):report.index("## Where the cells ran")]
    assert "4 cell(s) are left out of every table" in section
    for where, what in {"pretrained/seed0": "is empty", "rand/seed0": "is not valid JSON",
                        "re-emb/seed0": "holds a list where a JSON object of results belongs",
                        "unused/seed0": "gives the score as '0.91' (a string), not a finite number"}.items():
        name = f"non-text/splice-synthetic/{where}/results.json"
        line = next(x for x in section.splitlines() if name in x)
        assert what in line and "run the reproduce command again" in line, line
        assert name in err and what in err
    # the rest carries on: each variant's one readable seed is in the table, the damaged ones count as missing
    assert re.search(r"\| splice-synthetic \| \(not in the paper\) \| rand \| accuracy \| \d\.\d{4} \| 1 \|", report)
    assert "4 of 8 cells finished; missing pretrained/seed0, rand/seed0, re-emb/seed0, unused/seed0" in report
    assert "## Findings" in report and (tmp_path / "out" / "R.json").is_file()
    # the dashboard's Reproduction page reads through the same loader
    from disc_core.study.report import study_tables, training_loss_table

    t = study_tables(root)["non-text"]
    assert sorted((r["label"], r["seed"]) for r in t["results"]) == [("pretrained", 1), ("rand", 1), ("re-emb", 1),
                                                                    ("unused", 1)]
    assert len(training_loss_table(root)) == 1


def test_an_empty_config_is_named_and_a_missing_curve_leaves_the_loss_verdict(quick_root, tmp_path, capsys):
    root = _copy(quick_root, tmp_path)
    cell = root / "non-text" / "splice-synthetic"
    (cell / "re-emb" / "seed1" / "config.json").write_text("")
    (cell / "rand" / "seed1" / "metrics.jsonl").unlink()
    rc, report, err = _report(root, tmp_path / "out", capsys)
    assert rc == 0
    section = report[report.index("## Cells that could not be read"):report.index("## Where the cells ran")]
    assert "`non-text/splice-synthetic/re-emb/seed1/config.json`: the config file is empty" in section
    assert "1 finished cell(s) have no training curve" in section
    assert "`non-text/splice-synthetic/rand/seed1/metrics.jsonl`: missing" in section
    assert "re-emb/seed1/config.json" in err and "rand/seed1/metrics.jsonl" in err
    # the training-loss verdict pairs only seed 0 and says which cell it left out
    loss = report[report.index("## Training loss"):]
    assert "| non-text | splice-synthetic | pretrained vs rand | 1 |" in loss
    assert "Left out of these verdicts, for want of a training curve (no `metrics.jsonl`; see *Cells that could " \
           "not be read*): `non-text/splice-synthetic/rand/seed1`" in loss
    # its score stays in the table: rand has both seeds, re-emb one
    assert re.search(r"\| splice-synthetic \| \(not in the paper\) \| rand \| accuracy \| [\d.]+ ± [\d.]+ \| 2 \|",
                     report)
    assert re.search(r"\| splice-synthetic \| \(not in the paper\) \| re-emb \| accuracy \| \d\.\d{4} \| 1 \|", report)


def test_the_reproduction_page_shows_a_root_with_damaged_cells(quick_root, tmp_path):
    """The dashboard reads the run folders through the same loader: a damaged cell is left out there too."""
    from streamlit.testing.v1 import AppTest

    root = _copy(quick_root, tmp_path)
    cell = root / "non-text" / "splice-synthetic"
    (cell / "re-emb" / "seed0" / "results.json").write_text("[]")
    (cell / "unused" / "seed1" / "config.json").write_text("")
    (cell / "rand" / "seed1" / "metrics.jsonl").unlink()
    at = AppTest.from_file(str(PKG.parent / "app.py"), default_timeout=90).run()
    at.switch_page("views/reproduction.py").run()
    at.radio(key="repro-source").set_value("My run folders").run()
    at.text_input(key="repro-root").set_value(str(root)).run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert re.search(r"\| splice-synthetic \| re-emb \| accuracy \| \d\.\d{4} \| 1 \|", text)
    assert re.search(r"\| splice-synthetic \| unused \| accuracy \| \d\.\d{4} \| 1 \|", text)
    assert re.search(r"\| splice-synthetic \| rand \| accuracy \| [\d.]+ ± [\d.]+ \| 2 \|", text)
    losses = next(d.value for d in at.dataframe if "seeds where pretrained is lower" in d.value.columns)
    assert list(losses["seeds"]) == [1]  # seed 1's rand has no curve, so only seed 0 is paired


@pytest.mark.parametrize("text, what", [
    ("", "is empty"), ('{"dataset": "splice", "lab', "is not valid JSON"), ("[1, 2]", "holds a list"),
    ('{"dataset": "d", "label": "rand", "seed": 0, "metric": "accuracy", "score": "high"}', "gives the score as 'high'"),
    ('{"dataset": "d", "label": "rand", "seed": 0, "metric": "accuracy", "score": NaN}', "not a finite number"),
    ('{"dataset": "d", "label": "rand", "seed": 0, "metric": "accuracy"}', "lacks 'score'"),
    ('{"dataset": "d", "label": "rand", "seed": 0, "metric": "accuracy", "score": 0.5, "test": [0.5]}',
     "gives the test metrics as a list"),
])
def test_a_results_file_that_cannot_be_used_says_what_is_wrong(tmp_path, text, what):
    d = tmp_path / "non-text" / "d" / "rand" / "seed0"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"config": {}, "resolved": {}}))
    (d / "results.json").write_text(text)
    problem = C.cell_problem(d)
    assert problem is not None and what in problem.what and problem.path == d / "results.json"
    assert str(d) in problem.fix
    assert C.load_cells(tmp_path / "non-text") == [] and C.read_result(d) is None
    assert [p.path for p in C.unreadable_cells(tmp_path)] == [d / "results.json"]
    (d / "results.json").write_text('{"dataset": "d", "label": "rand", "seed": 0, "metric": "accuracy", "score": 1}')
    assert C.cell_problem(d) is None and len(C.load_cells(tmp_path / "non-text")) == 1
    assert C.unreadable_cells(tmp_path)[0].what.startswith("missing")  # no metrics.jsonl: named, not skipped


# ------------------------------------------------------------- verdicts and findings (from test_reproduce.py)
def _r(label, seed, score, ds="d"):
    return {"dataset": ds, "label": label, "seed": seed, "score": score, "metric": "accuracy"}


def test_ordering_verdicts():
    res = ([_r("pretrained", s, 0.9 + 0.01 * s) for s in range(3)] + [_r("rand", s, 0.5 + 0.02 * s) for s in range(3)]
           + [_r("re-emb", s, 0.95 - 0.01 * s) for s in range(3)] + [_r("unused", s, 0.5 + 0.03 * (s % 2)) for s in range(3)])
    t = ordering_table(res, [("pretrained", "rand"), ("pretrained", "re-emb")], close=[("unused", "rand")])
    v = dict(zip(t["paper's claim"], t["verdict"]))
    assert v["pretrained > rand"] == "holds"
    assert v["pretrained > re-emb"].startswith("reversed")
    assert v["unused ≈ rand"] == "close (CI contains 0)"
    assert verdict(None).startswith("n/a")


def test_ordering_table_sets_the_paper_difference_beside_ours():
    """STS-B shift 1000: the paper prints 77.8 against 8.3 (+0.695 on our scale)."""
    def rows(gap, jitter):
        return ([_r("pretrained+shift", s, 0.1 + gap + jitter[s], ds="stsb") for s in range(3)]
                + [_r("rand+shift", s, 0.1, ds="stsb") for s in range(3)]
                + [_r("pretrained", s, 0.9 + jitter[s], ds="composers") for s in range(3)]
                + [_r("rand", s, 0.5, ds="composers") for s in range(3)])
    t = ordering_table(rows(0.69, [0.0, 0.01, -0.01]), [("pretrained+shift", "rand+shift"), ("pretrained", "rand")],
                       setting="full")
    stsb, comp = t.iloc[0], t.iloc[1]
    assert stsb[PAPER_GAP] == "+0.6950" and stsb[PAPER_GAP_VERDICT].startswith("agrees")
    assert comp[PAPER_GAP] == "" and comp[PAPER_GAP_VERDICT] == ""  # a dataset the paper does not use
    larger = ordering_table(rows(0.9, [0.0, 0.01, -0.01]), [("pretrained+shift", "rand+shift")], setting="full")
    assert larger.iloc[0][PAPER_GAP_VERDICT] == "ours larger"
    # 1% of the data: the paper's 57.0 against 4.3
    small = ordering_table(rows(0.2, [0.0, 0.01, -0.01]), [("pretrained+shift", "rand+shift")], setting="1pct")
    assert small.iloc[0][PAPER_GAP] == "+0.5270" and small.iloc[0][PAPER_GAP_VERDICT] == "ours smaller"
    # without a setting the table has no paper columns (a study the paper has no numbers for)
    assert PAPER_GAP not in ordering_table(rows(0.69, [0, 0, 0]), [("pretrained+shift", "rand+shift")]).columns


def test_paper_gap_verdict_says_when_our_seeds_cannot_tell():
    t = {"ci95": (-0.05, 0.10), "constant": False}
    assert paper_gap_verdict(t, 0.06).startswith("cannot tell")
    assert paper_gap_verdict(t, 0.0).startswith("agrees")  # the paper has no gap, and neither do we
    assert paper_gap_verdict({"ci95": (-0.2, -0.1), "constant": False}, 0.06) == "ours smaller, reversed"
    assert paper_gap_verdict({"ci95": (0.0, 0.0), "constant": True}, 0.0).startswith("agrees")
    assert "untested" in paper_gap_verdict({"ci95": (0.0, 0.0), "constant": True}, 0.112)
    assert paper_gap_verdict(None, 0.06) == "" and paper_gap_verdict(t, None) == ""


def test_findings_headline_counts_only_the_settings_it_could_test():
    
    def cell(ds, label, seed, score):
        return {"dataset": ds, "label": label, "variant": label, "seed": seed, "score": score, "metric": "accuracy",
                "test": {"accuracy": score, "n": 300}}

    res = ([cell("a", "pretrained", s, 0.9 + s / 100) for s in range(3)] + [cell("a", "rand", s, 0.6) for s in range(3)]
           + [cell("b", "pretrained", 0, 0.9), cell("b", "rand", 0, 0.5)])  # b: one seed so far
    tables = tables_from_results({"non-text": res})
    head = findings(tables)[0]
    assert "holds on 1 of 1 task settings tested: non-text/a (pretrained)" in head
    assert "not testable yet, fewer than 2 paired seeds: non-text/b" in head
    # the untested row says how many seeds are paired and, for one, its difference (no interval)
    b = tables["non-text"]["orderings"].set_index("dataset").loc["b"]
    assert (b["seeds"], b["mean diff"], b["95% CI"]) == (1, "+0.4000", "")
    assert b["verdict"].startswith("n/a")


def test_findings_name_a_comparison_whose_sides_ran_in_different_precisions():
    
    def cell(label, seed, score, precision=None):
        r = {"dataset": "splice", "label": label, "variant": label, "seed": seed, "score": score,
             "metric": "accuracy", "test": {"accuracy": score, "n": 300}, "device": "cpu"}
        return {**r, "precision": precision} if precision else r

    # pretrained and rand both fp32 (one recorded, one from before runs recorded it): nothing to say
    same = [cell("pretrained", s, 0.9 + s / 100) for s in range(3)] + \
           [cell("rand", s, 0.8, "fp32") for s in range(3)]
    assert not [f for f in findings(tables_from_results({"non-text": same})) if "precisions" in f]
    # re-emb in bf16 against pretrained in fp32: named, with each side's precision
    mixed = same + [cell("re-emb", s, 0.85 + s / 50, "bf16") for s in range(3)]
    found = [f for f in findings(tables_from_results({"non-text": mixed})) if "precisions" in f]
    assert len(found) == 1 and "pretrained (fp32) > re-emb (bf16)" in found[0] and "re-emb (bf16) > rand (fp32)" in found[0]
    assert "pretrained (fp32) > rand" not in found[0]


def test_findings_test_a_voted_task_again_per_segment_and_count_its_pieces():
    """MAESTRO's 20 test pieces move accuracy 5 points a piece: the findings say so (counting pieces, not
    segments) and test the same pairs on the segments before the vote."""
    
    def cell(label, seed, piece, segment):
        return {"dataset": "maestro", "label": label, "variant": label, "seed": seed, "score": piece,
                "metric": "accuracy", "device": "cpu",
                "test": {"accuracy": piece, "segment_accuracy": segment, "n": 936, "n_groups": 20}}

    res = [cell("pretrained", s, 0.30, 0.33 + s / 100) for s in range(3)] + \
          [cell("rand", s, 0.30, 0.25 + s / 200) for s in range(3)]
    found = findings(tables_from_results({"non-text": res}))
    assert any("maestro: the test set has 20 examples" in f and "5.0 points" in f for f in found)
    seg = [f for f in found if "per segment" in f]
    assert len(seg) == 1 and "936+ test segments instead of 20 pieces" in seg[0]
    assert "pretrained > rand by +0.0850" in seg[0] and seg[0].rstrip(".").endswith("holds")
    # a task without segments (Splice) gets no such line
    plain = [{**r, "dataset": "splice", "test": {"accuracy": r["score"], "n": 300}} for r in res]
    assert not [f for f in findings(tables_from_results({"non-text": plain})) if "per segment" in f]


# ------------------------------------------------------------------ the dependencies give the old numbers
def _old_md(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(str(r[c]) for c in cols) + " |")
    return "\n".join(lines)


def test_markdown_tables_are_written_as_the_hand_written_writer_wrote_them():
    from disc_core.study.compare import PAPER_COLUMN, markdown_table, paper_text, summarize, to_markdown, \
        train_time_text

    frames = [pd.DataFrame({"task": ["lr-look/rte", "x"], "seed": ["0", "1"], "steps": [12, 3], "test": ["", "0.5"]}),
              pd.DataFrame({"learning rate": [3e-05, 0.0001], "variant": ["rand", "rand"], "f1": ["0.8060", "0.1"],
                            "chosen": ["", "yes"]})]
    for df in frames:
        assert markdown_table(df) == _old_md(df)
    res = [{"dataset": "splice", "label": v, "seed": s, "metric": "accuracy", "score": 0.5 + s / 10,
            "train_time_s": 40.0 + s} for v in ("pretrained", "rand") for s in range(3)]
    table = summarize(res)

    def old_fmt(m, s, n):
        return f"{m:.4f} ± {s:.4f}" if n > 1 else f"{m:.4f}"

    lines = [f"| dataset | variant | metric | ours (mean ± std) | runs | {PAPER_COLUMN} | paper's table | train time |",
             "|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        lines.append(f"| {r['dataset']} | {r['variant']} | {r['metric']} | {old_fmt(r['mean'], r['std'], r['n'])} | "
                     f"{r['n']} | {paper_text(r)} | {r.get('paper_source') or ''} | "
                     f"{train_time_text(r.get('train_time_s'))} |")
    assert to_markdown(table) == "\n".join(lines)
    assert "| splice | pretrained | accuracy | 0.6000 ± 0.1000 | 3 |" in to_markdown(table)


def _old_ema(values, alpha):
    y = np.asarray(values, dtype=float)
    out, acc, norm = np.empty_like(y), 0.0, 0.0
    for k, v in enumerate(y):
        acc = alpha * acc + (1 - alpha) * v
        norm = alpha * norm + (1 - alpha)
        out[k] = acc / norm
    return out


def _old_moving_average(values, window):
    y = np.asarray(values, dtype=float)
    c = np.concatenate([[0.0], np.cumsum(y)])
    idx = np.arange(1, len(y) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def _old_smooth(y, k):
    if k <= 1 or len(y) < k:
        return y
    c = np.convolve(y, np.ones(k) / k, mode="valid")
    return np.concatenate([np.full(k - 1, np.nan), c])


def test_pandas_smoothers_give_the_hand_written_ones_numbers():
    from disc_core import plots
    from disc_core.study.report.figures import trailing_mean

    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 200):
        y = 3 * rng.random(n) + np.linspace(5, 0, n)
        for alpha in (0.0, 0.3, 0.6, 0.9, 0.99):
            np.testing.assert_allclose(plots.ema(y, alpha), _old_ema(y, alpha), rtol=1e-12, atol=1e-12)
        for w in (1, 2, 5, 50, 400):
            np.testing.assert_allclose(plots.moving_average(y, w), _old_moving_average(y, w), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(trailing_mean(y, w), _old_smooth(y, w), rtol=1e-12, atol=1e-12)
    assert plots.ema([], 0.5).shape == (0,)
    with pytest.raises(ValueError):
        plots.ema([1.0], 1.0)


def test_the_paired_interval_from_scipy_is_the_hand_computed_one():
    from scipy import stats

    from disc_core.study.compare import paired_test

    rng = np.random.default_rng(1)
    for n in (2, 3, 5):
        for _ in range(50):
            a, b = rng.random(n), rng.random(n)
            res = [{"label": "p", "seed": s, "score": float(a[s])} for s in range(n)] + \
                  [{"label": "r", "seed": s, "score": float(b[s])} for s in range(n)]
            t = paired_test(res, "p", "r")
            d = a - b
            se = d.std(ddof=1) / math.sqrt(n)
            q = stats.t.ppf(0.975, n - 1)
            assert t["ci95"] == pytest.approx((d.mean() - q * se, d.mean() + q * se), rel=1e-12, abs=1e-12)
            assert t["p_value"] == pytest.approx(stats.ttest_rel(a, b, alternative="greater").pvalue, rel=1e-12)
            assert t["holds"] == (t["ci95"][0] > 0) and not t["constant"]
    same = [{"label": "p", "seed": s, "score": 0.9} for s in range(3)] + \
           [{"label": "r", "seed": s, "score": 0.8} for s in range(3)]
    t = paired_test(same, "p", "r")
    assert t["constant"] and not t["holds"] and math.isnan(t["p_value"]) and t["ci95"][0] == t["ci95"][1]


# --------------------------------------------------------------------------------------- prose is data
def test_the_studys_prose_and_past_numbers_live_in_the_docs_file():
    from disc_core.study.report.prose import PROSE_FILE, keyed, prose

    text = prose()
    assert PROSE_FILE.is_file() and text["discussion"].startswith("- **Model size.**")
    assert set(keyed("set-aside", text)) == {"at-3e-4", "at-1-epoch"} and "splice" in keyed("throughput", text)
    assert "{median}" in keyed("throughput", text)["splice"]
    code = "\n".join(p.read_text() for p in (PKG / "study" / "report").glob("*.py"))
    for history in ("1,700", "2026-12", "at-3e-4", "at-1-epoch", "MiniLM", '"splice"', "H4's", "3e-4"):
        assert history not in code, f"{history!r} is in the report's code"


def test_a_missing_prose_file_leaves_its_sections_out(tmp_path):
    from disc_core.study.report.prose import prose

    assert prose(tmp_path / "none.md") == {}
    f = tmp_path / "p.md"
    f.write_text("<!-- a note -->\n## discussion\n\n- one\n  two\n\n## set-aside: x\n\nwhy\n")
    assert prose(f) == {"discussion": "- one\n  two", "set-aside: x": "why"}


def test_every_report_module_is_small():
    for p in (PKG / "study" / "report").glob("*.py"):
        assert len(p.read_text().splitlines()) <= 500, p.name
