"""Bad inputs and damaged checkpoints (issue 25): each gets a message that says what is wrong, where and what
to do, through the real CLI process (no traceback), and a resume never loses logged metrics silently."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from disc_core.engine.config import MAX_SEED, RunConfig, parse_seeds
from disc_core.engine.experiment import check_output_path, read_metrics, run_experiment
from disc_core.errors import ConfigError, ModelError

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args, tmp_path: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python -m disc_core ARGS`` as a user runs it, with a private run store."""
    env = {**os.environ, "DISC_RUNS_DIR": str(tmp_path / "store"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "disc_core", *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=timeout)


def _refused(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """The CLI said no (exit 2) with one ``error:`` line holding every needle, and no traceback."""
    err = proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], err[-2000:])
    assert "Traceback" not in err and "Traceback" not in proc.stdout, err
    assert err.startswith("error: ") or "\nerror: " in err, err
    for n in needles:
        assert n in err, (n, err)
    return err


# ------------------------------------------------------------------------------------------ numbers
@pytest.mark.parametrize("flags, needles", [
    (["--learning-rate", "nan"], ["--learning-rate", "finite", "nan"]),
    (["--learning-rate", "inf"], ["--learning-rate", "finite", "inf"]),
    (["--seed", "-1"], ["--seed", f"0 to {MAX_SEED}", "-1"]),
    (["--num-threads", "-1"], ["--num-threads", "between 1 and"]),
    (["--warmup-steps", "-1"], ["--warmup-steps", "0 or more"]),
    (["--max-steps", "1000000000000"], ["--max-steps", "at most 10,000,000", "->"]),
    (["--max-length", "1"], ["--max-length", "at least 3", "[CLS]"]),
    (["--max-length", "0"], ["--max-length", "at least 3"]),
])
def test_run_refuses_numbers_that_break_training_before_writing_anything(tmp_path, flags, needles):
    out = tmp_path / "run"
    _refused(_cli("run", "splice-synthetic", "--out", str(out), "--max-steps", "1", *flags, tmp_path=tmp_path),
             *needles)
    assert not out.exists()


def test_compare_refuses_bad_seeds_and_queues_nothing(tmp_path):
    _refused(_cli("compare", "splice-synthetic", "--seeds", "-1", "--max-steps", "1", "--out", str(tmp_path / "c"),
                  tmp_path=tmp_path), "--seeds", "seed -1 is out of range")
    _refused(_cli("compare", "splice-synthetic", "--seeds", "3-1", "--background", "--max-steps", "1",
                  tmp_path=tmp_path), "--seeds", "runs backwards")
    _refused(_cli("compare", "splice-synthetic", "--seeds", "1", "1", "--background", "--max-steps", "1",
                  tmp_path=tmp_path), "--seeds", "given twice")
    assert not (tmp_path / "c").exists()
    assert not list((tmp_path / "store").glob("**/config.json"))  # no run was queued


def test_compare_checks_where_its_table_goes_before_running(tmp_path):
    (tmp_path / "adir").mkdir()
    _refused(_cli("compare", "splice-synthetic", "--max-steps", "1", "--csv", str(tmp_path / "adir"),
                  "--out", str(tmp_path / "c"), tmp_path=tmp_path), "--csv", "is a folder")
    assert not (tmp_path / "c").exists()


def test_output_paths_that_cannot_be_written_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"--out /proc/x\.csv: cannot (write in|create)"):
        check_output_path("/proc/x.csv")
    with pytest.raises(ConfigError, match="is a folder -> give a file name"):
        check_output_path(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot create the folder"):
        check_output_path(blocker / "sub" / "out.csv")
    assert check_output_path(tmp_path / "new" / "out.csv") == tmp_path / "new" / "out.csv"
    assert (tmp_path / "new").is_dir() and not list((tmp_path / "new").iterdir())  # the probe left nothing


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_a_gpu_that_is_not_there_is_said_so(tmp_path):
    _refused(_cli("run", "splice-synthetic", "--device", "cuda", "--max-steps", "1", "--out", str(tmp_path / "r"),
                  tmp_path=tmp_path), "--device", "no GPU here", "--device auto or cpu")
    assert not (tmp_path / "r").exists()


def test_seed_lists_are_parsed_and_checked_in_one_place():
    # one meaning for the CLI's --seeds, the Train page's box and check: the seeds listed, ranges included
    assert parse_seeds(["3"]) == [3] and parse_seeds("3") == [3] and parse_seeds(3) == [3]
    assert parse_seeds(["1-3"]) == parse_seeds("1..3") == parse_seeds(["1", "2", "3"]) == [1, 2, 3]
    assert parse_seeds("1, 2; 5 7") == [1, 2, 5, 7] and parse_seeds(["0", "7-9"]) == [0, 7, 8, 9]
    assert parse_seeds(0) == [0] and parse_seeds([4, 9]) == [4, 9]
    for bad, match in ((-1, "out of range"), ("1, x", "'x' is not a seed"), ("", "no seeds"),
                       ("2, 2", "given twice"), ([MAX_SEED + 1], "out of range"), ("3-1", "runs backwards"),
                       ("0-5000", "more than the")):
        with pytest.raises(ConfigError, match=match):
            parse_seeds(bad)


def test_max_length_keeps_exactly_what_fits_and_counts_the_cut(tiny_model):
    from disc_core.data import Record
    from disc_core.engine.encoding import encode_records
    from disc_core.engine.mapping import build_symbol_mapping
    from disc_core.engine.models import load_tokenizer

    tok = load_tokenizer(tiny_model)
    mapping = build_symbol_mapping(["A", "C", "G", "T"], tok, strategy="frequent")
    recs = [Record(label=0, split="train", symbols=list("ACGTACGT")), Record(label=1, split="train", symbols=["A"])]
    enc = encode_records(recs, tok, mapping, 3, "classification")
    assert [len(x) for x in enc.input_ids] == [3, 3] and enc.n_truncated == 1
    enc = encode_records(recs, tok, mapping, 6, "classification")
    assert [len(x) for x in enc.input_ids] == [6, 3] and enc.n_truncated == 1
    with pytest.raises(ConfigError, match="at least 3"):
        encode_records(recs, tok, mapping, 1, "classification")  # was a negative slice: nearly all kept


# ------------------------------------------------------------------------------------------ model folders
@pytest.fixture
def broken_models(tiny_model, tmp_path):
    src = Path(tiny_model)
    out = {}
    for name in ("garbage", "truncated", "no-tokenizer"):
        d = tmp_path / name
        shutil.copytree(src, d)
        out[name] = d
    (out["garbage"] / "model.safetensors").write_bytes(b"this is not a safetensors file " * 20)
    w = out["truncated"] / "model.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    for f in out["no-tokenizer"].iterdir():
        if f.name.startswith(("tokenizer", "vocab", "special_tokens")):
            f.unlink()
    return out


def test_damaged_model_folders_name_the_file_and_the_fault(broken_models, tmp_path):
    for name, needle in (("garbage", "not a readable safetensors file"), ("truncated", "not a readable safetensors")):
        d = broken_models[name]
        err = _refused(_cli("run", "splice-synthetic", "--model-name-or-path", str(d), "--max-steps", "1",
                            "--out", str(tmp_path / f"r-{name}"), "--quiet", tmp_path=tmp_path),
                       str(d / "model.safetensors"), needle, "copy it again")
        assert "SafetensorError" not in err
    d = broken_models["no-tokenizer"]
    err = _refused(_cli("run", "splice-synthetic", "--model-name-or-path", str(d), "--max-steps", "1",
                        "--out", str(tmp_path / "r-tok"), "--quiet", tmp_path=tmp_path),
                   str(d), "no tokenizer files", "tokenizer.json")
    assert "vocabulary" not in err.lower()


def test_check_weights_accepts_a_good_folder(tiny_model, broken_models):
    from disc_core.engine.models import check_weights

    check_weights(tiny_model)
    with pytest.raises(ModelError, match="not a readable safetensors file"):
        check_weights(str(broken_models["truncated"]))


# ------------------------------------------------------------------------------------------ checkpoints
def _cfg(tiny_model, **kw):
    base = dict(dataset="splice-synthetic", model_name_or_path=tiny_model, max_steps=12, learning_rate=1e-3,
                per_device_train_batch_size=16, eval_steps=4, save_model=False, seed=3, checkpoint_steps=4)
    base.update(kw)
    return RunConfig(**base)


class _Crash:
    """A listener that raises at one step: the process dies there (what a kill would leave on disk)."""

    def __init__(self, at):
        self.at = at

    def on_step(self, ev):
        if ev.step == self.at:
            raise RuntimeError("simulated crash")


def _losses(run_dir, name="metrics.jsonl"):
    path = Path(run_dir) / name
    return [json.loads(x)["loss"] for x in path.read_text().splitlines() if json.loads(x)["kind"] == "step"]


@pytest.fixture(scope="module")
def whole_run(tiny_model, tmp_path_factory):
    d = tmp_path_factory.mktemp("whole")
    run_experiment(_cfg(tiny_model), d)
    return _losses(d)


def _crashed(tiny_model, d, at=7, **kw):
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_experiment(_cfg(tiny_model, **kw), d, listeners=[_Crash(at)])
    assert len(_losses(d)) == at


def test_an_empty_trainer_state_is_not_trusted_and_the_old_metrics_are_kept(tiny_model, tmp_path, whole_run):
    d = tmp_path / "r"
    _crashed(tiny_model, d)
    (d / "checkpoint" / "trainer_state.pt").write_bytes(b"")  # zero bytes (a full disk)
    res = run_experiment(_cfg(tiny_model), d, resume=True)
    msg = res["resumed"]["message"]
    assert "trainer_state.pt is empty (0 bytes)" in msg and "started again at step 1" in msg
    assert "metrics.restart-1.jsonl" in msg and res["resumed"]["from_step"] == 0
    assert len(_losses(d, "metrics.restart-1.jsonl")) == 7  # the first attempt's steps, kept
    np.testing.assert_allclose(_losses(d), whole_run, rtol=1e-5)  # the restart is the whole run again


def test_a_crash_between_the_checkpoint_renames_resumes_from_the_new_one(tiny_model, tmp_path, whole_run,
                                                                         monkeypatch):
    from disc_core.engine import training

    real = os.replace

    def dies_on_the_second_rename(src, dst):  # the save at step 8: checkpoint -> .old done, .tmp -> checkpoint not
        if str(src).endswith("checkpoint.tmp") and Path(dst).with_name("checkpoint.old").exists():
            raise KeyboardInterrupt("killed between the renames")
        return real(src, dst)

    d = tmp_path / "r"
    monkeypatch.setattr(training.os, "replace", dies_on_the_second_rename)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(_cfg(tiny_model), d)
    monkeypatch.setattr(training.os, "replace", real)
    assert not (d / "checkpoint").exists() and (d / "checkpoint.old").is_dir() and (d / "checkpoint.tmp").is_dir()
    assert len(_losses(d)) == 8
    res = run_experiment(_cfg(tiny_model), d, resume=True)
    assert res["resumed"]["from_step"] == 8 and res["resumed"]["message"].startswith("resumed from step 8")
    np.testing.assert_allclose(_losses(d), whole_run, rtol=1e-5)  # steps 1-8 kept, 9-12 trained once
    assert (d / "checkpoint").is_dir() and not (d / "checkpoint.old").exists()


def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_one(tiny_model, tmp_path, whole_run):
    d = tmp_path / "r"
    _crashed(tiny_model, d, at=10)  # checkpoints at steps 4 and 8; the step-4 one is gone by now
    shutil.copytree(d / "checkpoint", d / "checkpoint.old")  # as a crash after the first rename leaves it ...
    blob = __import__("torch").load(d / "checkpoint.old" / "trainer_state.pt", weights_only=True)
    assert blob["state"]["step"] == 8
    w = d / "checkpoint" / "model.safetensors"
    w.write_bytes(w.read_bytes()[:100])  # ... and the newer one damaged
    res = run_experiment(_cfg(tiny_model), d, resume=True)
    msg = res["resumed"]["message"]
    assert msg.startswith("resumed from step 8 (from checkpoint.old") and "model.safetensors cannot be read" in msg
    np.testing.assert_allclose(_losses(d), whole_run, rtol=1e-5)


def test_a_resume_without_a_checkpoint_says_it_starts_again(tiny_model, tmp_path, whole_run):
    d = tmp_path / "r"
    _crashed(tiny_model, d, at=3, checkpoint_steps=None)
    proc = _cli("run", "splice-synthetic", "--resume", "--out", str(d), "--quiet", "--model-name-or-path",
                tiny_model, "--max-steps", "12", "--learning-rate", "1e-3", "--per-device-train-batch-size", "16",
                "--eval-steps", "4", "--no-save-model", "--seed", "3", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert ("no usable checkpoint (none was saved (checkpoint_steps is not set)): started again at step 1 "
            "(the earlier attempt's metrics are kept in metrics.restart-1.jsonl)") in proc.stdout
    assert len(_losses(d, "metrics.restart-1.jsonl")) == 3
    np.testing.assert_allclose(_losses(d), whole_run, rtol=1e-5)


def test_read_checkpoint_reports_every_unusable_folder(tiny_model, tmp_path):
    from disc_core.engine.training import read_checkpoint

    assert read_checkpoint(tmp_path / "checkpoint") == (None, [])
    (tmp_path / "checkpoint").mkdir()
    (tmp_path / "checkpoint" / "model.safetensors").write_bytes(b"x")
    ckpt, problems = read_checkpoint(tmp_path / "checkpoint")
    assert ckpt is None and problems == [f"{tmp_path / 'checkpoint' / 'trainer_state.pt'} is missing"]
