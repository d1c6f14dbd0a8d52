"""The paper's numbers: every number in assets/paper_results.json against the paper's own text, and the lookups.

The tables are parsed here from ``../shared/docs/kao-lee-2021-paper.txt`` (relative to the repository root)
with a mapping of the paper's row and column names written out below, independently of disc_core, so that a
mistyped, missing or invented number fails. Without the text (a fresh clone without ../shared) those tests skip.
"""

import json
import math
import re
from pathlib import Path

import pytest

from disc_core.study import paper
from disc_core.study.compare import summarize, to_markdown

ROOT = Path(__file__).resolve().parents[1]
PAPER_TXT = ROOT.parent / "shared" / "docs" / "kao-lee-2021-paper.txt"
JSON_FILE = ROOT / "assets" / "paper_results.json"

# The paper's names -> ours. Table 1's rows are read under their section (setting) heading.
TEXT_COLUMNS = {"MNLI": "mnli", "QQP": "qqp", "QNLI": "qnli", "SST-2": "sst2", "CoLA": "cola", "STS-B": "stsb",
                "MRPC": "mrpc", "RTE": "rte"}
TEXT_SECTIONS = {  # section heading -> (setting, {row name: label})
    "shift 1000": ("full", {"BERT": "pretrained+shift", "BERT (rand)": "rand+shift",
                            "ALBERT": "albert:pretrained+shift", "ALBERT (rand)": "albert:rand+shift"}),
    "random shift": ("full", {"BERT": "pretrained+random-shift", "BERT (rand)": "rand+random-shift"}),
    "shift 1000 1% data": ("1pct", {"BERT": "pretrained+shift", "BERT (rand)": "rand+shift"}),
    "normal data": ("full", {"BERT (re-emb)": "re-emb"}),
}
NONTEXT_COLUMNS = {"localization": "deeploc", "stability": "stability", "fluorescence": "fluorescence", "H3": "h3",
                   "H4": "h4", "H3K9ac": "h3k9ac", "Splice": "splice", "composer": "maestro"}
NONTEXT_ROWS = {"specific": "specific", "BERT": "pretrained", "re-emb": "re-emb", "rand": "rand"}
METRIC_NAMES = {"acc": "accuracy", "F1": "f1", "mcc": "mcc", "spr": "spearman"}


@pytest.fixture(scope="module")
def text():
    if not PAPER_TXT.is_file():
        pytest.skip(f"the paper's text is not here ({PAPER_TXT}): a clone without ../shared")
    return PAPER_TXT.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def data():
    return json.loads(JSON_FILE.read_text(encoding="utf-8"))


def _cells(line: str) -> list[str]:
    """A table line's tab-separated cells, HTML tags dropped and spaces normalised ('<i>shift</i> 1000')."""
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", c)).strip() for c in line.split("\t")]


def _table_lines(text: str, caption: str) -> list[list[str]]:
    """The tab-separated lines after ``caption`` up to the first line without a tab (the table's end)."""
    lines = text[text.index(caption):].split("\n")[1:]
    out = []
    for line in lines:
        if "\t" not in line:
            if out:
                break
            continue
        out.append(_cells(line))
    return out


def _parse_table1(lines, name):
    """{(dataset, setting, label): printed} and the metric per dataset of one of the two Tables 1."""
    header = [c for c in lines[0] if c]
    if all(" " in c for c in header):  # main text: "QQP F1" in one cell
        columns = [c.split(" ")[0] for c in header]
        metrics = [c.split(" ")[1] for c in header]
        rows = lines[1:]
    else:  # appendix: names on one line, metrics on the next
        columns, metrics, rows = header, [c for c in lines[1] if c], lines[2:]
    found, section = {}, None
    for cells in rows:
        title = " ".join(c for c in cells if c)
        if title in TEXT_SECTIONS:
            section = title
            continue
        setting, row_labels = TEXT_SECTIONS[section]
        assert cells[0] in row_labels, f"{name}: unknown row {cells[0]!r} under {section!r}"
        values = cells[1:1 + len(columns)]
        for col, v in zip(columns, values):
            found[(TEXT_COLUMNS[col], setting, row_labels[cells[0]])] = v
    return found, {TEXT_COLUMNS[c]: METRIC_NAMES[m] for c, m in zip(columns, metrics)}


def _parse_table2(lines, name):
    """{(dataset, label): printed} of one of the two Tables 2 (the discipline line comes first)."""
    columns = [c for c in lines[1] if c]
    found = {}
    for cells in lines[2:]:
        assert cells[0] in NONTEXT_ROWS, f"{name}: unknown row {cells[0]!r}"
        for col, v in zip(columns, cells[1:]):
            found[(NONTEXT_COLUMNS[col], NONTEXT_ROWS[cells[0]])] = v
    return found


@pytest.fixture(scope="module")
def parsed(text):
    """({(dataset, setting, split, label): (printed, {tables})} of every result table in the paper,
    {dataset: metric} from Table 1's metric line)."""
    out = {}

    def add(key, value, table):
        if key in out:
            assert out[key][0] == value, f"{key}: {table} prints {value}, another table {out[key][0]}"
            out[key][1].add(table)
        else:
            out[key] = (value, {table})

    main1, metrics_main = _parse_table1(_table_lines(text, "Table 1: Results of different models on GLUE"), "Table 1")
    app1, metrics_app = _parse_table1(_table_lines(text, "Table 1: Full results on GLUE validation set"),
                                      "Appendix Table 1")
    assert len(main1) == 3 * 7 and len(app1) == 8 * 9  # 3 tasks x 7 rows; 8 tasks x 9 rows
    for found, table in ((main1, "Table 1"), (app1, "Appendix Table 1")):
        for (ds, setting, label), v in found.items():
            add((ds, setting, "test", label), v, table)
    main2 = _parse_table2(_table_lines(text, "Table 2: Results of BERT on protein"), "Table 2")
    app2 = _parse_table2(_table_lines(text, "Table 2: Validation results of BERT"), "Appendix Table 2")
    assert len(main2) == 8 * 4 and len(app2) == 8 * 3
    for found, split, table in ((main2, "test", "Table 2"), (app2, "validation", "Appendix Table 2")):
        for (ds, label), v in found.items():
            add((ds, "full", split, label), v, table)
    return out, {**metrics_main, **metrics_app}


@pytest.fixture(scope="module")
def printed(parsed):
    return parsed[0]


def _json_cells(data):
    for ds, settings in data["results"].items():
        for setting, splits in settings.items():
            for split, cells in splits.items():
                for label, cell in cells.items():
                    yield (ds, setting, split, label), cell


def test_every_printed_number_is_in_the_json_exactly(printed, data):
    cells = dict(_json_cells(data))
    for key, (value, tables) in printed.items():
        assert key in cells, f"the paper prints {value} for {key}; the JSON lacks it"
        cell = cells[key]
        assert set(cell["tables"]) == tables, f"{key}: printed in {sorted(tables)}, JSON says {cell['tables']}"
        if value == "-":  # the paper's "no number" (no discipline-specific music model)
            assert cell["value"] is None and cell["printed"] == "-", key
            continue
        assert cell["value"] is not None, f"{key}: the paper prints {value}, the JSON has null"
        # as printed: 95 stays 95, 0.0 stays 0.0 (the JSON number's text is the paper's)
        assert json.dumps(cell["value"]) == value and cell["value"] == float(value), (key, value, cell["value"])


def test_the_json_has_no_number_the_paper_does_not_print(printed, data):
    for key, cell in _json_cells(data):
        assert key in printed, f"{key} = {cell['value']} is not in the paper's tables"
    for entry in data["results"].values():  # unused: only a sentence in the paper, so no cell anywhere
        assert not any("unused" in cells for s in entry.values() for cells in s.values())


def test_metrics_match_the_paper_tables(parsed, data):
    for ds, metric in parsed[1].items():
        assert data["tasks"][ds]["metric"] == metric == paper.paper_metric(ds)
    # the non-text captions: spearman for fluorescence and stability, accuracy for the others
    assert {ds for ds, t in data["tasks"].items() if t["metric"] == "spearman"} == {"stsb", "fluorescence", "stability"}


def test_dataset_sizes_match_appendix_tables_3_to_6(text, data):
    sizes = paper.paper_dataset_sizes()
    names = {**TEXT_COLUMNS, "fluorescence": "fluorescence", "stability": "stability", "localization": "deeploc",
             "H3": "h3", "H4": "h4", "H3K9ac": "h3k9ac", "Splice": "splice", "MAESTRO-v1": "maestro"}
    seen = set()
    for caption, table in (("dataset\ttrain\tvalidation\n", "Appendix Table 3"),
                           ("dataset\ttrain\tvalidation\ttest\nfluorescence", "Appendix Table 4"),
                           ("dataset\t#samples", "Appendix Table 5"),
                           ("dataset\ttrain\tvalidation\ttest\nMAESTRO", "Appendix Table 6")):
        lines = _table_lines(text[text.index(caption) - 1:], "\n")
        head = lines[0][1:]
        for cells in lines[1:]:
            ds = names[cells[0]]
            seen.add(ds)
            assert sizes[ds]["table"] == table
            for col, v in zip(head, cells[1:]):
                col = {"#samples": "samples"}.get(col, col)
                want = [int(x) for x in v.split("/")] if "/" in v else int(v)
                assert sizes[ds][col] == want, (ds, col)
    assert seen == set(sizes)


def test_recipe_matches_appendix_a(text):
    r = paper.paper_recipe()
    assert "We use Adam optimizer" in text and r["optimizer"] == "Adam"
    assert "learning rate is set to 10^{-5}" in text and r["learning_rate"] == 1e-5
    assert "We search learning rate from 10^{-4} to 10^{-7}" in text
    assert r["learning_rate_search"]["range"] == [1e-4, 1e-7] and r["learning_rate_search"]["task"] == "MRPC"
    assert "highest F1 score on the training set" in text and "F1" in r["learning_rate_search"]["criterion"]
    assert "batch size 32" in text and r["batch_size"] == 32
    assert "We do not use gradient clipping and warm-up" in text and not r["warmup"] and not r["gradient_clipping"]
    assert "linear learning rate decay" in text and r["schedule"] == "linear decay"
    assert "early stopping on all the non-text data" in text and "non-text" in r["early_stopping"]


# ------------------------------------------------------------------------------------------ lookups (no text needed)
def test_paper_row_default_setting_and_split():
    assert paper.paper_row("splice") == {"specific": 94.1, "pretrained": 97.5, "re-emb": 95.6, "rand": 95}
    assert paper.paper_row("splice", split="validation") == paper.paper_validation_row("splice")
    assert paper.paper_validation_row("splice")["pretrained"] == 96.9
    assert paper.paper_row("stsb")["pretrained+shift"] == 77.8
    assert paper.paper_row("stsb", setting="1pct") == {"pretrained+shift": 57.0, "rand+shift": 4.3}
    assert paper.paper_row("amp-tm") == {} and paper.paper_validation_row("stsb") == {}
    assert paper.paper_splits("splice") == ["test", "validation"] and paper.paper_splits("stsb") == ["test"]
    assert paper.paper_settings("stsb") == ["full", "1pct"] and paper.paper_settings("splice") == ["full"]
    assert paper.PAPER_TASKS["splice"] == ("DNA Splice", "Table 2")
    assert paper.PAPER_TASKS["mnli"] == ("MNLI", "Appendix Table 1")


def test_paper_cells_say_why_a_number_is_missing():
    c = paper.paper_cell("splice", "rand")
    assert (c.value, c.printed, c.scaled, c.text, c.source) == (95, "95", 0.95, "0.95 (95)", "Table 2")
    assert paper.paper_cell("cola", "rand+shift").text == "0.000 (0.0)"  # 0.0 is a number, not a missing one
    assert paper.paper_cell("splice", "re-emb").scaled == 0.956  # decimal-exact, not 0.95599999
    unused = paper.paper_cell("splice", "unused")
    assert not unused.reported and unused.text == "not reported" and "only a sentence" in unused.note
    assert paper.paper_cell("maestro", "specific").text == "not reported"  # the paper prints '-'
    assert paper.paper_specific("h3").model == "Hilbert-CNN" and paper.paper_specific("deeploc").value == 69.0
    assert paper.paper_cell("amp-tm", "rand").text == "not in the paper"
    assert paper.paper_cell("mnli", "pretrained").text == "not reported"  # no unshifted BERT row in Table 1
    assert paper.paper_cell("qqp", "pretrained+shift", model="albert").value == 77.8
    assert paper.paper_cell("stsb", "rand+shift", setting="1pct").source == "Table 1 & Appendix Table 1, 1% data"
    assert paper.paper_cell("sst2", "rand+shift", setting=None).text == "not reported"
    assert paper.paper_setting(1.0) == "full" and paper.paper_setting(0.01) == "1pct"
    assert paper.paper_setting(0.1) is None and paper.paper_setting(None) == "full"
    assert paper.paper_model("albert-base-v2") == "albert" and paper.paper_model("bert-base-uncased") == "bert"


def _res(ds, label, score, seed=1, metric="accuracy", **kw):
    return {"dataset": ds, "label": label, "seed": seed, "metric": metric, "score": score, **kw}


def test_summarize_puts_the_matching_paper_number_beside_ours():
    t = summarize([_res("splice", "pretrained", 0.9), _res("splice", "unused", 0.5), _res("amp-tm", "rand", 0.6)])
    assert list(t["paper_text"]) == ["0.975 (97.5)", "not reported", "not in the paper"]
    assert t["paper"].iloc[0] == 0.975 and math.isnan(t["paper"].iloc[1]) and list(t["paper_printed"])[:2] == ["97.5", ""]
    # text: a run on 1% of the data compares with the "shift 1000 1% data" rows, ALBERT with the ALBERT rows
    full = summarize([_res("stsb", "rand+shift", 0.1, metric="spearman")])
    pct = summarize([_res("stsb", "rand+shift", 0.1, metric="spearman", train_fraction=0.01)])
    other = summarize([_res("stsb", "rand+shift", 0.1, metric="spearman", train_fraction=0.1)])
    albert = summarize([_res("stsb", "rand+shift", 0.1, metric="spearman", model="albert-base-v2")])
    assert [x["paper_printed"].iloc[0] for x in (full, pct, other, albert)] == ["8.3", "4.3", "", "7.2"]
    assert summarize([_res("stsb", "rand+shift", 0.1, metric="spearman")], setting="1pct")["paper"].iloc[0] == 0.043
    # an STS-B run recorded with Pearson as its headline is read on the paper's Spearman
    old = summarize([_res("stsb", "pretrained+shift", 0.5, metric="pearson", test={"pearson": 0.5, "spearman": 0.4})])
    assert (old["metric"].iloc[0], old["mean"].iloc[0], old["paper"].iloc[0]) == ("spearman", 0.4, 0.778)
    md = to_markdown(t)
    assert "paper ÷100 (as printed)" in md and "| splice | pretrained | accuracy | 0.9000 | 1 | 0.975 (97.5) | Table 2 |" in md


def test_compare_cli_compares_a_1pct_run_with_the_1pct_rows(monkeypatch, capsys, tmp_path):
    from disc_core.cli.main import main
    from disc_core.study import compare

    # the runs themselves are not the point here (nor is STS-B's data: a fresh clone has none): fake their
    # results, keep the CLI's config -> paper wiring
    monkeypatch.setattr("disc_core.cli.experiment.require_dataset", lambda name: name)
    monkeypatch.setattr(compare, "run_comparison", lambda configs, root, **kw: [
        _res(c.dataset, c.label, 0.5, seed=c.seed, metric="spearman") for c in configs])
    args = ["compare", "stsb", "--variants", "pretrained+shift", "rand+shift", "--seeds", "1", "--out", str(tmp_path)]
    assert main(args + ["--train-fraction", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "| stsb | rand+shift | spearman | 0.5000 | 1 | 0.043 (4.3) | Table 1 & Appendix Table 1, 1% data |" in out
    assert main(args + ["--model-name-or-path", "albert-base-v2"]) == 0
    assert "| stsb | rand+shift | spearman | 0.5000 | 1 | 0.072 (7.2) | Table 1 & Appendix Table 1 |" in capsys.readouterr().out
