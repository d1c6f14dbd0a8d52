"""CLI commands ``reproduce`` (the paper's tables and figures, one resumable command) and ``pretrain``
(MLM pre-training with checkpoints, then fine-tuning each checkpoint: the paper's Figure 3)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from .base import add_executor_flags, command
from ..errors import ConfigError

__all__ = []


def print_table(rows: list[dict]) -> None:
    if not rows:
        print("(none)")
        return
    cols = list(rows[0])
    w = {c: max(len(str(c)), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    for line in ([{c: c for c in cols}, {c: "-" * w[c] for c in cols}] + rows):
        print("  ".join(str(line.get(c, "")).ljust(w[c]) for c in cols).rstrip())


def _log(msg: str) -> None:
    print(msg, flush=True)


@command("reproduce", "run the paper's tables and Figure 3 (resumable; --profile quick/laptop/gpu) and "
                      "write the report")
def _reproduce(p: argparse.ArgumentParser):
    from ..study.reproduce import PROFILES

    p.add_argument("--profile", choices=list(PROFILES), default="laptop",
                   help="quick: tiny model, minutes (what the tests run); laptop: bundled MiniLM, many hours of an idle 2-core CPU in resumable sittings (--dry-run estimates them); gpu: "
                        "bert-base-uncased with the paper's budget")
    p.add_argument("--quick", action="store_const", const="quick", dest="profile",
                   help="the same as --profile quick: the whole pipeline in minutes")
    p.add_argument("--root", help="run folders go here (default <runs root>/reproduce/<profile>); finished "
                                  "cells are reused")
    p.add_argument("--model", help="model name, folder or hub id (default: the profile's)")
    p.add_argument("--only", nargs="+", metavar="STUDY/DATASET",
                   help="run only these tasks (e.g. non-text/splice, text, deeploc)")
    p.add_argument("--checkpoints", nargs="+", metavar="ID_OR_PATH",
                   help="pre-training checkpoints for the pretrain-steps study instead of pre-training one "
                        "(e.g. google/multiberts-seed_0-step_0k google/multiberts-seed_0-step_20k ...)")
    p.add_argument("--corpus", help="text file (one sentence per line) for the built-in MLM pre-training "
                                    "(default: GLUE training sentences under DISC_DATA_DIR)")
    p.add_argument("--device", help="override every run's device (auto, cpu, cuda, cuda:1 ...)")
    p.add_argument("--report", help="Markdown report to write (default <root>/REPRODUCTION.md)")
    p.add_argument("--figures", help="folder of the report's PNG figures (default <root>/figures)")
    p.add_argument("--report-only", action="store_true", help="do not run anything: write the report from "
                                                              "the finished runs")
    p.add_argument("--no-report", action="store_true", help="run, but do not write the report")
    p.add_argument("--dry-run", action="store_true", help="print the plan and its time estimate, run nothing")
    p.add_argument("--gpus", type=int, nargs="+", metavar="N",
                   help="with --dry-run: the plan's hours on N GPUs (e.g. --gpus 1 8 32), from each cell's "
                        "estimate at an assumed 100k bert-base training tokens/s per GPU")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="train N cells at a time, each on cores/N threads: the run store's queue runs them "
                        "(DISC_MAX_CONCURRENT=N for this plan); on a 2-core CPU two one-thread runs do more "
                        "work than one two-thread run (benchmarks/RESULTS.md)")
    p.add_argument("--num-threads", type=int, default=None, help="torch threads per run (default: the plan's, "
                                                                  "or cores/N with --jobs N)")
    add_executor_flags(p)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=sys.stdout.isatty(),
                   help="a progress bar per run (default: when writing to a terminal)")

    def run(args) -> int:
        from ..runs.store import runs_root
        from ..study.report import write_report
        from ..study.reproduce import build_plan, estimate_seconds, run_plan

        plan = build_plan(args.profile, model=args.model, only=args.only, checkpoints=args.checkpoints)
        if args.device:
            for t in plan.tasks:
                t.overrides["device"] = args.device
        root = Path(args.root) if args.root else runs_root() / "reproduce" / args.profile
        if args.dry_run:
            print_table([{"task": t.key, "variants": len(t.variants), "seeds": len(t.seeds),
                          "est. min": f"{estimate_seconds(t, plan.model) / 60:.0f}", "budget": t.why}
                         for t in plan.tasks])
            total = sum(estimate_seconds(t, plan.model) for t in plan.tasks)
            print(f"\nestimated {total / 3600:.1f} h of an idle 2-core CPU; runs go to {root}")
            if args.gpus:
                from ..study.plan_cost import costs, hours_on_gpus, n_cells

                GPU_TOKENS_PER_S = costs()["gpu"]["tokens_per_s"]
                cells = sum(n_cells(t) for t in plan.tasks)
                for n in args.gpus:
                    print(f"on {n} GPU(s): ~{hours_on_gpus(plan, n):.1f} h for its {cells} cells (one cell per GPU "
                          f"at a time, longest first; {GPU_TOKENS_PER_S:,} training tokens/s of bert-base per GPU "
                          "assumed, not measured)")
            return 0
        on_ray = (args.executor or os.environ.get("DISC_EXECUTOR") or "local") == "ray"
        if on_ray and args.jobs > 1:
            raise ConfigError("--jobs sets how many cells train at a time on this machine; with --executor ray "
                              "the cluster places every cell (leave --jobs out)")
        if args.jobs < 1:
            raise ConfigError(f"--jobs {args.jobs}: give 1 or more cells at a time")
        if not args.report_only:
            threads = args.num_threads
            saved = os.environ.get("DISC_MAX_CONCURRENT")
            if args.jobs > 1:
                os.environ["DISC_MAX_CONCURRENT"] = str(args.jobs)  # the workers' queue reads it
                threads = threads or max(1, (os.cpu_count() or 2) // args.jobs)
            try:
                counts = run_plan(plan, root, log=_log, corpus=args.corpus, num_threads=threads,
                                  executor="ray" if on_ray else "local", ray_address=args.ray_address,
                                  progress=args.progress)
            finally:  # this plan's width, not the calling process's from now on
                if saved is None:
                    os.environ.pop("DISC_MAX_CONCURRENT", None)
                else:
                    os.environ["DISC_MAX_CONCURRENT"] = saved
            print(f"ran {counts['ran']} cells, reused {counts['reused']}, copied {counts['copied']}"
                  + (f"; skipped (see above): {', '.join(counts['skipped'])}" if counts["skipped"] else "")
                  + (f"; failed: {', '.join(counts['failed'])}" if counts.get("failed") else ""))
        if args.no_report:
            return 0
        report = Path(args.report) if args.report else root / "REPRODUCTION.md"
        figures = Path(args.figures) if args.figures else root / "figures"
        base = ["python", "-m", "disc_core", "reproduce", "--profile", args.profile, "--root", str(root)]
        if args.model:
            base += ["--model", args.model]
        if args.only:
            base += ["--only", *args.only]
        if args.checkpoints:
            base += ["--checkpoints", *args.checkpoints]
        tail = ["--report", str(report), "--figures", str(figures)]
        commands = ["export DISC_DATA_DIR=../shared/data   # the real datasets (see its MANIFEST.md)",
                    "# run (or resume) every cell, then write this report:",
                    shlex.join(base + tail),
                    "# rewrite the report from the finished runs only:",
                    shlex.join(base + ["--report-only"] + tail)]
        write_report(plan, root, report, figures, commands=commands)
        print(f"report: {report}  figures: {figures}")
        return 0

    return run


@command("pretrain", "MLM-pre-train a small BERT with checkpoints (or take given ones) and fine-tune each "
                     "checkpoint on a task: metric against pre-training steps (the paper's Figure 3)")
def _pretrain(p: argparse.ArgumentParser):
    p.add_argument("--out", required=True, help="folder: checkpoints in OUT/pretrain-steps/checkpoints/step_N, "
                                                "fine-tuning runs in OUT/pretrain-steps/runs/step_N/...")
    p.add_argument("--corpus", help="text file, one sentence per line (default: GLUE training sentences "
                                    "under DISC_DATA_DIR; else synthetic wordfreq sentences)")
    p.add_argument("--checkpoints", nargs="+", metavar="ID_OR_PATH",
                   help="fine-tune these instead of pre-training (hub ids such as "
                        "google/multiberts-seed_0-step_20k or folders; REF=STEP gives the step)")
    p.add_argument("--steps", type=int, default=2000, help="MLM optimiser steps (default 2000)")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--intermediate", type=int, default=512)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--max-sentences", type=int, help="a seeded sample of the corpus")
    p.add_argument("--fractions", type=float, nargs="+", default=[0, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0],
                   help="checkpoint at these fractions of --steps (0 = the initialisation)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--finetune", metavar="DATASET", help="fine-tune every checkpoint on this dataset "
                                                         "(e.g. splice, splice-synthetic)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--ft-steps", type=int, default=150, help="fine-tuning steps per checkpoint")
    p.add_argument("--ft-lr", type=float, default=5e-4, help="fine-tuning learning rate")
    p.add_argument("--num-threads", type=int)

    def run(args) -> int:
        from ..study.pretrain import PretrainConfig, pretrain_mlm
        from ..study.report import pretrain_steps_figure, study_tables
        from ..study.reproduce import Plan, Task, run_plan

        out = Path(args.out)
        cfg = PretrainConfig(hidden_size=args.hidden, num_hidden_layers=args.layers, num_attention_heads=args.heads,
                             intermediate_size=args.intermediate, max_length=args.max_length,
                             batch_size=args.batch_size, learning_rate=args.lr, max_steps=args.steps,
                             checkpoint_fractions=tuple(args.fractions), seed=args.seed,
                             max_sentences=args.max_sentences, num_threads=args.num_threads)
        if not args.finetune:
            if args.checkpoints:
                print("--checkpoints without --finetune: nothing to do", file=sys.stderr)
                return 1
            ckpts = pretrain_mlm(cfg, out / "pretrain-steps" / "checkpoints", corpus=args.corpus, log=_log)
            print_table([{"step": c["step"], "mlm_loss": c["mlm_loss"], "path": c["path"]} for c in ckpts])
            return 0
        over = {"max_steps": args.ft_steps, "eval_steps": max(1, args.ft_steps // 4), "learning_rate": args.ft_lr,
                "num_threads": args.num_threads}
        task = Task("pretrain-steps", args.finetune, ("pretrained",), tuple(args.seeds),
                    {k: v for k, v in over.items() if v is not None}, "pretrain command",
                    pretrain=None if args.checkpoints else cfg, checkpoints=tuple(args.checkpoints or ()))
        run_plan(Plan("pretrain", "all-MiniLM-L6-v2", [task]), out, log=_log, corpus=args.corpus)
        t = study_tables(out).get("pretrain-steps")
        if t is None:
            print("no finished fine-tuning run", file=sys.stderr)
            return 1
        s = t["summary"]
        print_table([{"step": int(r["step"]), "metric": r["metric"], "mean": f"{r['mean']:.4f}",
                      "std": f"{r['std']:.4f}", "n": r["n"]} for _, r in s.iterrows()])
        fig = pretrain_steps_figure(s[s["dataset"] == args.finetune], out / f"pretrain_steps_{args.finetune}.png",
                                    f"{args.finetune}: fine-tuned after N pre-training steps")
        print(f"figure: {fig}")
        return 0

    return run
