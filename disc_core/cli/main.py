"""Command line: ``python -m disc_core COMMAND ...``. Everything the dashboard can do.

Commands register themselves in ``COMMANDS`` (name -> (add_arguments, run)); ``main`` builds the
argparse tree from it. A :class:`~disc_core.errors.DiscError` is printed as one line (no traceback)
and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable

from ..errors import DiscError

__all__ = ["main", "command", "COMMANDS", "print_table", "add_executor_flags", "executor_from_args"]

COMMANDS: dict[str, tuple[str, Callable, Callable]] = {}


def command(name: str, help: str):
    """Decorator pair: ``@command(name, help)`` on a function ``(parser) -> None`` that adds arguments
    and returns the runner ``(args) -> int``."""

    def deco(fn):
        COMMANDS[name] = (help, fn, None)
        return fn

    return deco


def print_table(rows: list[dict], columns: list[str] | None = None) -> None:
    if not rows:
        print("(none)")
        return
    columns = columns or list(rows[0])
    widths = {c: max(len(str(c)), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(str(c).ljust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns))


def add_executor_flags(p: argparse.ArgumentParser) -> None:
    """``--executor local|ray`` and ``--ray-address`` (defaults: ``$DISC_EXECUTOR``, ``$DISC_RAY_ADDRESS``)."""
    import os

    p.add_argument("--executor", choices=["local", "ray"], default=None,
                   help="where the runs go: local (processes on this machine) or ray (tasks on a Ray cluster; "
                        "README: 'Running on a Ray cluster'); default $DISC_EXECUTOR or local")
    p.add_argument("--ray-address", default=os.environ.get("DISC_RAY_ADDRESS") or "auto",
                   help="the Ray cluster (default $DISC_RAY_ADDRESS or auto: the cluster this machine belongs to)")


def executor_from_args(args):
    """The executor the flags ask for, or None when neither the flag nor ``$DISC_EXECUTOR`` chose one."""
    import os

    name = args.executor or os.environ.get("DISC_EXECUTOR")
    if not name:
        return None
    from ..runs.runner import make_executor

    return make_executor(name, address=args.ray_address)


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

    _load_command_modules()
    parser = argparse.ArgumentParser(
        prog="python -m disc_core",
        description="Cross-discipline transfer of pretrained language models (Kao & Lee, 2021).")
    parser.add_argument("--version", action="version", version=f"disc_core {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_, add, _) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(_run=add(sp))
    return parser


def _load_command_modules() -> None:
    """Modules that add commands of their own (kept beside the code they drive)."""
    import importlib

    for mod in ("disc_core.cli.mapping", "disc_core.cli.data", "disc_core.cli.experiment", "disc_core.cli.runs",
                "disc_core.cli.reproduce", "disc_core.cli.inspect"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as err:
            if err.name != mod:
                raise


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
