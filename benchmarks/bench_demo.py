"""The classroom demo's settings, measured: does its lesson hold across seeds, and how soon does the room see it?

Issue 26 §1. A teacher's room saw the splice demo (pretrained vs rand vs re-emb on the built-in
``splice-synthetic`` with the bundled MiniLM) run its variants one after another for ~12 minutes, with the
lesson reversed on the seed it drew. This benchmark measures candidate settings on this (2-core) CPU:

1. **seed study** (``--candidates``, ``--seeds``): for each candidate (steps, learning rate) and each seed, the
   demo's three variants race (three processes, one torch thread each, started together, as a racing demo
   runs them). Per seed: each variant's test accuracy, whether pretrained > rand (the lesson) and where re-emb
   lands, each racer's training loss curve against its wall clock (when the pretrained and rand curves are
   *visibly apart*: their 5-step running means differ by >= ``APART_LOSS`` for good) and the triple's wall
   time. Results are cached per (candidate, seed, variant) in ``--cache`` so a rerun only adds what is missing.
2. **the demo itself** (``--demo``): :func:`disc_core.study.demo.start_demo` through a fresh run store (real
   background workers, racing), from the click: the first loss point, the curves apart, the last run's end;
   the estimate at the click and 30 s later against the measured time.
3. **a Train-page plan** (``--plan``): two runs (pretrained, rand) of 30 steps queued one after another, the
   estimate at the click against the measured time.

The load average (``os.getloadavg``) is sampled every 10 s throughout and printed with every figure: this
CPU is shared, and the speeds are only what they were under that load.

    python benchmarks/bench_demo.py --candidates 60:1e-4,40:2e-4 --seeds 1-10 --demo --plan
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Two training-loss curves are "visibly apart" once their 5-step running means differ by this much for good.
APART_LOSS = 0.1
WINDOW = 5
#: The benchmark's goals (issue 26): seconds from the click.
GOAL_FIRST_POINT_S, GOAL_APART_S, GOAL_DONE_S, GOAL_ESTIMATE = 10, 120, 300, 0.25


class LoadSampler(threading.Thread):
    """``os.getloadavg()[0]`` every ``every`` seconds, for the figures' honesty."""

    def __init__(self, every: float = 10.0):
        super().__init__(daemon=True)
        self.every, self.samples, self.stop_ev = every, [], threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            self.samples.append(os.getloadavg()[0])
            self.stop_ev.wait(self.every)

    def mark(self) -> int:
        return len(self.samples)

    def since(self, k: int) -> str:
        s = self.samples[k:] or [os.getloadavg()[0]]
        return f"load avg {statistics.mean(s):.1f} (min {min(s):.1f}, max {max(s):.1f}, {len(s)} samples)"


# ------------------------------------------------------------------------------------------- seed study
def _one_run(cfg_dict: dict) -> dict:
    """One racer (in a pool process): the run's results and its loss curve against its own clock."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from disc_core.engine.config import RunConfig
    from disc_core.engine.events import Listener
    from disc_core.engine.experiment import run_experiment

    class Curve(Listener):
        def __init__(self):
            self.t0, self.points = time.time(), []

        def on_step(self, ev):
            self.points.append((ev.step, round(time.time() - self.t0, 2), round(ev.loss, 4)))

    cfg = RunConfig.from_dict(cfg_dict)
    curve = Curve()
    with tempfile.TemporaryDirectory() as d:
        t0 = time.time()
        r = run_experiment(cfg, d, listeners=[curve])
    return {"score": r["score"], "predicts_one_class": bool(r.get("predicts_one_class")), "wall_s": time.time() - t0,
            "tokens_per_s": r.get("tokens_per_s"), "tokens_seen": r.get("tokens_seen"),
            "examples_seen": r.get("examples_seen"), "curve": curve.points, "started": t0}


def apart_at(a: list, b: list, margin: float = APART_LOSS) -> tuple[int, float] | None:
    """(step, seconds) from which the running mean of curve ``b``'s loss stays >= ``margin`` above ``a``'s
    (curves: (step, seconds, loss)); None if they never part for good."""
    import pandas as pd

    la = pd.Series([p[2] for p in a]).rolling(WINDOW, min_periods=1).mean()
    lb = pd.Series([p[2] for p in b]).rolling(WINDOW, min_periods=1).mean()
    n = min(len(la), len(lb))
    if not n:
        return None
    ok = (lb[:n] - la[:n] >= margin).tolist()
    if not ok[-1]:
        return None
    k = n - 1
    while k > 0 and ok[k - 1]:
        k -= 1
    return a[k][0], max(a[k][1], b[k][1])


def parse_candidates(text: str) -> list[tuple[int, float]]:
    out = []
    for part in text.split(","):
        steps, lr = part.split(":")
        out.append((int(steps), float(lr)))
    return out


def parse_seeds(text: str) -> list[int]:
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def candidate_configs(steps: int, lr: float, seed: int, threads: int = 1) -> list:
    """The demo's configs at this candidate (``study.demo``'s base: its overrides and validation schedule)."""
    from disc_core.study.demo import DEMOS

    d = DEMOS["splice"]
    cfgs = d.configs(steps=steps)
    return [c.replace(learning_rate=lr, seed=seed, num_threads=threads, group=None, tags=[]) for c in cfgs]


def seed_study(candidates, seeds, cache_path: Path, load: LoadSampler) -> dict:
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    ctx = mp.get_context("spawn")
    out = {}
    with cf.ProcessPoolExecutor(max_workers=3, mp_context=ctx) as pool:
        for steps, lr in candidates:
            key0 = f"{steps}:{lr:g}"
            rows = []
            mark = load.mark()
            for seed in seeds:
                cfgs = candidate_configs(steps, lr, seed)
                keys = [f"{key0}:{seed}:{c.label}" for c in cfgs]
                todo = [(k, c) for k, c in zip(keys, cfgs) if k not in cache]
                if todo:
                    t0 = time.time()
                    futs = {k: pool.submit(_one_run, c.to_dict()) for k, c in todo}
                    for k, f in futs.items():
                        cache[k] = {**f.result(), "load": os.getloadavg()[0], "triple_s": None}
                    for k, _ in todo:
                        cache[k]["triple_s"] = time.time() - t0
                    cache_path.write_text(json.dumps(cache))
                got = {c.label: cache[k] for k, c in zip(keys, cfgs)}
                p, r, e = (got[v]["score"] for v in ("pretrained", "rand", "re-emb"))
                apart = apart_at(got["pretrained"]["curve"], got["rand"]["curve"])
                rows.append({"seed": seed, "pretrained": p, "rand": r, "re-emb": e, "holds": p > r,
                             "re_emb_vs_rand": e > r, "re_emb_vs_pretrained": e > p,
                             "apart_step": apart[0] if apart else None, "apart_s": apart[1] if apart else None,
                             "triple_s": max(g["triple_s"] or 0 for g in got.values()),
                             "tokens_per_s": statistics.mean(g["tokens_per_s"] or 0 for g in got.values()),
                             "one_class": [v for v, g in got.items() if g["predicts_one_class"]]})
                print(f"  {key0} seed {seed}: pretrained {p:.3f} rand {r:.3f} re-emb {e:.3f} "
                      f"{'holds' if p > r else 'REVERSED'}; apart at {rows[-1]['apart_s']} s; "
                      f"triple {rows[-1]['triple_s']:.0f} s; load {os.getloadavg()[0]:.1f}", flush=True)
            out[key0] = {"rows": rows, "load": load.since(mark)}
    return out


def print_study(study: dict) -> None:
    print("\n| steps:lr | seeds | pretrained > rand | re-emb > rand | re-emb > pretrained | mean pretrained | "
          "mean rand | mean re-emb | curves apart (median s, racer's clock) | seed wall s (median) | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for key, s in study.items():
        rows = s["rows"]
        n = len(rows)
        aparts = [r["apart_s"] for r in rows if r["apart_s"] is not None]
        print(f"| {key} | {n} | {sum(r['holds'] for r in rows)}/{n} | {sum(r['re_emb_vs_rand'] for r in rows)}/{n} | "
              f"{sum(r['re_emb_vs_pretrained'] for r in rows)}/{n} | "
              f"{statistics.mean(r['pretrained'] for r in rows):.3f} | {statistics.mean(r['rand'] for r in rows):.3f} | "
              f"{statistics.mean(r['re-emb'] for r in rows):.3f} | "
              f"{statistics.median(aparts) if aparts else 'never'} ({len(aparts)}/{n} part) | "
              f"{statistics.median(r['triple_s'] for r in rows):.0f} | {s['load']} |")


# ------------------------------------------------------------------------------- through the run store
def _curve(store, run_id: str, t0: float) -> list:
    """(step, seconds since ``t0``, loss) of a run's step events in the store."""
    return [(e["step"], e["time"] - t0, e["loss"]) for e in store.events(run_id) if e.get("kind") == "step"]


def _watch(store, ids: list[str], t0: float, checkpoints=(30.0, 60.0)) -> dict:
    """Poll the runs until they end; the group's predicted end at each checkpoint (seconds after ``t0``)."""
    from disc_core.runs.queue import group_progress, queue_view

    pred = {}
    todo = list(checkpoints)
    while True:
        runs = store.list()
        mine = [r for r in runs if r.id in ids]
        now = time.time() - t0
        if todo and now >= todo[0]:
            prog = group_progress(mine, queue_view(runs=runs), runs)
            speeds = {e.speed.describe() for e in queue_view(runs=runs).entries if e.id in ids}
            pred[f"{todo[0]:.0f}"] = {"predicted_total_s": None if prog.ends_in_s is None else now + prog.ends_in_s,
                                      "text": prog.describe(), "speed": sorted(speeds)}
            todo.pop(0)
        if not any(r.active for r in mine):
            return pred
        time.sleep(0.5)


def time_demo(root: Path, load: LoadSampler, name: str = "splice", model: str | None = None) -> dict:
    """Press the demo's button on a fresh run store (real workers); the room's view, from the click."""
    from disc_core.runs.store import RunStore
    from disc_core.engine.models import DEFAULT_MODEL
    from disc_core.study.demo import DEMOS, demo_estimate, start_demo

    model = model or DEFAULT_MODEL
    store = RunStore(root)
    mark = load.mark()
    est = demo_estimate(name, store=store, model=model)
    t0 = time.time()
    launched = start_demo(name, fresh=True, store=store, model=model)
    pred = _watch(store, launched.ids, t0)
    recs = {store.get(i).label: store.get(i) for i in launched.ids}
    curves = {lab: _curve(store, r.id, t0) for lab, r in recs.items()}
    first = min(c[0][1] for c in curves.values() if c)
    # were they running at the same moment? (from the store's records)
    starts = [r.started for r in recs.values()]
    ends = [r.finished for r in recs.values()]
    overlap = min(ends) - max(starts)
    ap = apart_at(curves["pretrained"], curves["rand"])
    out = {"demo": name, "steps": DEMOS[name].steps, "learning_rate": DEMOS[name].learning_rate,
           "estimate_at_click_s": est.total_s, "estimate_text": est.describe(), "estimate_speed": est.speed.describe(),
           "predictions": pred, "first_point_s": first, "apart_s": ap[1] if ap else None,
           "apart_step": ap[0] if ap else None, "done_s": max(ends) - t0, "all_racing_s": overlap,
           "scores": {lab: (r.results or {}).get("score") for lab, r in recs.items()},
           "statuses": {lab: r.status for lab, r in recs.items()}, "load": load.since(mark)}
    return out


def time_plan(root: Path, load: LoadSampler, steps: int = 30, model: str | None = None) -> dict:
    """A Train-page plan (pretrained and rand, one seed, queued one after the other): estimate against measured."""
    from disc_core.engine.config import RunConfig
    from disc_core.runs.runner import start_group
    from disc_core.runs.store import RunStore, new_group_name
    from disc_core.study.compare import comparison_configs
    from disc_core.study.estimate import estimate_plan

    store = RunStore(root)
    mark = load.mark()
    base = RunConfig(dataset="splice-synthetic", learning_rate=1e-4, **({"model_name_or_path": model} if model else {}), max_steps=steps, save_model=False,
                     eval_steps=max(1, steps // 6), max_eval_examples=200)
    configs = comparison_configs(base, ["pretrained", "rand"], [1], group=new_group_name("splice-synthetic"))
    est = estimate_plan(configs, store=store)
    t0 = time.time()
    launched = start_group(configs, store=store, plans=est.plans())
    pred = _watch(store, launched.ids, t0)
    ends = [store.get(i).finished for i in launched.ids]
    return {"steps": steps, "estimate_at_click_s": est.total_s, "estimate_text": est.describe(),
            "estimate_speed": est.speed.describe(), "predictions": pred, "done_s": max(ends) - t0,
            "load": load.since(mark)}


def _err(est, measured) -> str:
    return "n/a" if est is None else f"{(est - measured) / measured:+.0%}"


def print_timed(name: str, t: dict) -> None:
    print(f"\n{name}: measured {t['done_s']:.0f} s from the click; {t['load']}")
    print(f"- estimate at the click: {t['estimate_at_click_s']:.0f} s ({_err(t['estimate_at_click_s'], t['done_s'])}); "
          f"{t['estimate_speed']}")
    for k, p in t["predictions"].items():
        print(f"- estimate {k} s after the click: {p['predicted_total_s'] and round(p['predicted_total_s'])} s "
              f"({_err(p['predicted_total_s'], t['done_s'])}); {p['text']}")
    if "first_point_s" in t:
        print(f"- first loss point {t['first_point_s']:.1f} s after the click (goal {GOAL_FIRST_POINT_S} s); curves "
              f"apart (pretrained vs rand, 5-step means {APART_LOSS} apart for good) at "
              f"{t['apart_s'] and round(t['apart_s'])} s, step {t['apart_step']} (goal {GOAL_APART_S} s); done at "
              f"{t['done_s']:.0f} s (goal {GOAL_DONE_S} s); all three running together for {t['all_racing_s']:.0f} s; "
              f"test scores {t['scores']}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--candidates", default="", help="steps:lr,... (empty: no seed study)")
    ap.add_argument("--seeds", default="1-10")
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "bench_demo_cache.json"))
    ap.add_argument("--demo", action="store_true", help="time the demo through the run store, from the click")
    ap.add_argument("--plan", action="store_true", help="time a Train-page plan: estimate against measured")
    ap.add_argument("--json", help="write every figure here")
    ap.add_argument("--model", help="the demo's and the plan's model (default: the bundled MiniLM; a tiny BERT "
                                    "folder for a quick try of the script)")
    ap.add_argument("--plan-steps", type=int, default=30)
    ap.add_argument("--root", help="the run store the demo and the plan use (default: a fresh one); an earlier "
                                   "run's store gives estimates from the speeds it measured")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load = LoadSampler()
    load.start()
    print(f"{os.cpu_count()} cores; load average at the start {os.getloadavg()}", flush=True)
    figures = {}
    if args.candidates:
        figures["study"] = seed_study(parse_candidates(args.candidates), parse_seeds(args.seeds), Path(args.cache), load)
        print_study(figures["study"])
    root = Path(args.root) if args.root else Path(tempfile.mkdtemp(prefix="bench-demo-runs-"))
    print(f"run store: {root}", flush=True)
    if args.demo:
        figures["demo"] = time_demo(root, load, model=args.model)
        print_timed("demo", figures["demo"])
    if args.plan:
        figures["plan"] = time_plan(root, load, steps=args.plan_steps, model=args.model)
        print_timed("Train-page plan", figures["plan"])
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str))
    load.stop_ev.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
