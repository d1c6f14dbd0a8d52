"""Command line: ``python -m disc_core COMMAND ...``. Everything the dashboard can do.

Commands register themselves in ``COMMANDS`` (name -> (add_arguments, run)) with ``@command``: this
module's own (``datasets``, ``models``) and those of the modules :func:`build_parser` imports, a plain list
(``mapping``, ``data``, ``experiment``, ``runs``, ``reproduce``, ``inspect``, ``results``, ``demo``); ``main``
builds the argparse tree from it. A :class:`~disc_core.errors.DiscError` is printed as one line (no traceback)
and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import DiscError
from .base import COMMANDS, add_executor_flags, command, executor_from_args, print_table

__all__ = ["main", "command", "COMMANDS", "print_table", "add_executor_flags", "executor_from_args"]


# ------------------------------------------------------------------------------------------ datasets
@command("datasets", "list every dataset: size, classes, metric, where its data comes from")
def _datasets(p: argparse.ArgumentParser):
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-load", action="store_true",
                   help="do not load available datasets to count them (faster)")

    def run(args) -> int:
        from ..data import DATASETS, ensure_registered, load_dataset

        ensure_registered()
        rows = []
        for name, info in DATASETS.items():
            ok, where = info.available()
            row = {"name": name, "discipline": info.discipline, "task": info.task, "metric": info.metric,
                   "origin": info.origin + (" (synthetic)" if info.synthetic else ""),
                   "train/val/test": "", "classes": "", "source": where}
            if ok and not args.no_load:
                try:
                    ds = load_dataset(name)
                    s = ds.sizes()
                    row["train/val/test"] = f"{s['train']}/{s['validation']}/{s['test']}"
                    row["classes"] = ds.num_labels if ds.task == "classification" else "regression"
                except DiscError as err:
                    row["source"] = f"ERROR: {err}"
            elif not ok:
                row["train/val/test"] = "(not available)"
            rows.append(row)
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            print_table(rows)
        return 0

    return run


# ------------------------------------------------------------------------------------------ models
@command("models", "list known models, or resolve one (--resolve REF)")
def _models(p):
    p.add_argument("--resolve", metavar="REF", help="a model name, folder or hub id to resolve")
    p.add_argument("--fetch", metavar="HUB_ID", help="download a hub model into the local cache (online)")

    def run(args) -> int:
        from ..engine.models import KNOWN_MODELS, load_config, resolve_model

        if args.resolve or args.fetch:
            ref = resolve_model(args.resolve or args.fetch)
            cfg = load_config(ref.name)
            print(ref.describe())
            print(f"model_type={cfg.model_type} layers={getattr(cfg, 'num_hidden_layers', '?')} "
                  f"hidden={getattr(cfg, 'hidden_size', '?')} vocab={cfg.vocab_size}")
            return 0
        print_table([{"model": k, "about": v} for k, v in KNOWN_MODELS.items()])
        print("\nAny BERT-family model also works by local folder or hub id (--model REF).")
        return 0

    return run


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    # the modules with commands of their own (kept beside the code they drive); importing one registers them
    from . import check, data, demo, experiment, inspect, mapping, reproduce, results, runs  # noqa: F401

    parser = argparse.ArgumentParser(
        prog="python -m disc_core",
        description="Cross-discipline transfer of pretrained language models (Kao & Lee, 2021).")
    parser.add_argument("--version", action="version", version=f"disc_core {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_, add, _) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(_run=add(sp))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args._argv = list(sys.argv[1:] if argv is None else argv)  # as typed, for commands that re-run themselves
    if not getattr(args, "_run", None):
        parser.print_help()
        return 1
    try:
        return int(args._run(args) or 0)
    except DiscError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
