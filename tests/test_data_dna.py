"""DNA loaders: UCI splice, histone marks (GUE CSV and Hilbert-CNN text), synthetic splice, seeded splits."""

from collections import Counter

import pytest

from disc_core.data import get_info, load_dataset
from disc_core.data.dna import (make_synthetic_splice, read_histone_gue, read_histone_hilbert,
                                read_splice)
from disc_core.data.splits import assign_splits
from disc_core.errors import DataError

SEQ60 = "ACGT" * 15


def _split_of(ds):
    return [r.split for r in ds.records]


# ------------------------------------------------------------------------------------------ real files
@pytest.mark.realdata
def test_splice_real_file_sizes_classes_and_paper_split(real_data_dir, monkeypatch):
    monkeypatch.setenv("DISC_DATA_DIR", str(real_data_dir))
    ds = load_dataset("splice")
    assert ds.class_counts() == {"EI": 767, "IE": 768, "N": 1655}
    assert ds.sizes() == {"train": 2871, "validation": 160, "test": 159}
    assert {r.length for r in ds.records} == {60}
    assert set(ds.alphabet) == set("ACGTDNSR")  # the rare IUPAC codes are kept as symbols
    assert (ds.metric, ds.task, ds.label_names) == ("accuracy", "classification", ["EI", "IE", "N"])
    # stratified: each split has the classes in about the file's proportions
    for split in ("train", "validation", "test"):
        share = ds.class_counts(split)["N"] / ds.sizes()[split]
        assert abs(share - 1655 / 3190) < 0.02


@pytest.mark.realdata
def test_splice_split_is_seeded(real_data_dir, monkeypatch):
    monkeypatch.setenv("DISC_DATA_DIR", str(real_data_dir))
    a, b, c = load_dataset("splice"), load_dataset("splice"), load_dataset("splice", seed=7)
    assert _split_of(a) == _split_of(b)
    assert _split_of(a) != _split_of(c)
    assert a.sizes() == c.sizes()


@pytest.mark.realdata
@pytest.mark.parametrize("name, dev, test", [("h3", (735, 762), (742, 755)), ("h4", (823, 638), (814, 647)),
                                             ("h3k9ac", (1262, 1517), (1244, 1535))])
def test_histone_gue_real_files_pooled_and_split_as_the_paper(real_data_dir, monkeypatch, name, dev, test):
    monkeypatch.setenv("DISC_DATA_DIR", str(real_data_dir))
    assert get_info(name).available()[0]
    ds = load_dataset(name)
    n = sum(dev) + sum(test)
    counts = {s: ds.class_counts(s) for s in ("train", "validation", "test")}
    # every example of both files, 90/5/5, stratified
    assert tuple(sum(counts[s][k] for s in counts) for k in "01") == (dev[0] + test[0], dev[1] + test[1])
    assert ds.sizes()["train"] == pytest.approx(0.90 * n, abs=3)
    assert ds.sizes()["test"] == pytest.approx(0.05 * n, abs=3)
    assert ds.sizes()["train"] > 1.8 * 0.85 * sum(dev)  # about twice the GUE split's training set
    assert {r.length for r in ds.records} == {500} and ds.alphabet == list("ACGT")
    assert any("pooled" in n for n in ds.notes)
    gue = read_histone_gue(real_data_dir / "dna_gue_emp" / {"h3": "H3", "h4": "H4", "h3k9ac": "H3K9ac"}[name],
                           pool=False)
    assert (gue.class_counts("test")["0"], gue.class_counts("test")["1"]) == test
    assert not {r.symbols for r in gue.split("train")} & {r.symbols for r in gue.split("test")}


# ------------------------------------------------------------------------------------------ histone fixtures
def _gue_folder(tmp_path, n=40, train=False):
    d = tmp_path / "H3"
    d.mkdir(exist_ok=True)
    names = ["dev", "test"] + (["train"] if train else [])
    for k, name in enumerate(names):
        rows = [f"{'ACGT'[(i + k) % 4] * 10}{SEQ60[:20]},{i % 2}" for i in range(n)]
        (d / f"{name}.csv").write_text("sequence,label\n" + "\n".join(rows) + "\n")
    return d


def test_gue_without_train_pools_dev_and_test_or_keeps_test(tmp_path):
    ds = read_histone_gue(_gue_folder(tmp_path, n=40), seed=1)
    assert ds.sizes() == {"train": 72, "validation": 4, "test": 4}  # 80 pooled, 90/5/5
    assert ds.class_counts("test") == {"0": 2, "1": 2}  # stratified
    assert read_histone_gue(tmp_path / "H3", seed=1).records == ds.records
    kept = read_histone_gue(tmp_path / "H3", seed=1, pool=False)
    assert kept.sizes() == {"train": 34, "validation": 6, "test": 40}
    assert kept.class_counts("validation") == {"0": 3, "1": 3}


def test_gue_with_train_uses_the_three_files(tmp_path):
    ds = read_histone_gue(_gue_folder(tmp_path, n=10, train=True))
    assert ds.sizes() == {"train": 10, "validation": 10, "test": 10}
    assert "train.csv / dev.csv / test.csv" in ds.notes[0]


@pytest.mark.parametrize("content, message", [
    ("sequence,target\nACGT,1\n", r"dev\.csv, line 1: no 'label' column"),
    ("sequence,label\nACGT,1\nACGT,\n", r"dev\.csv, line 3: missing label"),
    ("sequence,label\nACGT,1\nACGT,2\n", r"dev\.csv, line 3: label '2' is not 0 or 1"),
    ("sequence,label\nACGT,1\nACGT,0,7\n", r"dev\.csv, line 3: expected 2 comma-separated fields, found 3"),
    ("sequence,label\nACGT,1\nACZT,0\n", r"dev\.csv, line 3: invalid letter 'Z'"),
])
def test_gue_bad_rows_name_file_and_line(tmp_path, content, message):
    d = _gue_folder(tmp_path)
    (d / "dev.csv").write_text(content)
    with pytest.raises(DataError, match=message):
        read_histone_gue(d)


def _hilbert_file(tmp_path, n=40):
    p = tmp_path / "H3.txt"
    p.write_text("".join(f"id{i}\n{'ACGT'[i % 4] * 5}{SEQ60[:30]}\n{i % 2}\n" for i in range(n)))
    return p


def test_hilbert_format_three_lines_per_example(tmp_path):
    ds = read_histone_hilbert(_hilbert_file(tmp_path, 40))
    assert ds.class_counts() == {"0": 20, "1": 20}
    assert ds.sizes() == {"train": 36, "validation": 2, "test": 2}
    assert ds.records[0].symbols == tuple("AAAAA" + SEQ60[:30])


def test_hilbert_misaligned_file_is_explained(tmp_path):
    p = tmp_path / "H3.txt"
    p.write_text("id0\nACGT\n0\nid1\nACGT\n")
    with pytest.raises(DataError, match=r"H3\.txt, line 4: incomplete example"):
        read_histone_hilbert(p)
    p.write_text("id0\nACGT\n0\nid1\nACGT\nACGT\n")
    with pytest.raises(DataError, match=r"line 6: expected a label line 0 or 1"):
        read_histone_hilbert(p)


def test_registered_histone_prefers_gue_and_falls_back_to_hilbert(tmp_path, monkeypatch):
    monkeypatch.setenv("DISC_DATA_DIR", str(tmp_path))
    assert not get_info("h3").available()[0]
    (tmp_path / "dna_histone").mkdir()
    _hilbert_file(tmp_path / "dna_histone", 40)
    assert get_info("h3").available() == (True, str(tmp_path))
    assert load_dataset("h3").sizes()["train"] == 36  # Hilbert file, 90/5/5
    (tmp_path / "dna_gue_emp").mkdir()
    _gue_folder(tmp_path / "dna_gue_emp", n=40)
    assert load_dataset("h3").sizes() == {"train": 72, "validation": 4, "test": 4}  # GUE wins (pooled)


# ------------------------------------------------------------------------------------------ synthetic + splits
def test_synthetic_splice_is_builtin_deterministic_and_has_the_signal():
    info = get_info("splice-synthetic")
    assert info.origin == "builtin" and info.synthetic and "synthetic" in info.description
    ds = load_dataset("splice-synthetic")
    assert ds.synthetic and "synthetic" in ds.source
    assert ds.class_counts() == {"EI": 750, "IE": 750, "N": 1500}
    assert ds.sizes() == {"train": 2700, "validation": 149, "test": 151}
    assert {r.length for r in ds.records} == {60} and ds.alphabet == list("ACGT")
    assert load_dataset("splice-synthetic").records == ds.records

    def share(label, test):
        recs = [r for r in ds.records if r.label == label]
        return sum(test("".join(r.symbols)) for r in recs) / len(recs)

    donor, acceptor = (lambda s: s[30:32] == "GT"), (lambda s: s[28:30] == "AG")
    assert share(0, donor) > 0.9 and share(1, acceptor) > 0.9
    assert share(2, donor) < 0.3 and share(2, acceptor) < 0.3  # decoys exist but are rarer
    gc = Counter(c for r in ds.split("train") if r.label == 2 for c in r.symbols)
    assert 0.40 < (gc["G"] + gc["C"]) / sum(gc.values()) < 0.52


def test_synthetic_generator_seed_changes_sequences():
    assert make_synthetic_splice(n=40, seed=1) == make_synthetic_splice(n=40, seed=1)
    assert make_synthetic_splice(n=40, seed=1) != make_synthetic_splice(n=40, seed=2)


def test_assign_splits_exact_counts_stratified_and_seeded():
    labels = [0] * 100 + [1] * 20
    splits = assign_splits(labels, {"train": 0.8, "validation": 0.1, "test": 0.1}, seed=3)
    by = Counter(zip(labels, splits))
    assert (by[0, "train"], by[0, "validation"], by[0, "test"]) == (80, 10, 10)
    assert (by[1, "train"], by[1, "validation"], by[1, "test"]) == (16, 2, 2)
    assert splits == assign_splits(labels, {"train": 0.8, "validation": 0.1, "test": 0.1}, seed=3)
    assert splits != assign_splits(labels, {"train": 0.8, "validation": 0.1, "test": 0.1}, seed=4)
    with pytest.raises(ValueError, match="sum to 1"):
        assign_splits(labels, {"train": 0.8, "test": 0.1})


def test_both_split_rules_are_pinned():
    # A dataset's fingerprint covers its split and finished cells are reused only for the same fingerprint, so
    # the splitter must not move any item. Hashes of the splits made before the two splitters became one.
    import hashlib
    import json
    import random

    def digest(splits):
        return hashlib.sha256(json.dumps(splits).encode()).hexdigest()[:16]

    rng = random.Random(0)
    labels = [rng.choice("abcde") for _ in range(997)] + ["rare"] * 2 + ["three"] * 3 + [7]
    ints = [rng.randrange(4) for _ in range(503)]
    got = {}
    for seed in (0, 42):
        got[f"paper-{seed}"] = digest(assign_splits(labels, {"train": .9, "validation": .05, "test": .05}, seed))
        got[f"dev-{seed}"] = digest(assign_splits(ints, {"train": .85, "validation": .15}, seed))
        got[f"plain-{seed}"] = digest(assign_splits(ints, {"train": .9, "validation": .1}, seed, stratify=False))
        got[f"small-{seed}"] = digest(assign_splits(labels, (0.8, 0.1, 0.1), seed, keep_small_classes=True))
        got[f"small-ints-{seed}"] = digest(assign_splits(ints, (0.7, 0.2, 0.1), seed, keep_small_classes=True))
        got[f"one-class-{seed}"] = digest(assign_splits(["bach"] * 90, (0.8, 0.1, 0.1), seed, keep_small_classes=True))
    assert got == {
        "paper-0": "0cdef9fb32cc58dc", "dev-0": "1d2782ca62cc535a", "plain-0": "34172285eacddfd9",
        "small-0": "375d185fd20e1cda", "small-ints-0": "38a76b7778498371", "one-class-0": "c992baa91274c3ee",
        "paper-42": "8b5a1569a8910425", "dev-42": "43531d503d91a55b", "plain-42": "3cd13c3fa03d9f6c",
        "small-42": "249ecf393efd2926", "small-ints-42": "6596dbe27871f204", "one-class-42": "d3cdab411b681156"}
    small = assign_splits(["a"] * 3 + ["b"] * 2, (0.8, 0.1, 0.1), 0, keep_small_classes=True)
    assert sorted(small[:3]) == ["test", "train", "validation"] and sorted(small[3:]) == ["test", "train"]
