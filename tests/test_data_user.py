"""The user's own files: FASTA, CSV/TSV, MIDI folders; import, reload across processes, remove."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from disc_core.data import DATASETS, MAX_SYMBOLS, get_info, load_dataset
from disc_core.data import user
from disc_core.data.user import (import_user_dataset, infer_task, list_user_datasets, read_user_data,
                                 remove_user_dataset, user_datasets_dir)
from disc_core.errors import ConfigError, DataError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def fasta(tmp_path, records, name="seqs.fasta") -> Path:
    return write(tmp_path / name, "".join(f">{h}\n{s}\n" for h, s in records))


def dna_rows(n=20):
    rng = random.Random(1)
    return [("".join(rng.choice("ACGT") for _ in range(30)), "pos" if i % 2 else "neg") for i in range(n)]


# --------------------------------------------------------------------------------------------
# FASTA
# --------------------------------------------------------------------------------------------

def test_fasta_header_label_rules(tmp_path):
    path = fasta(tmp_path, [("a1 some words label=kinase", "MKVLAT"), ("a2 Nucleus", "mkvw*"),
                            ("sp|a3|kinase", "MKKL"), ("a4 label=Nucleus", "MKVV"),
                            ("a5 x kinase", "MKLA"), ("a6|Nucleus", "MMMK")])
    ds = read_user_data(path)
    assert ds.discipline == "protein" and ds.task == "classification" and ds.metric == "accuracy"
    assert ds.label_names == ["Nucleus", "kinase"]
    got = [(ds.label_names[r.label], "".join(r.symbols)) for r in ds.records]
    assert got == [("kinase", "MKVLAT"), ("Nucleus", "MKVW"), ("kinase", "MKKL"), ("Nucleus", "MKVV"),
                   ("kinase", "MKLA"), ("Nucleus", "MMMK")]  # upper-cased, stop codon '*' dropped


def test_fasta_split_tokens_must_be_everywhere_or_nowhere(tmp_path):
    path = fasta(tmp_path, [("a label=x split=train", "ACGT"), ("b label=y", "ACGA")])
    with pytest.raises(DataError, match="no split given here, but other examples have one") as err:
        read_user_data(path)
    assert err.value.line == 3
    fasta(tmp_path, [("a label=x split=train", "ACGT"), ("b label=y split=test", "ACGA")])
    assert [r.split for r in read_user_data(path).records] == ["train", "test"]


def test_fasta_one_rule_and_missing_label(tmp_path):
    path = fasta(tmp_path, [("s1|A extra", "ACGT"), ("s2|B more", "ACGA")])
    assert read_user_data(path).label_names == ["extra", "more"]  # auto: the last word wins
    with pytest.raises(DataError, match="no label in the header of record s1") as err:
        read_user_data(path, fasta_label="pipe")
    assert (err.value.path, err.value.line) == (path, 1)
    bare = fasta(tmp_path, [("s1", "ACGT"), ("s2", "ACGA")], "bare.fa")
    with pytest.raises(DataError, match="no label in the header of record s1"):
        read_user_data(bare)


def test_fasta_with_side_csv(tmp_path):
    rows = dna_rows(20)
    path = fasta(tmp_path, [(f"id{i} description", s) for i, (s, _) in enumerate(rows)])
    labels = write(tmp_path / "labels.csv", "id,class\n" + "".join(f"id{i},{y}\n" for i, (_, y) in
                                                                    enumerate(rows)) + "unused,pos\n")
    ds = read_user_data(path, labels=labels)
    assert ds.discipline == "dna" and ds.label_names == ["neg", "pos"]
    assert [ds.label_names[r.label] for r in ds.records] == [y for _, y in rows]
    assert "1 ids of labels.csv have no FASTA record and were ignored" in ds.notes
    assert Counter(r.split for r in ds.records) == {"train": 16, "validation": 2, "test": 2}
    assert Counter((r.label, r.split) for r in ds.records)[0, "test"] == 1  # stratified
    write(labels, "id,label\nid0,pos\n")
    with pytest.raises(DataError, match="record id1 has no row in labels.csv") as err:
        read_user_data(path, labels=labels)
    assert err.value.line == 3


# --------------------------------------------------------------------------------------------
# CSV / TSV
# --------------------------------------------------------------------------------------------

def test_csv_columns_guessed_or_given(tmp_path):
    rows = dna_rows(10)
    path = write(tmp_path / "d.csv", "name,seq,class\n" + "".join(f"n{i},{s},{y}\n" for i, (s, y) in
                                                                  enumerate(rows)))
    ds = read_user_data(path, name="d")
    assert ds.name == "d" and ds.discipline == "dna" and ds.sizes() == {"train": 6, "validation": 2, "test": 2}
    assert ["".join(r.symbols) for r in ds.records] == [s for s, _ in rows]
    tsv = write(tmp_path / "d.tsv", "Peptide\tActivity\n" + "".join(f"{s}\t{y}\n" for s, y in rows))
    ds = read_user_data(tsv, sequence_column="peptide", label_column="Activity")
    assert ds.label_names == ["neg", "pos"] and len(ds.records) == 10
    with pytest.raises(DataError, match="no label column .*columns found: Peptide, Activity") as err:
        read_user_data(tsv, sequence_column="Peptide")
    assert err.value.path == tsv and str(tsv) in str(err.value)
    with pytest.raises(DataError, match="no sequence column .'dna'.; columns found: name, seq, class"):
        read_user_data(path, sequence_column="dna")


def test_split_column_is_used(tmp_path):
    path = write(tmp_path / "s.csv", "sequence,label,split\nACGT,a,train\nACGA,b,TRAIN\nAAAA,a,dev\n"
                                     "CCCC,b,test\nGGGG,a,banana\n")
    with pytest.raises(DataError, match="unknown split 'banana'") as err:
        read_user_data(path)
    assert err.value.line == 6
    write(path, "sequence,label,split\nACGT,a,train\nACGA,b,TRAIN\nAAAA,a,dev\nCCCC,b,test\n")
    ds = read_user_data(path)
    assert [r.split for r in ds.records] == ["train", "train", "validation", "test"]


def test_task_inference_and_override(tmp_path):
    assert infer_task(["a", "b"])[0] == "classification"
    assert infer_task(["0", "1", "2", "1.0"])[0] == "classification"
    assert infer_task([str(i) for i in range(30)])[0] == "regression"
    assert infer_task(["0.5", "1.5"])[0] == "regression"
    rng = random.Random(0)
    rows = [("".join(rng.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(20)), f"{rng.random() * 5:.3f}")
            for _ in range(40)]
    path = write(tmp_path / "r.csv", "sequence,target\n" + "".join(f"{s},{y}\n" for s, y in rows))
    ds = read_user_data(path)
    assert (ds.task, ds.metric, ds.label_names) == ("regression", "spearman", None)
    assert [r.label for r in ds.records] == [float(y) for _, y in rows]
    assert ds.sizes() == {"train": 32, "validation": 4, "test": 4}
    ints = write(tmp_path / "i.csv", "sequence,y\n" + "".join(f"{s},{i % 3}.0\n" for i, (s, _) in enumerate(rows)))
    ds = read_user_data(ints)
    assert ds.task == "classification" and ds.label_names == ["0", "1", "2"]
    assert read_user_data(ints, task="regression").task == "regression"
    names = write(tmp_path / "n.csv", "sequence,label\nMKV,a\nMKL,b\nMKW,c\n")
    with pytest.raises(DataError, match="label 'a' is not a finite number") as err:
        read_user_data(names, task="regression")
    assert err.value.line == 2


def test_long_sequences_truncated_and_music_pitches(tmp_path):
    path = write(tmp_path / "long.csv", f"sequence,label\n{'A' * 600},x\n{'C' * 50},y\n{'G' * 511},x\n")
    ds = read_user_data(path)
    assert [len(r.symbols) for r in ds.records] == [MAX_SYMBOLS, 50, MAX_SYMBOLS]
    assert any(n.startswith(f"2 of 3 sequences were longer than {MAX_SYMBOLS}") for n in ds.notes)
    music = write(tmp_path / "m.csv", "sequence,label\n60 62 64,a\n 72 76 79 ,b\n")
    ds = read_user_data(music)
    assert ds.discipline == "music" and ds.records[1].symbols == ("72", "76", "79")
    assert ds.alphabet == ["60", "62", "64", "72", "76", "79"]


def test_text_when_asked(tmp_path):
    path = write(tmp_path / "t.tsv", "sentence\tlabel\nA fine film .\t1\nDull , slow .\t0\n")
    with pytest.raises(DataError, match="invalid letter '.'") as err:
        read_user_data(path)
    assert err.value.line == 2
    ds = read_user_data(path, discipline="text")
    assert ds.is_text and ds.records[0].text == "A fine film ." and ds.alphabet is None


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------

def test_invalid_letters_for_declared_and_guessed_alphabet(tmp_path):
    path = write(tmp_path / "d.csv", "sequence,label\nACGT,a\nACGU,b\n")
    with pytest.raises(DataError, match="invalid letter 'U' at position 4 of the DNA sequence") as err:
        read_user_data(path, discipline="dna")
    assert (err.value.path, err.value.line) == (path, 3)
    assert read_user_data(path).discipline == "protein"  # U is selenocysteine; guessed, and said so
    bad = fasta(tmp_path, [("p1 a", "MKVL"), ("p2 b", "MK1VL")])
    with pytest.raises(DataError, match="invalid letter '1' at position 3") as err:
        read_user_data(bad)
    assert err.value.line == 3


@pytest.mark.parametrize("content", [b"", b"\n  \n"])
def test_empty_files(tmp_path, content):
    for name in ("e.csv", "e.fasta", "e.txt"):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(DataError, match="is empty") as err:
            read_user_data(path)
        assert err.value.path == path


def test_non_utf8_bytes(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"sequence,label\nACGT,a\nACGA,\xe9t\xe9\n")
    with pytest.raises(DataError, match="byte 0xe9 .* is not valid UTF-8") as err:
        read_user_data(path)
    assert (err.value.path, err.value.line) == (path, 3)


def test_single_class(tmp_path):
    path = write(tmp_path / "one.csv", "sequence,label\nACGT,a\nACGA,a\nAAAA,a\n")
    with pytest.raises(DataError, match=r"only one class \(a\)") as err:
        read_user_data(path)
    assert err.value.path == path


def test_nan_and_missing_labels(tmp_path):
    for label in ("", "NaN", "nan", "NA"):
        path = write(tmp_path / "n.csv", f"sequence,label\nACGT,a\nACGA,{label}\nAAAA,b\n")
        with pytest.raises(DataError, match="label is missing or NaN") as err:
            read_user_data(path)
        assert err.value.line == 3


def test_binary_junk_given_as_fasta(tmp_path):
    path = tmp_path / "junk.fasta"
    path.write_bytes(b">x\n" + random.Random(3).randbytes(400) + b"\x00")
    with pytest.raises(DataError, match="binary|not valid UTF-8") as err:
        read_user_data(path)
    assert err.value.path == path
    text = write(tmp_path / "notfasta.fasta", "hello there\nACGT\n")
    with pytest.raises(DataError, match="does not look like FASTA"):
        read_user_data(text)


def test_wrong_field_count_and_unknown_options(tmp_path):
    path = write(tmp_path / "f.csv", "sequence,label\nACGT,a\nACGA,b,extra\n")
    with pytest.raises(DataError, match="has 3 fields but the header has 2") as err:
        read_user_data(path)
    assert err.value.line == 3
    with pytest.raises(ConfigError, match="unknown option"):
        read_user_data(path, lable_column="x")
    with pytest.raises(ConfigError, match="fasta_label do not apply to a table"):
        read_user_data(path, fasta_label="pipe")


# --------------------------------------------------------------------------------------------
# MIDI folders
# --------------------------------------------------------------------------------------------

def write_midi(path: Path, pitches):
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=0)
    inst.notes = [pretty_midi.Note(80, p, i * 0.2, i * 0.2 + 0.2) for i, p in enumerate(pitches)]
    pm.instruments.append(inst)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))


@pytest.fixture
def midi_folder(tmp_path):
    root = tmp_path / "midi"
    for k in range(3):
        write_midi(root / "waltz" / f"w{k}.mid", [60 + (i * 5 + k) % 12 for i in range(160)])
        write_midi(root / "march" / f"m{k}.midi", [48 + (i * 7 + k) % 12 for i in range(140)])
    (root / "march" / "broken.mid").write_bytes(random.Random(5).randbytes(300))
    return root


def test_midi_folder_import_round_trip(midi_folder):
    ds = import_user_dataset(midi_folder, "my-midi", workers=1)
    assert ds.discipline == "music" and ds.voting and ds.label_names == ["march", "waltz"]
    assert "1 of 7 MIDI files could not be read: broken.mid" in ds.notes
    again = load_dataset("my-midi")
    assert again.records == ds.records and again.voting and all(r.group for r in again.records)
    remove_user_dataset("my-midi")


def test_unreadable_midi(tmp_path):
    root = tmp_path / "junk"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        (root / c / "x.mid").write_bytes(random.Random(c).randbytes(200))
    with pytest.raises(DataError, match="2 of 2 MIDI files could not be read") as err:
        read_user_data(root, workers=1)
    assert err.value.path == root
    with pytest.raises(DataError, match="one MIDI file is not a dataset"):
        read_user_data(root / "a" / "x.mid")


# --------------------------------------------------------------------------------------------
# import, reload, remove
# --------------------------------------------------------------------------------------------

@pytest.fixture
def dna_csv(tmp_path):
    rows = dna_rows(20)
    return write(tmp_path / "upload.csv", "sequence,label\n" + "".join(f"{s},{y}\n" for s, y in rows))


def test_import_saves_json_and_registers(dna_csv):
    ds = import_user_dataset(dna_csv, "my-dna")
    try:
        path = user_datasets_dir() / "my-dna.json"
        saved = json.loads(path.read_text(encoding="utf-8"))  # plain JSON, not pickle
        assert saved["meta"]["name"] == "my-dna" and len(saved["records"]) == 20
        info = get_info("my-dna")
        assert (info.origin, info.discipline, info.task) == ("user", "dna", "classification")
        assert info.available()[0] and "my-dna" in list_user_datasets()
        loaded = load_dataset("my-dna")
        assert loaded.records == ds.records and loaded.label_names == ds.label_names
        assert loaded.notes == ds.notes and loaded.alphabet == ["A", "C", "G", "T"]
        # A new process finds it through the registry alone.
        code = ("import json; from disc_core.data import load_dataset; ds = load_dataset('my-dna'); "
                "print(json.dumps([ds.sizes(), ds.label_names, ''.join(ds.records[0].symbols)]))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ}, cwd=Path(__file__).parent.parent)
        assert json.loads(out.stdout) == [ds.sizes(), ds.label_names, "".join(ds.records[0].symbols)]
    finally:
        remove_user_dataset("my-dna")
    assert not (user_datasets_dir() / "my-dna.json").exists() and "my-dna" not in DATASETS
    with pytest.raises(DataError, match="unknown dataset 'my-dna'"):
        load_dataset("my-dna")
    with pytest.raises(DataError, match="no user dataset named 'my-dna'"):
        remove_user_dataset("my-dna")


@pytest.mark.parametrize("name, match", [
    ("../evil", "not allowed"), ("My-Set", "not allowed"), ("a" * 33, "not allowed"), ("-x", "not allowed"),
    ("upload.csv", "not allowed"), ("splice", "taken by the paper dataset 'splice'"),
    ("sst-2", "taken by the paper dataset 'sst2'"), ("composers", "taken by the builtin dataset"),
])
def test_bad_names(dna_csv, name, match):
    before = sorted(user_datasets_dir().iterdir())
    with pytest.raises(DataError, match=match):
        import_user_dataset(dna_csv, name)
    assert sorted(user_datasets_dir().iterdir()) == before


def test_existing_name_needs_overwrite(dna_csv, tmp_path):
    import_user_dataset(dna_csv, "twice")
    try:
        with pytest.raises(DataError, match="already have a dataset named 'twice'"):
            import_user_dataset(dna_csv, "twice")
        other = write(tmp_path / "p.csv", "sequence,label\nMKVL,a\nMKWL,b\n")
        assert import_user_dataset(other, "twice", overwrite=True).discipline == "protein"
        assert load_dataset("twice").discipline == "protein" and get_info("twice").discipline == "protein"
        with pytest.raises(DataError, match="builtin dataset; only your own"):
            remove_user_dataset("composers")
    finally:
        remove_user_dataset("twice")


def test_failed_import_leaves_nothing(dna_csv, monkeypatch):
    real = user._record_json
    calls = []

    def fail_midway(r):
        calls.append(r)
        if len(calls) == 5:
            raise OSError("disk full")
        return real(r)

    before = sorted(user_datasets_dir().iterdir())
    monkeypatch.setattr(user, "_record_json", fail_midway)
    with pytest.raises(OSError, match="disk full"):
        import_user_dataset(dna_csv, "half")
    assert len(calls) == 5  # it did fail in the middle of writing
    assert sorted(user_datasets_dir().iterdir()) == before and "half" not in DATASETS
    # An overwrite that fails keeps the old dataset whole.
    monkeypatch.setattr(user, "_record_json", real)
    first = import_user_dataset(dna_csv, "half")
    calls.clear()
    monkeypatch.setattr(user, "_record_json", fail_midway)
    with pytest.raises(OSError):
        import_user_dataset(dna_csv, "half", overwrite=True, seed=7)
    monkeypatch.setattr(user, "_record_json", real)
    assert sorted(user_datasets_dir().iterdir()) == sorted(before + [user_datasets_dir() / "half.json"])
    assert load_dataset("half").records == first.records
    remove_user_dataset("half")


def test_failed_read_saves_nothing(tmp_path):
    bad = write(tmp_path / "bad.csv", "sequence,label\nACGT,a\nACGT,a\n")
    before = sorted(user_datasets_dir().iterdir())
    with pytest.raises(DataError, match="only one class"):
        import_user_dataset(bad, "bad-one")
    assert sorted(user_datasets_dir().iterdir()) == before and "bad-one" not in DATASETS


def test_damaged_saved_file_is_reported(dna_csv):
    import_user_dataset(dna_csv, "damaged")
    path = user_datasets_dir() / "damaged.json"
    path.write_text(path.read_text(encoding="utf-8")[:-40], encoding="utf-8")
    try:
        with pytest.raises(DataError, match="damaged") as err:
            load_dataset("damaged")
        assert err.value.path == path
    finally:
        remove_user_dataset("damaged")
