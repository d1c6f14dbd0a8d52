"""Which small BERT can Figure 3's pre-training afford here? Seconds an MLM step, and the loss curve's slope.

Figure 3 of the paper fine-tunes checkpoints taken along one pre-training. At this machine's scale the question
is the largest model whose MLM loss clearly plateaus within the budget (about 3 h of the two cores). For each
candidate size this measures, on the offline corpus (the GLUE training sentences under DISC_DATA_DIR), the
seconds an optimiser step takes (batch 64, 64 tokens at most) and the MLM loss over ``--minutes`` of training,
then prints the steps the budget affords, the epochs of the corpus they are, and how much the loss still fell
over the last half of the measured window (a plateau falls little). Run it on an otherwise idle machine:

    DISC_DATA_DIR=../shared/data python benchmarks/bench_pretrain_size.py --minutes 3 --budget-hours 3
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = {"L2-H128": (2, 128, 512), "L4-H256": (4, 256, 1024), "L6-H384": (6, 384, 1536)}


def measure(name: str, minutes: float, threads: int, sents: list[str]) -> dict:
    import numpy as np
    import torch
    from transformers import DataCollatorForLanguageModeling

    from disc_core.engine.models import load_tokenizer
    from disc_core.study.pretrain import PretrainConfig, _mlm_loss, _new_model

    torch.set_num_threads(threads)
    layers, hidden, inter = SIZES[name]
    cfg = PretrainConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=max(2, hidden // 64),
                         intermediate_size=inter, batch_size=64, max_length=64)
    tok = load_tokenizer(None)
    enc = [e for e in tok(sents, truncation=True, max_length=cfg.max_length)["input_ids"] if len(e) > 3]
    col = DataCollatorForLanguageModeling(tok, mlm=True, mlm_probability=0.15, return_tensors="pt")
    model = _new_model(cfg, tok)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    losses, times, end = [], [], time.time() + minutes * 60
    while time.time() < end:
        batch = col([{"input_ids": enc[i]} for i in rng.choice(len(enc), cfg.batch_size)])
        t = time.perf_counter()
        loss = _mlm_loss(model, batch["input_ids"], batch["attention_mask"], batch["labels"])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t)
        losses.append(float(loss))
    half = len(losses) // 2
    return {"size": name, "params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
            "steps_measured": len(losses), "s_per_step": float(np.median(times[2:] or times)),
            "loss_first_10": float(np.mean(losses[:10])), "loss_last_10": float(np.mean(losses[-10:])),
            "drop_over_last_half": float(np.mean(losses[max(0, half - 10):half]) - np.mean(losses[-10:])),
            "corpus_sentences": len(enc)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    ap.add_argument("--minutes", type=float, default=3.0, help="training time per size")
    ap.add_argument("--budget-hours", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args()
    from disc_core.study.pretrain import load_corpus

    sents, what = load_corpus(None)
    print(f"corpus: {what}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, {args.threads} thread(s)")
    rows = []
    for name in args.sizes:
        r = measure(name, args.minutes, args.threads, sents)
        batches_an_epoch = r["corpus_sentences"] / 64
        r["steps_in_budget"] = int(args.budget_hours * 3600 / r["s_per_step"])
        r["epochs_in_budget"] = round(r["steps_in_budget"] / batches_an_epoch, 1)
        rows.append(r)
        print(f"{name}: {r['params_M']}M parameters, {r['s_per_step']:.3f} s a step -> {r['steps_in_budget']:,} steps "
              f"({r['epochs_in_budget']} epochs of the corpus) in {args.budget_hours:g} h; MLM loss "
              f"{r['loss_first_10']:.2f} -> {r['loss_last_10']:.2f} over {r['steps_measured']} steps, "
              f"{r['drop_over_last_half']:+.2f} over the last half", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
