"""The discipline-specific baselines (kmer-lr, cnn): exact k-mer features, run folders like BERT's, determinism,
voting per piece, regression, and their rows in the comparison table beside the paper's "specific" model."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import numpy as np
import pytest
import torch

from disc_core.data import Record, make_dataset
from disc_core.engine.baselines import (ConvNet, count_parameters, kmer_counts, kmer_matrix, kmer_vocabulary,
                                        symbol_sequences)
from disc_core.engine.config import BASELINES, VARIANTS, RunConfig
from disc_core.engine.encoding import Encoded
from disc_core.engine.experiment import read_metrics, run_experiment
from disc_core.errors import ConfigError
from disc_core.study.compare import summarize, to_markdown


def _cfg(tiny_model, **kw):
    base = dict(dataset="splice-synthetic", model_name_or_path=tiny_model, seed=1, max_steps=12,
                per_device_train_batch_size=32, eval_steps=4, save_model=False)
    base.update(kw)
    return RunConfig(**base)


# ------------------------------------------------------------------------------------------- k-mers
def test_kmer_counts_of_a_known_sequence_are_exact():
    assert kmer_counts("ACGTACG", 2) == {("A", "C"): 2, ("C", "G"): 2, ("G", "T"): 1, ("T", "A"): 1}
    assert kmer_counts("ACGTACG", 3) == {("A", "C", "G"): 2, ("C", "G", "T"): 1, ("G", "T", "A"): 1,
                                         ("T", "A", "C"): 1}
    assert kmer_counts("AC", 3) == {}
    # pitch n-grams: symbols are strings of MIDI pitches, counted as whole symbols, not characters
    assert kmer_counts(["60", "62", "60", "62"], 2) == {("60", "62"): 2, ("62", "60"): 1}


def test_kmer_matrix_counts_every_kmer_up_to_k_over_the_training_vocabulary():
    train = ["ACGTACG", "AAAA"]
    vocab = kmer_vocabulary(train, 2, min_count=1)
    # columns: every 1-mer, then every 2-mer, sorted within a length
    assert list(vocab) == [("A",), ("C",), ("G",), ("T",), ("A", "A"), ("A", "C"), ("C", "G"), ("G", "T"),
                           ("T", "A")]
    x = kmer_matrix(["ACGTACG", "AAAA", "GGTT"], vocab, 2).toarray()
    assert x[0].tolist() == [2, 2, 2, 1, 0, 2, 2, 1, 1]
    assert x[1].tolist() == [4, 0, 0, 0, 3, 0, 0, 0, 0]
    # "GG" and "TT" were never seen in training: dropped, not invented
    assert x[2].tolist() == [0, 0, 2, 2, 0, 0, 0, 1, 0]
    # min_count keeps only k-mers seen that often in training
    assert ("G", "T") not in kmer_vocabulary(train, 2, min_count=2)


def test_symbol_sequences_leave_out_cls_and_sep_for_symbols_only():
    enc = Encoded([np.array([101, 7, 8, 9, 102], dtype=np.int32)], None, np.array([0]), None)
    assert symbol_sequences(enc, is_text=False) == [[7, 8, 9]]
    assert symbol_sequences(enc, is_text=True) == [[101, 7, 8, 9, 102]]


# ------------------------------------------------------------------------------------------- kmer-lr
def test_kmer_lr_writes_a_run_folder_like_berts_deterministic_and_without_steps(tiny_model, tmp_path):
    a = run_experiment(_cfg(tiny_model, variant="kmer-lr", save_model=True), tmp_path / "a")
    for f in ("config.json", "mapping.json", "metrics.jsonl", "results.json", "model/kmer-lr.npz",
              "model/kmer-lr.json"):
        assert (tmp_path / "a" / f).exists(), f
    assert a["variant"] == a["label"] == "kmer-lr" and a["metric"] == "accuracy"
    assert a["steps"] is None and "loss curve" in a["no_steps"]  # said, not faked
    assert not [e for e in read_metrics(tmp_path / "a") if e["kind"] == "step"]
    assert a["train_time_s"] > 0 and a["wall_time_s"] >= a["train_time_s"]
    assert "tokens_per_s" not in a  # not a BERT speed: the queue's estimates must not read it
    chosen = a["baseline"]["chosen"]
    # the chosen (k, C) is the grid's best on validation, and the 3-class synthetic task is learnt above chance
    assert chosen["validation"] == max(g["validation"] for g in a["baseline"]["grid"]) == a["best_validation"]
    assert a["score"] > a["majority_accuracy"] + 0.1
    saved = json.loads((tmp_path / "a" / "model" / "kmer-lr.json").read_text())
    assert saved["k"] == chosen["k"] and all(len(g) <= chosen["k"] for g in saved["kmers"])
    b = run_experiment(_cfg(tiny_model, variant="kmer-lr"), tmp_path / "b")
    def grid(r):
        return [{k: v for k, v in g.items() if k != "fit_s"} for g in r["baseline"]["grid"]]  # all but its timing

    assert b["test"] == a["test"] and grid(b) == grid(a)  # deterministic given the seed


def _music_like(n_pieces=24, seg=3):
    """Pieces of segments (grouped, voted): class 0 climbs 60-62-64, class 1 falls 64-62-60, segments noisy."""
    rng = np.random.default_rng(0)
    recs = []
    for p in range(n_pieces):
        label = p % 2
        split = "train" if p < 16 else "validation" if p < 20 else "test"
        for s in range(seg):
            motif = ["60", "62", "64"] if label == 0 else ["64", "62", "60"]
            body = [str(x) for x in rng.choice([55, 57, 59, 65, 67], size=6)]
            recs.append(Record(label=label, split=split, symbols=tuple(body[:3] + motif + body[3:]), group=f"piece{p}"))
    return make_dataset("tiny-music", "music", "classification", "accuracy", recs, source="test",
                        label_names=["up", "down"], voting=True)


def test_kmer_lr_votes_per_piece_like_bert(tiny_model, tmp_path):
    ds = _music_like()
    res = run_experiment(_cfg(tiny_model, dataset="tiny-music", variant="kmer-lr"), tmp_path / "r", dataset=ds)
    assert res["test"]["n_groups"] == 4 and res["test"]["n"] == 12  # 4 test pieces of 3 segments: scored per piece
    assert "segment_accuracy" in res["test"]
    assert res["score"] == 1.0  # the pitch 3-gram gives the class away


def test_kmer_lr_fits_a_ridge_for_regression(tiny_model, tmp_path):
    rng = np.random.default_rng(1)
    recs = []
    for i in range(120):
        seq = "".join(rng.choice(list("ACGT"), size=20))
        split = "train" if i < 80 else "validation" if i < 100 else "test"
        recs.append(Record(label=float(seq.count("G")), split=split, symbols=tuple(seq)))
    ds = make_dataset("tiny-reg", "dna", "regression", "spearman", recs, source="test")
    res = run_experiment(_cfg(tiny_model, dataset="tiny-reg", variant="kmer-lr"), tmp_path / "r", dataset=ds)
    assert res["baseline"]["model"] == "ridge regression" and "alpha" in res["baseline"]["chosen"]
    assert res["score"] > 0.8  # G's count is a 1-mer feature


# ------------------------------------------------------------------------------------------- cnn
def test_cnn_has_about_a_million_weights_and_ignores_padding():
    torch.manual_seed(0)
    net = ConvNet(vocab_size=8, num_labels=3, task="classification").eval()
    assert 0.9e6 < count_parameters(net) < 1.3e6  # Hilbert-CNN has 961K
    x = torch.tensor([[2, 3, 4, 5, 6]])
    alone = net(input_ids=x, attention_mask=torch.ones_like(x)).logits
    padded = torch.tensor([[2, 3, 4, 5, 6, 0, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 0, 0, 0]])
    with_pad = net(input_ids=padded, attention_mask=mask).logits
    torch.testing.assert_close(alone, with_pad)  # a batch's padding does not change an example's score
    out = net(input_ids=x, attention_mask=torch.ones_like(x), labels=torch.tensor([1]))
    assert out.loss.ndim == 0 and out.logits.shape == (1, 3)


def test_cnn_trains_with_the_engines_loop_and_writes_its_model(tiny_model, tmp_path):
    res = run_experiment(_cfg(tiny_model, variant="cnn", max_steps=40, eval_steps=10, save_model=True,
                              cnn_learning_rate=2e-3), tmp_path / "c")
    steps = [e for e in read_metrics(tmp_path / "c") if e["kind"] == "step"]
    assert len(steps) == res["steps"] and res["steps"] <= 40 and steps[0]["learning_rate"] == pytest.approx(2e-3)
    # it learns: the synthetic splice sites are found (majority class 0.50) within 40 steps
    assert res["best_validation"] > 0.6 and res["score"] > res["majority_accuracy"] + 0.1
    assert (tmp_path / "c" / "model" / "cnn.safetensors").exists()
    assert json.loads((tmp_path / "c" / "model" / "cnn.json").read_text())["baseline"] == "cnn"
    assert res["baseline"]["parameters"] > 0.9e6 and res["train_time_s"] > 0 and "tokens_per_s" not in res


# ------------------------------------------------------------------------------------------- registry and tables
def test_baselines_are_variants_that_build_no_bert(tiny_model):
    from disc_core.engine.variants import build_model

    assert set(BASELINES) <= set(VARIANTS)
    assert RunConfig(variant="kmer-lr").label == "kmer-lr"
    with pytest.raises(ConfigError, match="baseline"):
        build_model(tiny_model, "cnn", 2, "classification")
    with pytest.raises(ConfigError, match="cnn_learning_rate"):
        RunConfig(cnn_learning_rate=0)


def _res(dataset, label, score, seed=1, t=1.0):
    return {"dataset": dataset, "label": label, "seed": seed, "metric": "accuracy", "score": score,
            "train_time_s": t}


def test_baseline_rows_show_the_papers_specific_model_and_training_time():
    t = summarize([_res("splice", "pretrained", 0.97, t=100.0), _res("splice", "kmer-lr", 0.80, t=2.0),
                   _res("splice", "kmer-lr", 0.80, seed=2, t=4.0), _res("deeploc", "cnn", 0.6),
                   _res("maestro", "cnn", 0.5)])
    rows = {(r["dataset"], r["variant"]): r for _, r in t.iterrows()}
    assert rows["splice", "pretrained"]["paper_text"] == "0.975 (97.5)"
    assert rows["splice", "kmer-lr"]["paper_text"] == "0.941 (94.1)"  # Hilbert-CNN's row
    assert "Hilbert-CNN" in rows["splice", "kmer-lr"]["paper_source"]
    assert "PLUS-TFM" in rows["deeploc", "cnn"]["paper_source"]
    assert rows["maestro", "cnn"]["paper_text"] == "not reported"  # the paper has no music-specific model
    assert rows["splice", "kmer-lr"]["train_time_s"] == 3.0 and rows["splice", "pretrained"]["train_time_s"] == 100.0
    md = to_markdown(t)
    assert "| train time |" in md and "| splice | kmer-lr | accuracy | 0.8000 ± 0.0000 | 2 | 0.941 (94.1) |" in md
    assert "3.0 s |" in md and "100 s |" in md


def test_compare_cli_runs_bert_and_baselines_side_by_side(tiny_model, tmp_path):
    from disc_core.cli.main import main

    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = main(["compare", "splice-synthetic", "--variants", "pretrained", "rand", "kmer-lr", "cnn", "--seeds", "1",
                   "--max-steps", "3", "--model-name-or-path", tiny_model, "--out", str(tmp_path), "--no-save-model"])
    out = buf.getvalue()
    assert rc == 0
    for v in ("pretrained", "rand", "kmer-lr", "cnn"):
        assert f"| splice-synthetic | {v} | accuracy |" in out
        assert (tmp_path / "splice-synthetic" / v / "seed1" / "results.json").exists()
    assert "chosen on validation: k " in out  # kmer-lr says what it chose instead of steps
