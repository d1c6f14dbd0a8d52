"""Looking inside a finished run: linear CKA, embedding drift, attention entropy and maps, the saved inspection,
and the ``inspect`` CLI verb (tiny BERT runs on the built-in synthetic splice data)."""

from __future__ import annotations

import io
import json
import shutil
from contextlib import redirect_stdout

import numpy as np
import pytest

from disc_core.engine.config import RunConfig
from disc_core.engine.experiment import run_experiment
from disc_core.errors import ConfigError
from disc_core.study.inspect import (attention_entropy, attention_maps, cached_inspection, embedding_drift, fit_pca,
                                     inspect_run, inspectable, linear_cka, resolve_run, starting_model)


# ------------------------------------------------------------------------------------------- the measures
def test_cka_is_one_for_itself_and_invariant_to_rotation_and_scale():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 16))
    assert linear_cka(x, x) == pytest.approx(1.0)
    q, _ = np.linalg.qr(rng.normal(size=(16, 16)))  # a random orthogonal matrix
    assert np.allclose(q.T @ q, np.eye(16))
    assert linear_cka(x, x @ q) == pytest.approx(1.0)
    assert linear_cka(x, 3.5 * x @ q + 2.0) == pytest.approx(1.0)  # scale and shift too
    # a different width holding the same information (x padded with zero columns) is the same representation
    assert linear_cka(x, np.hstack([x @ q, np.zeros((300, 4))])) == pytest.approx(1.0)
    # unrelated representations score low; a non-orthogonal distortion lies strictly between
    y = rng.normal(size=(300, 16))
    assert linear_cka(x, y) < 0.15
    w = np.diag(np.linspace(0.1, 3.0, 16))
    assert 0.3 < linear_cka(x, x @ w) < 0.999
    assert linear_cka(x, y) == pytest.approx(linear_cka(y, x))
    with pytest.raises(ValueError, match="same items"):
        linear_cka(x, y[:10])


def test_embedding_drift_is_zero_without_training_and_exact_when_a_row_moves():
    rng = np.random.default_rng(1)
    e = rng.normal(size=(50, 8))
    d = embedding_drift(e, e.copy(), [3, 7])
    assert d["distance"] == [0.0, 0.0] and d["relative"] == [0.0, 0.0] and d["others_moved"] == 0
    assert d["cosine"] == pytest.approx([1.0, 1.0])
    after = e.copy()
    after[7] += np.array([3.0, 4.0, 0, 0, 0, 0, 0, 0])  # moved by exactly 5
    after[20] += 1e-3
    d = embedding_drift(e, after, [3, 7])
    assert d["distance"] == pytest.approx([0.0, 5.0])
    assert d["relative"][1] == pytest.approx(5.0 / np.linalg.norm(e[7]))
    assert d["others_moved"] == 1 and d["others_n"] == 48


def test_attention_entropy_of_uniform_and_one_hot_attention():
    T = 5
    uniform = np.full((1, 2, T, T), 1.0 / T)
    onehot = np.zeros((1, 2, T, T))
    onehot[..., 0] = 1.0
    mask = np.array([[1, 1, 1, 1, 0]])
    assert attention_entropy(uniform, mask)[0, :, :4] == pytest.approx(np.full((2, 4), np.log(T)))
    assert attention_entropy(uniform, mask)[0, :, 4].tolist() == [0.0, 0.0]  # the padded query counts nothing
    assert attention_entropy(onehot, mask) == pytest.approx(np.zeros((1, 2, T)))


def test_the_pca_is_sklearns_with_one_sign_whatever_the_row_order():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 6)) @ np.diag([5.0, 3.0, 1.0, 0.5, 0.2, 0.1])  # distinct variances: axes well defined
    pca = fit_pca(x)
    # the same axes as an SVD of the centred rows, up to sign, and the same share of the variance
    _, s, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    assert np.abs(pca.components_ @ vt[:2].T) == pytest.approx(np.eye(2), abs=1e-9)
    assert pca.explained_variance_ratio_ == pytest.approx(s[:2] ** 2 / (s ** 2).sum())
    # the sign convention: each component's largest loading is positive
    comps = pca.components_
    assert all(c[np.abs(c).argmax()] > 0 for c in comps)
    # shuffled rows, and rows whose SVD would come out flipped, give the very same picture
    for rows in (x[rng.permutation(len(x))], np.vstack([x, x])[::-1]):
        other = fit_pca(rows)
        assert other.components_ == pytest.approx(comps, abs=1e-9)
        assert other.transform(x) == pytest.approx(pca.transform(x), abs=1e-9)
    flipped = x * np.array([-1.0, 1, 1, 1, 1, 1])  # the first axis reversed: its loadings flip, the sign rule holds
    assert all(c[np.abs(c).argmax()] > 0 for c in fit_pca(flipped).components_)
    assert fit_pca(x[:, :1]).n_components_ == 1  # one column: as many components as there can be
    # the mapping page's embedding chart projects with the same PCA: each row keeps its point whatever the order
    from disc_core.plots import pca_2d

    perm = rng.permutation(len(x))
    proj, ratio = pca_2d(x)
    assert pca_2d(x[perm])[0] == pytest.approx(proj[perm], abs=1e-9) and proj == pytest.approx(pca.transform(x))
    assert ratio == pytest.approx(pca.explained_variance_ratio_)


# ------------------------------------------------------------------------------------------- runs
@pytest.fixture(scope="module")
def runs(tiny_model, tmp_path_factory):
    """A trained pretrained and rand run (saved models) of one tiny comparison."""
    root = tmp_path_factory.mktemp("inspect_runs")
    out = {}
    for v in ("pretrained", "rand"):
        cfg = RunConfig(dataset="splice-synthetic", model_name_or_path=tiny_model, variant=v, seed=2, max_steps=8,
                        learning_rate=1e-3, eval_steps=4, per_device_train_batch_size=16)
        run_experiment(cfg, root / v)
        out[v] = root / v
    return out


def _untrained_copy(run_dir, dest):
    """The run folder with its model replaced by its own starting point: a model fine-tuning never touched."""
    shutil.copytree(run_dir, dest)
    cfg = RunConfig.from_dict(json.loads((dest / "config.json").read_text())["config"])
    shutil.rmtree(dest / "model" / "inspect", ignore_errors=True)
    shutil.rmtree(dest / "inspect", ignore_errors=True)
    for f in (dest / "model").glob("*.safetensors"):
        f.unlink()
    starting_model(cfg, 3, "classification").save_pretrained(dest / "model", safe_serialization=True)
    return dest


@pytest.mark.parametrize("variant", ["pretrained", "rand"])
def test_a_model_not_trained_has_zero_drift_and_cka_one_everywhere(runs, variant, tmp_path):
    d = inspect_run(_untrained_copy(runs[variant], tmp_path / "untouched"), n_examples=6)
    # the starting point is rebuilt exactly (rand: the same random draw from the run's seed)
    assert d["drift"]["distance"] == [0.0] * 4 and d["drift"]["others_moved"] == 0
    assert d["cka"] == pytest.approx([1.0] * len(d["cka"]), abs=1e-6)
    assert d["entropy"]["finished"] == pytest.approx(d["entropy"]["start"], abs=1e-6)


def test_a_trained_run_moved_only_the_tokens_it_saw(runs):
    d = inspect_run(runs["pretrained"], n_examples=8)
    assert sorted(d["drift"]["symbols"]) == ["A", "C", "G", "T"] and len(set(d["drift"]["ids"])) == 4
    assert all(x > 0 for x in d["drift"]["distance"])
    # besides the four mapped tokens only [CLS] and [SEP] reach the embeddings: no other row may move
    assert d["drift"]["others_moved"] == 2
    assert len(d["cka"]) == 3 and min(d["cka"]) < 1 - 1e-4 and all(0 <= c <= 1 + 1e-9 for c in d["cka"])
    assert len(d["entropy"]["finished"]) == 2 and d["entropy"]["uniform"] > 0
    maps = attention_maps(d)
    E, L, H = maps.shape[:3]
    assert (E, L, H) == (4, 2, d["attention"]["heads"])
    for e in range(E):
        n = len(d["attention"]["tokens"][e])
        assert d["attention"]["tokens"][e][0] == "[CLS]" and d["attention"]["tokens"][e][-1] == "[SEP]"
        # every real query's attention sums to 1 over the example's own symbols
        assert maps[e, :, :, :n, :n].sum(-1) == pytest.approx(np.ones((L, H, n)), abs=2e-3)


def test_the_inspection_is_saved_and_read_back_not_recomputed(runs):
    first = inspect_run(runs["rand"], n_examples=8)
    res = json.loads((runs["rand"] / "results.json").read_text())
    assert first["predicts_one_class"] == res["predicts_one_class"] is not None  # the page can say so
    assert first["score"] == res["score"]
    saved = (runs["rand"] / "inspect" / "inspect.json").stat().st_mtime_ns
    again = inspect_run(runs["rand"], n_examples=8)
    assert (runs["rand"] / "inspect" / "inspect.json").stat().st_mtime_ns == saved
    assert again["cka"] == first["cka"] and cached_inspection(runs["rand"], n_examples=8) is not None
    assert cached_inspection(runs["rand"], n_examples=5) is None  # another sample is not the saved one
    other = inspect_run(runs["rand"], n_examples=5)
    assert other["n_examples"] == 5 and other["params"]["n_examples"] == 5
    # computed again from scratch, the numbers and the PCA picture are the same (seeded sample, fixed signs)
    fresh = inspect_run(runs["rand"], n_examples=8, recompute=True)
    assert fresh["cka"] == pytest.approx(first["cka"], abs=1e-9)
    assert np.asarray(fresh["drift"]["pca"]["after"]) == pytest.approx(np.asarray(first["drift"]["pca"]["after"]),
                                                                        abs=1e-9)
    assert not list((runs["rand"] / "inspect").glob("*.tmp"))  # atomic writes leave no temp file behind


def test_an_inspection_saved_before_it_repeated_the_outcome_still_says_one_class(runs, tmp_path):
    shutil.copytree(runs["rand"], tmp_path / "old")
    inspect_run(tmp_path / "old", n_examples=6)
    jpath = tmp_path / "old" / "inspect" / "inspect.json"
    saved = json.loads(jpath.read_text())
    for k in ("predicts_one_class", "predicted_classes", "majority_accuracy", "majority_label"):
        saved.pop(k)
    jpath.write_text(json.dumps(saved))
    # mark the run as predicting one class, keeping results.json's time so that the saved inspection stays valid
    res_path = tmp_path / "old" / "results.json"
    stat = res_path.stat()
    res = json.loads(res_path.read_text())
    res["predicts_one_class"] = True
    res_path.write_text(json.dumps(res))
    import os

    os.utime(res_path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = cached_inspection(tmp_path / "old", n_examples=6)
    assert again is not None and again["predicts_one_class"] is True


def test_what_cannot_be_inspected_says_why(runs, tiny_model, tmp_path):
    base = run_experiment(RunConfig(dataset="splice-synthetic", model_name_or_path=tiny_model, variant="kmer-lr"),
                          tmp_path / "kmer")
    assert base["label"] == "kmer-lr"
    assert "baseline has no BERT" in inspectable(tmp_path / "kmer")
    with pytest.raises(ConfigError, match="baseline"):
        inspect_run(tmp_path / "kmer")
    shutil.copytree(runs["rand"], tmp_path / "unfinished")
    (tmp_path / "unfinished" / "results.json").unlink()
    assert "not finished" in inspectable(tmp_path / "unfinished")
    with pytest.raises(ConfigError, match="runs list"):
        resolve_run("no-such-run")


def test_a_run_store_id_resolves_to_its_folder(runs, monkeypatch, tmp_path):
    from disc_core.runs.store import RunStore

    monkeypatch.setenv("DISC_RUNS_DIR", str(tmp_path / "store"))
    store = RunStore()
    cfg = RunConfig.from_dict(json.loads((runs["rand"] / "config.json").read_text())["config"])
    run_id = store.create(cfg, group="g")
    shutil.copytree(runs["rand"], store.run_dir(run_id), dirs_exist_ok=True)  # the store may have made the folder
    assert resolve_run(run_id) == store.run_dir(run_id)


def test_inspect_cli_writes_numbers_and_figures_for_pretrained_and_rand(runs, tmp_path):
    from disc_core.cli.main import main

    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = main(["inspect", str(runs["pretrained"]), str(runs["rand"]), "--out", str(tmp_path / "out"),
                   "--examples", "8"])
    assert rc == 0
    out = buf.getvalue()
    assert "linear CKA" in out and "pretrained seed 2" in out and "rand seed 2" in out
    assert ("predicts a single class" in out) == any(
        json.loads((runs[v] / "results.json").read_text()).get("predicts_one_class") for v in ("pretrained", "rand"))
    for f in ("inspect.json", "inspect.html", "cka.png", "entropy.png", "drift.png", "attention_pretrained_seed2.png",
              "attention_rand_seed2.png"):
        assert (tmp_path / "out" / f).stat().st_size > 1000, f
    summary = json.loads((tmp_path / "out" / "inspect.json").read_text())
    assert [s["label"] for s in summary] == ["pretrained", "rand"] and len(summary[0]["cka"]) == 3
    assert all(isinstance(s["predicts_one_class"], bool) for s in summary)
    assert main(["inspect", str(tmp_path / "nowhere")]) == 2  # a user error: one line, status 2
