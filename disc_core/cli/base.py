"""What every CLI command module shares: the command registry (``@command``), a plain-text table printer,
and the ``--executor`` / ``--ray-address`` flags. :mod:`disc_core.cli.main` imports the command modules (a
plain list) and builds the parser from :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
from typing import Callable

__all__ = ["command", "COMMANDS", "print_table", "add_executor_flags", "executor_from_args"]

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


def tell_store(store) -> None:
    """What the run store had to do (rebuilt, re-indexed, read-only) and the run folders it could not read, on
    stderr: the command's own output (``--json`` included) stays as it is."""
    import sys

    for text in [*store.notices, *(f"warning: skipped a run folder: {p}" for p in store.problems)]:
        try:
            print(text, file=sys.stderr)
        except OSError:
            pass
