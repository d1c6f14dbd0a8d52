"""Where a reproduction run's wall time goes, and what the plan's two cuts save.

Part 1 reads a reproduction's finished cells (``results.json``: ``prep_time_s``, ``train_time_s``,
``validation_time_s``, ``test_time_s``, ``wall_time_s``) and prints, per task, the share of each phase.

Part 2 measures the two cuts on one real task (STS-B with shift 1000 unless ``--dataset``), with the
bundled MiniLM, in this process, on one thread:

- encoding: ``prepare_data`` for a cell, then again for the next cell of the same task (the plan passes the
  same dataset object, so the second reuses the encoded splits);
- validation: one evaluation on the whole validation split against one on the plan's 300-example sample.

    DISC_DATA_DIR=../shared/data python benchmarks/bench_run_time.py --root runs/reproduce/laptop
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def breakdown(root: Path) -> None:
    rows: dict[str, list[dict]] = {}
    for p in sorted(root.glob("*/*/*/seed*/results.json")):
        r = json.loads(p.read_text())
        if "prep_time_s" not in r:
            continue
        study = p.relative_to(root).parts[0]
        rows.setdefault(f"{study}/{r['dataset']}", []).append(r)
    if not rows:
        print(f"(no finished cells with timings under {root})")
        return
    print(f"Part 1: where the time of the finished cells under {root} went (median over cells)\n")
    print("| task | cells | wall s | prep | training | validation | test | other |")
    print("|---|---|---|---|---|---|---|---|")
    for task, rs in rows.items():
        med = {k: statistics.median(r.get(k) or 0.0 for r in rs)
               for k in ("wall_time_s", "prep_time_s", "train_time_s", "validation_time_s", "test_time_s")}
        w = med["wall_time_s"] or 1.0
        train_only = med["train_time_s"] - med["validation_time_s"]
        other = w - med["prep_time_s"] - med["train_time_s"] - med["test_time_s"]
        print(f"| {task} | {len(rs)} | {w:.0f} | {med['prep_time_s'] / w:.1%} | {train_only / w:.1%} | "
              f"{med['validation_time_s'] / w:.1%} | {med['test_time_s'] / w:.1%} | {max(other, 0) / w:.1%} |")
    print()


def cuts(dataset: str, variant: str, cap: int) -> None:
    import torch

    torch.set_num_threads(1)
    from disc_core.data import load_dataset
    from disc_core.engine.config import RunConfig
    from disc_core.engine.experiment import prepare_data
    from disc_core.engine.training import evaluate
    from disc_core.engine.variants import build_model

    ds = load_dataset(dataset)
    cfg = RunConfig(dataset=dataset, variant=variant, max_length=128 if ds.is_text else 512,
                    max_eval_examples=cap)
    t = time.perf_counter()
    _, tok, _, enc = prepare_data(cfg, ds)
    first = time.perf_counter() - t
    t = time.perf_counter()
    prepare_data(cfg.replace(seed=cfg.seed + 1), ds)
    second = time.perf_counter() - t
    print(f"Part 2: {dataset}, {variant}, bundled MiniLM, one thread\n")
    print(f"- encoding the splits: first cell {first:.2f} s, the next cell of the task {second:.3f} s (the "
          f"encoded splits are reused): {first - second:.1f} s saved per cell after the first")
    model = build_model(cfg.model_name_or_path, cfg.variant, ds.num_labels, ds.task, seed=0)
    full = prepare_data(cfg.replace(max_eval_examples=None), ds)[3]["validation"]
    pad = tok.pad_token_id or 0
    timings = {}
    for name, split in (("whole validation split", full), (f"{cap}-example sample", enc["validation"])):
        t = time.perf_counter()
        evaluate(model, split, ds.task, 64, torch.device("cpu"), pad, False)
        timings[name] = (len(split), time.perf_counter() - t)
    (n_full, t_full), (n_cap, t_cap) = timings.values()
    print(f"- one validation: the whole split ({n_full} examples) {t_full:.1f} s, the plan's sample ({n_cap}) "
          f"{t_cap:.1f} s: **{t_full / t_cap:.2f}x** less time per evaluation, eight times a run")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=str(ROOT / "runs" / "reproduce" / "laptop"))
    p.add_argument("--dataset", default="stsb")
    p.add_argument("--variant", default="pretrained+shift")
    p.add_argument("--cap", type=int, default=300)
    p.add_argument("--skip-measure", action="store_true", help="only part 1")
    args = p.parse_args(argv)
    breakdown(Path(args.root))
    if not args.skip_measure:
        cuts(args.dataset, args.variant, args.cap)
    return 0


if __name__ == "__main__":
    sys.exit(main())
