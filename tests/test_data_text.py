"""GLUE loaders: the real TSVs, tiny fixtures with bad rows, and the Hugging Face fallback (faked, no network)."""

import pytest

from disc_core.data import get_info, load_dataset
from disc_core.data import text as text_mod
from disc_core.data.text import GLUE_TASKS, read_glue, read_glue_tsv
from disc_core.errors import DataError


@pytest.fixture
def no_hub(monkeypatch):
    monkeypatch.setattr(text_mod, "_hub_ok", lambda: False)


# ------------------------------------------------------------------------------------------ real files
@pytest.mark.realdata
@pytest.mark.parametrize("task, n_train, test_counts", [
    ("sst2", 67349, {"negative": 428, "positive": 444}),
    ("rte", 2490, {"entailment": 146, "not_entailment": 131}),
    ("mrpc", 3668, None),
    ("cola", 8551, None),
    ("stsb", 5749, None),
])
def test_glue_real_sizes_dev_is_test_and_validation_is_a_tenth(real_data_dir, monkeypatch, task, n_train,
                                                                 test_counts):
    monkeypatch.setenv("DISC_DATA_DIR", str(real_data_dir))
    ds = load_dataset(task)
    s = ds.sizes()
    assert s["train"] + s["validation"] == n_train
    assert s["validation"] == pytest.approx(n_train / 10, abs=2)
    assert s["test"] == {"sst2": 872, "rte": 277, "mrpc": 408, "cola": 1043, "stsb": 1500}[task]
    if test_counts:
        assert ds.class_counts("test") == test_counts
    assert ds.is_text and all(r.text for r in ds.records)
    has_pair = task in ("rte", "mrpc", "stsb")
    assert all((r.text_pair is not None) == has_pair for r in ds.records)


@pytest.mark.realdata
def test_glue_real_columns_bom_no_header_and_quotes(real_data_dir, monkeypatch):
    monkeypatch.setenv("DISC_DATA_DIR", str(real_data_dir))
    mrpc, _ = read_glue_tsv(real_data_dir / "glue/MRPC/train.tsv", "mrpc")  # BOM before 'Quality'
    assert mrpc[0] == ('Amrozi accused his brother, whom he called "the witness", of deliberately distorting his '
                       'evidence.', 'Referring to him as only "the witness", Amrozi accused his brother of '
                       'deliberately distorting his evidence.', 1)
    cola, _ = read_glue_tsv(real_data_dir / "glue/CoLA/train.tsv", "cola")  # no header: first row is data
    assert len(cola) == 8551
    assert cola[0] == ("Our friends won't buy this analysis, let alone the next one we propose.", None, 1)
    stsb = load_dataset("stsb")
    assert stsb.task == "regression" and stsb.label_names is None
    assert all(0.0 <= r.label <= 5.0 for r in stsb.records) and stsb.split("test")[0].label == 5.0
    a, b = load_dataset("sst2"), load_dataset("sst2", seed=3)
    assert [r.text for r in a.split("validation")] == [r.text for r in load_dataset("sst2").split("validation")]
    assert [r.text for r in a.split("validation")] != [r.text for r in b.split("validation")]


def test_metrics_follow_the_paper():
    assert {t: get_info(t).metric for t in GLUE_TASKS} == {
        "mnli": "accuracy", "qqp": "f1", "qnli": "accuracy", "sst2": "accuracy", "cola": "mcc",
        "stsb": "spearman", "mrpc": "f1", "rte": "accuracy"}
    # the headline is the paper's metric (Table 1), checked against the transcription of its tables
    from disc_core.study.paper import paper_metric

    assert all(get_info(t).metric == paper_metric(t) for t in GLUE_TASKS)
    assert "Pearson is computed beside it" in get_info("stsb").description


# ------------------------------------------------------------------------------------------ fixtures
def _tsv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("\t".join(r) + "\n" for r in rows))
    return path


def _rte(folder, n=20):
    head = ["index", "sentence1", "sentence2", "label"]
    labels = ["entailment", "not_entailment"]
    for name, k in (("train.tsv", n), ("dev.tsv", 4)):
        _tsv(folder / name, [head] + [[str(i), f'He said "hi" {i}.', f"Hyp {i}", labels[i % 2]] for i in range(k)])
    return folder


def test_read_glue_fixture_pairs_quotes_and_split(tmp_path):
    ds = read_glue("rte", _rte(tmp_path / "RTE", 20))
    assert ds.sizes() == {"train": 18, "validation": 2, "test": 4}
    assert ds.class_counts("validation") == {"entailment": 1, "not_entailment": 1}
    first = ds.split("test")[0]
    assert (first.text, first.text_pair, first.label) == ('He said "hi" 0.', "Hyp 0", 0)


def test_mnli_reads_dev_matched_and_gold_label(tmp_path, monkeypatch, no_hub):
    head = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
            "sentence1_parse", "sentence2_parse", "sentence1", "sentence2", "label1", "gold_label"]
    labels = ["entailment", "neutral", "contradiction"]
    rows = [[str(i), "1", "2", "fiction", "(", "(", "(", "(", f"P{i}", f"H{i}", labels[i % 3], labels[i % 3]]
            for i in range(30)]
    d = tmp_path / "glue" / "MNLI"
    _tsv(d / "train.tsv", [head] + rows)
    _tsv(d / "dev_matched.tsv", [head[:10] + ["label1", "label2", "label3", "label4", "label5", "gold_label"]]
         + [r[:10] + [r[10]] * 5 + [r[11]] for r in rows[:6]])
    monkeypatch.setenv("DISC_DATA_DIR", str(tmp_path))
    assert get_info("mnli").available() == (True, str(tmp_path))
    ds = load_dataset("mnli")
    assert ds.sizes() == {"train": 27, "validation": 3, "test": 6}
    assert ds.label_names == labels and ds.split("test")[2].label == 2
    assert ds.split("test")[1].text_pair == "H1"
    assert any("only dev_matched.tsv was found" in n for n in ds.notes)
    # with the mismatched set beside it, the test split pools both: the paper averages the two
    _tsv(d / "dev_mismatched.tsv", [head[:10] + ["label1", "label2", "label3", "label4", "label5", "gold_label"]]
         + [r[:10] + [r[10]] * 5 + [r[11]] for r in rows[10:14]])
    ds = load_dataset("mnli")
    assert ds.sizes()["test"] == 6 + 4 and ds.split("test")[6].text == "P10"
    assert any(n.startswith("test = GLUE dev_matched + dev_mismatched") for n in ds.notes)
    assert any("dev_matched.tsv (6) + dev_mismatched.tsv (4) pooled" in n and "0.10000 x" in n for n in ds.notes)


def test_wrong_column_count_names_file_and_line(tmp_path):
    d = _rte(tmp_path / "RTE")
    lines = (d / "train.tsv").read_text().splitlines()
    lines[5] = lines[5].replace("\tHyp", " Hyp")  # a lost tab
    (d / "train.tsv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"RTE/train\.tsv, line 6: expected 4 tab-separated fields, found 3"):
        read_glue("rte", d)


def test_qqp_malformed_rows_are_skipped_and_counted(tmp_path):
    head = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]
    rows = [[str(i), "1", "2", f"Q{i}?", f"R{i}?", str(i % 2)] for i in range(20)]
    d = tmp_path / "QQP"
    _tsv(d / "train.tsv", [head] + rows[:10] + [["99", "1", "2", "cut short"]] + rows[10:])
    _tsv(d / "dev.tsv", [head] + rows[:4])
    ds = read_glue("qqp", d)
    assert sum(ds.sizes().values()) == 24
    assert any("1 malformed rows of train.tsv skipped" in n for n in ds.notes)


@pytest.mark.parametrize("bad_row, message", [
    (["7", "S1", "S2", ""], r"train\.tsv, line 9: missing label"),
    (["7", "S1", "S2", "maybe"], r"train\.tsv, line 9: unknown label 'maybe'"),
])
def test_bad_labels_name_file_and_line(tmp_path, bad_row, message):
    d = _rte(tmp_path / "RTE")
    lines = (d / "train.tsv").read_text().splitlines()
    lines[8] = "\t".join(bad_row)
    (d / "train.tsv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=message):
        read_glue("rte", d)


def test_unlabelled_test_file_and_bad_scores(tmp_path):
    p = _tsv(tmp_path / "SST-2" / "train.tsv", [["index", "sentence"], ["0", "fine ."]])
    with pytest.raises(DataError, match=r"line 1: no column 'label' .* is this the unlabelled test\.tsv"):
        read_glue_tsv(p, "sst2")
    head = ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2", "score"]
    for score, msg in (("7.5", "not between 0 and 5"), ("nan", "not between 0 and 5"), ("high", "not a number")):
        p = _tsv(tmp_path / "STS-B" / "dev.tsv", [head, ["0"] * 7 + ["a", "b", "1.0"], ["1"] * 7 + ["c", "d", score]])
        with pytest.raises(DataError, match=rf"dev\.tsv, line 3: score '{score}' is {msg}"):
            read_glue_tsv(p, "stsb")


def test_cola_without_header_and_empty_or_non_utf8_files(tmp_path):
    p = _tsv(tmp_path / "CoLA" / "train.tsv", [["gj04", "1", "", "Good ."], ["gj04", "0", "*", "Bad good ."]])
    rows, skipped = read_glue_tsv(p, "cola")
    assert rows == [("Good .", None, 1), ("Bad good .", None, 0)] and skipped == 0
    p.write_text("")
    with pytest.raises(DataError, match=r"CoLA/train\.tsv: the TSV file is empty"):
        read_glue_tsv(p, "cola")
    p.write_bytes(b"gj04\t1\t\tGood .\ngj04\t0\t*\tna\xefve\xff\n")
    with pytest.raises(DataError, match=r"line 2: byte 0xef .* not valid UTF-8"):
        read_glue_tsv(p, "cola")


# ------------------------------------------------------------------------------------------ availability / hub
def test_missing_tsvs_offline_are_not_available(tmp_path, monkeypatch, no_hub):
    monkeypatch.setenv("DISC_DATA_DIR", str(tmp_path))
    ok, why = get_info("qnli").available()
    assert not ok and "glue/QNLI/train.tsv" in why and "nyu-mll/glue" in why
    with pytest.raises(DataError, match="qnli is not available"):
        load_dataset("qnli")


def test_hub_copy_is_used_when_tsvs_are_absent(tmp_path, monkeypatch):
    import datasets

    fake = {"train": [{"question": f"Q{i}?", "sentence": f"S{i}.", "label": i % 2} for i in range(20)],
            "validation": [{"question": "Why?", "sentence": "Because.", "label": 1}] * 3}
    calls = []

    def fake_load(path, name):
        calls.append((path, name))
        return fake

    monkeypatch.setenv("DISC_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(text_mod, "_hub_ok", lambda: True)
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    assert get_info("qnli").available()[0]
    ds = load_dataset("qnli")
    assert calls == [("nyu-mll/glue", "qnli")]
    assert ds.sizes() == {"train": 18, "validation": 2, "test": 3}
    assert ds.split("test")[0].text_pair == "Because." and "Hugging Face" in ds.source
