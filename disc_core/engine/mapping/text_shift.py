"""Text whose token ids are moved: :class:`TextShift`, ``T(i) = (i + c) mod D`` or a fixed random permutation.

Kao & Lee (2021) also fine-tune on English text whose token ids are shifted, so that the words BERT reads are
not the words of the sentence. The modes are in :data:`TEXT_MAPPINGS`; :func:`build_text_shift` builds one over
a tokenizer's vocabulary. Every shift is one-to-one (``invert(apply(ids)) == ids``) and keeps the special
tokens in place unless asked not to.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Iterable, Mapping

from ...errors import ConfigError, DataError
from .vocab import special_ids

__all__ = ["TextShift", "build_text_shift", "TEXT_MAPPINGS", "PAPER_SHIFT"]

#: The paper's text shift constant c.
PAPER_SHIFT = 1000


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
