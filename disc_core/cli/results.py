"""CLI command ``results``: the Results page's table of run groups, from the run store.

    python -m disc_core results [GROUP ...] [--format csv|json|md] [--out FILE]

Without a group: the newest group with finished runs. Groups are pooled only when their runs differ in
nothing but the seed (each configuration gets its own table otherwise), each seed counts once, runs that
have no result yet are named; the table is the dashboard's export (``disc_core.study.pooling.export``).
"""

from __future__ import annotations

import sys

from ..errors import ConfigError
from .base import command

__all__: list[str] = []


@command("results", "the results table of run groups (mean ± std over seeds, the paper's numbers), as the "
                    "Results page shows and exports it")
def _results(p):
    p.add_argument("groups", nargs="*", metavar="GROUP", help="run groups (default: the newest with results)")
    p.add_argument("--format", choices=["csv", "json", "md"], default="md", help="output format (default md)")
    p.add_argument("--out", metavar="FILE", help="write there instead of printing")

    def run(args) -> int:
        from ..fileio import atomic_write_text
        from ..runs.store import RunStore
        from ..study.pooling import export, ordering_checks, pending_note, result_rows, sections

        store = RunStore()
        every = store.list()
        rows = result_rows(r for r in every if r.status == "finished")
        groups = list(dict.fromkeys(args.groups)) or [
            r["group"] for r in sorted(rows, key=lambda r: r["finished"], reverse=True)][:1]
        if not groups:
            raise ConfigError("no finished run with results in the run store -> launch runs (`python -m disc_core "
                              "compare ... --background` or the dashboard) and wait for them to finish")
        known = set(store.groups())
        missing = [g for g in groups if g not in known]
        if missing:
            raise ConfigError(f"no run group {', '.join(missing)} in the run store {store.root} -> "
                              "`python -m disc_core runs list` shows the groups")
        chosen = [r for r in rows if r["group"] in groups]
        note = pending_note(every, groups)
        if note:
            print(note, file=sys.stderr)
        if not chosen:
            raise ConfigError(f"no run of {', '.join(groups)} has finished yet -> wait, or see "
                              "`python -m disc_core runs list`")
        parts = sections(chosen, order=groups)
        if len(parts) > 1:
            print(f"these groups are not pooled (their runs differ in more than the seed): {len(parts)} tables",
                  file=sys.stderr)
        datasets = sorted({r["dataset"] for r in chosen})
        out = export(parts, args.format, dataset=datasets[0] if len(datasets) == 1 else "")
        text = out.data
        if args.format == "md":
            checks = [line for s in parts for line in ordering_checks(s.rows_of())]
            text += "".join(f"\n{line}" for line in checks) + ("\n" if checks else "")
        if args.out:
            atomic_write_text(args.out, text)
            print(f"wrote {args.out}", file=sys.stderr)
        else:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return 0

    return run
