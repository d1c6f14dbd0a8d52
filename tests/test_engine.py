"""The experiment engine on a tiny random BERT: batching, run folders, repeatability, resume, metrics, CLI."""

import io
import json
from contextlib import redirect_stdout

import numpy as np
import pytest

from disc_core.cli.main import main
from disc_core.engine.config import RunConfig
from disc_core.data import Record, make_dataset
from disc_core.engine.encoding import make_batches
from disc_core.errors import ConfigError
from disc_core.engine.experiment import load_finetuned, load_run, prepare_data, read_metrics, run_experiment
from disc_core.engine.metrics import compute_metrics, vote


def _cfg(tiny_model, **kw):
    base = dict(dataset="splice-synthetic", model_name_or_path=tiny_model, max_steps=12, learning_rate=1e-3,
                per_device_train_batch_size=16, eval_steps=4, save_model=False, seed=3)
    base.update(kw)
    return RunConfig(**base)


def _step_losses(run_dir):
    return [e["loss"] for e in read_metrics(run_dir) if e["kind"] == "step"]


def test_batches_cover_every_example_once_and_bucketing_cuts_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 500, size=1000)
    for bucketing in (True, False):
        batches = make_batches(lengths, 32, shuffle=True, seed=1, bucketing=bucketing)
        flat = np.concatenate(batches)
        assert sorted(flat.tolist()) == list(range(1000))

    def padded(batches):
        return sum(len(b) * lengths[b].max() - lengths[b].sum() for b in batches)

    bucketed = padded(make_batches(lengths, 32, shuffle=True, seed=1, bucketing=True))
    plain = padded(make_batches(lengths, 32, shuffle=True, seed=1, bucketing=False))
    assert bucketed < plain / 10
    # seeded: the same seed gives the same order, another seed another order
    a = make_batches(lengths, 32, shuffle=True, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, make_batches(lengths, 32, shuffle=True, seed=1)))
    assert not all(np.array_equal(x, y) for x, y in zip(a, make_batches(lengths, 32, shuffle=True, seed=2)))


def test_run_folder_can_be_read_back_and_reloaded(tiny_model, tmp_path):
    cfg = _cfg(tiny_model, save_model=True)
    res = run_experiment(cfg, tmp_path / "run")
    run = load_run(tmp_path / "run")
    assert run["config"] == cfg
    assert run["results"]["score"] == res["score"] and res["metric"] == "accuracy"
    kinds = [e["kind"] for e in run["events"]]
    assert kinds.count("step") == 12 and "eval" in kinds
    assert all(e["tokens_per_s"] > 0 for e in run["events"] if e["kind"] == "step")
    assert run["resolved"]["dataset"]["synthetic"] is True
    assert (tmp_path / "run" / "model" / "model.safetensors").exists()

    # the saved model reproduces the reported test score
    import torch

    from disc_core.engine.training import evaluate

    model, tok, mapping = load_finetuned(tmp_path / "run")
    assert mapping["strategy"] == "frequent"
    _, _, _, enc = prepare_data(cfg)
    metrics, _ = evaluate(model, enc["test"], "classification", 64, torch.device("cpu"), tok.pad_token_id)
    assert metrics["accuracy"] == pytest.approx(res["score"])


def test_cpu_runs_are_repeatable_and_seeds_matter(tiny_model, tmp_path):
    run_experiment(_cfg(tiny_model, max_steps=6), tmp_path / "a")
    run_experiment(_cfg(tiny_model, max_steps=6), tmp_path / "b")
    run_experiment(_cfg(tiny_model, max_steps=6, seed=4), tmp_path / "c")
    assert _step_losses(tmp_path / "a") == _step_losses(tmp_path / "b")
    assert _step_losses(tmp_path / "a") != _step_losses(tmp_path / "c")


class _Crash:
    def __init__(self, at):
        self.at = at

    def on_start(self, ev): ...
    def on_eval(self, ev): ...
    def on_end(self, ev): ...

    def on_step(self, ev):
        if ev.step == self.at:
            raise RuntimeError("simulated crash")


def test_resume_from_checkpoint_continues_the_same_run(tiny_model, tmp_path):
    cfg = _cfg(tiny_model, checkpoint_steps=4)
    run_experiment(cfg, tmp_path / "whole")
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_experiment(cfg, tmp_path / "broken", listeners=[_Crash(at=7)])
    assert not (tmp_path / "broken" / "results.json").exists()
    assert len(_step_losses(tmp_path / "broken")) == 7  # logged before the crash, kept
    run_experiment(cfg, tmp_path / "broken", resume=True)
    whole, resumed = _step_losses(tmp_path / "whole"), _step_losses(tmp_path / "broken")
    assert len(resumed) == 12  # steps 5-7 were replayed from the step-4 checkpoint, not duplicated
    np.testing.assert_allclose(resumed, whole, rtol=1e-5)


def test_early_stopping_keeps_the_best_validation_checkpoint(tiny_model, tmp_path):
    import torch

    from disc_core.engine.training import evaluate

    cfg = _cfg(tiny_model, max_steps=40, eval_steps=2, early_stopping_patience=2, learning_rate=0.5,
               save_model=True)
    res = run_experiment(cfg, tmp_path / "r")
    evals = [e for e in read_metrics(tmp_path / "r") if e["kind"] == "eval" and e["split"] == "validation"]
    best = max(e["metrics"]["accuracy"] for e in evals)
    assert res["best_validation"] == best
    if res["stopped_early"]:
        assert res["steps"] < 40
    # the saved (and scored) weights are the best step's: re-scoring them on the validation split gives that
    # step's logged validation loss, not the last evaluation's
    at_best = next(e["metrics"] for e in evals if e["step"] == res["best_step"])
    last = evals[-1]["metrics"]
    assert res["weights_step"] == res["best_step"]
    model, tok, _ = load_finetuned(tmp_path / "r")
    _, _, _, enc = prepare_data(cfg)
    again, _ = evaluate(model, enc["validation"], "classification", 64, torch.device("cpu"), tok.pad_token_id)
    assert again["accuracy"] == at_best["accuracy"]
    assert again["loss"] == pytest.approx(at_best["loss"], rel=1e-4)
    if res["best_step"] != evals[-1]["step"]:
        assert again["loss"] != pytest.approx(last["loss"], rel=1e-6)


def test_regression_on_sentence_pairs_with_train_fraction(tiny_model, tmp_path):
    rng = np.random.default_rng(0)
    words = ["red", "blue", "cat", "dog", "runs", "sleeps", "big", "small"]
    recs = []
    for i in range(120):
        a = " ".join(rng.choice(words, 5))
        b = " ".join(rng.choice(words, 5))
        overlap = len(set(a.split()) & set(b.split()))
        recs.append(Record(label=float(overlap), split=["train", "train", "validation", "test"][i % 4],
                           text=a, text_pair=b))
    ds = make_dataset("toy-sts", "text", "regression", "pearson", recs, source="test fixture")
    cfg = _cfg(tiny_model, dataset="toy-sts", text_shift="shift", train_fraction=0.5)
    _, tok, shift, enc = prepare_data(cfg, ds)
    assert len(enc["train"]) == 30
    assert enc["train"].token_type_ids is not None and enc["train"].token_type_ids[0].max() == 1
    cat_id = tok.convert_tokens_to_ids("cat")
    assert cat_id not in np.concatenate(enc["train"].input_ids)  # every word token is shifted away
    res = run_experiment(cfg, tmp_path / "r", dataset=ds)
    assert {"pearson", "spearman", "mse"} <= set(res["test"])


def test_voting_scores_pieces_not_segments():
    # piece a: 3 segments, 2 predict class 1 (right); piece b: 2 segments predict 0 (right)
    logits = np.array([[0, 1], [0, 2], [3, 0], [1, 0], [2, 0]], dtype=float)
    labels = np.array([1, 1, 1, 0, 0])
    groups = ["a", "a", "a", "b", "b"]
    y, p = vote(groups, logits, labels)
    assert y.tolist() == [1, 0] and p.tolist() == [1, 0]
    m = compute_metrics("classification", logits, labels, groups)
    assert m["accuracy"] == 1.0 and m["segment_accuracy"] == pytest.approx(0.8) and m["n_groups"] == 2


def test_metrics_match_known_values():
    m = compute_metrics("classification", np.array([[1, 0], [0, 1], [0, 1], [1, 0]]), np.array([0, 1, 0, 0]))
    assert m["accuracy"] == 0.75 and m["f1"] == pytest.approx(2 / 3)
    r = compute_metrics("regression", np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 3.0, 2.0, 4.0]))
    assert r["spearman"] == pytest.approx(0.8) and r["pearson"] == pytest.approx(0.8)


def test_config_file_and_bad_keys(tmp_path):
    p = tmp_path / "cfg.yaml"
    p.write_text("dataset: splice\nlearning_rate: 2.0e-5\nvariant: rand+shift\n")
    cfg = RunConfig.from_file(p, max_steps=7)
    assert (cfg.dataset, cfg.learning_rate, cfg.variant, cfg.text_shift, cfg.max_steps) == \
        ("splice", 2e-5, "rand", "shift", 7)
    assert RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    p.write_text("dataset: splice\nlearnin_rate: 1\n")
    with pytest.raises(ConfigError, match="unknown config keys: learnin_rate"):
        RunConfig.from_file(p)
    with pytest.raises(ConfigError, match="train_fraction"):
        RunConfig(train_fraction=0)


def test_cli_compare_prints_the_table(tiny_model, tmp_path):
    out = io.StringIO()
    with redirect_stdout(out):
        rc = main(["compare", "splice-synthetic", "--variants", "pretrained", "rand", "--seeds", "1", "2",
                   "--max-steps", "3", "--model-name-or-path", tiny_model, "--out", str(tmp_path),
                   "--csv", str(tmp_path / "t.csv"), "--no-save-model"])
    text = out.getvalue()
    assert rc == 0
    assert "| splice-synthetic | pretrained | accuracy |" in text and "| splice-synthetic | rand | accuracy |" in text
    assert "dataset,variant,metric,mean,std,n," in text and ",paper," in text
    import pandas as pd

    table = pd.read_csv(tmp_path / "t.csv")
    assert table["n"].tolist() == [2, 2]
    assert sorted(p.parent.name for p in tmp_path.glob("splice-synthetic/*/seed*/results.json")) == \
        ["seed1", "seed1", "seed2", "seed2"]


def test_paired_test_needs_variation_to_call_an_ordering_significant():
    from disc_core.study.compare import paired_test

    def r(label, seed, score):
        return {"label": label, "seed": seed, "score": score}

    same_gap = [r("pretrained", s, 0.7) for s in (1, 2)] + [r("rand", s, 0.5) for s in (1, 2)]
    t = paired_test(same_gap, "pretrained", "rand")
    assert t["direction_ok"] and not t["holds"]  # two identical differences prove nothing
    from disc_core.study.report import verdict

    assert verdict(t) == "right direction on every seed by the same amount (untested)"
    assert verdict(paired_test(same_gap, "rand", "pretrained")).startswith("reversed on every seed")
    varied = [r("pretrained", s, 0.8 + 0.01 * s) for s in range(4)] + [r("rand", s, 0.5 - 0.02 * s) for s in range(4)]
    t = paired_test(varied, "pretrained", "rand")
    assert t["holds"] and t["ci95"][0] > 0 and t["p_value"] < 0.01
    assert paired_test(varied[:1] + varied[4:5], "pretrained", "rand") is None


def test_precision_is_chosen_per_model_and_device_and_recorded(tiny_model, tmp_path, monkeypatch):
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from disc_core.engine import training as T

    cpu = torch.device("cpu")
    tiny = BertForSequenceClassification(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                                    intermediate_size=64))
    wide = BertForSequenceClassification(BertConfig(hidden_size=384, num_hidden_layers=1, num_attention_heads=6,
                                                    intermediate_size=64))
    monkeypatch.delenv("DISC_CPU_BF16", raising=False)
    monkeypatch.setattr(T, "cpu_has_native_bf16", lambda: True)
    assert T.precision_for(tiny, cpu) == "fp32"  # casts cost more than a hidden-32 model's matmuls
    assert T.precision_for(wide, cpu) == "bf16" and T.precision_for(wide, cpu, bf16=False) == "fp32"
    assert T.precision_for(wide, torch.device("cuda")) == "bf16"
    monkeypatch.setattr(T, "cpu_has_native_bf16", lambda: False)  # emulated bf16 is slower: stay in fp32
    assert T.precision_for(wide, cpu) == "fp32"
    monkeypatch.setenv("DISC_CPU_BF16", "1")
    assert T.precision_for(tiny, cpu) == "bf16"
    # a forced-bf16 run trains, and says in its results which precision it ran in
    res = run_experiment(_cfg(tiny_model, max_steps=4), tmp_path / "bf16")
    assert res["precision"] == "bf16" and np.isfinite(res["score"])
    monkeypatch.setenv("DISC_CPU_BF16", "0")
    assert run_experiment(_cfg(tiny_model, max_steps=4), tmp_path / "fp32")["precision"] == "fp32"


def test_attention_dropout_replaces_the_models_own(tiny_model):
    from disc_core.engine.variants import build_model

    assert build_model(tiny_model, "pretrained", 2, "classification").config.attention_probs_dropout_prob > 0
    for variant in ("pretrained", "rand", "re-emb"):
        m = build_model(tiny_model, variant, 2, "classification", attention_dropout=0.0)
        assert m.config.attention_probs_dropout_prob == 0.0, variant
        assert m.config.hidden_dropout_prob > 0  # only the attention probabilities' dropout changes
    with pytest.raises(ConfigError, match="attention_dropout must be in"):
        _cfg(tiny_model, attention_dropout=1.5)
