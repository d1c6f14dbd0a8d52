"""``python -m disc_core check NAME``: does text pretraining help on this dataset? (:mod:`disc_core.study.check`)"""

from __future__ import annotations

import argparse

from .base import command


@command("check", "does a text-pretrained BERT help on this dataset? pretrained vs rand, seed after seed until "
                  "the 95%% interval excludes 0 or the budget is spent, against the k-mer and CNN baselines")
def _check(p: argparse.ArgumentParser):
    from ..engine.models import DEFAULT_MODEL
    from ..study.check import BASELINE_VARIANTS, CHECK_LEARNING_RATE

    p.add_argument("name", help="a dataset (`python -m disc_core datasets` lists them; your imported ones too)")
    p.add_argument("--max-seeds", type=int, default=5, help="at most this many paired seeds (default 5)")
    p.add_argument("--budget-minutes", type=float, default=None,
                   help="start no seed that would end after this many minutes (default: no time limit)")
    p.add_argument("--max-steps", type=int, default=None,
                   help="optimiser steps per BERT run (default: 3 epochs, the paper's recipe)")
    p.add_argument("--learning-rate", type=float, default=CHECK_LEARNING_RATE,
                   help=f"BERT's learning rate (default {CHECK_LEARNING_RATE:g}: moves the bundled MiniLM within "
                        "a few dozen steps; the paper's 1e-5 needs thousands)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"a BERT-family model (default: the bundled {DEFAULT_MODEL})")
    p.add_argument("--baselines", default=",".join(BASELINE_VARIANTS),
                   help="discipline baselines to run once for scale, comma-separated ('' for none)")
    p.add_argument("--max-length", type=int, default=None, help="truncate sequences to this many tokens")
    p.add_argument("--train-fraction", type=float, default=None, help="train on this fraction of the training set")
    p.add_argument("--root", default=None, help="run folders (default: <runs root>/check/<settings>; "
                   "a check with the same settings reuses its finished runs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")

    def run(args) -> int:
        from ..study.check import CheckSpec, run_check

        overrides = {k: v for k, v in (("max_length", args.max_length), ("train_fraction", args.train_fraction))
                     if v is not None}
        spec = CheckSpec(args.name, model=args.model, max_seeds=args.max_seeds, budget_minutes=args.budget_minutes,
                         max_steps=args.max_steps, learning_rate=args.learning_rate,
                         baselines=tuple(b for b in args.baselines.split(",") if b.strip()), overrides=overrides)
        result = run_check(spec, root=args.root, progress=not args.no_progress)
        print(result.paragraph())
        return 0

    return run
