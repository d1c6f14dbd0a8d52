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
from helpers import write_midi

from disc_core.data import DATASETS, MAX_SYMBOLS, get_info, load_dataset
from disc_core.data.user import saved
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
    path = fasta(tmp_path, [("s1|A extra split=train", "ACGT"), ("s2|B more split=train", "ACGA"),
                            ("s3|A extra split=test", "ACGG"), ("s4|B more split=test", "ACGC")])
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
    music = write(tmp_path / "m.csv", "sequence,label,split\n60 62 64,a,train\n 72 76 79 ,b,train\n60 64,a,test\n")
    ds = read_user_data(music)
    assert ds.discipline == "music" and ds.records[1].symbols == ("72", "76", "79")
    assert ds.alphabet == ["60", "62", "64", "72", "76", "79"]


def test_text_when_asked(tmp_path):
    path = write(tmp_path / "t.tsv", "sentence\tlabel\nA fine film .\t1\nDull , slow .\t0\nGood .\t1\nBad .\t0\n")
    with pytest.raises(DataError, match="invalid letter '.'") as err:
        read_user_data(path)
    assert err.value.line == 2
    ds = read_user_data(path, discipline="text")
    assert ds.is_text and ds.records[0].text == "A fine film ." and ds.alphabet is None


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------

def test_invalid_letters_for_declared_and_guessed_alphabet(tmp_path):
    path = write(tmp_path / "d.csv", "sequence,label\nACGT,a\nACGE,b\nACGA,a\nACGC,b\n")
    with pytest.raises(DataError, match="invalid letter 'E' at position 4 of the DNA sequence") as err:
        read_user_data(path, discipline="dna")
    assert (err.value.path, err.value.line) == (path, 3)
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
    with pytest.raises(ConfigError, match="the fasta label option.s. do not apply to a CSV/TSV"):
        read_user_data(path, fasta_label="pipe")


# --------------------------------------------------------------------------------------------
# MIDI folders
# --------------------------------------------------------------------------------------------

def _waltzes_and_marches(root, n: int) -> None:
    """``n`` waltzes (160 notes) and ``n`` marches (140 notes) under ``root``, one sub-folder per class."""
    for k in range(n):
        write_midi(root / "waltz" / f"w{k}.mid", [60 + (i * 5 + k) % 12 for i in range(160)])
        write_midi(root / "march" / f"m{k}.midi", [48 + (i * 7 + k) % 12 for i in range(140)])


@pytest.fixture
def midi_folder(tmp_path):
    root = tmp_path / "midi"
    _waltzes_and_marches(root, 3)
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
        other = write(tmp_path / "p.csv", "sequence,label\nMKVL,a\nMKWL,b\nMKVI,a\nMKWI,b\n")
        assert import_user_dataset(other, "twice", overwrite=True).discipline == "protein"
        assert load_dataset("twice").discipline == "protein" and get_info("twice").discipline == "protein"
        with pytest.raises(DataError, match="builtin dataset; only your own"):
            remove_user_dataset("composers")
    finally:
        remove_user_dataset("twice")


def test_failed_import_leaves_nothing(dna_csv, monkeypatch):
    real = saved._record_json
    calls = []

    def fail_midway(r):
        calls.append(r)
        if len(calls) == 5:
            raise OSError("disk full")
        return real(r)

    before = sorted(user_datasets_dir().iterdir())
    monkeypatch.setattr(saved, "_record_json", fail_midway)
    with pytest.raises(OSError, match="disk full"):
        import_user_dataset(dna_csv, "half")
    assert len(calls) == 5  # it did fail in the middle of writing
    assert sorted(user_datasets_dir().iterdir()) == before and "half" not in DATASETS
    # An overwrite that fails keeps the old dataset whole.
    monkeypatch.setattr(saved, "_record_json", real)
    first = import_user_dataset(dna_csv, "half")
    calls.clear()
    monkeypatch.setattr(saved, "_record_json", fail_midway)
    with pytest.raises(OSError):
        import_user_dataset(dna_csv, "half", overwrite=True, seed=7)
    monkeypatch.setattr(saved, "_record_json", real)
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


# --------------------------------------------------------------------------------------------
# what looks wrong is said loudly (Dataset.warnings), and an empty test split is refused
# --------------------------------------------------------------------------------------------

def table(tmp_path, rows, name="t.csv", header="sequence,label") -> Path:
    return write(tmp_path / name, header + "\n" + "".join(",".join(r) + "\n" for r in rows))


def test_labels_differing_only_in_case_or_spaces_are_merged_with_a_warning_or_refused(tmp_path):
    rows = [(s, "Nucleus") for s, _ in dna_rows(12)] + [(s, "cytoplasm") for s, _ in dna_rows(12)]
    rows[3] = (rows[3][0], "nucleus")
    rows[5] = (rows[5][0], "Nucleus ")
    rows[20] = (rows[20][0], '" cytoplasm"')
    path = table(tmp_path, rows)
    ds = read_user_data(path)
    assert ds.label_names == ["Nucleus", "cytoplasm"] and ds.class_counts() == {"Nucleus": 12, "cytoplasm": 12}
    merged = [w for w in ds.warnings if "differ only in case or surrounding spaces" in w]
    assert len(merged) == 1 and "'nucleus' (1)" in merged[0] and "'Nucleus ' (1)" in merged[0]
    assert "' cytoplasm' (1)" in merged[0]
    with pytest.raises(DataError, match="differ only in case or surrounding spaces") as err:
        read_user_data(path, merge_labels=False)
    assert err.value.line in (5, 7, 22)  # a row of a rarer spelling
    # a number written two ways is one class, and nothing to warn about
    nums = table(tmp_path, [(s, "1" if i % 2 else "0.0") for i, (s, _) in enumerate(dna_rows(20))], "n.csv")
    ds = read_user_data(nums)
    assert ds.label_names == ["0", "1"] and not [w for w in ds.warnings if "case" in w]


UNIPROT = ">sp|P{i:05d}|PROT{i}_HUMAN Protein {i} OS=Homo sapiens OX=9606 GN=G{i} PE=1 SV={sv}\n{seq}\n"


def test_fasta_labels_that_look_like_header_fields_are_said(tmp_path):
    seqs = ["MKVLAAGIVALLLAAGCSS", "MSTNPKPQRKTKRNTNRRPQ", "MALWMRLLPLLALLALWGPD", "MKWVTFISLLFLFSSAYSRG"]
    path = write(tmp_path / "uniprot.fasta", "".join(UNIPROT.format(i=i, sv=1 + i % 2, seq=seqs[i % 4])
                                                       for i in range(20)))
    ds = read_user_data(path)  # the last word of each header is SV=1 or SV=2
    assert ds.label_names == ["SV=1", "SV=2"]
    (w,) = [w for w in ds.warnings if "look like header fields" in w]
    assert "20 of 20 labels" in w and "SV=1, SV=2" in w and "the last word of each header" in w
    # one version everywhere: one "class", refused with the reason
    write(path, "".join(UNIPROT.format(i=i, sv=1, seq=seqs[i % 4]) for i in range(20)))
    with pytest.raises(DataError, match=r"only one class \(SV=1\).*look like header fields"):
        read_user_data(path)
    # a side CSV of id,label is the way out, and then nothing is said
    labels = write(tmp_path / "labels.csv", "id,label\n" + "".join(f"sp|P{i:05d}|PROT{i}_HUMAN,{'ab'[i % 2]}\n"
                                                                 for i in range(20)))
    ds = read_user_data(path, labels=labels)
    assert ds.label_names == ["a", "b"] and not [w for w in ds.warnings if "header" in w]


def test_one_label_per_record_is_said_or_refused_when_nothing_is_left_to_test(tmp_path):
    recs = [(f"sp|P{i}|PROT{i}_HUMAN split={'train' if i < 8 else 'test'}", "MKVLAAGIVALLW"[: 6 + i % 5])
            for i in range(10)]
    ds = read_user_data(fasta(tmp_path, recs))  # one word with '|': the text after the last '|'
    (w,) = [w for w in ds.warnings if "has a label of its own" in w]
    assert "every one of the 10 records" in w and "the text after the last '|'" in w
    bare = fasta(tmp_path, [(f"sp|P{i}|PROT{i}_HUMAN", "MKVLAAGIVW") for i in range(10)], "bare.fasta")
    with pytest.raises(DataError, match="has a label of its own.*so the test split would be empty") as err:
        read_user_data(bare)
    assert "split column" in err.value.hint


def test_discipline_guessed_from_a_few_odd_letters_says_how_many_disagree(tmp_path, real_data_dir):
    dna = [line.split(",") for line in (real_data_dir / "dna_gue_emp/H3/dev.csv").read_text().splitlines()[1:41]]
    assert all(len(s) == 500 for s, _ in dna)
    odd = [list(r) for r in dna]
    odd[6][0] = odd[6][0][:100] + "EQ" + odd[6][0][102:]  # two letters that only proteins have
    ds = read_user_data(table(tmp_path, odd))
    assert ds.discipline == "protein"
    (w,) = [w for w in ds.warnings if "discipline guessed" in w]
    assert "decided by 1 of 40 sequences" in w and "E Q" in w and "line 8" in w and "the other 39 read as DNA" in w
    with pytest.raises(DataError, match="invalid letter 'E' at position 101") as err:
        read_user_data(table(tmp_path, odd), discipline="dna")  # what the warning says to do next
    assert err.value.line == 8
    # RNA is nucleotides, not protein (U is selenocysteine's letter too)
    rna = [(s.replace("T", "U"), y) for s, y in dna]
    ds = read_user_data(table(tmp_path, rna, "rna.csv"))
    assert ds.discipline == "dna" and "U" in ds.alphabet and "T" not in ds.alphabet
    assert not [w for w in ds.warnings if "discipline" in w]
    # a few IUPAC ambiguity codes in DNA stay DNA, and that is said
    iupac = [list(r) for r in dna]
    iupac[2][0] = "R" + iupac[2][0][1:]
    iupac[9][0] = iupac[9][0][:-1] + "Y"
    ds = read_user_data(table(tmp_path, iupac, "iupac.csv"))
    assert ds.discipline == "dna"
    (w,) = [w for w in ds.warnings if "discipline guessed" in w]
    assert "2 of 40 sequences hold IUPAC ambiguity codes (R Y" in w and "line 4" in w


def test_small_classes_and_classes_missing_from_a_split_are_said(tmp_path):
    rows = [(s, "a", "train" if i < 8 else "validation" if i < 10 else "test") for i, (s, _) in
            enumerate(dna_rows(12))]
    rows += [(s, "b", "train" if i < 8 else "validation" if i < 10 else "test") for i, (s, _) in
             enumerate(dna_rows(12))]
    rows += [(s, "rare", "train" if i < 2 else "validation") for i, (s, _) in enumerate(dna_rows(3))]
    ds = read_user_data(table(tmp_path, rows, header="sequence,label,split"))
    assert ds.sizes() == {"train": 18, "validation": 5, "test": 4}
    (few,) = [w for w in ds.warnings if "fewer than 5 examples" in w]
    assert few.startswith("1 of 3 classes") and "'rare' (3)" in few
    (absent,) = [w for w in ds.warnings if "in the test split" in w]
    assert "'rare'" in absent and "'a'" not in absent
    assert not [w for w in ds.warnings if "in the validation split" in w]


def test_an_empty_test_split_is_refused_at_import_with_what_to_do(tmp_path):
    rows = [(s, y, "train" if i < 16 else "validation") for i, (s, y) in enumerate(dna_rows(20))]
    path = table(tmp_path, rows, header="sequence,label,split")
    before = sorted(user_datasets_dir().iterdir())
    with pytest.raises(DataError, match="the test split would be empty: no example is marked test") as err:
        import_user_dataset(path, "no-test")
    assert "mark about a tenth of the rows `test`" in err.value.hint and err.value.path == path
    assert sorted(user_datasets_dir().iterdir()) == before and "no-test" not in DATASETS
    # too few examples for the automatic split to keep any for test
    tiny = table(tmp_path, [("ACGT", "a"), ("ACGA", "b")], "tiny.csv")
    with pytest.raises(DataError, match="the test split would be empty: the automatic split") as err:
        read_user_data(tiny)
    assert "at least 3 per class" in err.value.hint


@pytest.fixture
def odd_midi_folder(tmp_path):
    """A MIDI folder with everything a zip from a Mac or a hurried copy holds."""
    root = tmp_path / "by_composer"
    _waltzes_and_marches(root, 5)
    write_midi(root / "polka" / "p0.mid", [70 + i % 5 for i in range(130)])
    write_midi(root / "polka" / "p1.mid", [71 + i % 5 for i in range(130)])
    (root / "march" / "broken.mid").write_bytes(random.Random(5).randbytes(300))
    (root / "march" / "._m0.midi").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    for k in range(2):  # a class whose files all fail
        (root / "tango" / f"t{k}.mid").parent.mkdir(parents=True, exist_ok=True)
        (root / "tango" / f"t{k}.mid").write_bytes(b"MThd junk" + bytes([k]) * 40)
    (root / "empty").mkdir()
    (root / "notes").mkdir()
    write(root / "notes" / "readme.txt", "not music")
    write_midi(root / "loose.mid", [60] * 100)
    (root / "__MACOSX" / "waltz").mkdir(parents=True)
    (root / "__MACOSX" / "waltz" / "._w0.mid").write_bytes(b"\x00\x05\x16\x07")
    return root


def test_midi_folder_says_what_it_left_out_and_why(odd_midi_folder):
    ds = read_user_data(odd_midi_folder, workers=1)
    assert ds.label_names == ["march", "polka", "waltz"]  # __MACOSX, empty, notes and tango are no classes
    text = "\n".join(ds.warnings)
    assert "'empty' (empty)" in text and "'notes' (1 files, none .mid/.midi: readme.txt)" in text
    (dead,) = [w for w in ds.warnings if w.startswith("class 'tango' was left out")]
    assert "none of its 2 MIDI files could be read" in dead
    assert dead.count("tango/t") == 2 and "Error" in dead  # each file with the parser's reason
    (broken,) = [w for w in ds.warnings if "could not be read and were left out" in w]
    assert broken.startswith("1 of 15 MIDI files") and "march/broken.mid (" in broken
    assert any("outside any class folder" in w and "loose.mid" in w for w in ds.warnings)
    (meta,) = [w for w in ds.warnings if w.startswith("ignored metadata")]
    assert "__MACOSX/" in meta and "1 '._' file(s)" in meta
    (few,) = [w for w in ds.warnings if "fewer than 5 pieces" in w]
    assert "'polka' (2)" in few and "'march'" not in few
    assert all(not r.group.startswith(("tango", "__MACOSX")) and "._" not in r.group for r in ds.records)


def _zip(folder: Path, target: Path, prefix: str = "", extra: dict | None = None) -> Path:
    import zipfile

    with zipfile.ZipFile(target, "w") as zf:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                zf.write(f, prefix + f.relative_to(folder).as_posix())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return target


def test_zip_of_a_midi_folder_reads_like_the_folder(odd_midi_folder, tmp_path):
    folder = read_user_data(odd_midi_folder, workers=1)
    # zipped on a Mac: the folder itself inside, and macOS metadata beside it
    z = _zip(odd_midi_folder, tmp_path / "composers.zip", prefix="by_composer/",
             extra={"__MACOSX/by_composer/._loose.mid": b"\x00\x05"})
    ds = import_user_dataset(z, "zipped-midi", workers=1)
    try:
        assert ds.discipline == "music" and ds.voting and ds.label_names == folder.label_names
        assert [(r.group, r.split, r.symbols) for r in ds.records] == \
               [(r.group, r.split, r.symbols) for r in folder.records]
        assert ds.source == str(z) and ds.notes[0].startswith("read from the zip file composers.zip")
        assert ds.warnings[0] == "ignored metadata that is not music (left by macOS or an editor): __MACOSX"
        assert any(w.startswith("class 'tango' was left out") for w in ds.warnings)
        assert load_dataset("zipped-midi").warnings == ds.warnings  # saved with it
    finally:
        remove_user_dataset("zipped-midi")
    junk = write(tmp_path / "junk.zip", "not a zip")
    with pytest.raises(DataError, match="cannot be read as a zip file") as err:
        read_user_data(junk)
    assert err.value.path == junk
    nothing = _zip(odd_midi_folder / "notes", tmp_path / "notes.zip")
    with pytest.raises(DataError, match=r"the zip holds no .mid/.midi file \(1 other files\)"):
        read_user_data(nothing)
    with pytest.raises(ConfigError, match="leave the discipline and the task unset"):
        read_user_data(z, discipline="dna")


# --------------------------------------------------------------------------------------------
# the researcher's real files, every route
# --------------------------------------------------------------------------------------------

@pytest.mark.realdata
def test_real_files_every_route(real_data_dir, tmp_path):
    h3 = (real_data_dir / "dna_gue_emp/H3/dev.csv").read_text().splitlines()
    rows = [line.split(",") for line in h3[1:121]]
    # 500-bp DNA, no split column: a seeded stratified 80/10/10 split
    ds = read_user_data(table(tmp_path, rows, "h3-500.csv"))
    assert (ds.discipline, ds.task, ds.label_names) == ("dna", "classification", ["0", "1"])
    assert ds.sizes() == {"train": 96, "validation": 12, "test": 12} and max(r.length for r in ds.records) == 500
    assert not ds.warnings
    # 101 bp, with a split column under another name
    split = ["train"] * 90 + ["validation"] * 15 + ["test"] * 15
    short = write(tmp_path / "h3-101.tsv", "dna\ty\tpart\n" + "".join(f"{s[:101]}\t{y}\t{p}\n" for (s, y), p in
                                                                   zip(rows, split)))
    ds = read_user_data(short, sequence_column="dna", label_column="y", split_column="part")
    assert ds.sizes() == {"train": 90, "validation": 15, "test": 15} and {r.length for r in ds.records} == {101}
    # protein, FASTA with the label in the header; the same set as CSV; and as FASTA + side CSV
    from Bio import SeqIO

    recs = list(SeqIO.parse(real_data_dir / "protein_deeploc/deeploc_our_val_set.fasta", "fasta"))[::11][:150]
    fa = tmp_path / "deeploc.fasta"
    SeqIO.write(recs, fa, "fasta")
    ds = read_user_data(fa)
    assert ds.discipline == "protein" and "Nucleus-U" in ds.label_names
    assert any("fewer than 5 examples" in w and "'Peroxisome-M' (1)" in w for w in ds.warnings)
    assert any("truncated to their first 510" in n for n in ds.notes)
    as_csv = write(tmp_path / "deeploc.csv", "id,primary,location\n" + "".join(
        f"{r.id},{r.seq},{r.description.split()[1]}\n" for r in recs))
    again = read_user_data(as_csv, label_column="location")
    assert [(r.symbols, r.label, r.split) for r in again.records] == [(r.symbols, r.label, r.split) for r in ds.records]
    bare = tmp_path / "bare.fasta"
    bare.write_text("".join(f">{r.id}\n{r.seq}\n" for r in recs))
    side = read_user_data(bare, labels=as_csv, label_column="location")
    assert side.fingerprint() == ds.fingerprint()  # the same content and split, whichever route
    # MIDI: two composers' real MAESTRO files, zipped with macOS metadata
    index = (real_data_dir / "music_maestro/subset_index.csv").read_text().splitlines()
    import csv as _csv

    by = {}
    for row in _csv.DictReader(index):
        by.setdefault(row["canonical_composer"], []).append(row)
    folder = tmp_path / "maestro"
    for composer in ("Johann Sebastian Bach", "Joseph Haydn"):
        for row in sorted(by[composer], key=lambda r: int(r["size"]))[:3]:
            src = real_data_dir / "music_maestro" / row["midi_filename"]
            dst = folder / composer.split()[-1].lower() / Path(row["midi_filename"]).name
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(src.read_bytes())
    z = _zip(folder, tmp_path / "maestro.zip", extra={"__MACOSX/bach/._x.midi": b"\x00"})
    ds = read_user_data(z, workers=1)
    assert ds.label_names == ["bach", "haydn"] and ds.voting
    from disc_core.data.checks import class_table

    assert class_table(ds) == [{"class": "bach", "train": 1, "validation": 1, "test": 1},
                               {"class": "haydn", "train": 1, "validation": 1, "test": 1}]
    assert any("fewer than 5 pieces" in w for w in ds.warnings)
    assert any("__MACOSX" in w for w in ds.warnings)


def test_fingerprint_follows_content_and_split_not_the_name(dna_csv, tmp_path):
    a = read_user_data(dna_csv, name="one")
    assert a.fingerprint() == read_user_data(dna_csv, name="two").fingerprint()  # the name is not content
    assert a.fingerprint() != read_user_data(dna_csv, seed=7).fingerprint()  # another split
    lines = dna_csv.read_text().splitlines()
    flipped = write(tmp_path / "flipped.csv", "\n".join(lines[:1] + [lines[1].replace("A", "C", 1)] + lines[2:]))
    assert read_user_data(flipped).fingerprint() != a.fingerprint()  # one letter of one sequence
    ds = import_user_dataset(dna_csv, "fp-saved")
    try:
        assert load_dataset("fp-saved").fingerprint() == ds.fingerprint() == a.fingerprint()  # survives saving
    finally:
        remove_user_dataset("fp-saved")


# --------------------------------------------------------------------------------------------
# issue 25 / 26: unsafe zip entries, repeated FASTA ids, a table without a label column
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry, why", [("../bach/w9.mid", "'..' part"), ("waltz/../../x.mid", "'..' part"),
                                        ("/tmp/march/m9.mid", "absolute path"),
                                        ("C:\\music\\m9.mid", "absolute path")])
def test_zip_entries_that_point_outside_are_refused_by_name(midi_folder, tmp_path, entry, why):
    from disc_core.data.user import unsafe_entry

    z = _zip(midi_folder, tmp_path / "evil.zip", extra={entry: (midi_folder / "waltz" / "w0.mid").read_bytes()})
    with pytest.raises(DataError, match="has an? " + why) as err:
        read_user_data(z, workers=1)
    assert repr(entry) in str(err.value) and err.value.path == z and "relative path" in err.value.hint
    assert not list((tmp_path / "bach").glob("*")) and not (tmp_path / "x.mid").exists()  # nothing unpacked
    assert unsafe_entry(entry) and unsafe_entry("by_composer/waltz/w0.mid") is None


def test_repeated_fasta_ids_are_warned_about(tmp_path):
    recs = [(f"p{i} {'ab'[i % 2]}", "MKVLAAGIVW"[: 5 + i % 5]) for i in range(12)]
    recs[7] = ("p2 a", "MKVLA")   # p2 again
    recs[9] = ("p2 b", "MKVLW")   # and again
    recs[11] = ("p4 b", "MKVLAA")
    ds = read_user_data(fasta(tmp_path, recs))
    (w,) = [w for w in ds.warnings if "occur more than once" in w]
    assert w.startswith("2 FASTA id(s)") and "'p2' (3x)" in w and "'p4' (2x)" in w
    assert "first repeat at line 15" in w and "all 5 records are kept" in w
    assert len(ds.records) == 12
    clean = read_user_data(fasta(tmp_path, [(f"q{i} {'ab'[i % 2]}", "MKVLA") for i in range(12)], "ok.fasta"))
    assert not [w for w in clean.warnings if "more than once" in w]


def test_a_table_without_a_label_column_says_what_is_missing(tmp_path):
    seqs = [s for s, _ in dna_rows(12)]
    no_label = write(tmp_path / "lengths.csv", "sequence,length\n" + "".join(f"{s},{len(s)}\n" for s in seqs))
    with pytest.raises(DataError, match="no label column .one of label, class, target, y.; columns found: "
                                        "sequence, length") as err:
        read_user_data(no_label)
    assert err.value.path == no_label and str(no_label) in str(err.value)
    assert "--label-column" in err.value.hint and "'Label column' box" in err.value.hint
    one = write(tmp_path / "one.csv", "sequence\n" + "".join(f"{s}\n" for s in seqs))
    with pytest.raises(DataError, match=r"a single column \('sequence'\); it needs two") as err:
        read_user_data(one)
    assert err.value.path == one and "--label-column" in err.value.hint
    with pytest.raises(DataError, match="the sequence and the label would be the same column .'sequence'.") as err:
        read_user_data(no_label, label_column="sequence")
    assert "columns found: sequence, length" in str(err.value) and "--label-column" in err.value.hint
    # a labels CSV for FASTA of ids only
    fa = fasta(tmp_path, [(f"id{i}", s) for i, s in enumerate(seqs)])
    ids = write(tmp_path / "ids.csv", "id\n" + "".join(f"id{i}\n" for i in range(12)))
    with pytest.raises(DataError, match="the labels CSV has a single column") as err:
        read_user_data(fa, labels=ids)
    assert err.value.path == ids
    # naming the column is the way out: a numeric column is a regression target when asked for
    assert read_user_data(no_label, label_column="length", task="regression").task == "regression"


def test_import_options_are_checked_by_their_fields(tmp_path):
    from disc_core.data.user import READERS, ImportOptions

    assert set(READERS) == {"fasta", "table", "midi", "zip"}
    assert ImportOptions(fmt="csv").fmt == "table" and ImportOptions().given() == set()
    assert ImportOptions(seed=7, fasta_label="pipe").given() == {"seed", "fasta_label"}
    path = write(tmp_path / "d.csv", "sequence,label\n" + "".join(f"{s},{y}\n" for s, y in dna_rows(10)))
    for bad, match in [({"discipline": "rna"}, "discipline must be one of dna, protein, music, text, not 'rna'"),
                       ({"task": "ranking"}, "task must be one of classification, regression"),
                       ({"fasta_label": "first"}, "fasta_label must be one of auto, key, last, pipe"),
                       ({"fmt": "xlsx"}, "fmt must be one of"), ({"seed": "7"}, "seed must be a whole number"),
                       ({"workers": 0}, "workers must be a whole number of at least 1"),
                       ({"fractions": (0.5, 0.5, 0.5)}, "fractions: split fractions must be"),
                       ({"sep": ";;"}, "sep .the table's delimiter. must be one character"),
                       ({"merge_labels": "no"}, "merge_labels must be True or False")]:
        with pytest.raises(ConfigError, match=match):
            read_user_data(path, **bad)
    with pytest.raises(ConfigError, match="the sequence column option.s. do not apply to a MIDI folder"):
        read_user_data(tmp_path, sequence_column="x")
    assert read_user_data(path, fractions=[0.6, 0.2, 0.2]).sizes() == {"train": 6, "validation": 2, "test": 2}


PINNED_CSV, PINNED_CSV_SEED7 = "57c08dfaada199a6", "bb1f3e1932b0be61"


def test_the_split_of_a_table_is_pinned(dna_csv):
    # The fingerprint covers the split: a change to the splitter would re-run every finished cell of every
    # imported dataset. These values were computed before the two splitters became one.
    assert read_user_data(dna_csv).fingerprint() == PINNED_CSV
    assert read_user_data(dna_csv, seed=7).fingerprint() == PINNED_CSV_SEED7
