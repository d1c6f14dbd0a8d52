"""Guessing what the user's data is: the discipline from the sequences' letters, the task from the labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

__all__ = ["DNA_LETTERS", "IUPAC_DNA", "NUCLEOTIDES", "PROTEIN_LETTERS", "MAX_INTEGER_CLASSES", "DisciplineGuess",
           "explain_discipline", "guess_discipline", "infer_task", "first_bad_letter"]

#: Letters that make a sequence look like DNA when guessing (IUPAC codes are allowed once DNA is declared).
DNA_LETTERS = frozenset("ACGTN")
IUPAC_DNA = frozenset("ACGTRYSWKMBDHVN")
#: Nucleotide letters without ambiguity codes: DNA's, and RNA's U (RNA is read as discipline dna, U kept).
NUCLEOTIDES = frozenset("ACGTUN")
#: The 20 standard amino acids plus U (selenocysteine), O (pyrrolysine), B, Z, X (ambiguous/unknown).
PROTEIN_LETTERS = frozenset("ACDEFGHIKLMNPQRSTVWY" + "UOBZX")
#: Integer labels with more distinct values than this are read as a regression target.
MAX_INTEGER_CLASSES = 20


@dataclass
class DisciplineGuess:
    """What :func:`explain_discipline` found: the discipline (None: none fits), why, and a warning when some
    sequences disagree with the guess."""

    discipline: str | None
    why: str
    warning: str | None = None


def explain_discipline(sequences: Sequence[str], lines: Sequence[int | None] | None = None) -> DisciplineGuess:
    """Guess the discipline of raw sequences, and say how many sequences disagree with the guess.

    - numbers 0..127 separated by whitespace in every sequence: ``music`` (MIDI pitches);
    - only nucleotide letters (``ACGTN``; RNA's ``U``): ``dna``;
    - nucleotides with IUPAC ambiguity codes (``R Y S W K M B D H V``) that make up at most a tenth of the
      letters: ``dna`` (a peptide of such letters has far more of them: ``protein``);
    - amino-acid letters: ``protein``, with a warning when most sequences read as plain DNA and a few odd
      letters decided it;
    - anything else: None.

    ``lines`` (one per sequence) let the warning point at the first disagreeing sequence.
    """
    seqs = ["".join(s.split()).upper() for s in sequences]
    n = len(seqs)
    if sequences and all(_is_pitch_list(s) for s in sequences):
        return DisciplineGuess("music", "every sequence is MIDI pitch numbers 0..127")
    letters = set().union(*map(set, seqs)) if seqs else set()

    def where(i: int) -> str:
        return f"line {lines[i]}" if lines is not None and i < len(lines) and lines[i] else f"sequence {i + 1}"

    if letters <= NUCLEOTIDES:
        if "U" not in letters:
            return DisciplineGuess("dna", "only the letters A C G T (N)")
        n_u = sum("U" in s for s in seqs)
        n_t = sum("T" in s for s in seqs)
        warn = None
        if n_t:
            warn = (f"both T and U occur ({n_t} sequences with T, {n_u} with U): RNA and DNA mixed, or a typo; "
                    f"U and T are kept as two different symbols")
        return DisciplineGuess("dna", "nucleotide letters with U: RNA, read as nucleotides (discipline dna; U is "
                                      "kept as its own symbol)", warn)
    if letters <= IUPAC_DNA | NUCLEOTIDES:
        total = sum(len(s) for s in seqs)
        odd = sum(1 for s in seqs for c in s if c not in NUCLEOTIDES)
        n_odd = [i for i, s in enumerate(seqs) if set(s) - NUCLEOTIDES]
        codes = " ".join(sorted(letters - NUCLEOTIDES))
        if odd <= 0.1 * total:
            return DisciplineGuess(
                "dna", f"nucleotides with a few IUPAC ambiguity codes ({codes})",
                f"discipline guessed: dna, but {len(n_odd)} of {n} sequences hold IUPAC ambiguity codes ({codes}; "
                f"first at {where(n_odd[0])}); they are kept as symbols of their own -- if these are proteins, "
                f"set the discipline to protein")
    if letters <= PROTEIN_LETTERS:
        plain = [i for i, s in enumerate(seqs) if set(s) <= NUCLEOTIDES]
        other = [i for i, s in enumerate(seqs) if not set(s) <= NUCLEOTIDES]
        warn = None
        if len(plain) >= len(other):
            extra = " ".join(sorted(set().union(*(set(seqs[i]) for i in other)) - NUCLEOTIDES))
            warn = (f"discipline guessed: protein, decided by {len(other)} of {n} sequences holding letters "
                    f"that are not nucleotides ({extra}; first at {where(other[0])}); the other {len(plain)} read "
                    f"as DNA -- if this is DNA, fix those sequences or set the discipline to dna")
        return DisciplineGuess("protein", "amino-acid letters", warn)
    return DisciplineGuess(None, "letters that fit no discipline")


def guess_discipline(sequences: Sequence[str]) -> str | None:
    """``dna``, ``protein``, ``music`` or None when the sequences fit none of them (see
    :func:`explain_discipline`, which also says why)."""
    return explain_discipline(sequences).discipline


def _is_pitch_list(s: str) -> bool:
    toks = s.split()
    return bool(toks) and all(t.isdigit() and int(t) <= 127 for t in toks)


def first_bad_letter(seq: str) -> str:
    """Where a sequence stops being protein letters, in words (for the message when no discipline fits)."""
    s = "".join(seq.split()).upper()
    for i, ch in enumerate(s):
        if ch not in PROTEIN_LETTERS:
            return f"invalid letter {ch!r} at position {i + 1}"
    return "mixed sequence"


def infer_task(labels: Sequence[str]) -> tuple[str, str]:
    """(task, why): classification unless all labels are numbers that are not all integers or are more
    than :data:`MAX_INTEGER_CLASSES` distinct integers."""
    try:
        values = [float(v) for v in labels]
    except ValueError:
        return "classification", "labels are names"
    distinct = set(values)
    if all(v.is_integer() for v in values) and len(distinct) <= MAX_INTEGER_CLASSES:
        return "classification", f"{len(distinct)} distinct integer labels"
    return "regression", f"numeric labels with {len(distinct)} distinct values"
