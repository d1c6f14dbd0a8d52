"""How non-text symbols and shifted text reach a pretrained BERT: symbol mappings and text token shifts.

Kao & Lee (2021) fine-tune an English BERT on sequences that are not English:

- **non-text** (DNA bases, amino acids, MIDI pitches): each symbol of the alphabet is mapped onto one
  subword token of BERT's vocabulary (:class:`SymbolMapping`, built by :func:`build_symbol_mapping`
  with a strategy from :data:`MAPPINGS`: ``frequent`` (the paper's), ``random``, ``unused``, ``custom``;
  a custom table is read by :func:`parse_mapping_table`);
- **text** whose token ids are moved: ``T(i) = (i + c) mod D`` or a fixed random permutation of the id
  table (:class:`TextShift`, built by :func:`build_text_shift`; modes in :data:`TEXT_MAPPINGS`).

Both are one-to-one and reversible (``decode(encode(x)) == x``; ``invert(apply(ids)) == ids``), round-trip
to JSON (``to_dict`` / ``from_dict``, or :func:`mapping_from_dict` for either) and never put data on a
special token ([CLS], [SEP], [PAD], [UNK], [MASK]) unless asked to; only the ``unused`` strategy puts
symbols on BERT's reserved ``[unusedK]`` rows, which is its definition.

:func:`preview` shows what a mapping does to a dataset (a table plus samples three ways: symbols or
words, BERT tokens, ids); :func:`format_preview` renders it for the terminal. The CLI
(``python -m disc_core mapping``) and the dashboard both call these two.

Modules: :mod:`.vocab` (special ids, ``[unusedK]`` rows, frequency ranks), :mod:`.table` (custom tables),
:mod:`.symbols` (symbol mappings and their strategies), :mod:`.text_shift`, :mod:`.preview`.
"""

from __future__ import annotations

from typing import Mapping

from ...errors import ConfigError
from .preview import MappingPreview, format_preview, preview
from .symbols import FREQUENCY_SOURCES, MAPPINGS, WORDFREQ_TOP_N, SymbolMapping, build_symbol_mapping
from .table import TABLE_FORMATS, MappingTable, parse_mapping_table
from .text_shift import PAPER_SHIFT, TEXT_MAPPINGS, TextShift, build_text_shift
from .vocab import special_ids, unused_ids, vocab_frequency_rank

__all__ = [
    "SymbolMapping", "build_symbol_mapping", "MAPPINGS", "TextShift", "build_text_shift", "TEXT_MAPPINGS",
    "MappingPreview", "preview", "format_preview", "mapping_from_dict", "special_ids", "unused_ids",
    "vocab_frequency_rank", "FREQUENCY_SOURCES", "PAPER_SHIFT", "WORDFREQ_TOP_N", "parse_mapping_table",
    "MappingTable", "TABLE_FORMATS",
]


def mapping_from_dict(d: Mapping) -> SymbolMapping | TextShift:
    """Rebuild a :class:`SymbolMapping` or :class:`TextShift` from its ``to_dict()``."""
    kind = d.get("kind")
    if kind == "symbols":
        return SymbolMapping.from_dict(d)
    if kind == "text":
        return TextShift.from_dict(d)
    raise ConfigError(f"unknown mapping kind {kind!r} in a saved mapping -> expected 'symbols' or 'text'")
