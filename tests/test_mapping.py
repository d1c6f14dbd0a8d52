"""Symbol mappings and text shifts: one-to-one, reversible, off the special tokens, reproducible, previewed."""

from __future__ import annotations

import json
import random

import pytest

from disc_core.cli.main import main
from disc_core.data.base import DATASETS, DatasetInfo, Record, make_dataset
from disc_core.errors import ConfigError, DataError
from disc_core.engine.mapping import (MAPPINGS, SymbolMapping, TextShift, build_symbol_mapping, build_text_shift,
                                      format_preview, mapping_from_dict, parse_mapping_table, preview, special_ids,
                                      unused_ids)
from disc_core.engine.models import load_tokenizer

AMINO = list("ACDEFGHIKLMNPQRSTVWY") + ["X", "U", "B", "Z", "O"]
PITCHES = [str(p) for p in range(128)]
PAPER_SENTENCE = "his healthy sense of satire is light and fun ..."


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer(None)


@pytest.fixture(scope="module")
def reserved(tok):
    return special_ids(tok) | set(unused_ids(tok))


def _random_seq(alphabet, n=200, seed=0):
    rng = random.Random(seed)
    return [rng.choice(alphabet) for _ in range(n)]


def _custom_table(alphabet):
    # whole words from the middle of the vocabulary, one per symbol
    return {s: 5000 + 3 * k for k, s in enumerate(alphabet)}


# ------------------------------------------------------------------------------------ symbol mappings

def test_vocab_has_the_layout_the_strategies_assume(tok):
    assert len(tok) == 30522
    assert len(unused_ids(tok)) == 994
    assert unused_ids(tok)[:2] == [1, 2]
    assert special_ids(tok) == {0, 100, 101, 102, 103}
    assert tok.convert_ids_to_tokens([1996, 1997, 1998]) == ["the", "of", "and"]


STRATEGY_CASES = [
    ("frequent", {}), ("frequent", {"frequency_source": "wordfreq"}),
    ("frequent", {"corpus": "words 3000..3399 of the vocabulary"}),
    ("random", {"seed": 0}), ("random", {"seed": 1}), ("random", {"seed": 12345}),
    ("unused", {}), ("custom", {}),
]


@pytest.mark.parametrize("alphabet", [list("ACGT"), AMINO, PITCHES], ids=["dna", "protein", "music"])
@pytest.mark.parametrize("strategy,kw", STRATEGY_CASES, ids=lambda x: x if isinstance(x, str) else None)
def test_every_strategy_is_one_to_one_reversible_and_off_reserved_tokens(tok, reserved, alphabet, strategy, kw):
    if strategy == "custom":
        kw = {"table": _custom_table(alphabet)}
    if "corpus" in kw:
        kw = {"corpus": [" ".join(tok.convert_ids_to_tokens(range(3000 + k, 3400, 7))) for k in range(7)]}
    m = build_symbol_mapping(alphabet, tok, strategy, **kw)
    ids = [m.symbol_to_id[s] for s in alphabet]
    assert len(set(ids)) == len(alphabet)  # one-to-one
    seq = _random_seq(alphabet)
    enc = m.encode(seq)
    assert len(enc) == len(seq) and m.decode(enc) == seq
    if strategy == "unused":
        assert set(ids) <= set(unused_ids(tok))
    else:
        assert not set(ids) & reserved
    assert m.basis


def test_frequent_takes_the_top_whole_word_tokens_of_the_vocabulary(tok):
    m = build_symbol_mapping(list("ACGT"), tok, "frequent")
    assert m.tokens == {"A": "the", "C": "of", "G": "and", "T": "in"}
    assert list(m.table(tok)["frequency_rank"]) == [1, 2, 3, 4]
    assert "vocabulary rank" in m.basis and "'##'" in m.basis and "single characters" in m.basis
    big = build_symbol_mapping(PITCHES, tok, "frequent")
    assert all(len(t) > 1 and not t.startswith("##") for t in big.tokens.values())


def test_symbol_counts_give_the_most_frequent_symbol_the_most_frequent_token(tok):
    m = build_symbol_mapping(list("ACGT"), tok, "frequent", symbol_counts={"G": 50, "T": 40, "A": 3, "C": 3})
    assert m.tokens == {"G": "the", "T": "of", "A": "and", "C": "in"}
    assert "own frequency" in m.basis


def test_wordfreq_source_measures_real_english_frequencies(tok):
    vocab = build_symbol_mapping(list("ABCDEFGH"), tok, "frequent")
    wf = build_symbol_mapping(list("ABCDEFGH"), tok, "frequent", frequency_source="wordfreq")
    assert "wordfreq" in wf.basis
    assert list(wf.tokens.values()) != list(vocab.tokens.values())
    assert wf.tokens["A"] == "the"


def test_corpus_counts_decide_frequent_tokens(tok, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("zebra zebra violin\nbanana banana\n\nbanana zebra\n", encoding="utf-8")
    m = build_symbol_mapping(["x", "y", "z"], tok, "frequent", corpus=str(corpus))
    assert m.tokens == {"x": "banana", "y": "zebra", "z": "violin"}  # 3, 3 (tie: lower id), 1
    assert str(corpus) in m.basis and "3 texts" in m.basis
    from_list = build_symbol_mapping(["x"], tok, "frequent", corpus=["violin violin zebra"])
    assert from_list.tokens == {"x": "violin"}
    with pytest.raises(ConfigError, match="only 3"):
        build_symbol_mapping(list("ABCD"), tok, "frequent", corpus=str(corpus))
    with pytest.raises(DataError, match="corpus file not found"):
        build_symbol_mapping(["x"], tok, "frequent", corpus=str(tmp_path / "missing.txt"))


def test_random_is_reproducible_per_seed_and_differs_across_seeds(tok):
    a = build_symbol_mapping(AMINO, tok, "random", seed=3)
    assert build_symbol_mapping(AMINO, tok, "random", seed=3).symbol_to_id == a.symbol_to_id
    assert build_symbol_mapping(AMINO, tok, "random", seed=4).symbol_to_id != a.symbol_to_id
    assert "seed 3" in a.basis


def test_unused_strategy_uses_unused_tokens_in_order_and_fails_clearly(tok, tmp_path):
    m = build_symbol_mapping(list("ACGT"), tok, "unused")
    assert list(m.tokens.values()) == ["[unused0]", "[unused1]", "[unused2]", "[unused3]"]
    with pytest.raises(ConfigError, match="994"):
        build_symbol_mapping([f"s{k}" for k in range(995)], tok, "unused")
    from transformers import BertTokenizer

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "of", "and", "in"]
    (tmp_path / "vocab.txt").write_text("\n".join(words) + "\n")
    small = BertTokenizer.from_pretrained(str(tmp_path))
    with pytest.raises(ConfigError, match="no \\[unusedK\\] tokens"):
        build_symbol_mapping(list("AC"), small, "unused")
    assert build_symbol_mapping(list("AC"), small, "frequent").tokens == {"A": "the", "C": "of"}


def test_unknown_strategy_and_bad_alphabets_are_refused(tok):
    with pytest.raises(ConfigError, match="frequent, random, unused, custom"):
        build_symbol_mapping(list("AC"), tok, "nearest")
    with pytest.raises(ConfigError, match="more than once"):
        build_symbol_mapping(list("ACA"), tok)
    with pytest.raises(ConfigError, match="frequency_source"):
        build_symbol_mapping(list("AC"), tok, frequency_source="books")


def test_encode_names_a_symbol_outside_the_mapping(tok):
    m = build_symbol_mapping(list("ACGT"), tok)
    with pytest.raises(DataError, match="'N' \\(position 3\\)"):
        m.encode(["A", "C", "N"])
    with pytest.raises(DataError, match="token id 5"):
        m.decode([1996, 5])


# ------------------------------------------------------------------------------------ custom tables

def test_custom_table_from_csv_tsv_json_and_dict(tok, tmp_path):
    csv_file = tmp_path / "t.csv"
    csv_file.write_text("symbol,token\nA,apple\nC,cat\nG,game\nT,tree\n", encoding="utf-8")
    m = build_symbol_mapping(list("ACGT"), tok, "custom", table=str(csv_file))
    assert m.tokens == {"A": "apple", "C": "cat", "G": "game", "T": "tree"}
    assert str(csv_file) in m.basis
    tsv_file = tmp_path / "t.tsv"
    tsv_file.write_text("A\tapple\nC\tcat\nG\tgame\nT\ttree\n", encoding="utf-8")  # no header
    assert build_symbol_mapping(list("ACGT"), tok, "custom", table=tsv_file).tokens == m.tokens
    ids_file = tmp_path / "ids.csv"
    ids_file.write_text("symbol,token_id\n" + "".join(f"{s},{i}\n" for s, i in m.symbol_to_id.items()))
    assert build_symbol_mapping(list("ACGT"), tok, "custom", table=ids_file).symbol_to_id == m.symbol_to_id
    json_file = tmp_path / "t.json"
    json_file.write_text(json.dumps(m.tokens))
    assert build_symbol_mapping(list("ACGT"), tok, "custom", table=json_file).tokens == m.tokens
    assert build_symbol_mapping(list("ACGT"), tok, "custom", table=m.tokens).symbol_to_id == m.symbol_to_id


@pytest.mark.parametrize("rows,message,line", [
    ("A,apple\nC,cat\nG,game\n", "does not cover symbol\\(s\\) T", None),
    ("A,apple\nC,qqqzzzx\nG,game\nT,tree\n", "'qqqzzzx' \\(for symbol 'C'\\) is not in the vocabulary", 3),
    ("A,apple\nC,Cat\nG,game\nT,tree\n", "did you mean 'cat'", 3),
    ("A,apple\nC,cat\nG,game\nT,apple\n", "'apple' is already used for another symbol \\(at 2\\)", 5),
    ("A,apple\nC,[CLS]\nG,game\nT,tree\n", "special token \\[CLS\\]", 3),
    ("A,apple\nC,cat\nG,[unused7]\nT,tree\n", "reserved token \\[unused7\\].*unused strategy", 4),
    ("A,apple\nA,cat\nG,game\nT,tree\n", "symbol 'A' appears twice", 3),
    ("A,apple\nC,cat\nG,game\nT,tree\nN,night\n", "symbol\\(s\\) 'N' are not in the dataset's alphabet", 6),
    ("A,apple\nC,cat\nG,game\nt,tree\n", "'t' are not in the dataset's alphabet.*case-sensitive", 5),
    ("A,apple\nC,\nG,game\nT,tree\n", "symbol 'C' has no token", 3),
    ("A,apple\nC\nG,game\nT,tree\n", "expected two columns, symbol and token, separated by a comma", 3),
])
def test_custom_table_errors_name_the_file_and_line(tok, tmp_path, rows, message, line):
    f = tmp_path / "table.csv"
    f.write_text("symbol,token\n" + rows, encoding="utf-8")
    with pytest.raises(DataError, match=message) as err:
        build_symbol_mapping(list("ACGT"), tok, "custom", table=str(f))
    assert str(err.value).startswith(str(f) + (f", line {line}:" if line else ":"))


def test_custom_dict_errors_name_the_symbol_and_a_missing_table_is_refused(tok, tmp_path):
    with pytest.raises(DataError, match="record symbol 'C'.*special token \\[SEP\\]"):
        build_symbol_mapping(list("AC"), tok, "custom", table={"A": "apple", "C": 102})
    with pytest.raises(DataError, match="mapping table not found"):
        build_symbol_mapping(list("AC"), tok, "custom", table=str(tmp_path / "nope.csv"))
    with pytest.raises(ConfigError, match="needs a table") as err:
        build_symbol_mapping(list("AC"), tok, "custom")
    assert "--" not in str(err.value)  # the dashboard shows it too: no CLI option in it


def test_one_parser_reads_a_table_from_text_a_file_or_pairs(tmp_path):
    want = {"A": "apple", "C": "cat"}
    assert parse_mapping_table("A,apple\nC,cat\n") == want
    assert parse_mapping_table("symbol\ttoken\nA\tapple\nC\tcat") == want
    assert parse_mapping_table("symbol,token_id\nA,5000\nC,5003\n") == {"A": 5000, "C": 5003}
    assert parse_mapping_table('{"A": "apple", "C": "cat"}') == want
    assert parse_mapping_table("A,apple") == {"A": "apple"}  # one line with a comma is a table, not a file
    f = tmp_path / "t.csv"
    f.write_text("A,apple\nC,cat\n", encoding="utf-8")
    for source in (f, str(f)):
        t = parse_mapping_table(source, alphabet="AC")
        assert t == want and list(t) == ["A", "C"] and t.source == f and t.where == {"A": 1, "C": 2}
    assert parse_mapping_table(want, alphabet=["C", "A"]) == want
    with pytest.raises(DataError, match="mapping table not found"):
        parse_mapping_table(str(tmp_path / "nope.csv"))
    # typed-in text is named as the table, with the line at fault, in words a dashboard user can act on
    with pytest.raises(DataError) as err:
        parse_mapping_table("A,apple\nC,cat\nX,xylophone\n", alphabet="AC")
    assert str(err.value).startswith("the mapping table, line 3: symbol(s) 'X' are not in the dataset's alphabet")
    with pytest.raises(DataError, match="^the mapping table: the table does not cover symbol\\(s\\) G"):
        parse_mapping_table("A,apple\nC,cat\n", alphabet="ACG")
    with pytest.raises(DataError, match="^the mapping table, line 2: not valid JSON"):
        parse_mapping_table('{"A": "apple",\n "C" "cat"}')
    for empty in ("\n\n", "", "  "):  # an emptied text box is an empty table, not a file name
        with pytest.raises(DataError, match="^the mapping table: the table has no rows"):
            parse_mapping_table(empty)
    for bad in ("A,apple\nA,cat", "A,apple\n,cat", '{"A": ["apple"]}'):
        with pytest.raises(DataError) as err:
            parse_mapping_table(bad)
        assert "dict" not in str(err.value) and "list" not in str(err.value) and "--" not in str(err.value)


def test_a_typed_in_table_reports_vocabulary_errors_with_its_line(tok):
    table = parse_mapping_table("A,apple\nC,cat\nG,game\nT,[SEP]\n", alphabet="ACGT")
    with pytest.raises(DataError, match="^the mapping table, line 4: symbol 'T' is mapped to the special token"):
        build_symbol_mapping(list("ACGT"), tok, "custom", table=table)
    ok = build_symbol_mapping(list("ACGT"), tok, "custom", table=parse_mapping_table("A,apple\nC,cat\nG,game\nT,tree"))
    assert ok.tokens == {"A": "apple", "C": "cat", "G": "game", "T": "tree"} and ok.basis == "User-given table."


# ------------------------------------------------------------------------------------ text shifts

def test_shift_with_fixed_specials_is_a_permutation_equal_to_the_paper_shift_off_five_ids(tok):
    D = len(tok)
    sh = build_text_shift(tok, "shift", c=1000)
    T = sh.permutation()
    assert sorted(T) == list(range(D))  # one-to-one onto all ids
    specials = special_ids(tok)
    assert all(T[i] == i for i in specials)
    assert not {T[i] for i in range(D) if i not in specials} & specials
    differs = [i for i in range(D) if T[i] != (i + 1000) % D]
    assert sorted(set(differs) - specials) == [29522, 29622, 29623, 29624, 29625]
    assert T[29522] == 1000 and T[29623] == 1101  # walked on by another c
    ids = list(range(D))
    assert sh.invert(sh.apply(ids)) == ids
    assert "5 id(s)" in sh.basis and "stay in place" in sh.basis


def test_shift_special_is_exactly_i_plus_c_mod_d(tok):
    D = len(tok)
    for c in (1000, 1, -7, D + 5):
        sh = build_text_shift(tok, "shift", c=c, shift_special=True)
        assert sh.permutation() == [(i + c) % D for i in range(D)]
        assert sh.invert(sh.apply(range(D))) == list(range(D))
    assert build_text_shift(tok, "shift", shift_special=True).apply([101, 102]) == [1101, 1102]


@pytest.mark.parametrize("shift_special", [False, True])
def test_random_shift_is_a_seeded_permutation(tok, shift_special):
    D = len(tok)
    a = build_text_shift(tok, "random-shift", seed=1, shift_special=shift_special)
    T = a.permutation()
    assert sorted(T) == list(range(D))
    assert sum(T[i] == i for i in range(D)) < 50  # really shuffled
    assert T == build_text_shift(tok, "random-shift", seed=1, shift_special=shift_special).permutation()
    assert T != build_text_shift(tok, "random-shift", seed=2, shift_special=shift_special).permutation()
    fixed_specials = all(T[i] == i for i in special_ids(tok))
    assert fixed_specials is (not shift_special)
    ids = _random_seq(list(range(D)), 500, seed=5)
    assert a.invert(a.apply(ids)) == ids


def test_no_shift_is_identity_and_bad_input_is_refused(tok):
    assert build_text_shift(tok, "none").apply([101, 2010, 102]) == [101, 2010, 102]
    with pytest.raises(ConfigError, match="none, shift, random-shift"):
        build_text_shift(tok, "rotate")
    with pytest.raises(DataError, match="outside the vocabulary"):
        build_text_shift(tok).apply([40000])


def test_paper_example_sentence_reproduces(tok):
    """Kao & Lee: "his healthy sense of satire is light and fun ..." with c=1000 reads
    "canadian franzme 1988pia leader watch sports czech at at" (bert-base-uncased vocabulary)."""
    ids = tok(PAPER_SENTENCE, add_special_tokens=False)["input_ids"]
    for sh in (build_text_shift(tok, c=1000), build_text_shift(tok, c=1000, shift_special=True)):
        new = sh.apply(ids)
        assert tok.convert_ids_to_tokens(new) == ["canadian", "franz", "##me", "1988", "##pia", "leader",
                                                  "watch", "sports", "czech", "at", "at", "at"]
        # our "..." is three '.' tokens, hence three "at"s where the paper prints two
        assert tok.decode(new) == "canadian franzme 1988pia leader watch sports czech at at at"


# ------------------------------------------------------------------------------------ JSON

def test_mappings_round_trip_through_json(tok):
    for m in (build_symbol_mapping(AMINO, tok, "frequent", symbol_counts={"L": 9}),
              build_symbol_mapping(AMINO, tok, "random", seed=9),
              build_symbol_mapping(list("AC"), tok, "unused")):
        back = mapping_from_dict(json.loads(json.dumps(m.to_dict())))
        assert isinstance(back, SymbolMapping) and back == m
        assert list(back.symbol_to_id) == list(m.symbol_to_id)
    for sh in (build_text_shift(tok, "shift", c=77),
               build_text_shift(tok, "random-shift", seed=3, shift_special=True)):
        back = mapping_from_dict(json.loads(json.dumps(sh.to_dict())))
        assert isinstance(back, TextShift) and back == sh
        assert back.apply(range(200, 260)) == sh.apply(range(200, 260))
    with pytest.raises(ConfigError, match="kind"):
        mapping_from_dict({"kind": "pictures"})


# ------------------------------------------------------------------------------------ preview + CLI

def _dna_dataset():
    rng = random.Random(0)
    recs = [Record(label=k % 2, split=("train", "validation", "test")[k % 3],
                   symbols=tuple(rng.choice("ACGT") for _ in range(40))) for k in range(12)]
    return make_dataset("toy-dna", "dna", "classification", "accuracy", recs, source="test",
                        label_names=["no", "yes"])


def _text_dataset():
    recs = [Record(label=1, split="train", text=PAPER_SENTENCE),
            Record(label=0, split="test", text="a dull film")]
    return make_dataset("toy-text", "text", "classification", "accuracy", recs, source="test",
                        label_names=["negative", "positive"])


def test_preview_of_a_symbol_mapping_shows_three_ways(tok):
    ds = _dna_dataset()
    m = build_symbol_mapping(ds.alphabet, tok, "frequent")
    p = preview(ds, tok, m, n_samples=2, seed=1)
    assert p.kind == "symbols" and list(p.table.columns) == ["symbol", "token_id", "token", "frequency_rank"]
    assert len(p.samples) == 2 and p.basis == m.basis
    train = {r.symbols for r in ds.split("train")}
    for s in p.samples:
        assert tuple(s["symbols"]) in train
        assert s["ids"] == m.encode(s["symbols"])
        assert s["tokens"] == [m.tokens[x] for x in s["symbols"]]
    assert preview(ds, tok, m, n_samples=2, seed=1).samples == p.samples
    text = format_preview(p)
    assert "symbols: " + " ".join(p.samples[0]["symbols"][:32]) in text and "(+8 more)" in text
    assert "tokens:  " + " ".join(p.samples[0]["tokens"][:32]) in text
    with pytest.raises(ConfigError, match="text shift does not apply"):
        preview(ds, tok, build_text_shift(tok))


def test_preview_of_a_text_shift_shows_original_and_shifted(tok):
    ds = _text_dataset()
    p = preview(ds, tok, build_text_shift(tok, c=1000))
    s = p.samples[0]
    assert s["text"] == PAPER_SENTENCE and s["label"] == "positive"
    assert s["original_tokens"][:3] == ["[CLS]", "his", "healthy"]
    assert s["shifted_tokens"][:3] == ["[CLS]", "canadian", "franz"]
    assert s["shifted_text"] == "[CLS] canadian franzme 1988pia leader watch sports czech at at at [SEP]"
    row = p.table.set_index("token").loc["his"]
    assert (row["token_id"], row["shifted_id"], row["shifted_token"]) == (2010, 3010, "canadian")
    assert p.table.set_index("token").loc["[CLS]", "shifted_id"] == 101
    assert "shifted sentence:  [CLS] canadian franzme" in format_preview(p)
    with pytest.raises(ConfigError, match="symbol mapping does not apply"):
        preview(ds, tok, build_symbol_mapping(list("AC"), tok))


@pytest.fixture
def toy_registry(monkeypatch):
    # the toy datasets beside the registered ones (the real loaders are tested elsewhere)
    for ds in (_dna_dataset(), _text_dataset()):
        info = DatasetInfo(name=ds.name, title=ds.name, discipline=ds.discipline, task=ds.task,
                           metric=ds.metric, origin="builtin", loader=lambda progress=None, ds=ds, **kw: ds)
        monkeypatch.setitem(DATASETS, ds.name, info)


def test_cli_prints_a_symbol_mapping_and_saves_it(toy_registry, tok, capsys, tmp_path):
    out_file = tmp_path / "m.json"
    assert main(["mapping", "toy-dna", "--strategy", "unused", "--save", str(out_file)]) == 0
    out = capsys.readouterr().out
    assert "[unused0]" in out and "symbols: " in out and "ids:     " in out
    saved = mapping_from_dict(json.loads(out_file.read_text()))
    assert saved.strategy == "unused" and set(saved.symbol_to_id) == set("ACGT")
    # the most frequent training symbol gets [unused0]
    counts = _dna_dataset().symbol_counts("train")
    assert saved.tokens[counts.most_common(1)[0][0]] == "[unused0]"

    assert main(["mapping", "toy-dna", "--json"]) == 0
    js = json.loads(capsys.readouterr().out)
    assert js["mapping"]["strategy"] == "frequent"
    assert {r["token"] for r in js["table"]} == {"the", "of", "and", "in"}


def test_cli_shows_a_text_shift_and_refuses_options_of_the_other_kind(toy_registry, capsys):
    assert main(["mapping", "toy-text", "--shift", "1000"]) == 0
    out = capsys.readouterr().out
    assert f"original sentence: {PAPER_SENTENCE}" in out
    assert "shifted sentence:  [CLS] canadian franzme 1988pia leader watch sports czech" in out
    assert main(["mapping", "toy-text", "--shift-special"]) == 0
    assert "shifted tokens:    þ canadian franz" in capsys.readouterr().out  # [CLS] 101 -> 1101 'þ'
    assert main(["mapping", "toy-text", "--strategy", "random"]) == 2
    assert "--strategy only work on non-text" in capsys.readouterr().err
    assert main(["mapping", "toy-dna", "--shift", "5"]) == 2
    assert "--shift only work on text" in capsys.readouterr().err
    assert main(["mapping", "toy-dna", "--strategy", "custom"]) == 2
    assert "pass --table FILE" in capsys.readouterr().err  # the CLI names its own option


def test_every_registered_strategy_has_a_help_line():
    assert set(MAPPINGS) == {"frequent", "random", "unused", "custom"}
    assert all(fn.__doc__ and fn.__doc__.strip() for fn in MAPPINGS.values())
