"""CLI command ``demo``: the Overview page's demo button, from a terminal.

    python -m disc_core demo [NAME] [--background] [--fresh]

Joins the demo with these settings that runs (or finished in the last 30 minutes), as a press of the
button does, else queues it; prints ``group: NAME`` first. Without ``--background`` it then waits for the
runs and prints their results table.
"""

from __future__ import annotations

from .base import command

__all__: list[str] = []


@command("demo", "start the shared demo comparison, or join the one that is on (as the Overview page's button)")
def _demo(p):
    from ..study.demo import DEMOS

    p.add_argument("name", nargs="?", default="splice", choices=list(DEMOS),
                   help="which demo (default splice: pretrained vs rand vs re-emb on built-in DNA)")
    p.add_argument("--background", action="store_true", help="queue (or join) and return at once")
    p.add_argument("--fresh", action="store_true", help="queue a new demo even when one is on")

    def run(args) -> int:
        from ..errors import ConfigError
        from ..runs.runner import wait
        from ..runs.store import RunStore
        from ..study.demo import DEMOS, demo_card, start_demo
        from ..study.pooling import export, result_rows, sections

        ok, where = DEMOS[args.name].available()
        if not ok:
            raise ConfigError(f"demo {args.name!r} needs its data: {where}")
        store = RunStore()
        launched = start_demo(args.name, fresh=args.fresh, store=store)
        print(f"group: {launched.group}")
        card = demo_card(args.name, store=store)
        if launched.created:
            print(f"queued {len(launched.ids)} runs: {card.estimate.describe()}")
        else:
            print(f"joined the demo that is on: {card.text.replace('**', '')}")
        if args.background:
            print(f"watch: python -m disc_core runs list --group {launched.group}")
            return 0
        infos = wait(launched.ids, store=store)
        rows = result_rows(i for i in infos if i.status == "finished")
        if rows:
            print(export(sections(rows), "md").data, end="")
        return 0 if all(i.status == "finished" for i in infos) else 1

    return run
