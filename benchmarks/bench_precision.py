"""bf16 autocast against fp32 on the CPU: disc_core's loop and the Hugging Face Trainer, in one run.

A CPU with native bf16 matrix units (Intel AMX, AVX512-BF16) runs bf16 matmuls several times faster than
fp32; the training loop turns bf16 autocast on by itself there for models of hidden size >= 256
(:func:`disc_core.engine.training.precision_for`). This measures what that buys, per sequence length:
Splice (60 bp, 62 tokens) and H4 (500 bp, 502 tokens) from $DISC_DATA_DIR (built-in synthetic Splice when
it is unset), the bundled all-MiniLM-L6-v2, the same steps of the same batches for

  1. disc_core fp32 (``DISC_CPU_BF16=0``)
  2. disc_core bf16 (``DISC_CPU_BF16=1``)
  3. disc_core bf16 without attention dropout (``attention_dropout=0``: BERT's 0.1 on the attention
     probabilities takes PyTorch's CPU attention off its fused kernel)
  4. Trainer fp32, ``group_by_length`` with dynamic padding (its closest setting to ours)
  5. Trainer bf16 (``bf16=True``: the Trainer's CPU autocast), same padding
  6. Trainer bf16 without attention dropout

all in training mode (dropout on, as in a real run), and prints real tokens per second (padding excluded)
with the ratios. A benchmark, not a test:

    DISC_DATA_DIR=../shared/data python benchmarks/bench_precision.py --steps 2 --threads 2

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
        no_drop = cfg.replace(attention_dropout=0.0)
        for label, force, c in (("disc_core fp32", "0", cfg), ("disc_core bf16", "1", cfg),
                                ("disc_core bf16 no attn drop", "1", no_drop)):
            os.environ["DISC_CPU_BF16"] = force
            r = run_ours(c, ds, enc, args.steps)
            r.pop("model")
            rows[label] = r
        os.environ.pop("DISC_CPU_BF16", None)
        for label, bf16, c in (("Trainer fp32", False, cfg), ("Trainer bf16", True, cfg),
                               ("Trainer bf16 no attn drop", True, no_drop)):
            rows[label] = run_trainer(c, ds, enc, args.steps, True, 512, bf16=bf16)
        print(f"{'setup':28s} {'real tokens':>12s} {'seconds':>9s} {'tokens/s':>10s}")
        tps = {}
        for label, r in rows.items():
            tps[label] = r["tokens"] / r["seconds"]
            print(f"{label:28s} {r['tokens']:12d} {r['seconds']:9.1f} {tps[label]:10.0f}")

        def ratio(a: str, b: str) -> None:
            print(f"ratio {a} / {b}: {tps[a] / tps[b]:.2f}x")

        ratio("disc_core bf16", "disc_core fp32")
        ratio("disc_core bf16 no attn drop", "disc_core bf16")
        ratio("disc_core bf16 no attn drop", "disc_core fp32")
        ratio("Trainer bf16", "Trainer fp32")
        ratio("disc_core bf16", "Trainer bf16")
        ratio("disc_core bf16 no attn drop", "Trainer bf16 no attn drop")
        ratio("disc_core bf16 no attn drop", "Trainer fp32")
    return 0


if __name__ == "__main__":
    sys.exit(main())
