"""MLM pre-training with checkpoints (the paper's Figure 3 at small scale) and fine-tuning a checkpoint."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from disc_core.engine.config import RunConfig
from disc_core.errors import ConfigError
from disc_core.engine.experiment import run_experiment
from disc_core.study.pretrain import (PretrainConfig, checkpoint_steps, checkpoints_from_refs, load_corpus,
                                pretrain_mlm, read_checkpoints)

SENTENCES = ["the cat sat on the mat .", "a dog ran across the park this morning .",
             "she read the book in one night .", "we will meet at the station at noon .",
             "the film was long but the music was good .", "he put the red box on the kitchen table ."]


def _weights(folder):
    return load_file(str(next(iter(sorted(folder.glob("*.safetensors"))))))


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    out = tmp_path_factory.mktemp("mlm")
    corpus = out / "corpus.txt"
    corpus.write_text("\n".join(SENTENCES * 20) + "\n", encoding="utf-8")
    cfg = PretrainConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                         max_length=16, batch_size=16, max_steps=60, learning_rate=3e-3, num_threads=1,
                         checkpoint_fractions=(0.0, 0.5, 1.0))
    ckpts = pretrain_mlm(cfg, out / "ckpt", corpus=corpus, log=lambda m: None)
    return cfg, out, ckpts


def test_checkpoints_at_the_planned_steps_step_0_is_the_init_and_weights_move(pretrained):
    cfg, out, ckpts = pretrained
    assert [c["step"] for c in ckpts] == [0, 30, 60] == checkpoint_steps(60, cfg.checkpoint_fractions)
    assert read_checkpoints(out / "ckpt") == ckpts
    index = json.loads((out / "ckpt" / "checkpoints.json").read_text())
    assert index["finished"] and "corpus.txt" in index["corpus"]
    w0, w1, w2 = (_weights(out / "ckpt" / f"step_{s}") for s in (0, 30, 60))
    # step 0 is exactly the seeded initialisation: a fresh model with the same seed
    from transformers import BertForMaskedLM  # noqa: F401  (the class pretrain_mlm builds)

    from disc_core.engine.models import load_tokenizer
    from disc_core.study.pretrain import _new_model

    init = {k: v.detach().numpy() for k, v in _new_model(cfg, load_tokenizer(None)).state_dict().items()}
    key = "bert.encoder.layer.0.attention.self.query.weight"
    np.testing.assert_array_equal(w0[key], init[key])
    assert not np.allclose(w0[key], w1[key]) and not np.allclose(w1[key], w2[key])


def test_mlm_loss_decreases(pretrained):
    _, out, _ = pretrained
    losses = json.loads((out / "ckpt" / "mlm_losses.json").read_text())
    assert len(losses) == 60 and all(np.isfinite(losses))
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 0.5


def test_a_second_call_reuses_the_finished_pretraining(pretrained):
    cfg, out, ckpts = pretrained
    mtime = (out / "ckpt" / "step_60" / "config.json").stat().st_mtime_ns
    assert pretrain_mlm(cfg, out / "ckpt", corpus="/nonexistent", log=lambda m: None) == ckpts
    assert (out / "ckpt" / "step_60" / "config.json").stat().st_mtime_ns == mtime


def test_a_checkpoint_fine_tunes(pretrained, tmp_path):
    _, out, ckpts = pretrained
    cfg = RunConfig(dataset="splice-synthetic", model_name_or_path=ckpts[-1]["path"], max_steps=3,
                    max_eval_examples=16, save_model=True, num_threads=1, tags=["pretrain_step=60"])
    res = run_experiment(cfg, tmp_path / "run")
    assert res["steps"] == 3 and 0.0 <= res["score"] <= 1.0
    # it started from that checkpoint: 3 small steps leave the encoder next to step 60's weights, far from step 0's
    key = "bert.encoder.layer.0.attention.self.query.weight"
    tuned = _weights(tmp_path / "run" / "model")
    tkey = next(k for k in tuned if k.endswith("encoder.layer.0.attention.self.query.weight"))
    w60, w0 = _weights(out / "ckpt" / "step_60")[key], _weights(out / "ckpt" / "step_0")[key]
    assert np.abs(tuned[tkey] - w60).max() < np.abs(w60 - w0).max() / 5


def test_a_pretraining_stopped_part_way_goes_on_to_the_same_checkpoints(pretrained, tmp_path):
    cfg, out, ckpts = pretrained
    corpus = out / "corpus.txt"

    class Stop(Exception):
        pass

    def crash_at_45(msg):
        if "MLM step 45/" in msg:
            raise Stop

    with pytest.raises(Stop):
        pretrain_mlm(cfg, tmp_path / "ckpt", corpus=corpus, log=crash_at_45, resume_every=10)
    assert (tmp_path / "ckpt" / "resume" / "state.pt").exists()
    assert [c["step"] for c in read_checkpoints(tmp_path / "ckpt")] == [0, 30]
    said = []
    again = pretrain_mlm(cfg, tmp_path / "ckpt", corpus=corpus, log=said.append, resume_every=10)
    assert any("goes on from step 40" in m for m in said)
    assert [c["step"] for c in again] == [0, 30, 60] and not (tmp_path / "ckpt" / "resume").exists()
    key = "bert.encoder.layer.0.attention.self.query.weight"
    np.testing.assert_allclose(_weights(tmp_path / "ckpt" / "step_60")[key], _weights(out / "ckpt" / "step_60")[key],
                               rtol=1e-5, atol=1e-6)
    losses = json.loads((tmp_path / "ckpt" / "mlm_losses.json").read_text())
    assert len(losses) == 60


def test_corpus_file_errors_and_checkpoint_names(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_corpus(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("\n \n")
    with pytest.raises(ConfigError, match="no non-empty line"):
        load_corpus(tmp_path / "empty.txt")
    refs = ["google/multiberts-seed_0-step_20k", "google/multiberts-seed_0-step_0k", str(tmp_path / "step_300"),
            "mine=7"]
    assert [c["step"] for c in checkpoints_from_refs(refs)] == [0, 7, 300, 20000]
    with pytest.raises(ConfigError, match="REF=STEP"):
        checkpoints_from_refs(["bert-base-uncased"])


def test_without_glue_or_file_the_corpus_is_synthetic_english(monkeypatch):
    import disc_core.study.pretrain as pt

    monkeypatch.setattr(pt, "_glue_sentences", lambda: [])
    sents, what = load_corpus(None, max_sentences=50)
    assert len(sents) == 50 and "wordfreq" in what
    assert sum(w in {"the", "of", "and", "to"} for s in sents for w in s.split()) > 20


def test_pretrain_command_fine_tunes_given_checkpoints(pretrained, tmp_path, capsys):
    from disc_core.cli.main import main

    _, out, ckpts = pretrained
    refs = [f"{c['path']}={c['step']}" for c in ckpts[::2]]  # step 0 and step 60, steps given explicitly
    rc = main(["pretrain", "--out", str(tmp_path), "--checkpoints", *refs, "--finetune", "splice-synthetic",
               "--seeds", "0", "--ft-steps", "2", "--num-threads", "1"])
    assert rc == 0
    index = read_checkpoints(tmp_path / "pretrain-steps" / "checkpoints")
    assert [c["step"] for c in index] == [0, 60] and index[1]["path"] == ckpts[-1]["path"]
    runs = sorted((tmp_path / "pretrain-steps" / "runs").glob("step_*/splice-synthetic/pretrained/seed0/config.json"))
    assert len(runs) == 2
    assert json.loads(runs[1].read_text())["config"]["tags"][-1] == "pretrain_step=60"
    assert (tmp_path / "pretrain_steps_splice-synthetic.png").read_bytes()[:4] == b"\x89PNG"


def test_changed_pretraining_sets_old_checkpoints_and_their_cells_aside(tmp_path):
    """A fine-tuning cell of an old checkpoint is never reused for a new checkpoint at the same step."""
    from dataclasses import replace

    from disc_core.study.reproduce import Task, pretrain_checkpoints

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(SENTENCES * 5) + "\n", encoding="utf-8")
    cfg = PretrainConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                         max_length=16, batch_size=8, max_steps=4, learning_rate=3e-3, num_threads=1,
                         checkpoint_fractions=(0.0, 1.0))
    task = Task("pretrain-steps", "splice-synthetic", ("pretrained",), (0,), pretrain=cfg)
    root = tmp_path / "root"
    log = []
    first = pretrain_checkpoints(task, root, corpus=str(corpus), log=log.append)
    cell = root / "pretrain-steps" / "runs" / "step_4" / "splice-synthetic" / "pretrained" / "seed0"
    cell.mkdir(parents=True)
    (cell / "results.json").write_text("{}")
    assert pretrain_checkpoints(task, root, corpus=str(corpus), log=log.append) == first  # same config: reused
    assert cell.exists() and not any("moved" in m for m in log)

    task.pretrain = replace(cfg, learning_rate=1e-3)
    pretrain_checkpoints(task, root, corpus=str(corpus), log=log.append)
    assert not cell.exists()
    aside = list((root / "pretrain-steps").glob("superseded-*"))
    assert len(aside) == 1 and (aside[0] / "runs" / "step_4" / "splice-synthetic" / "pretrained" / "seed0"
                                / "results.json").exists()
    assert (aside[0] / "checkpoints" / "checkpoints.json").exists()
    assert json.loads((root / "pretrain-steps" / "checkpoints" / "checkpoints.json").read_text())["config"][
        "learning_rate"] == 1e-3
    assert any("pre-training config changed" in m for m in log)
