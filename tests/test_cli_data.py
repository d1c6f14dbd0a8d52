"""Own data from the command line: `data import | list | show | remove`, and `run` / `compare` on it.

Results belong to the data they came from: a comparison reuses a finished cell only for the same dataset
content and split (its fingerprint), says how many cells it reused, and a file given where a dataset name
belongs is told to be imported first, with nothing written.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from helpers import write_midi

from disc_core.cli.main import main
from disc_core.data import DATASETS, load_dataset
from disc_core.data.user import list_user_datasets


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def dna_csv(path: Path, n: int = 40, seed: int = 1, header: str = "seq,kind", length: int = 30) -> Path:
    rng = random.Random(seed)
    rows = ["".join(rng.choice("ACGT") for _ in range(length)) + f",{'pos' if i % 2 else 'neg'}" for i in range(n)]
    return write(path, header + "\n" + "\n".join(rows) + "\n")


def cli(capsys, *argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_data_import_csv_with_columns_as_flags_then_list_show_remove(tmp_path, capsys, forget):
    path = dna_csv(tmp_path / "mine.csv")
    forget.append("cli-dna")
    rc, out, err = cli(capsys, "data", "import", path, "--name", "cli-dna", "--sequence-column", "seq",
                       "--label-column", "kind", "--quiet")
    assert rc == 0, err
    assert f"imported {path} as 'cli-dna'" in out and "discipline dna, task classification" in out
    assert "2 classes (examples per split):" in out
    lines = {}  # the class table's rows (the examples table below it starts with class names too)
    for ln in out.splitlines():
        if ln.startswith(("neg ", "pos ")):
            lines.setdefault(ln.split()[0], ln.split()[1:])
    assert lines == {"neg": ["16", "2", "2"], "pos": ["16", "2", "2"]}  # class, train, validation, test
    assert "truncation: none" in out and "columns used: sequence 'seq', label 'kind'" in out
    assert not err  # nothing to warn about
    assert load_dataset("cli-dna").sizes() == {"train": 32, "validation": 4, "test": 4}
    rc, out, _ = cli(capsys, "data", "list")
    assert rc == 0 and "cli-dna" in out and "32/4/4" in out
    rc, out, _ = cli(capsys, "data", "show", "cli-dna")
    assert rc == 0 and "random 80/10/10 split, stratified by class (seed 42)" in out and "imported:" in out
    # the first training examples, as the Datasets page shows them: class name, length, the symbols
    from disc_core.data.checks import example_rows

    first = example_rows(load_dataset("cli-dna"), n=5, width=100)
    assert "first 5 training examples:" in out and len(first) == 5
    assert {r["label"] for r in first} <= {"pos", "neg"} and {r["length"] for r in first} == {30}
    assert first[0]["sequence"][:40] in out
    # the same name again needs --overwrite; a bad option is one line, no traceback
    rc, _, err = cli(capsys, "data", "import", path, "--name", "cli-dna", "--quiet")
    assert rc == 2 and "already have a dataset named 'cli-dna'" in err and "Traceback" not in err
    rc, _, err = cli(capsys, "data", "import", path, "--name", "cli-dna", "--overwrite", "--quiet")
    assert rc == 2 and "no label column" in err and "columns found: seq, kind" in err
    rc, out, _ = cli(capsys, "data", "remove", "cli-dna")
    assert rc == 0 and "removed cli-dna" in out and "cli-dna" not in DATASETS
    rc, _, err = cli(capsys, "data", "show", "cli-dna")
    assert rc == 2 and "unknown dataset 'cli-dna'" in err


def test_data_import_fasta_with_labels_csv_and_warnings_on_stderr(tmp_path, capsys, forget):
    rng = random.Random(2)
    ids = [f"P{i:04d}" for i in range(30)]
    fa = write(tmp_path / "prot.fasta", "".join(f">{i} some protein\n{''.join(rng.choice('ACDEFGHIKLMNPQRSTVWY') for _ in range(40))}\n"
                                                for i in ids))
    labels = ["Nucleus" if k % 2 else "Cytoplasm" for k in range(30)]
    labels[4] = "nucleus "  # one spelled otherwise
    side = write(tmp_path / "loc.csv", "id,location\n" + "".join(f"{i},{y}\n" for i, y in zip(ids, labels)))
    forget.append("cli-prot")
    rc, out, err = cli(capsys, "data", "import", fa, "--name", "cli-prot", "--labels", side, "--label-column",
                       "location", "--quiet")
    assert rc == 0, err
    assert "discipline protein" in out and "Cytoplasm" in out and "Nucleus" in out
    assert "warning: labels that differ only in case or surrounding spaces were merged" in err
    assert "1 warning(s), above" in err
    rc, out, err = cli(capsys, "data", "show", "cli-prot")
    assert "warning: labels that differ only in case" in err  # saved with the dataset
    rc, _, err = cli(capsys, "data", "import", fa, "--name", "cli-prot2", "--labels", side, "--label-column",
                     "location", "--no-merge-labels", "--quiet")
    assert rc == 2 and "differ only in case or surrounding spaces" in err and "loc.csv, line 6" in err
    assert "cli-prot2" not in list_user_datasets()


def test_data_import_zip_of_a_midi_folder(tmp_path, capsys, forget):
    import zipfile

    z = tmp_path / "composers.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for c, base in (("low", 40), ("high", 70)):
            for k in range(4):
                f = tmp_path / "src" / c / f"{c}{k}.mid"
                write_midi(f, [base + (i * (k + 3)) % 12 for i in range(150)])
                zf.write(f, f"composers/{c}/{c}{k}.mid")
        zf.writestr("__MACOSX/composers/._low0.mid", b"\x00\x05\x16\x07")
    forget.append("cli-midi")
    rc, out, err = cli(capsys, "data", "import", z, "--name", "cli-midi", "--workers", "1")
    assert rc == 0, err
    assert "discipline music, task classification" in out and "2 classes (pieces per split):" in out
    assert "read from the zip file composers.zip: 8 MIDI files under composers/" in out
    assert "warning: ignored metadata that is not music (left by macOS or an editor): __MACOSX" in err
    assert "warning: 2 of 2 classes have fewer than 5 pieces" in err
    assert "reading composers.zip" in err  # the progress bar
    ds = load_dataset("cli-midi")
    assert ds.voting and ds.label_names == ["high", "low"]


def test_an_empty_test_split_is_refused_by_the_cli(tmp_path, capsys):
    rows = "".join(f"ACGTACGT{'ACGT'[i % 4]},{'ab'[i % 2]},{'train' if i < 8 else 'validation'}\n" for i in range(10))
    path = write(tmp_path / "no-test.csv", "sequence,label,split\n" + rows)
    rc, out, err = cli(capsys, "data", "import", path, "--name", "cli-no-test", "--quiet")
    assert rc == 2 and "the test split would be empty: no example is marked test" in err
    assert "Traceback" not in err and "cli-no-test" not in list_user_datasets()


@pytest.mark.parametrize("command", ["run", "compare"])
def test_a_path_given_as_the_dataset_says_import_it_first_and_writes_nothing(tmp_path, capsys, monkeypatch,
                                                                             command):
    monkeypatch.setenv("DISC_RUNS_DIR", str(tmp_path / "runs"))
    data = tmp_path / "data"
    path = dna_csv(data / "mine.csv")
    before = sorted(p.name for p in data.rglob("*"))
    monkeypatch.chdir(data)
    for given in (str(path), "mine.csv", "../data/mine.csv", "mine.fasta"):
        rc, out, err = cli(capsys, command, given, "--max-steps", "1")
        assert rc == 2 and "Traceback" not in err
        assert "not a dataset name" in err and f"import it first: `python -m disc_core data import {given} --name NAME`" in err
    rc, _, err = cli(capsys, command, "no-such-set", "--max-steps", "1")
    assert rc == 2 and "unknown dataset 'no-such-set'" in err and "Traceback" not in err
    assert sorted(p.name for p in data.rglob("*")) == before
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("config.json"))


def _fingerprints(root: Path) -> set[str]:
    return {json.loads(p.read_text())["dataset_fingerprint"] for p in root.glob("cli-stale/*/seed*/results.json")}


@pytest.mark.slow
def test_a_reimported_dataset_is_run_again_not_reused(tmp_path, capsys, tiny_model, forget):
    forget.append("cli-stale")
    first = dna_csv(tmp_path / "first.csv", header="sequence,label")
    assert cli(capsys, "data", "import", first, "--name", "cli-stale", "--quiet")[0] == 0
    out_root = tmp_path / "cmp"
    compare = ["compare", "cli-stale", "--variants", "pretrained", "rand", "--max-steps", "2", "--model-name-or-path",
               tiny_model, "--out", out_root, "--no-save-model"]
    rc, out, err = cli(capsys, *compare)
    assert rc == 0, err
    assert "reused" not in out
    fp1 = _fingerprints(out_root)
    assert len(fp1) == 1 and fp1 == {load_dataset("cli-stale").fingerprint()}
    rc, out, _ = cli(capsys, *compare)
    assert rc == 0 and "reused 2 of 2 cells" in out
    # other data under the same name: the finished cells are of the old data, so both run again
    second = dna_csv(tmp_path / "second.csv", seed=7, header="sequence,label")
    assert cli(capsys, "data", "import", second, "--name", "cli-stale", "--overwrite", "--quiet")[0] == 0
    rc, out, err = cli(capsys, *compare)
    assert rc == 0, err
    assert "reused" not in out and out.count("its dataset's content or split changed") == 2
    fp2 = _fingerprints(out_root)
    assert len(fp2) == 1 and fp2 != fp1 and fp2 == {load_dataset("cli-stale").fingerprint()}
    assert len(list(out_root.glob("superseded-*/cli-stale/*/seed1/results.json"))) == 2  # kept, not read


@pytest.mark.slow
def test_run_summary_says_what_the_score_rests_on(tmp_path, capsys, tiny_model, monkeypatch, forget):
    monkeypatch.setenv("DISC_RUNS_DIR", str(tmp_path / "runs"))
    forget.append("cli-summary")
    assert cli(capsys, "data", "import", dna_csv(tmp_path / "s.csv", header="sequence,label"), "--name",
               "cli-summary", "--quiet")[0] == 0
    rc, out, err = cli(capsys, "run", "cli-summary", "--max-steps", "4", "--eval-steps", "1",
                       "--early-stopping-patience", "1", "--learning-rate", "1e-30", "--model-name-or-path",
                       tiny_model, "--max-length", "12", "--no-save-model", "--quiet")
    assert rc == 0, err
    res = json.loads(next((tmp_path / "runs").glob("cli-summary/pretrained/seed42/results.json")).read_text())
    summary = out[:out.index("{")]
    assert f"pretrained seed 42: test accuracy {res['score']:.4f} on 4 test examples" in summary
    # a learning rate of 1e-30 changes nothing: validation never improves after the first step, so patience 1
    # stops training at step 2 and the scored weights are step 1's
    assert res["stopped_early"] and res["steps"] == 2 and res["weights_step"] == 1
    assert "training: stopped early at step 2 of 4 (no better validation score); the scored weights are from " \
           "step 1" in summary
    assert f"majority class {res['majority_label']!r} alone: accuracy 0.5000 on the same test examples" in summary
    assert ("WARNING: the model predicts one class" in summary) == res["predicts_one_class"]
    # 30-symbol sequences, --max-length 12 (10 symbols between [CLS] and [SEP]): every one was cut
    assert res["n_truncated"] == {"train": 32, "validation": 4, "test": 4}
    assert "--max-length 12: 40 sequences were cut (train 32, validation 4, test 4)" in summary


def test_what_a_score_rests_on_majority_level_and_one_class_by_piece():
    import numpy as np

    from disc_core.cli.experiment import describe_result
    from disc_core.engine.config import RunConfig
    from disc_core.engine.metrics import prediction_checks

    # 6 segments of 3 pieces; every segment predicted class 1; training labels mostly class 0
    logits = np.array([[0.0, 1.0]] * 6)
    labels = np.array([0, 0, 1, 1, 0, 0])
    groups = ["a", "a", "b", "b", "c", "c"]
    checks = prediction_checks("classification", logits, labels, np.array([0, 0, 0, 1]), groups)
    assert checks == {"majority_class": 0, "majority_accuracy": pytest.approx(2 / 3), "predicted_classes": 1,
                      "predicts_one_class": True}
    two = prediction_checks("classification", np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0, 1]), np.array([1]))
    assert two["predicted_classes"] == 2 and not two["predicts_one_class"] and two["majority_accuracy"] == 0.5
    assert prediction_checks("regression", np.zeros(3), np.zeros(3), np.zeros(3)) == {}
    res = {"label": "rand", "seed": 2, "metric": "accuracy", "score": 1 / 3, "n_test_scored": 6,
           "test": {"n": 6, "n_groups": 3}, "steps": 50, "total_steps": 50, "stopped_early": False,
           "weights_step": 30, "best_validation": 0.75, "majority_label": "bach", **checks,
           "n_truncated": {"train": 0, "validation": 0, "test": 0}}
    lines = describe_result(res, RunConfig(max_length=128))
    assert lines[0] == "rand seed 2: test accuracy 0.3333 on 6 test examples (3 pieces, voting over segments)"
    assert lines[1] == "  training: ran 50 of 50 steps; the scored weights are from step 30 (best validation " \
                       "accuracy 0.7500)"
    assert lines[2] == "  majority class 'bach' alone: accuracy 0.6667 on the same test pieces"
    assert lines[3].startswith("  WARNING: the model predicts one class for every test piece")
    assert lines[4] == "  --max-length 128: no sequence was cut"
    # a run recorded before these keys existed still gets its first line
    old = {"label": "rand", "seed": 1, "metric": "accuracy", "score": 0.5, "test": {"n": 10}}
    assert describe_result(old, RunConfig()) == ["rand seed 1: test accuracy 0.5000 on 10 test examples"]


def test_cell_state_judges_the_data_by_its_fingerprint(tmp_path):
    from disc_core.engine.config import RunConfig
    from disc_core.study.compare import cell_state

    cfg = RunConfig(dataset="my-set", max_steps=2)
    d = tmp_path / "cell"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"config": cfg.to_dict(), "resolved": {}}))
    (d / "results.json").write_text(json.dumps({"score": 0.5, "dataset_fingerprint": "aaaa"}))
    assert cell_state(d, cfg, "aaaa") == "done"
    assert cell_state(d, cfg, "bbbb") == "stale"  # the same config on other data
    assert cell_state(d, cfg) == "done"  # a caller that does not know the data judges the config only
    (d / "results.json").write_text(json.dumps({"score": 0.5}))  # recorded before runs kept a fingerprint
    assert cell_state(d, cfg, "bbbb") == "done"


def test_data_warm_parses_the_builtin_music_once(tmp_path, capsys, monkeypatch):
    from disc_core.data import music

    monkeypatch.setenv("DISC_CACHE_DIR", str(tmp_path))  # its own cache: the parser below is not music21's
    parsed = []

    def fake_parse(path):  # music21 at ~2 scores a second is not what this test is about
        parsed.append(path)
        return bytes(55 + (i * 7 + len(parsed)) % 24 for i in range(300))

    monkeypatch.setattr(music, "score_to_pitches", fake_parse)
    assert music.music_cache_state() == (0, 319)
    rc, out, err = cli(capsys, "data", "warm", "--workers", "1", "--quiet")
    assert rc == 0, err
    assert out.startswith("composers: ready in ") and "319 pieces" in out and len(parsed) == 319
    assert music.music_cache_state() == (319, 319)
    rc, out, _ = cli(capsys, "data", "warm", "composers", "--workers", "1", "--quiet")
    assert rc == 0 and "319 pieces" in out and len(parsed) == 319  # the second time only reads the cache
    rc, _, err = cli(capsys, "data", "warm", "splice")
    assert rc != 0 and "not a music set" in err


def test_data_import_of_a_table_without_labels_names_the_flag(tmp_path, capsys):
    rows = "".join(f"ACGTAC{'G' * i},{6 + i}\n" for i in range(12))
    path = write(tmp_path / "lengths.csv", "sequence,length\n" + rows)
    before = list_user_datasets()
    rc, out, err = cli(capsys, "data", "import", path, "--name", "no-labels", "--quiet")
    assert rc != 0 and "no label column" in err and "columns found: sequence, length" in err
    assert str(path) in err and "--label-column" in err and list_user_datasets() == before
    one = write(tmp_path / "one.csv", "sequence\n" + "".join(f"ACGTAC{'G' * i}\n" for i in range(12)))
    rc, _, err = cli(capsys, "data", "import", one, "--name", "no-labels", "--quiet")
    assert rc != 0 and "single column ('sequence')" in err and "--label-column" in err
