"""Protein loaders: DeepLoc FASTA, TAPE JSON regression, modlAMP peptide sets; truncation and bad input."""

import json
import os

import pytest

from disc_core.data import MAX_SYMBOLS, get_info, load_dataset
from disc_core.data.protein import (DEEPLOC_CLASSES, read_deeploc, read_deeploc_complete, read_modlamp_csv,
                                    read_tape)
from disc_core.errors import DataError

PEP = "MKTAYIAKQRQISFVKSHFSRQ"


def _raw_fasta_lengths(path):
    """Sequence lengths counted straight from the file, independently of the loader."""
    lengths, cur = [], None
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            if cur is not None:
                lengths.append(cur)
            cur = 0
        else:
            cur += len(line.strip())
    return lengths + [cur]


# ------------------------------------------------------------------------------------------ real files
@pytest.mark.realdata
def test_deeploc_real_files(real_data_dir, monkeypatch):
    monkeypatch.setenv("DISC_DATA_DIR", str(real_data_dir))
    ds = load_dataset("deeploc")
    s = ds.sizes()
    assert s["train"] + s["validation"] == 1678 and s["test"] == 2768
    assert s["validation"] == pytest.approx(0.15 * 1678, abs=5)
    assert ds.label_names == DEEPLOC_CLASSES and ds.metric == "accuracy"
    test = ds.class_counts("test")
    assert (test["Nucleus"], test["Cytoplasm"], test["Peroxisome"]) == (806, 505, 30)
    # 'Cytoplasm-Nucleus-U' counts as Cytoplasm: 276 + 23 in our_val_set
    assert ds.class_counts("train")["Cytoplasm"] + ds.class_counts("validation")["Cytoplasm"] == 299
    d = real_data_dir / "protein_deeploc"
    raw = _raw_fasta_lengths(d / "deeploc_our_val_set.fasta") + _raw_fasta_lengths(d / "deeploc_test_set.fasta")
    n_long = sum(n > MAX_SYMBOLS for n in raw)
    assert f"{n_long} of {len(raw)} sequences truncated to 510 symbols" in ds.notes
    assert max(r.length for r in ds.records) == MAX_SYMBOLS
    assert set(ds.alphabet) <= set("ACDEFGHIKLMNPQRSTVWYUXBZ") and {"U", "X"} <= set(ds.alphabet)
    assert any("only our_val_set and test" in n for n in ds.notes)


@pytest.mark.realdata
def test_deeploc_hard_and_seeded_split(real_data_dir, monkeypatch):
    monkeypatch.setenv("DISC_DATA_DIR", str(real_data_dir))
    hard = load_dataset("deeploc-hard")
    assert hard.sizes()["test"] == 490 and hard.class_counts("test")["Cytoplasm"] == 117
    plain, other_seed = load_dataset("deeploc"), load_dataset("deeploc", seed=1)
    assert [r.symbols for r in hard.split("train")] == [r.symbols for r in plain.split("train")]
    def val(ds):
        return [r.symbols for r in ds.split("validation")]

    assert val(plain) == val(load_dataset("deeploc")) and val(plain) != val(other_seed)


# ------------------------------------------------------------------------------------------ DeepLoc fixtures
def _fasta(path, entries):
    path.write_text("".join(f">{h}\n{s}\n" for h, s in entries))
    return path


def _deeploc_entries(n=20, extra=""):
    locs = ["Nucleus-S", "Cytoplasm-Nucleus-U", "Mitochondrion-M", "Extracellular-S"]
    return [(f"P{i:05d} {locs[i % 4]}{extra}", PEP[: 10 + i % 7]) for i in range(n)]


def test_read_deeploc_fixture_first_dash_part_is_the_class(tmp_path):
    tr = _fasta(tmp_path / "train.fasta", _deeploc_entries(40))
    te = _fasta(tmp_path / "test.fasta", _deeploc_entries(8, " test"))
    ds = read_deeploc(tr, te)
    assert ds.class_counts("test") == {**dict.fromkeys(DEEPLOC_CLASSES, 0), "Nucleus": 2, "Cytoplasm": 2,
                                       "Mitochondrion": 2, "Extracellular": 2}
    assert ds.sizes() == {"train": 32, "validation": 8, "test": 8}  # 85/15 of 10 per class: 8/2
    assert not [n for n in ds.notes if "truncated" in n]


def test_deeploc_over_long_sequences_truncated_with_count(tmp_path):
    entries = _deeploc_entries(12)
    entries[3] = ("P00003 Mitochondrion-M", "M" * 800)
    entries[5] = ("P00005 Cytoplasm-S", "A" * 511)
    ds = read_deeploc(_fasta(tmp_path / "a.fasta", entries), _fasta(tmp_path / "b.fasta", _deeploc_entries(4)))
    assert "2 of 16 sequences truncated to 510 symbols" in ds.notes
    assert sorted(r.length for r in ds.records)[-2:] == [510, 510]


def test_deeploc_uses_given_train_validation_test_files(tmp_path, monkeypatch):
    d = tmp_path / "protein_deeploc"
    d.mkdir()
    _fasta(d / "deeploc_our_train_set.fasta", _deeploc_entries(12))
    _fasta(d / "deeploc_our_val_set.fasta", _deeploc_entries(5))
    _fasta(d / "deeploc_test_set.fasta", _deeploc_entries(7, " test"))
    _fasta(d / "setHARD.fasta", _deeploc_entries(3, " new_test_set"))
    monkeypatch.setenv("DISC_DATA_DIR", str(tmp_path))
    assert load_dataset("deeploc").sizes() == {"train": 12, "validation": 5, "test": 7}
    assert load_dataset("deeploc-hard").sizes() == {"train": 12, "validation": 5, "test": 3}


def test_deeploc_complete_file_test_marked_records_are_the_test_set(tmp_path, monkeypatch):
    d = tmp_path / "protein_deeploc"
    d.mkdir()
    _fasta(d / "deeploc_complete_dataset.fasta", _deeploc_entries(40) + _deeploc_entries(8, " test"))
    monkeypatch.setenv("DISC_DATA_DIR", str(tmp_path))
    assert get_info("deeploc").available()[0]
    assert load_dataset("deeploc").sizes() == {"train": 32, "validation": 8, "test": 8}
    with pytest.raises(DataError, match="no header has a 'test' token"):
        read_deeploc_complete(_fasta(tmp_path / "x.fasta", _deeploc_entries(10)))


@pytest.mark.parametrize("entries, message", [
    ([("P1 Nucleus-S", PEP), ("P2 Cytoplasm-S", "MKT1OA")], r"a\.fasta, record P2: invalid letter '1' at position 4"),
    ([("P1 Nucleus-S", PEP), ("P2", PEP)], r"a\.fasta, record P2: header has no location"),
    ([("P1 Nucleus-S", PEP), ("P2 Cytosol-S", PEP)], r"a\.fasta, record P2: unknown location 'Cytosol'"),
    ([("P1 Nucleus-S", PEP), ("P2 Cytoplasm-S", "")], r"a\.fasta, record P2: empty sequence"),
])
def test_deeploc_bad_records_name_file_and_accession(tmp_path, entries, message):
    good = _fasta(tmp_path / "b.fasta", _deeploc_entries(4))
    with pytest.raises(DataError, match=message):
        read_deeploc(_fasta(tmp_path / "a.fasta", entries), good)


def test_deeploc_binary_junk_empty_and_not_fasta(tmp_path):
    good = _fasta(tmp_path / "b.fasta", _deeploc_entries(4))
    junk = tmp_path / "junk.fasta"
    junk.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataError, match=r"junk\.fasta, line 1: contains NUL bytes"):
        read_deeploc(junk, good)
    latin = tmp_path / "latin.fasta"
    latin.write_bytes(b">P1 Nucleus-S\nMKT\n>P2 Cytoplasm-S caf\xe9\nMKT\n")
    with pytest.raises(DataError, match=r"latin\.fasta, line 3: byte 0xe9"):
        read_deeploc(latin, good)
    empty = tmp_path / "empty.fasta"
    empty.write_text("\n\n")
    with pytest.raises(DataError, match=r"empty\.fasta: the FASTA file is empty"):
        read_deeploc(empty, good)
    text = tmp_path / "notes.fasta"
    text.write_text("just some notes\nno headers here\n")
    with pytest.raises(DataError, match=r"notes\.fasta, line 1: not a FASTA file"):
        read_deeploc(text, good)


def test_deeploc_single_class_is_refused(tmp_path):
    one = [(f"P{i} Nucleus-S", PEP) for i in range(10)]
    with pytest.raises(DataError, match=r"only one class \(Nucleus\)"):
        read_deeploc(_fasta(tmp_path / "a.fasta", one), _fasta(tmp_path / "b.fasta", one))


# ------------------------------------------------------------------------------------------ TAPE JSON
def _tape(tmp_path, task, key, values_by_split):
    d = tmp_path / "protein_tape" / task
    d.mkdir(parents=True)
    for split, values in values_by_split.items():
        recs = [{"id": f"{split}_{i}", "primary": PEP[: 8 + i % 10], key: [v], "protein_length": 8 + i % 10}
                for i, v in enumerate(values)]
        (d / f"{task}_{split}.json").write_text(json.dumps(recs))
    return d


def test_registered_stability_reads_tape_json_as_regression(tmp_path, monkeypatch):
    _tape(tmp_path, "stability", "stability_score",
          {"train": [0.1 * i for i in range(10)], "valid": [1.5, -0.2], "test": [0.3, 0.7, 2.0]})
    monkeypatch.setenv("DISC_DATA_DIR", str(tmp_path))
    assert get_info("stability").available()[0]
    ok, why = get_info("fluorescence").available()
    assert not ok and "protein_gfp_fluorescence/avGFP__rf_aminoacid_genotypes_to_brightness.csv" in why
    assert "python -m disc_core download fluorescence" in why
    ds = load_dataset("stability")
    assert (ds.task, ds.metric, ds.num_labels) == ("regression", "spearman", 1)
    assert ds.sizes() == {"train": 10, "validation": 2, "test": 3}
    assert [r.label for r in ds.split("test")] == [0.3, 0.7, 2.0]
    assert ds.split("test")[0].symbols == tuple(PEP[:8])


def test_tape_nan_label_names_file_and_record(tmp_path):
    d = _tape(tmp_path, "fluorescence", "log_fluorescence",
              {"train": [3.1, 3.5], "valid": [3.0], "test": [3.3]})
    recs = json.loads((d / "fluorescence_valid.json").read_text())
    recs.append({"id": "bad_one", "primary": PEP, "log_fluorescence": [float("nan")]})
    (d / "fluorescence_valid.json").write_text(json.dumps(recs))  # json writes NaN
    with pytest.raises(DataError, match=r"fluorescence_valid\.json, record bad_one: log_fluorescence is NaN"):
        read_tape(*(d / f"fluorescence_{s}.json" for s in ("train", "valid", "test")), key="log_fluorescence")


def test_tape_missing_key_and_not_a_list(tmp_path):
    p = tmp_path / "t.json"
    p.write_text(json.dumps([{"primary": PEP, "stability_score": [1.0]}, {"primary": PEP}]))
    with pytest.raises(DataError, match=r"t\.json, record 2: record lacks 'primary' or 'stability_score'"):
        read_tape(p, p, p, key="stability_score")
    p.write_text(json.dumps({"primary": PEP}))
    with pytest.raises(DataError, match="expected a JSON list"):
        read_tape(p, p, p, key="stability_score")


# ------------------------------------------------------------------------------------------ shared TAPE CSVs
def test_stability_csvs_and_their_bad_rows(tmp_path, monkeypatch):
    d = tmp_path / "protein_tape_stability"
    d.mkdir()
    for split, n in (("train", 6), ("valid", 2), ("test", 3)):
        (d / f"{split}.csv").write_text("seq,label\n" + "".join(f"{PEP[:10 + i]},{0.5 * i}\n" for i in range(n)))
    monkeypatch.setenv("DISC_DATA_DIR", str(tmp_path))
    ds = load_dataset("stability")
    assert (ds.task, ds.metric) == ("regression", "spearman")
    assert ds.sizes() == {"train": 6, "validation": 2, "test": 3}
    assert [r.label for r in ds.split("test")] == [0.0, 0.5, 1.0]
    (d / "valid.csv").write_text("seq,label\nKKLL,0.1\nKKLL,high\n")
    with pytest.raises(DataError, match=r"valid\.csv, line 3: label 'high' is not a number"):
        load_dataset("stability")
    (d / "valid.csv").write_text("sequence,score\nKKLL,0.1\n")
    with pytest.raises(DataError, match=r"valid\.csv, line 1: header .* is not 'seq,label'"):
        load_dataset("stability")


def test_fluorescence_rebuilds_tape_splits_from_genotypes(tmp_path):
    from disc_core.data.protein import GFP_WILD_TYPE, read_fluorescence

    wt = GFP_WILD_TYPE
    g = tmp_path / "geno.csv"
    # positions count from Met = 0: S1 is index 0 of the wild type without Met, K2 index 1
    g.write_text("aa_genotype_native,n_replicates,log_brightness,replicates_stdev,aa_genotype_pseudo\n"
                 "wt,10,3.7,0.1,wt\nS1A,1,3.5,,x\nS1A:K2R,1,3.1,,x\nS1A:K2R:G3*,1,1.3,,x\n"
                 "S1A:K2R:G3A:E4D,1,1.2,,x\n")
    v = tmp_path / "valid.csv"
    v.write_text(f"seq,label\n{'A' + wt[1:]},3.5\n")
    ds = read_fluorescence(g, v, check_sizes=False)
    assert ds.sizes() == {"train": 3, "validation": 1, "test": 1}
    train = {"".join(r.symbols): r.label for r in ds.split("train")}
    assert train[wt] == 3.7 and train["AR" + wt[2:]] == 3.1
    stop = "AR" + wt[3:]  # G3* deleted
    assert train[stop] == 1.3 and len(stop) == 236
    assert "".join(ds.split("test")[0].symbols) == "ARAD" + wt[4:]
    with pytest.raises(DataError, match=r"rebuilt splits have 3 / 1 / 1 proteins, not TAPE's 21,446"):
        read_fluorescence(g, v)
    g.write_text(g.read_text() + "Q1A,1,2.0,,x\n")
    with pytest.raises(DataError, match=r"geno\.csv, line 7: substitution 'Q1A' does not fit the GFP wild type"):
        read_fluorescence(g, v, check_sizes=False)


@pytest.mark.skipif(not os.environ.get("DISC_DATA_DIR"), reason="needs DISC_DATA_DIR (the shared real data)")
def test_real_stability_and_fluorescence_have_tape_sizes():
    if not get_info("fluorescence").available()[0]:
        pytest.skip("the shared data here has no fluorescence files")
    assert load_dataset("stability").sizes() == {"train": 53614, "validation": 2512, "test": 12851}
    assert load_dataset("fluorescence").sizes() == {"train": 21446, "validation": 5362, "test": 27217}


# ------------------------------------------------------------------------------------------ modlAMP (built in)
def test_modlamp_builtin_sets():
    uni = load_dataset("amp-uniprot")
    assert get_info("amp-uniprot").origin == "builtin"
    assert uni.label_names == ["UniProt", "AMP"] and uni.class_counts() == {"UniProt": 2600, "AMP": 2600}
    assert uni.sizes() == {"train": 4160, "validation": 520, "test": 520}
    assert uni.class_counts("test") == {"UniProt": 260, "AMP": 260}
    assert uni.split("train")[0].symbols and set(uni.alphabet) <= set("ACDEFGHIKLMNPQRSTVWY")
    tm = load_dataset("amp-tm")
    assert tm.label_names == ["TM", "AMP"] and sum(tm.sizes().values()) == 412
    assert [r.split for r in load_dataset("amp-tm").records] == [r.split for r in tm.records]


def test_modlamp_csv_bad_input(tmp_path):
    p = tmp_path / "amp.csv"
    p.write_text("4,1,Neg,Pos\nKKLLKK,1\nAAGG,0\nKKWW, 1\nLLAA,0\n")
    assert read_modlamp_csv(p).class_counts() == {"Neg": 2, "Pos": 2}
    p.write_text("5,1,Neg,Pos\nKKLLKK,1\nAAGG,0\nKKWW, 1\nLLAA,0\n")
    with pytest.raises(DataError, match=r"amp\.csv, line 1: header says 5 sequences, found 4"):
        read_modlamp_csv(p)
    p.write_text("4,1,Neg,Pos\nKKLLKK,1\nAAGG,0\nKKWW,\nLLAA,0\n")
    with pytest.raises(DataError, match=r"amp\.csv, line 4: missing label"):
        read_modlamp_csv(p)
    p.write_text("4,1,Neg,Pos\nKKLLKK,1\nAAGG,0\nKKWW,3\nLLAA,0\n")
    with pytest.raises(DataError, match=r"line 4: label '3' is not a class index 0..1"):
        read_modlamp_csv(p)
    p.write_text("KKLLKK,1\nAAGG,0\n")
    with pytest.raises(DataError, match=r"line 1: header .* is not 'COUNT,N,CLASS0,CLASS1'"):
        read_modlamp_csv(p)
