"""Fine-tuning throughput: disc_core's loop against the Hugging Face Trainer, in one run.

Same model (the bundled all-MiniLM-L6-v2 unless --model), same data (DeepLoc from $DISC_DATA_DIR by
default: real variable-length protein sequences), same batch size, same optimiser (Adam, no weight
decay, no clipping), same number of steps and torch threads. Printed: real tokens per second
(padding excluded) for

  1. disc_core (length-bucketed batches, padded to each batch's longest)
  2. Trainer, default padding as in run_glue (``padding="max_length"``: every sequence padded to --max-length)
  3. Trainer, ``train_sampling_strategy="group_by_length"`` (transformers 5's name for ``group_by_length=True``) with DataCollatorWithPadding (padded to each batch's longest)

and the ratios, plus the achieved FLOP/s (6 x non-embedding parameters x real tokens / s) against a
plain fp32 matrix multiply on the same machine. A benchmark, not a test: run it by hand, e.g.

    DISC_DATA_DIR=../shared/data python benchmarks/bench_trainer.py --steps 8 --batch-size 32

Results are recorded in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from disc_core.engine.config import RunConfig  # noqa: E402
from disc_core.engine.experiment import prepare_data, set_seed  # noqa: E402
from disc_core.engine.models import resolve_model  # noqa: E402
from disc_core.engine.training import fine_tune  # noqa: E402
from disc_core.engine.variants import build_model  # noqa: E402


def matmul_flops(n: int = 2048, repeat: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(repeat):
        a @ b
    return 2 * n**3 * repeat / (time.perf_counter() - t)


def non_embedding_params(model) -> int:
    emb = {id(p) for p in model.get_input_embeddings().parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in emb)


def run_ours(cfg: RunConfig, ds, enc, steps: int) -> dict:
    set_seed(cfg.seed)
    model = build_model(cfg.model_name_or_path, "pretrained", ds.num_labels, ds.task, seed=cfg.seed,
                        attention_dropout=cfg.attention_dropout)
    c = cfg.replace(max_steps=steps, eval_steps=10**9)
    out = fine_tune(model, enc["train"], None, c, ds.task, ds.metric, pad_id=0)
    return {"tokens": out["tokens_seen"], "seconds": out["train_time_s"], "model": model}


class _TokenCounter:
    """Counts the real (non-padding) tokens of every training forward pass of a model.

    Counted at the model, not the collator: the Trainer fetches batches ahead of the step that uses them.
    """

    def __init__(self, model):
        self.tokens = 0
        model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module, args, kwargs):
        if module.training:
            self.tokens += int(kwargs["attention_mask"].sum())


def run_trainer(cfg: RunConfig, ds, enc, steps: int, group_by_length: bool, max_length: int,
                bf16: bool | None = None) -> dict:
    """The Trainer on the same data; ``bf16``: its bf16 flag (None: on CUDA only, as it ran before)."""
    from datasets import Dataset as HFDataset
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from disc_core.engine.models import load_tokenizer

    tok = load_tokenizer(cfg.model_name_or_path)
    rows = {"input_ids": [x.tolist() for x in enc["train"].input_ids],
            "labels": enc["train"].labels.tolist()}
    hf = HFDataset.from_dict(rows)
    if group_by_length:
        collator = DataCollatorWithPadding(tok)
    else:  # the run_glue default: pad_to_max_length
        collator = DataCollatorWithPadding(tok, padding="max_length", max_length=max_length)
    set_seed(cfg.seed)
    model = build_model(cfg.model_name_or_path, "pretrained", ds.num_labels, ds.task, seed=cfg.seed,
                        attention_dropout=cfg.attention_dropout)
    counter = _TokenCounter(model)
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out, per_device_train_batch_size=cfg.per_device_train_batch_size, max_steps=steps,
            learning_rate=cfg.learning_rate, weight_decay=0.0, warmup_steps=0, lr_scheduler_type="linear",
            max_grad_norm=0.0, report_to=[],
            train_sampling_strategy="group_by_length" if group_by_length else "random", save_strategy="no",
            logging_strategy="no", use_cpu=not torch.cuda.is_available(),
            bf16=torch.cuda.is_available() if bf16 is None else bf16,
            dataloader_num_workers=0, seed=cfg.seed, disable_tqdm=True)
        trainer = Trainer(model=model, args=args, train_dataset=hf, data_collator=collator)
        t = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - t
    return {"tokens": counter.tokens, "seconds": seconds}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="deeploc")
    p.add_argument("--model", default=None, help="model reference (default: the bundled MiniLM)")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    cfg = RunConfig(dataset=args.dataset, model_name_or_path=args.model or "all-MiniLM-L6-v2",
                    per_device_train_batch_size=args.batch_size, max_length=args.max_length, seed=1)
    ds, _, _, enc = prepare_data(cfg)
    lengths = enc["train"].lengths
    print(f"model {resolve_model(cfg.model_name_or_path).name}; dataset {ds.name}: {len(lengths)} train sequences, "
          f"real length mean {lengths.mean():.0f} (max {lengths.max()}), padded to {args.max_length} by default")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, torch {torch.__version__}, threads {args.threads}, "
          f"device {'cuda' if torch.cuda.is_available() else 'cpu'}; {args.steps} steps of batch {args.batch_size}")
    results = {}
    results["disc_core"] = ours = run_ours(cfg, ds, enc, args.steps)
    results["trainer_default_padding"] = run_trainer(cfg, ds, enc, args.steps, False, args.max_length)
    results["trainer_group_by_length"] = run_trainer(cfg, ds, enc, args.steps, True, args.max_length)
    peak = matmul_flops()
    n_params = non_embedding_params(ours.pop("model"))
    print(f"\n{'setup':28s} {'real tokens':>12s} {'seconds':>9s} {'tokens/s':>10s} {'GFLOP/s':>9s} {'vs matmul':>9s}")
    for name, r in results.items():
        tps = r["tokens"] / r["seconds"]
        flops = 6 * n_params * tps
        print(f"{name:28s} {r['tokens']:12d} {r['seconds']:9.1f} {tps:10.0f} {flops / 1e9:9.1f} {flops / peak:9.1%}")
        r["tokens_per_s"] = tps
    print(f"\nplain fp32 matmul (2048^2): {peak / 1e9:.1f} GFLOP/s")
    d = results["disc_core"]["tokens_per_s"]
    print(f"ratio disc_core / Trainer default padding:  {d / results['trainer_default_padding']['tokens_per_s']:.2f}x")
    print(f"ratio disc_core / Trainer group_by_length:  {d / results['trainer_group_by_length']['tokens_per_s']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
