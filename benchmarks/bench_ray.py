"""What Ray costs: the quick reproduction plan on the local executor against a Ray cluster on the same cores.

Both sides run the same cells (``reproduce --quick``: a tiny BERT, built-in data, ~15 one-thread cells) on
this machine's cores:

- ``local``: ``reproduce --quick --jobs N`` (N one-thread processes, every N-th cell each: the local winner,
  ``bench_threads.py``);
- ``ray``: ``reproduce --quick --executor ray`` on a Ray cluster started here with ``ray.cluster_utils.Cluster``
  (a head with no CPU for runs and N worker nodes of one CPU each), so Ray places the same cells on the same
  N cores, with its task start-up, object transfer of every run folder and the store service in the way.

It prints both wall times, the cluster's start-up (paid once, not per plan), Ray's overhead per cell and the
ratio. The cells are tiny on purpose: the overhead is what is measured, and on a real plan (minutes to hours
a cell) it is a fixed cost per cell. Run it on an otherwise idle machine::

    python benchmarks/bench_ray.py            # ~3 minutes on 2 cores
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


def cells(root: Path) -> int:
    return sum(1 for p in root.rglob("results.json") if "superseded" not in str(p))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cores", type=int, default=min(2, os.cpu_count() or 1), help="cores both sides use (default 2)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    env_data = os.environ.pop("DISC_DATA_DIR", None)  # built-in data only: the same cells anywhere
    from disc_core.engine.models import create_tiny_bert

    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        tmp = Path(tmp)
        tiny = str(create_tiny_bert(tmp / "tiny"))
        common = ["reproduce", "--quick", "--model", tiny, "--no-progress", "--no-report"]

        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "disc_core", *common, "--root", str(tmp / "local"), "--jobs",
                        str(args.cores)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        local_s = time.perf_counter() - t0
        n = cells(tmp / "local")

        from ray.cluster_utils import Cluster

        t0 = time.perf_counter()
        c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
        for _ in range(args.cores):
            c.add_node(num_cpus=1)
        c.wait_for_nodes()
        from disc_core.cli.main import main as cli
        from disc_core.runs.ray_executor import connect

        connect(c.address)
        startup_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            code = cli([*common, "--root", str(tmp / "ray"), "--executor", "ray", "--ray-address", c.address])
        ray_s = time.perf_counter() - t0
        n_ray = cells(tmp / "ray")
        nodes = {json.loads(p.read_text())["ran_on"]["node"] for p in (tmp / "ray").rglob("results.json")
                 if "superseded" not in str(p)}
        import ray

        ray.shutdown()
        c.shutdown()
    if env_data:
        os.environ["DISC_DATA_DIR"] = env_data
    if code != 0 or n_ray != n:
        print(f"the Ray plan did not finish the same cells: {n_ray} of {n} (exit {code})")
        return 1
    print(f"quick plan, {n} cells, {args.cores} cores")
    print(f"  local executor (--jobs {args.cores}):        {local_s:7.1f} s")
    print(f"  Ray cluster ({args.cores} one-CPU nodes):      {ray_s:7.1f} s   on {len(nodes)} node(s); "
          f"the cluster's start-up, paid once: {startup_s:.1f} s")
    print(f"  Ray overhead per cell: {(ray_s - local_s) / n:+.2f} s; ray / local wall time = {ray_s / local_s:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
