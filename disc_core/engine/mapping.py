"""How non-text symbols and shifted text reach a pretrained BERT: symbol mappings and text token shifts.

Kao & Lee (2021) fine-tune an English BERT on sequences that are not English:

- **non-text** (DNA bases, amino acids, MIDI pitches): each symbol of the alphabet is mapped onto one
  subword token of BERT's vocabulary (:class:`SymbolMapping`, built by :func:`build_symbol_mapping`
  with a strategy from :data:`MAPPINGS`: ``frequent`` (the paper's), ``random``, ``unused``, ``custom``);
- **text** whose token ids are moved: ``T(i) = (i + c) mod D`` or a fixed random permutation of the id
  table (:class:`TextShift`, built by :func:`build_text_shift`; modes in :data:`TEXT_MAPPINGS`).

Both are one-to-one and reversible (``decode(encode(x)) == x``; ``invert(apply(ids)) == ids``), round-trip
to JSON (``to_dict`` / ``from_dict``, or :func:`mapping_from_dict` for either) and never put data on a
special token ([CLS], [SEP], [PAD], [UNK], [MASK]) unless asked to; only the ``unused`` strategy puts
symbols on BERT's reserved ``[unusedK]`` rows, which is its definition.

:func:`preview` shows what a mapping does to a dataset (a table plus samples three ways: symbols or
words, BERT tokens, ids); :func:`format_preview` renders it for the terminal. The CLI
(``python -m disc_core mapping``) and the dashboard both call these two.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import pandas as pd

from ..errors import ConfigError, DataError

__all__ = [
    "SymbolMapping", "build_symbol_mapping", "MAPPINGS", "TextShift", "build_text_shift", "TEXT_MAPPINGS",
    "MappingPreview", "preview", "format_preview", "mapping_from_dict", "special_ids", "unused_ids",
    "vocab_frequency_rank", "FREQUENCY_SOURCES", "PAPER_SHIFT",
]

#: The paper's text shift constant c.
PAPER_SHIFT = 1000
#: What ``frequent`` can measure frequency on (a corpus, when given, overrides both).
FREQUENCY_SOURCES = ("vocab", "wordfreq")
#: How many of wordfreq's most frequent English words are tokenized for ``frequency_source="wordfreq"``.
WORDFREQ_TOP_N = 20_000

_UNUSED = re.compile(r"\[unused(\d+)\]")


# --------------------------------------------------------------------------------------------
# Vocabulary facts
# --------------------------------------------------------------------------------------------

def special_ids(tokenizer) -> frozenset[int]:
    """Ids of the tokenizer's special tokens ([CLS], [SEP], [PAD], [UNK], [MASK] for BERT)."""
    return frozenset(int(i) for i in tokenizer.all_special_ids)


def unused_ids(tokenizer) -> list[int]:
    """Ids of ``[unused0]``, ``[unused1]``, ... in K order (empty for vocabularies without them)."""
    found = sorted((int(m.group(1)), i) for t, i in tokenizer.get_vocab().items()
                   if (m := _UNUSED.fullmatch(t)))
    return [i for _, i in found]


def _reserved_ids(tokenizer) -> frozenset[int]:
    return special_ids(tokenizer) | frozenset(unused_ids(tokenizer))


def _id_to_token(tokenizer) -> dict[int, str]:
    return {i: t for t, i in tokenizer.get_vocab().items()}


def _is_word_token(token: str) -> bool:
    """A multi-character token that starts a word (no '##' continuation piece, no single character)."""
    return len(token) > 1 and not token.startswith("##")


def vocab_frequency_rank(tokenizer) -> dict[int, int]:
    """Rank (1 = most frequent) of every ordinary multi-character token in WordPiece vocabulary order.

    BERT's vocabulary lists its special tokens, the ``[unused*]`` rows and the single characters first,
    then every other token by decreasing frequency in its pretraining corpus ('the' is id 1996, rank 1).
    Special tokens, ``[unused*]`` and single characters have no rank; '##' pieces do.
    """
    reserved = _reserved_ids(tokenizer)
    ids = sorted(i for t, i in tokenizer.get_vocab().items() if i not in reserved and len(t) > 1)
    return {i: r for r, i in enumerate(ids, start=1)}


# --------------------------------------------------------------------------------------------
# Non-text symbols -> BERT tokens
# --------------------------------------------------------------------------------------------

@dataclass
class SymbolMapping:
    """A one-to-one map from a non-text alphabet onto token ids of one vocabulary.

    Attributes
    ----------
    strategy : the :data:`MAPPINGS` key that built it.
    seed : the random seed (matters for ``random`` only; kept for the record).
    basis : one human sentence saying what the tokens were chosen by (for ``frequent``: what
        "most frequent" was measured on and what was excluded).
    symbol_to_id : symbol -> token id, in assignment order.
    tokens : symbol -> token string, for people reading the saved JSON.
    ranks : symbol -> the token's frequency rank under ``basis`` (``frequent`` only; 1 = most frequent).
    vocab_size : size of the vocabulary the ids belong to.
    """

    strategy: str
    seed: int
    basis: str
    symbol_to_id: dict[str, int]
    tokens: dict[str, str] = field(default_factory=dict)
    ranks: dict[str, int] | None = None
    vocab_size: int | None = None

    kind = "symbols"

    def __post_init__(self):
        ids = list(self.symbol_to_id.values())
        if len(set(ids)) != len(ids):
            dup = [i for i, n in Counter(ids).items() if n > 1]
            raise ValueError(f"a SymbolMapping must be one-to-one; token ids {dup} are used twice")

    @property
    def symbols(self) -> list[str]:
        return list(self.symbol_to_id)

    def encode(self, symbols: Iterable[str]) -> list[int]:
        """Token ids of a symbol sequence (length L -> length L)."""
        m = self.symbol_to_id
        out = []
        for pos, s in enumerate(symbols):
            try:
                out.append(m[s])
            except KeyError:
                raise DataError(f"symbol {s!r} (position {pos + 1}) is not in the {self.strategy} mapping",
                                hint=f"the mapping covers {_short_list(self.symbols)}; rebuild it from "
                                     "this dataset's alphabet, or add the symbol to the custom table") from None
        return out

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Symbols of a token id sequence; the inverse of :meth:`encode`."""
        back = {i: s for s, i in self.symbol_to_id.items()}
        out = []
        for pos, i in enumerate(ids):
            try:
                out.append(back[int(i)])
            except KeyError:
                raise DataError(f"token id {int(i)} (position {pos + 1}) is not the image of any symbol "
                                f"in the {self.strategy} mapping") from None
        return out

    def table(self, tokenizer) -> pd.DataFrame:
        """One row per symbol: ``symbol, token_id, token, frequency_rank``.

        ``frequency_rank`` (1 = most frequent) is the rank under ``basis`` for ``frequent``; for the
        other strategies it is the token's WordPiece vocabulary rank (:func:`vocab_frequency_rank`),
        empty for single characters and ``[unused*]``.
        """
        id2tok = _id_to_token(tokenizer)
        vrank = None if self.ranks is not None else vocab_frequency_rank(tokenizer)
        rows = []
        for s, i in self.symbol_to_id.items():
            rank = self.ranks.get(s) if self.ranks is not None else vrank.get(i)
            rows.append({"symbol": s, "token_id": i, "token": id2tok.get(i, "?"), "frequency_rank": rank})
        df = pd.DataFrame(rows, columns=["symbol", "token_id", "token", "frequency_rank"])
        df["frequency_rank"] = df["frequency_rank"].astype("Int64")
        return df

    def to_dict(self) -> dict:
        return {"kind": self.kind, "strategy": self.strategy, "seed": self.seed, "basis": self.basis,
                "symbol_to_id": dict(self.symbol_to_id), "tokens": dict(self.tokens),
                "ranks": None if self.ranks is None else dict(self.ranks), "vocab_size": self.vocab_size}

    @classmethod
    def from_dict(cls, d: Mapping) -> "SymbolMapping":
        return cls(strategy=d["strategy"], seed=int(d.get("seed", 0)), basis=d.get("basis", ""),
                   symbol_to_id={str(k): int(v) for k, v in d["symbol_to_id"].items()},
                   tokens={str(k): str(v) for k, v in (d.get("tokens") or {}).items()},
                   ranks=None if d.get("ranks") is None else {str(k): int(v) for k, v in d["ranks"].items()},
                   vocab_size=d.get("vocab_size"))


def _short_list(items: Sequence, n: int = 12) -> str:
    items = list(items)
    return ", ".join(map(str, items[:n])) + (f" ... ({len(items)} in all)" if len(items) > n else "")


def _symbol_order(alphabet: Sequence[str], symbol_counts: Mapping[str, int] | None) -> list[str]:
    if symbol_counts is None:
        return list(alphabet)
    pos = {s: k for k, s in enumerate(alphabet)}
    return sorted(alphabet, key=lambda s: (-symbol_counts.get(s, 0), pos[s]))


def _take(order: list[str], ids: Sequence[int], what: str, hint: str) -> dict[str, int]:
    if len(ids) < len(order):
        raise ConfigError(f"the alphabet has {len(order)} symbols but only {len(ids)} {what} are available"
                          f" -> {hint}")
    return {s: int(i) for s, i in zip(order, ids)}


# ---- frequency measurements (token id -> weight) ------------------------------------------------

def _corpus_counts(tokenizer, corpus) -> tuple[Counter, str]:
    if isinstance(corpus, (str, Path)):
        path = Path(corpus).expanduser()
        if not path.is_file():
            raise DataError("corpus file not found", path=path,
                            hint="give a plain-text file (one text per line), or a list of strings")
        try:
            texts = [ln for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
        except OSError as err:
            raise DataError(f"cannot read the corpus ({err})", path=path) from err
        where = str(path)
    else:
        texts = [t for t in corpus if isinstance(t, str) and t.strip()]
        where = "the given texts"
    if not texts:
        raise DataError("the corpus has no text", path=where if isinstance(corpus, (str, Path)) else None,
                        hint="give at least one non-empty line")
    counts: Counter = Counter()
    for k in range(0, len(texts), 1000):
        for ids in tokenizer(texts[k:k + 1000], add_special_tokens=False)["input_ids"]:
            counts.update(ids)
    return counts, f"token counts over {where} ({len(texts):,} texts, {sum(counts.values()):,} tokens)"


@lru_cache(maxsize=4)  # tokenizing 20,000 words takes ~0.5 s; tokenizers hash by identity
def _wordfreq_counts(tokenizer) -> tuple[Counter, str]:
    try:
        import wordfreq
    except ImportError as err:
        raise ConfigError("frequency_source='wordfreq' needs the wordfreq package -> "
                          "`pip install wordfreq`, or use frequency_source='vocab'") from err
    words = wordfreq.top_n_list("en", WORDFREQ_TOP_N)
    counts: Counter = Counter()
    for w, ids in zip(words, tokenizer(words, add_special_tokens=False)["input_ids"]):
        f = wordfreq.word_frequency(w, "en")
        for i in ids:  # each piece occurs once per occurrence of its word
            counts[i] += f
    return counts, (f"English word frequencies from the wordfreq package (its {WORDFREQ_TOP_N:,} most "
                    "frequent words split into subwords by the tokenizer; each subword weighted by its "
                    "word's frequency)")


# ---- strategies ----------------------------------------------------------------------------------

def _frequent(order, tokenizer, *, seed, table, corpus, frequency_source):
    """The most frequent word tokens (the paper's choice)."""
    reserved = _reserved_ids(tokenizer)
    id2tok = _id_to_token(tokenizer)
    candidates = {i for i, t in id2tok.items() if i not in reserved and _is_word_token(t)}
    if corpus is not None:
        counts, basis = _corpus_counts(tokenizer, corpus)
        ranked = sorted((i for i in candidates if counts.get(i, 0) > 0), key=lambda i: (-counts[i], i))
        hint = "give a larger corpus, or use frequency_source='vocab'"
    elif frequency_source == "wordfreq":
        counts, basis = _wordfreq_counts(tokenizer)
        ranked = sorted((i for i in candidates if counts.get(i, 0) > 0), key=lambda i: (-counts[i], i))
        hint = "use frequency_source='vocab'"
    elif frequency_source == "vocab":
        ranked = sorted(candidates)
        basis = ("WordPiece vocabulary rank (BERT's vocabulary lists tokens by decreasing pretraining-corpus "
                 "frequency after its special tokens, [unused*] rows and single characters)")
        hint = "use a model with a larger vocabulary"
    else:
        raise ConfigError(f"unknown frequency_source {frequency_source!r} -> use one of {FREQUENCY_SOURCES}")
    basis = (f"Most frequent tokens by {basis}; special tokens, [unused*], single characters and '##' "
             "continuation pieces excluded, so every symbol lands on a whole word.")
    m = _take(order, ranked, "ranked word tokens", hint)
    return m, basis, {s: k for k, s in enumerate(order, start=1)}


def _random(order, tokenizer, *, seed, table, corpus, frequency_source):
    """Random tokens, seeded (any token except special ones and [unused*])."""
    reserved = _reserved_ids(tokenizer)
    pool = sorted(i for i in tokenizer.get_vocab().values() if i not in reserved)
    ids = random.Random(seed).sample(pool, min(len(order), len(pool)))
    m = _take(order, ids, "ordinary tokens", "use a model with a larger vocabulary")
    return m, (f"Random tokens (seed {seed}) drawn without replacement from the {len(pool):,} tokens that are "
               "neither special nor [unused*]."), None


def _unused(order, tokenizer, *, seed, table, corpus, frequency_source):
    """BERT's reserved [unused0], [unused1], ... rows (never seen in pretraining)."""
    ids = unused_ids(tokenizer)
    if not ids:
        raise ConfigError("this vocabulary has no [unusedK] tokens (RoBERTa- or ALBERT-style vocabularies "
                          "have none) -> use --strategy frequent, random or custom")
    m = _take(order, ids, "[unusedK] tokens", "use --strategy frequent, random or custom")
    return m, (f"BERT's reserved [unused0]..[unused{len(m) - 1}] tokens, which pretraining never "
               "saw in text."), None


def _custom(order, tokenizer, *, seed, table, corpus, frequency_source):
    """A user-given table: symbol -> token (dict, or a CSV/TSV/JSON file)."""
    if table is None:
        raise ConfigError("the custom strategy needs a table -> pass --table FILE (CSV/TSV with columns "
                          "symbol,token or symbol,token_id, or JSON {symbol: token}) or a dict")
    rows, path = _read_table(table)
    vocab = tokenizer.get_vocab()
    id2tok = _id_to_token(tokenizer)
    specials, unused = special_ids(tokenizer), set(unused_ids(tokenizer))
    where = dict(path=path) if path is not None else {}

    def err(msg, loc, hint=None):
        if path is not None and isinstance(loc, int):
            return DataError(msg, path=path, line=loc, hint=hint)
        return DataError(msg, record=f"symbol {loc!r}" if path is None else loc, hint=hint, **where)

    m: dict[str, int] = {}
    seen_sym: dict[str, object] = {}
    seen_id: dict[int, object] = {}
    for loc, sym, tok in rows:
        sym = str(sym).strip()
        if not sym:
            raise err("empty symbol", loc)
        if sym in seen_sym:
            raise err(f"symbol {sym!r} appears twice (also at {seen_sym[sym]})", loc)
        if isinstance(tok, int):
            if tok not in id2tok:
                raise err(f"token id {tok} is not in the vocabulary (0..{len(tokenizer) - 1})", loc)
            i = tok
        else:
            tok = str(tok).strip()
            if tok not in vocab:
                hint = (f"did you mean {tok.lower()!r}? the vocabulary is lower-case"
                        if tok.lower() in vocab else "each symbol needs exactly one existing token; "
                        "`python -m disc_core mapping DATASET --strategy frequent` shows valid ones")
                raise err(f"token {tok!r} (for symbol {sym!r}) is not in the vocabulary", loc, hint)
            i = vocab[tok]
        if i in specials:
            raise err(f"symbol {sym!r} is mapped to the special token {id2tok[i]}", loc,
                      "special tokens mark sentence structure; pick an ordinary token")
        if i in unused:
            raise err(f"symbol {sym!r} is mapped to the reserved token {id2tok[i]}", loc,
                      "use --strategy unused to map onto [unused*] tokens")
        if i in seen_id:
            raise err(f"token {id2tok[i]!r} is already used for another symbol (at {seen_id[i]}); the mapping "
                      "must be one-to-one", loc)
        m[sym], seen_sym[sym], seen_id[i] = i, loc, loc
    missing = [s for s in order if s not in m]
    if missing:
        raise DataError(f"the table does not cover symbol(s) {_short_list(missing)} of the alphabet",
                        hint="add one row per missing symbol", **where)
    ordered = {s: m[s] for s in order}
    ordered.update({s: i for s, i in m.items() if s not in ordered})  # extra rows stay usable
    return ordered, f"User-given table ({path if path is not None else 'a dict'}).", None


def _read_table(table) -> tuple[list[tuple[object, str, object]], Path | None]:
    """Rows (location, symbol, token-or-id). Location is a 1-based line for CSV/TSV, a key for JSON/dict."""
    if isinstance(table, Mapping):
        return [(str(k), str(k), v) for k, v in table.items()], None
    path = Path(table).expanduser()
    if not path.is_file():
        raise DataError("mapping table not found", path=path,
                        hint="give a CSV/TSV (symbol,token) or JSON ({symbol: token}) file")
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"not valid JSON ({e.msg})", path=path, line=e.lineno) from e
        if isinstance(data, dict):
            return [(f"key {k!r}", k, v) for k, v in data.items()], path
        if isinstance(data, list):
            rows = []
            for n, r in enumerate(data, start=1):
                if not isinstance(r, dict) or "symbol" not in r or not ("token" in r or "token_id" in r):
                    raise DataError("each entry needs 'symbol' and 'token' (or 'token_id')", path=path,
                                    record=n)
                rows.append((f"record {n}", r["symbol"], int(r["token_id"]) if "token_id" in r else r["token"]))
            return rows, path
        raise DataError("expected a JSON object {symbol: token} or a list of {symbol, token}", path=path)
    delim = "\t" if path.suffix.lower() in (".tsv", ".tab") or ("\t" in text.split("\n", 1)[0]) else ","
    lines = list(csv.reader(text.splitlines(), delimiter=delim))
    header = [h.strip().lower() for h in lines[0]] if lines else []
    if "symbol" in header and ("token" in header or "token_id" in header):
        cs = header.index("symbol")
        ct, as_id = (header.index("token"), False) if "token" in header else (header.index("token_id"), True)
        start = 1
    else:
        cs, ct, as_id, start = 0, 1, False, 0
    rows = []
    for n, r in enumerate(lines[start:], start=start + 1):
        if not any(c.strip() for c in r):
            continue
        if len(r) <= max(cs, ct):
            raise DataError(f"expected two columns (symbol{delim!r}token), got {len(r)}", path=path, line=n)
        tok = r[ct].strip()
        if as_id:
            try:
                tok = int(tok)
            except ValueError:
                raise DataError(f"token_id {tok!r} is not an integer", path=path, line=n) from None
        rows.append((n, r[cs], tok))
    if not rows:
        raise DataError("the table has no rows", path=path, hint="one line per symbol: symbol,token")
    return rows, path


#: Symbol mapping strategies: name -> builder ``(ordered symbols, tokenizer, *, seed, table, corpus,
#: frequency_source) -> (symbol_to_id, basis, ranks)``. The first docstring line describes it.
MAPPINGS: dict[str, Callable] = {"frequent": _frequent, "random": _random, "unused": _unused, "custom": _custom}


def build_symbol_mapping(alphabet: Sequence[str], tokenizer, strategy: str = "frequent", seed: int = 0,
                         table=None, corpus=None, frequency_source: str = "vocab",
                         symbol_counts: Mapping[str, int] | None = None) -> SymbolMapping:
    """Map each symbol of ``alphabet`` onto one token of ``tokenizer``'s vocabulary.

    Parameters
    ----------
    alphabet : the symbols (``dataset.alphabet``), each a string.
    strategy : a :data:`MAPPINGS` key.

        - ``frequent`` (the paper's): the most frequent *word* tokens. Special tokens, ``[unused*]``,
          single characters and '##' continuation pieces are excluded, so every symbol becomes a whole,
          frequent English word ('the', 'of', 'and', ...) rather than a letter (which would collide with
          the meaning of DNA's A/C/G/T) or a word fragment. Frequency is measured on ``corpus`` when one
          is given (token counts), else on ``frequency_source``: ``"vocab"`` (WordPiece vocabulary
          order, which is frequency order) or ``"wordfreq"`` (real English word frequencies).
        - ``random``: seeded draw without replacement from every token except special and ``[unused*]``.
        - ``unused``: ``[unused0]``, ``[unused1]``, ... (the only strategy that lands on reserved rows).
        - ``custom``: ``table``, a dict symbol -> token string (or int id), or a CSV/TSV (``symbol,token``
          or ``symbol,token_id``) / JSON (``{symbol: token}``) file.
    seed : random seed (``random`` only).
    corpus : ``frequent`` only: a text file path (one text per line) or a list of strings.
    symbol_counts : how often each symbol occurs (``dataset.symbol_counts("train")``). When given, the
        most frequent symbol gets the most frequent (or first drawn) token, ties in alphabet order;
        otherwise symbols take tokens in alphabet order.

    Raises
    ------
    ConfigError : unknown strategy / source, or too few tokens for the alphabet.
    DataError : a bad custom table or corpus (naming the file and line).
    """
    if strategy not in MAPPINGS:
        raise ConfigError(f"unknown mapping strategy {strategy!r} -> use one of {', '.join(MAPPINGS)}")
    alphabet = [str(s) for s in alphabet]
    if not alphabet:
        raise ConfigError("the alphabet is empty -> a non-text dataset needs at least one symbol")
    if len(set(alphabet)) != len(alphabet):
        dup = [s for s, n in Counter(alphabet).items() if n > 1]
        raise ConfigError(f"the alphabet lists {dup} more than once")
    order = _symbol_order(alphabet, symbol_counts)
    m, basis, ranks = MAPPINGS[strategy](order, tokenizer, seed=seed, table=table, corpus=corpus,
                                          frequency_source=frequency_source)
    if symbol_counts is not None and strategy != "custom":
        basis += " Symbols take tokens in order of their own frequency (most frequent symbol first)."
    elif strategy != "custom":
        basis += " Symbols take tokens in alphabet order."
    id2tok = _id_to_token(tokenizer)
    return SymbolMapping(strategy=strategy, seed=seed, basis=basis, symbol_to_id=m,
                         tokens={s: id2tok[i] for s, i in m.items()}, ranks=ranks, vocab_size=len(tokenizer))


# --------------------------------------------------------------------------------------------
# Text token shifting
# --------------------------------------------------------------------------------------------

def _shift_table(D: int, c: int, seed: int, fixed: frozenset[int]) -> list[int]:
    """``T(i) = (i + c) mod D``; an id whose shift lands on a fixed id walks on by c until it does not.

    Walking along i, i+c, i+2c, ... (mod D) and stopping at the first non-fixed id ("cycle walking")
    restricts the permutation ``i -> i + c`` of all D ids to a permutation of the non-fixed ids: it
    stays one-to-one, and every id whose plain shift is not fixed keeps it exactly.
    """
    T = list(range(D))
    if D == 0:
        return T
    for i in range(D):
        if i in fixed:
            continue
        j = (i + c) % D
        while j in fixed:
            j = (j + c) % D
        T[i] = j
    return T


def _random_table(D: int, c: int, seed: int, fixed: frozenset[int]) -> list[int]:
    """A fixed random permutation of the non-fixed ids (``random.Random(seed)``)."""
    free = [i for i in range(D) if i not in fixed]
    images = free[:]
    random.Random(seed).shuffle(images)
    T = list(range(D))
    for i, j in zip(free, images):
        T[i] = j
    return T


def _identity_table(D: int, c: int, seed: int, fixed: frozenset[int]) -> list[int]:
    """No shift: the original token ids (the text baseline)."""
    return list(range(D))


#: Text shift modes: name -> builder ``(D, c, seed, fixed ids) -> T`` (a list, ``T[i]`` = new id of i).
TEXT_MAPPINGS: dict[str, Callable] = {"none": _identity_table, "shift": _shift_table,
                                      "random-shift": _random_table}


@dataclass(frozen=True)
class TextShift:
    """A fixed permutation of a vocabulary's token ids, applied to tokenized text.

    Attributes
    ----------
    mode : ``none``, ``shift`` or ``random-shift`` (:data:`TEXT_MAPPINGS`).
    c : the shift (paper: 1000); ``shift`` only.
    seed : the permutation's seed; ``random-shift`` only.
    vocab_size : D, the number of token ids.
    shift_special : False (default) keeps ``special_ids`` in place. True moves every id: ``shift`` is
        then exactly ``T(i) = (i + c) mod D`` and ``random-shift`` permutes all D ids.
    special_ids : the ids kept in place when ``shift_special`` is False.

    With specials fixed, ``shift`` is ``T(i) = (i + c) mod D`` for every ordinary id except the few
    (one per special id, 5 for BERT) whose shift would land on a special id; those walk on by another
    c (``i + 2c``, ...) to the first non-special id. A plain ``(i + c) mod D`` with fixed specials
    would send two ids to the same special id; the walk instead fills exactly the ids that the moved
    specials left free, so ``T`` stays one-to-one, and ordinary text shifts as in the paper. The
    ``[unused*]`` rows are ordinary ids here (the paper shifts the whole id table): the ~1,000 rarest
    tokens at the top of the vocabulary land on them.
    """

    mode: str = "shift"
    c: int = PAPER_SHIFT
    seed: int = 0
    vocab_size: int = 0
    shift_special: bool = False
    special_ids: tuple[int, ...] = ()

    kind = "text"

    def __post_init__(self):
        if self.mode not in TEXT_MAPPINGS:
            raise ConfigError(f"unknown text shift mode {self.mode!r} -> use one of {', '.join(TEXT_MAPPINGS)}")
        if self.mode != "none" and self.vocab_size <= 0:
            raise ConfigError("a text shift needs the vocabulary size D > 0 -> build it with build_text_shift")
        object.__setattr__(self, "special_ids", tuple(sorted(int(i) for i in self.special_ids)))
        object.__setattr__(self, "c", int(self.c))

    @property
    def fixed_ids(self) -> frozenset[int]:
        """Ids that never move."""
        return frozenset() if self.shift_special else frozenset(self.special_ids)

    @cached_property
    def _forward(self) -> list[int]:
        return TEXT_MAPPINGS[self.mode](self.vocab_size, self.c, self.seed, self.fixed_ids)

    @cached_property
    def _inverse(self) -> list[int]:
        inv = [0] * len(self._forward)
        for i, j in enumerate(self._forward):
            inv[j] = i
        return inv

    def permutation(self) -> list[int]:
        """The whole map as a list of length D: ``permutation()[i]`` is the new id of id i."""
        return list(self._forward)

    def _map(self, ids: Iterable[int], table: list[int]) -> list[int]:
        if self.mode == "none" and not table:
            return [int(i) for i in ids]
        out = []
        for pos, i in enumerate(ids):
            i = int(i)
            if not 0 <= i < self.vocab_size:
                raise DataError(f"token id {i} (position {pos + 1}) is outside the vocabulary "
                                f"0..{self.vocab_size - 1}",
                                hint="the shift was built for another tokenizer; rebuild it with this one")
            out.append(table[i])
        return out

    def apply(self, ids: Iterable[int]) -> list[int]:
        """Shifted ids (length L -> length L)."""
        return self._map(ids, self._forward)

    def invert(self, ids: Iterable[int]) -> list[int]:
        """Original ids of shifted ones; the inverse of :meth:`apply`."""
        return self._map(ids, self._inverse)

    @property
    def basis(self) -> str:
        """One sentence saying what the shift does."""
        D = self.vocab_size
        if self.mode == "none":
            return "No shift: text keeps its original token ids (the text baseline)."
        if self.mode == "random-shift":
            which = (f"all {D:,} token ids" if self.shift_special else
                     f"the {D - len(self.special_ids):,} non-special token ids (special tokens stay in place)")
            return f"A fixed random permutation (seed {self.seed}) of {which}."
        if self.shift_special:
            return f"Every token id i becomes (i + {self.c}) mod {D:,}, special tokens included."
        moved = [i for i in range(D) if i not in self.fixed_ids and (i + self.c) % D in self.fixed_ids]
        return (f"Every token id i becomes (i + {self.c}) mod {D:,}; special tokens stay in place, and the "
                f"{len(moved)} id(s) whose shift would land on one move on by another {self.c} "
                "(so the map stays one-to-one).")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "mode": self.mode, "c": self.c, "seed": self.seed,
                "vocab_size": self.vocab_size, "shift_special": self.shift_special,
                "special_ids": list(self.special_ids)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "TextShift":
        return cls(mode=d["mode"], c=int(d.get("c", PAPER_SHIFT)), seed=int(d.get("seed", 0)),
                   vocab_size=int(d.get("vocab_size", 0)), shift_special=bool(d.get("shift_special", False)),
                   special_ids=tuple(d.get("special_ids", ())))


def build_text_shift(tokenizer, mode: str = "shift", c: int = PAPER_SHIFT, seed: int = 0,
                     shift_special: bool = False) -> TextShift:
    """A :class:`TextShift` over ``tokenizer``'s vocabulary (D = ``len(tokenizer)``)."""
    return TextShift(mode=mode, c=c, seed=seed, vocab_size=len(tokenizer), shift_special=shift_special,
                     special_ids=tuple(sorted(special_ids(tokenizer))))


def mapping_from_dict(d: Mapping) -> SymbolMapping | TextShift:
    """Rebuild a :class:`SymbolMapping` or :class:`TextShift` from its ``to_dict()``."""
    kind = d.get("kind")
    if kind == "symbols":
        return SymbolMapping.from_dict(d)
    if kind == "text":
        return TextShift.from_dict(d)
    raise ConfigError(f"unknown mapping kind {kind!r} in a saved mapping -> expected 'symbols' or 'text'")


# --------------------------------------------------------------------------------------------
# Preview: what a mapping does to a dataset
# --------------------------------------------------------------------------------------------

@dataclass
class MappingPreview:
    """What the CLI and the dashboard show about a mapping on a dataset.

    Attributes
    ----------
    kind : ``symbols`` or ``text``.
    dataset : the dataset's name.
    table : for symbols, :meth:`SymbolMapping.table`; for text, one row per distinct token of the
        samples (plus the special tokens): ``token, token_id, shifted_id, shifted_token``.
    basis : :attr:`SymbolMapping.basis` / :attr:`TextShift.basis`.
    samples : one dict per sampled record. Symbols: ``symbols``, ``tokens``, ``ids`` (the three ways)
        and ``label``. Text: ``text``, ``original_tokens``, ``original_ids``, ``shifted_ids``,
        ``shifted_tokens`` (``convert_ids_to_tokens``), ``shifted_text`` (``tokenizer.decode``), ``label``.
    """

    kind: str
    dataset: str
    table: pd.DataFrame
    basis: str
    samples: list[dict]


def _label(ds, r) -> str:
    if ds.label_names and not isinstance(r.label, float):
        return ds.label_names[int(r.label)]
    return str(r.label)


def preview(dataset, tokenizer, mapping_or_shift: SymbolMapping | TextShift, n_samples: int = 1,
            seed: int = 0) -> MappingPreview:
    """Apply ``mapping_or_shift`` to ``n_samples`` seeded random records of ``dataset`` (train split first)."""
    is_shift = isinstance(mapping_or_shift, TextShift)
    if is_shift != dataset.is_text:
        what = "a text shift" if is_shift else "a symbol mapping"
        raise ConfigError(f"{dataset.name} is a {dataset.discipline} dataset; {what} does not apply -> use "
                          + ("a text shift (--shift / --random-shift)" if dataset.is_text
                             else "a symbol mapping (--strategy)"))
    pool = dataset.split("train") or dataset.records
    recs = random.Random(seed).sample(pool, min(max(n_samples, 0), len(pool)))
    if not is_shift:
        m: SymbolMapping = mapping_or_shift
        samples = []
        for r in recs:
            ids = m.encode(r.symbols)
            samples.append({"symbols": list(r.symbols), "tokens": tokenizer.convert_ids_to_tokens(ids),
                            "ids": ids, "label": _label(dataset, r)})
        return MappingPreview("symbols", dataset.name, m.table(tokenizer), m.basis, samples)

    sh: TextShift = mapping_or_shift
    samples, seen = [], {}
    for r in recs:
        enc = tokenizer(r.text, r.text_pair) if r.text_pair else tokenizer(r.text)
        ids = list(enc["input_ids"])
        new = sh.apply(ids)
        samples.append({"text": r.text + (f" [SEP] {r.text_pair}" if r.text_pair else ""),
                        "original_tokens": tokenizer.convert_ids_to_tokens(ids), "original_ids": ids,
                        "shifted_ids": new, "shifted_tokens": tokenizer.convert_ids_to_tokens(new),
                        "shifted_text": tokenizer.decode(new), "label": _label(dataset, r)})
        seen.update(dict.fromkeys(ids))
    seen.update(dict.fromkeys(sorted(special_ids(tokenizer))))
    ids = list(seen)
    new = sh.apply(ids)
    table = pd.DataFrame({"token": tokenizer.convert_ids_to_tokens(ids), "token_id": ids, "shifted_id": new,
                          "shifted_token": tokenizer.convert_ids_to_tokens(new)})
    return MappingPreview("text", dataset.name, table, sh.basis, samples)


def _row(items: Sequence, limit: int) -> str:
    items = [str(x) for x in items]
    more = f" ... (+{len(items) - limit} more)" if len(items) > limit else ""
    return " ".join(items[:limit]) + more


def format_preview(p: MappingPreview, limit: int = 32) -> str:
    """The preview as terminal text: basis, table, then each sample three ways (``limit`` items a line)."""
    lines = [f"{p.dataset}: {p.basis}", "", p.table.to_string(index=False), ""]
    for k, s in enumerate(p.samples, start=1):
        lines.append(f"sample {k} (label {s['label']})")
        if p.kind == "symbols":
            lines += [f"  symbols: {_row(s['symbols'], limit)}", f"  tokens:  {_row(s['tokens'], limit)}",
                      f"  ids:     {_row(s['ids'], limit)}"]
        else:
            lines += [f"  original sentence: {s['text']}",
                      f"  original tokens:   {_row(s['original_tokens'], limit)}",
                      f"  original ids:      {_row(s['original_ids'], limit)}",
                      f"  shifted ids:       {_row(s['shifted_ids'], limit)}",
                      f"  shifted tokens:    {_row(s['shifted_tokens'], limit)}",
                      f"  shifted sentence:  {s['shifted_text']}"]
    return "\n".join(lines).rstrip() + "\n"
