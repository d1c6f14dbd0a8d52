"""bf16 autocast against fp32 on the CPU: disc_core's loop and the Hugging Face Trainer, in one run.

A CPU with native bf16 matrix units (Intel AMX, AVX512-BF16) runs bf16 matmuls several times faster than
fp32; the training loop turns bf16 autocast on by itself there for models of hidden size >= 256
(:func:`disc_core.engine.training.precision_for`). This measures what that buys, per sequence length:
Splice (60 bp, 62 tokens) and H4 (500 bp, 502 tokens) from $DISC_DATA_DIR (built-in synthetic Splice when
it is unset), the bundled all-MiniLM-L6-v2, the same steps of the same batches for

  1. disc_core fp32 (``DISC_CPU_BF16=0``)
  2. disc_core bf16 (``DISC_CPU_BF16=1``)
  3. Trainer fp32, ``group_by_length`` with dynamic padding (its closest setting to ours)
  4. Trainer bf16 (``bf16=True``: the Trainer's CPU autocast), same padding

and prints real tokens per second (padding excluded) with the ratios. A benchmark, not a test:

    DISC_DATA_DIR=../shared/data python benchmarks/bench_precision.py --steps 4 --threads 1

Results are recorded in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_trainer import run_ours, run_trainer  # noqa: E402

from disc_core.engine.config import RunConfig  # noqa: E402
from disc_core.engine.experiment import prepare_data  # noqa: E402
from disc_core.engine.training import cpu_has_native_bf16  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=None, help="default: splice h4 (splice-synthetic offline)")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    datasets = args.datasets or (["splice", "h4"] if os.environ.get("DISC_DATA_DIR") else ["splice-synthetic"])
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, torch {torch.__version__}, threads "
          f"{args.threads}, native CPU bf16: {cpu_has_native_bf16()}, load average {os.getloadavg()[0]:.1f}; "
          f"{args.steps} steps of batch {args.batch_size} per setup")
    for name in datasets:
        cfg = RunConfig(dataset=name, model_name_or_path="all-MiniLM-L6-v2", max_length=512,
                        per_device_train_batch_size=args.batch_size, seed=1)
        ds, _, _, enc = prepare_data(cfg)
        lengths = enc["train"].lengths
        print(f"\n{ds.name}: {len(lengths)} training sequences, mean {lengths.mean():.0f} tokens")
        rows = {}
        for label, force in (("disc_core fp32", "0"), ("disc_core bf16", "1")):
            os.environ["DISC_CPU_BF16"] = force
            r = run_ours(cfg, ds, enc, args.steps)
            r.pop("model")
            rows[label] = r
        os.environ.pop("DISC_CPU_BF16", None)
        for label, bf16 in (("Trainer fp32", False), ("Trainer bf16", True)):
            rows[label] = run_trainer(cfg, ds, enc, args.steps, True, 512, bf16=bf16)
        print(f"{'setup':18s} {'real tokens':>12s} {'seconds':>9s} {'tokens/s':>10s}")
        tps = {}
        for label, r in rows.items():
            tps[label] = r["tokens"] / r["seconds"]
            print(f"{label:18s} {r['tokens']:12d} {r['seconds']:9.1f} {tps[label]:10.0f}")
        print(f"ratio disc_core bf16 / disc_core fp32: {tps['disc_core bf16'] / tps['disc_core fp32']:.2f}x")
        print(f"ratio Trainer bf16 / Trainer fp32:     {tps['Trainer bf16'] / tps['Trainer fp32']:.2f}x")
        print(f"ratio disc_core bf16 / Trainer bf16:   {tps['disc_core bf16'] / tps['Trainer bf16']:.2f}x")
        print(f"ratio disc_core bf16 / Trainer fp32 (the Trainer's CPU default): "
              f"{tps['disc_core bf16'] / tps['Trainer fp32']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
