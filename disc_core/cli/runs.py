"""CLI command ``runs``: the background runs of the run store (what the dashboard's Runs page shows).

    python -m disc_core runs list [--group G] [--status S] [--json]
    python -m disc_core runs show ID [--events N] [--json]
    python -m disc_core runs queue [--json]           what runs and waits on this machine, with estimates
    python -m disc_core runs cancel ID [ID ...] | --group G
    python -m disc_core runs resume ID [--executor local|ray] [--ray-address ADDR]
    python -m disc_core runs export ID [--format csv|json] [--out FILE]
    python -m disc_core runs rebuild                  set the store aside, rebuild it from the run folders

A damaged or emptied store is rebuilt from the run folders by any of these (with a warning on stderr); a
run folder that cannot be read is named on stderr and skipped; on a full disk the store is read read-only.

Runs are launched with ``python -m disc_core compare DATASET ... --background`` or from the dashboard.
"""

from __future__ import annotations

import json
import time

from .base import add_executor_flags, command, print_table, tell_store

__all__: list[str] = []


def _ago(t: float | None) -> str:
    if not t:
        return ""
    s = max(0.0, time.time() - t)
    return f"{s:.0f}s ago" if s < 120 else (f"{s / 60:.0f}m ago" if s < 7200 else f"{s / 3600:.1f}h ago")


def _row(r) -> dict:
    score = (r.results or {}).get("score")
    return {"id": r.id, "group": r.group or "", "dataset": r.dataset, "label": r.label, "seed": r.seed,
            "status": r.shown_status, "step": f"{r.step}/{r.total_steps or '?'}",
            "loss": "" if r.last_loss is None else f"{r.last_loss:.4f}",
            "score": "" if score is None else f"{score:.4f}",
            "eta": "" if not r.eta_s or not r.active or r.stalled else f"{r.eta_s:.0f}s", "where": r.where,
            "created": _ago(r.created)}


@command("runs", "background runs: list, show, cancel, resume, export (the run store the dashboard uses)")
def _runs(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="runs, newest first")
    ls.add_argument("--group", help="only this group (a comparison launch)")
    ls.add_argument("--status", choices=["queued", "running", "finished", "failed", "cancelled"])
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    sh = sub.add_parser("show", help="one run: config, status, last events, error")
    sh.add_argument("id")
    sh.add_argument("--events", type=int, default=10, metavar="N", help="how many of the last events (default 10)")
    sh.add_argument("--json", action="store_true", help="machine-readable output")
    qu = sub.add_parser("queue", help="what runs and waits on this machine: runs ahead, estimated start and end")
    qu.add_argument("--json", action="store_true", help="machine-readable output")
    ca = sub.add_parser("cancel", help="stop queued or running runs (within ~2 s) and mark them cancelled")
    ca.add_argument("ids", nargs="*", metavar="ID")
    ca.add_argument("--group", help="cancel every queued or running run of this group")
    re = sub.add_parser("resume", help="continue a failed or cancelled run from its last checkpoint")
    re.add_argument("id")
    add_executor_flags(re)  # default: where it ran before (a Ray run resumes on the cluster, on any node)
    ex = sub.add_parser("export", help="write a run's metrics as CSV or JSON")
    ex.add_argument("id")
    ex.add_argument("--format", choices=["csv", "json"], default="csv")
    ex.add_argument("--out", help="file to write (default: <id>.<format> here)")
    sub.add_parser("rebuild", help="set the run store aside (kept) and rebuild it from the run folders")

    def run(args) -> int:
        from ..runs.store import RunStore

        store = RunStore()
        try:
            return _act(args, store)
        finally:
            tell_store(store)

    def _act(args, store) -> int:
        from ..runs import runner

        if args.action == "rebuild":
            done = store.rebuild()
            print(done.describe())
            store.problems = []  # named above
            return 0
        if args.action == "list":
            runs = store.list(group=args.group, status=args.status)
            if args.json:
                print(json.dumps([r.to_dict() for r in runs], indent=2, default=str))
            else:
                print_table([_row(r) for r in runs])
            return 0
        if args.action == "show":
            r = store.get(args.id)
            events = store.events(args.id)[-args.events:] if args.events > 0 else []
            if args.json:
                print(json.dumps({"run": r.to_dict(), "events": events}, indent=2, default=str))
                return 0
            where = f"pid {r.pid} on {r.host}" if r.pid else "no worker yet"
            print(f"run {r.id}  group {r.group or '-'}  {r.dataset} / {r.label} / seed {r.seed}")
            print(f"status {r.status} ({where}, attempt {r.attempt}, heartbeat {_ago(r.heartbeat) or 'none'})")
            if r.stalled:
                print(f"stalled: no heartbeat for {time.time() - r.heartbeat:.0f} s although its worker process is "
                      "alive (stopped with SIGSTOP or Ctrl-Z? swapping? a disk that does not answer?); `kill -CONT "
                      f"{r.pid}` continues a stopped one, `python -m disc_core runs cancel {r.id}` ends it")
            print(f"step {r.step}/{r.total_steps or '?'}  loss {r.last_loss}  folder {r.run_dir}")
            from ..runs.queue import queue_view, status_text

            print(f"now: {status_text(r, queue_view(store).of(r.id) if r.status == 'queued' else None)}")
            if r.results:
                print(f"results: {r.results.get('metric')} = {r.results.get('score')}  test {r.results.get('test')}")
            print("config: " + json.dumps(r.config, sort_keys=True))
            print(f"last {len(events)} of {r.n_events} events:")
            for ev in events:
                shown = {k: (round(v, 5) if isinstance(v, float) else v) for k, v in ev.items()
                         if k not in ("seq", "kind", "results", "time")}
                print(f"  #{ev['seq']} {ev['kind']}: {json.dumps(shown, default=str)[:200]}")
            if r.error:
                print("error:\n" + r.error.rstrip())
            return 0
        if args.action == "queue":
            from ..runs.queue import about, queue_view

            view = queue_view(store)
            if args.json:
                print(json.dumps({"slots": view.slots, "free_in_s": view.free_in_s, "entries": [
                    {"id": e.id, "group": e.run.group, "label": e.label, "seed": e.run.seed, "status": e.status,
                     "ahead": e.ahead, "starts_in_s": e.starts_in_s, "ends_in_s": e.ends_in_s, "run_s": e.run_s}
                    for e in view.entries]}, indent=2))
                return 0
            if not view.entries:
                print("nothing is running or queued on this machine")
                return 0
            print_table([{"id": e.id, "group": e.run.group or "", "run": f"{e.label} seed {e.run.seed}",
                          "status": e.status, "ahead": e.ahead if e.status == "queued" else "",
                          "starts": "now" if e.status == "running" else about(e.starts_in_s),
                          "ends": about(e.ends_in_s)} for e in view.entries])
            for sp in view.speeds.values():
                print(f"speed: {sp.describe()}")
            print(f"{view.slots} run(s) at a time (DISC_MAX_CONCURRENT, else one per GPU, else one); "
                  f"a run launched now starts in {about(view.free_in_s)}")
            return 0
        if args.action == "cancel" and args.group:
            if args.ids:
                print("give run ids or --group, not both")
                return 2
            if args.group not in store.groups():
                print(f"no run group {args.group!r} in the store; `python -m disc_core runs list` shows them")
                return 1
            done = runner.cancel_group(args.group, store=store)
            print(f"{args.group}: cancelled {len(done)} run(s)" + (f": {', '.join(done)}" if done else
                                                                   " (none was queued or running)"))
            return 0 if done else 1
        if args.action == "cancel":
            if not args.ids:
                print("give the run ids to cancel, or --group G")
                return 2
            code = 0
            for run_id in args.ids:
                if runner.cancel(run_id, store=store):
                    print(f"{run_id}: cancelled")
                else:
                    print(f"{run_id}: not cancelled, it had already ended ({store.get(run_id).status})")
                    code = 1
            return code
        if args.action == "resume":
            from ..runs.runner import make_executor

            from ..engine.config import RunConfig
            from ..engine.experiment import resume_plan

            info = store.get(args.id)
            _, what = resume_plan(RunConfig.from_dict(info.config), store.run_dir(args.id))
            executor = make_executor(args.executor, address=args.ray_address) if args.executor else None
            runner.resume(args.id, store=store, executor=executor)
            what = what.replace("resumed from step", "it goes on from step", 1).replace(
                "started again at step 1", "it starts again at step 1 (the metrics logged so far are kept aside)", 1)
            print(f"{args.id}: queued again; {what}; watch it with `python -m disc_core runs show {args.id}`")
            return 0
        if args.action == "export":
            from ..engine.experiment import check_output_path

            path = check_output_path(args.out or f"{args.id}.{args.format}", "--out")
            out = runner.export(args.id, path, fmt=args.format, store=store)
            print(f"wrote {out}")
            return 0
        return 1

    return run
