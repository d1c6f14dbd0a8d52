"""Best use of a machine's cores for a plan of many runs: one run on all threads, or one run per core?

A reproduction plan is hundreds of independent fine-tuning runs, so what matters is tokens per second of the
whole machine, not of one run. This runs the same real fine-tuning cell (bundled MiniLM, Splice or another
dataset) as

- ``1 x N``: one run with ``num_threads = N`` (N = the number of cores), then
- ``N x 1``: N runs at once, each in its own process with ``num_threads = 1``,

and prints real training tokens per second of the machine for each and their ratio. ``reproduce --jobs``
uses the winner. Run it on an otherwise idle machine:

    DISC_DATA_DIR=../shared/data python benchmarks/bench_threads.py --dataset splice --steps 20
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(dataset: str, steps: int, threads: int, seed: int, out: Path, max_length: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "disc_core", "run", dataset, "--variant", "pretrained", "--max-steps", str(steps),
           "--num-threads", str(threads), "--seed", str(seed), "--learning-rate", "1e-4", "--max-length",
           str(max_length), "--max-eval-examples", "32", "--max-test-examples", "32", "--no-save-model",
           "--eval-steps", str(steps), "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def train_stats(out: Path) -> tuple[int, float]:
    r = json.loads((out / "results.json").read_text())
    return r["tokens_seen"], r["train_time_s"]


def layout(n_proc: int, threads: int, args, tmp: Path) -> dict:
    outs = [tmp / f"{n_proc}x{threads}-{i}" for i in range(n_proc)]
    procs = [one_run(args.dataset, args.steps, threads, i, o, args.max_length) for i, o in enumerate(outs)]
    for p in procs:
        _, err = p.communicate()
        if p.returncode:
            raise SystemExit(f"run failed:\n{err[-2000:]}")
    stats = [train_stats(o) for o in outs]
    tokens = sum(t for t, _ in stats)
    # the runs overlap: the machine's rate is all tokens over the longest training time
    span = max(s for _, s in stats)
    return {"layout": f"{n_proc} run(s) x {threads} thread(s)", "tokens": tokens, "train_s": span,
            "tokens_per_s": tokens / span}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="splice")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    args = p.parse_args(argv)
    n = args.cores
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rows = [layout(1, n, args, tmp), layout(n, 1, args, tmp)]
    print(f"{args.dataset}, bundled MiniLM, {args.steps} steps of batch 32 per run, {n} cores")
    print("| layout | real tokens | training s | machine tokens/s |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['layout']} | {r['tokens']:,} | {r['train_s']:.1f} | {r['tokens_per_s']:,.0f} |")
    print(f"ratio ({n} x 1) / (1 x {n}): {rows[1]['tokens_per_s'] / rows[0]['tokens_per_s']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
