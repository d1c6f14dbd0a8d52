"""Non-text symbols -> BERT tokens: :class:`SymbolMapping` and the strategies that build one (:data:`MAPPINGS`).

Each symbol of a non-text alphabet (DNA bases, amino acids, MIDI pitches) is mapped onto one subword token:
``frequent`` (the paper's: the most frequent whole-word tokens), ``random``, ``unused`` (BERT's reserved
``[unusedK]`` rows) or ``custom`` (a table, read by :func:`~.table.parse_mapping_table`).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import pandas as pd

from ...errors import ConfigError, DataError
from .table import TABLE_FORMATS, parse_mapping_table, resolve_table
from .vocab import id_to_token, is_word_token, reserved_ids, short_list, unused_ids, vocab_frequency_rank

__all__ = ["SymbolMapping", "build_symbol_mapping", "MAPPINGS", "FREQUENCY_SOURCES", "WORDFREQ_TOP_N"]

#: What ``frequent`` can measure frequency on (a corpus, when given, overrides both).
FREQUENCY_SOURCES = ("vocab", "wordfreq")
#: How many of wordfreq's most frequent English words are tokenized for ``frequency_source="wordfreq"``.
WORDFREQ_TOP_N = 20_000


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
                                hint=f"the mapping covers {short_list(self.symbols)}; rebuild it from "
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
        id2tok = id_to_token(tokenizer)
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
                            hint="give a plain-text file (one text per line), or a list of texts")
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
        raise ConfigError("the wordfreq frequency source needs the wordfreq package -> "
                          "`pip install wordfreq`, or use the vocab frequency source") from err
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
    reserved = reserved_ids(tokenizer)
    id2tok = id_to_token(tokenizer)
    candidates = {i for i, t in id2tok.items() if i not in reserved and is_word_token(t)}
    if corpus is not None:
        counts, basis = _corpus_counts(tokenizer, corpus)
        ranked = sorted((i for i in candidates if counts.get(i, 0) > 0), key=lambda i: (-counts[i], i))
        hint = "give a larger corpus, or use the vocab frequency source"
    elif frequency_source == "wordfreq":
        counts, basis = _wordfreq_counts(tokenizer)
        ranked = sorted((i for i in candidates if counts.get(i, 0) > 0), key=lambda i: (-counts[i], i))
        hint = "use the vocab frequency source"
    elif frequency_source == "vocab":
        ranked = sorted(candidates)
        basis = ("WordPiece vocabulary rank (BERT's vocabulary lists tokens by decreasing pretraining-corpus "
                 "frequency after its special tokens, [unused*] rows and single characters)")
        hint = "use a model with a larger vocabulary"
    else:
        raise ConfigError(f"unknown frequency_source {frequency_source!r} -> use one of "
                          f"{', '.join(FREQUENCY_SOURCES)}")
    basis = (f"Most frequent tokens by {basis}; special tokens, [unused*], single characters and '##' "
             "continuation pieces excluded, so every symbol lands on a whole word.")
    m = _take(order, ranked, "ranked word tokens", hint)
    return m, basis, {s: k for k, s in enumerate(order, start=1)}


def _random(order, tokenizer, *, seed, table, corpus, frequency_source):
    """Random tokens, seeded (any token except special ones and [unused*])."""
    reserved = reserved_ids(tokenizer)
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
                          "have none) -> use the frequent, random or custom strategy")
    m = _take(order, ids, "[unusedK] tokens", "use the frequent, random or custom strategy")
    return m, (f"BERT's reserved [unused0]..[unused{len(m) - 1}] tokens, which pretraining never "
               "saw in text."), None


def _custom(order, tokenizer, *, seed, table, corpus, frequency_source):
    """A user-given table: symbol -> token (CSV/TSV/JSON file, typed-in text, or pairs)."""
    if table is None:
        raise ConfigError(f"the custom strategy needs a table of symbol -> token ({TABLE_FORMATS})")
    parsed = parse_mapping_table(table, alphabet=order)
    m = resolve_table(parsed, order, tokenizer)
    return m, f"User-given table ({parsed.source})." if parsed.source is not None else "User-given table.", None


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
        - ``custom``: ``table``, anything :func:`~.table.parse_mapping_table` reads: a CSV/TSV
          (``symbol,token`` or ``symbol,token_id``) / JSON (``{symbol: token}``) file, typed-in text, or a
          dict symbol -> token string (or int id). It must cover the alphabet exactly.
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
    id2tok = id_to_token(tokenizer)
    return SymbolMapping(strategy=strategy, seed=seed, basis=basis, symbol_to_id=m,
                         tokens={s: id2tok[i] for s, i in m.items()}, ranks=ranks, vocab_size=len(tokenizer))
