"""What a mapping does to a dataset: :func:`preview` (a table plus samples three ways) and :func:`format_preview`.

The samples show each record as symbols (or words), as BERT tokens and as ids; for text, before and after the
shift. The CLI (``python -m disc_core mapping``) and the dashboard both call these two.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from ...errors import ConfigError
from .symbols import SymbolMapping
from .text_shift import TextShift
from .vocab import special_ids

__all__ = ["MappingPreview", "preview", "format_preview"]


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
                          + ("a text shift" if dataset.is_text else "a symbol mapping"))
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
