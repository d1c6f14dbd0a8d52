"""What the mappings need to know about a vocabulary: its special ids, its ``[unusedK]`` rows, frequency ranks."""

from __future__ import annotations

import re
from typing import Sequence

__all__ = ["special_ids", "unused_ids", "vocab_frequency_rank"]

_UNUSED = re.compile(r"\[unused(\d+)\]")


def special_ids(tokenizer) -> frozenset[int]:
    """Ids of the tokenizer's special tokens ([CLS], [SEP], [PAD], [UNK], [MASK] for BERT)."""
    return frozenset(int(i) for i in tokenizer.all_special_ids)


def unused_ids(tokenizer) -> list[int]:
    """Ids of ``[unused0]``, ``[unused1]``, ... in K order (empty for vocabularies without them)."""
    found = sorted((int(m.group(1)), i) for t, i in tokenizer.get_vocab().items()
                   if (m := _UNUSED.fullmatch(t)))
    return [i for _, i in found]


def reserved_ids(tokenizer) -> frozenset[int]:
    """Special ids and ``[unusedK]`` rows: where no strategy but ``unused`` may put a symbol."""
    return special_ids(tokenizer) | frozenset(unused_ids(tokenizer))


def id_to_token(tokenizer) -> dict[int, str]:
    return {i: t for t, i in tokenizer.get_vocab().items()}


def is_word_token(token: str) -> bool:
    """A multi-character token that starts a word (no '##' continuation piece, no single character)."""
    return len(token) > 1 and not token.startswith("##")


def vocab_frequency_rank(tokenizer) -> dict[int, int]:
    """Rank (1 = most frequent) of every ordinary multi-character token in WordPiece vocabulary order.

    BERT's vocabulary lists its special tokens, the ``[unused*]`` rows and the single characters first,
    then every other token by decreasing frequency in its pretraining corpus ('the' is id 1996, rank 1).
    Special tokens, ``[unused*]`` and single characters have no rank; '##' pieces do.
    """
    reserved = reserved_ids(tokenizer)
    ids = sorted(i for t, i in tokenizer.get_vocab().items() if i not in reserved and len(t) > 1)
    return {i: r for r, i in enumerate(ids, start=1)}


def short_list(items: Sequence, n: int = 12) -> str:
    """``a, b, c ... (40 in all)``: the first ``n`` items of a list for a message."""
    items = list(items)
    return ", ".join(map(str, items[:n])) + (f" ... ({len(items)} in all)" if len(items) > n else "")
