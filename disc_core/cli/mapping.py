"""``python -m disc_core mapping DATASET``: show (and optionally save) a symbol mapping or a text shift.

Non-text datasets take ``--strategy`` (with ``--table``, ``--seed``, ``--corpus``, ``--frequency-source``);
text datasets take ``--shift N`` / ``--random-shift`` / ``--shift-special`` (default: the paper's
shift of 1000). Prints the mapping table and samples three ways, via :func:`disc_core.engine.mapping.preview`.
"""

from __future__ import annotations

import argparse
import json

from .base import command
from ..errors import ConfigError
from ..fileio import atomic_write_text
from ..engine.mapping import FREQUENCY_SOURCES, MAPPINGS, PAPER_SHIFT, TABLE_FORMATS


@command("mapping", "show how a dataset's symbols (or shifted text tokens) map onto BERT tokens")
def _mapping(p: argparse.ArgumentParser):
    p.add_argument("dataset", help="dataset name (see `python -m disc_core datasets`)")
    p.add_argument("--model", metavar="REF", default=None,
                   help="model whose vocabulary to map onto (default: the bundled all-MiniLM-L6-v2)")
    g = p.add_argument_group("non-text datasets")
    g.add_argument("--strategy", choices=list(MAPPINGS), default=None,
                   help="; ".join(f"{k}: {fn.__doc__.splitlines()[0]}" for k, fn in MAPPINGS.items())
                        + " (default: frequent)")
    g.add_argument("--table", metavar="FILE", help=f"custom strategy: a file of {TABLE_FORMATS}")
    g.add_argument("--seed", type=int, default=0, help="random strategy / random shift seed (default 0)")
    g.add_argument("--corpus", metavar="FILE",
                   help="frequent strategy: count token frequencies over this text file (one text a line)")
    g.add_argument("--frequency-source", choices=FREQUENCY_SOURCES, default="vocab",
                   help="frequent strategy without --corpus: WordPiece vocabulary rank (vocab) or the "
                        "wordfreq package's English word frequencies")
    t = p.add_argument_group("text datasets")
    t.add_argument("--shift", type=int, metavar="N", default=None,
                   help=f"shift every token id by N: (i + N) mod D (default {PAPER_SHIFT}, the paper's)")
    t.add_argument("--random-shift", action="store_true", help="a fixed random permutation of the token ids")
    t.add_argument("--shift-special", action="store_true",
                   help="shift [CLS]/[SEP]/[PAD]/[UNK]/[MASK] too (default: they stay in place)")
    p.add_argument("--samples", type=int, default=1, help="how many records to show (default 1)")
    p.add_argument("--save", metavar="FILE", help="write the mapping as JSON (to reuse it in a run)")
    p.add_argument("--json", action="store_true", help="print the mapping and samples as JSON")

    def run(args) -> int:
        from ..data import load_dataset
        from ..engine.mapping import build_symbol_mapping, build_text_shift, format_preview, preview
        from ..engine.models import load_tokenizer

        ds = load_dataset(args.dataset)
        tok = load_tokenizer(args.model)
        if ds.is_text:
            given = [o for o, v in (("--strategy", args.strategy), ("--table", args.table),
                                    ("--corpus", args.corpus)) if v]
            if given:
                raise ConfigError(f"{ds.name} is a text dataset and {', '.join(given)} only work on non-text "
                                  "data -> use --shift N or --random-shift")
            if args.random_shift and args.shift is not None:
                raise ConfigError("give either --shift N or --random-shift, not both")
            m = build_text_shift(tok, "random-shift" if args.random_shift else "shift",
                                 c=PAPER_SHIFT if args.shift is None else args.shift, seed=args.seed,
                                 shift_special=args.shift_special)
        else:
            given = [o for o, v in (("--shift", args.shift is not None), ("--random-shift", args.random_shift),
                                    ("--shift-special", args.shift_special)) if v]
            if given:
                raise ConfigError(f"{ds.name} is a {ds.discipline} dataset and {', '.join(given)} only work on "
                                  "text -> use --strategy frequent|random|unused|custom")
            strategy = args.strategy or ("custom" if args.table else "frequent")
            if args.table and strategy != "custom":
                raise ConfigError(f"--table is for --strategy custom, not {strategy}")
            if strategy == "custom" and not args.table:
                raise ConfigError(f"the custom strategy needs a table -> pass --table FILE ({TABLE_FORMATS})")
            m = build_symbol_mapping(ds.alphabet, tok, strategy, seed=args.seed, table=args.table,
                                     corpus=args.corpus, frequency_source=args.frequency_source,
                                     symbol_counts=ds.symbol_counts("train") or ds.symbol_counts())
        pv = preview(ds, tok, m, n_samples=args.samples, seed=args.seed)
        if args.save:
            atomic_write_text(args.save, json.dumps(m.to_dict(), indent=2) + "\n")
        if args.json:
            print(json.dumps({"mapping": m.to_dict(), "basis": pv.basis,
                              "table": json.loads(pv.table.to_json(orient="records")),
                              "samples": pv.samples}, indent=2))
        else:
            print(format_preview(pv), end="")
            if args.save:
                print(f"\nsaved the mapping to {args.save}")
        return 0

    return run
