"""The Results page's tables, computed in the core: one pool's table, its ordering checks, the paper's block."""

from __future__ import annotations

import pytest

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
    assert shown.loc["rand", "predicts one class"] == "1 of 3 run(s)" and shown.loc["pretrained", "predicts one class"] == "no"
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
