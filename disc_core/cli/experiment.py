"""CLI commands ``run`` (one experiment) and ``compare`` (variants x seeds, table beside the paper's).

Every :class:`~disc_core.engine.config.RunConfig` field is a flag (``--learning-rate``, ``--max-steps`` ...);
``--config FILE`` (JSON or YAML) gives defaults that flags override. Each run's full config is saved
in its folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from pathlib import Path

from .data import require_dataset
from .base import add_executor_flags, command, executor_from_args, tell_store
from ..engine.config import REPORT_TO, RunConfig, parse_seeds
from ..fileio import atomic_write_text
from ..runs.store import runs_root

__all__ = ["add_config_flags", "config_from_args", "describe_result", "check_output_path"]

_SKIP = {"dataset", "variant", "seed", "tags", "group"}


def _flag_type(tp):
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    base = args[0] if args else tp
    return base


def check_output_path(path, what: str = "--out"):
    """A file path the command can write, else a clear error (engine.experiment.check_output_path)."""
    from ..engine.experiment import check_output_path as check

    return check(path, what)


def add_config_flags(p: argparse.ArgumentParser) -> None:
    """One ``--kebab-case`` flag per RunConfig field (default None = keep the config's value)."""
    p.add_argument("--config", help="JSON or YAML file of RunConfig fields (flags override it)")
    hints = typing.get_type_hints(RunConfig)
    for f in dataclasses.fields(RunConfig):
        if f.name in _SKIP:
            continue
        tp = _flag_type(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        if f.name == "report_to":
            p.add_argument(flag, dest=f.name, nargs="+", default=None, metavar="TRACKER",
                           help=f"also log the loss, validation metrics and config to: {', '.join(REPORT_TO)} "
                                "(logs inside the run folder; optional packages)")
        elif tp is bool:
            p.add_argument(flag, dest=f.name, default=None, action=argparse.BooleanOptionalAction,
                           help=f"(default {f.default})")
        else:
            p.add_argument(flag, dest=f.name, type=tp, default=None, help=f"(default {f.default})")


def config_from_args(args, **fixed) -> RunConfig:
    hints = dataclasses.fields(RunConfig)
    overrides = {f.name: getattr(args, f.name) for f in hints if f.name not in _SKIP and getattr(args, f.name, None) is not None}
    overrides.update({k: v for k, v in fixed.items() if v is not None})
    if getattr(args, "config", None):
        return RunConfig.from_file(args.config, **overrides)
    return RunConfig(**overrides)


def describe_result(res: dict, cfg: RunConfig) -> list[str]:
    """What one run's test score rests on, in a few lines: where training stopped and which step's weights
    were scored, how many examples (pieces) the score counts, the majority-class level, a flag when the model
    predicts one class, and how many sequences ``--max-length`` cut. Results of older runs show what they hold."""
    test = res.get("test") or {}
    pieces = f" ({test['n_groups']} pieces, voting over segments)" if test.get("n_groups") else ""
    n = res.get("n_test_scored", test.get("n", "?"))
    lines = [f"{res['label']} seed {res['seed']}: test {res['metric']} {res['score']:.4f} on {n} test examples{pieces}"]
    steps, total = res.get("steps"), res.get("total_steps")
    if steps is not None:
        ran = (f"stopped early at step {steps} of {total} (no better validation score)" if res.get("stopped_early")
               else f"ran {steps} of {total} steps")
        at = res.get("weights_step")
        if at is None:
            weights = ""
        elif at == steps:
            weights = "; the scored weights are the last step's"
        else:
            best = res.get("best_validation")
            weights = f"; the scored weights are from step {at}" + (
                f" (best validation {res['metric']} {best:.4f})" if isinstance(best, (int, float)) else "")
        lines.append(f"  training: {ran}{weights}")
    base = res.get("baseline") or {}
    if base.get("chosen"):  # kmer-lr: no steps; what validation chose instead
        chosen = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in base["chosen"].items()
                           if k != "fit_s")
        lines.append(f"  training: {res.get('no_steps', 'no optimiser steps')}; chosen on validation: {chosen}")
    if res.get("train_time_s") is not None:
        lines.append(f"  training time {res['train_time_s']:.1f} s" + (
            f" ({base['parameters']:,} weights)" if base.get("parameters") else ""))
    if "majority_accuracy" in res:
        lines.append(f"  majority class {res.get('majority_label', res['majority_class'])!r} alone: accuracy "
                     f"{res['majority_accuracy']:.4f} on the same test {'pieces' if pieces else 'examples'}")
    if res.get("predicts_one_class"):
        lines.append("  WARNING: the model predicts one class for every test "
                     f"{'piece' if pieces else 'example'}: it has learned nothing beyond a constant guess")
    cut = res.get("n_truncated")
    if cut is not None:
        total_cut = sum(cut.values())
        lines.append(f"  --max-length {cfg.max_length}: " + (
            f"{total_cut} sequences were cut (" + ", ".join(f"{k} {v}" for k, v in cut.items()) + ")"
            if total_cut else "no sequence was cut"))
    return lines


@command("run", "fine-tune one model variant on one dataset and write a run folder")
def _run(p):
    p.add_argument("dataset")
    p.add_argument("--variant", default=None, help="pretrained, rand, re-emb, unused (text: +shift / +random-shift); "
                   "baselines without BERT: kmer-lr, cnn")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--out", help="run folder (default: <runs root>/<dataset>/<variant>/seed<N>)")
    p.add_argument("--resume", action="store_true", help="continue from the folder's last checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_flags(p)

    def run(args) -> int:
        from ..study.compare import cell_dir
        from ..engine.events import TqdmListener
        from ..engine.experiment import run_experiment

        # the name is checked before any folder is made (a file given as the dataset writes nothing)
        cfg = config_from_args(args, dataset=require_dataset(args.dataset), variant=args.variant, seed=args.seed)
        out = Path(args.out) if args.out else cell_dir(runs_root(), cfg)
        listeners = [] if args.quiet else [TqdmListener(desc=f"{cfg.dataset}/{cfg.label}/seed{cfg.seed}")]
        res = run_experiment(cfg, out, listeners=listeners, resume=args.resume)
        if res.get("resumed"):
            print(res["resumed"]["message"])
        print("\n".join(describe_result(res, cfg)))
        print(json.dumps({"run_dir": str(out), "metric": res["metric"], "score": res["score"],
                          "test": res["test"], "steps": res["steps"]}, indent=2))
        return 0

    return run


@command("compare", "run variants x seeds on one dataset and print the table beside the paper's")
def _compare(p):
    p.add_argument("dataset")
    p.add_argument("--variants", nargs="+", default=["pretrained", "rand", "re-emb"],
                   help="cells to run (text datasets may add +shift / +random-shift); kmer-lr and cnn are "
                        "discipline-specific baselines without BERT, on the same split")
    p.add_argument("--seeds", nargs="+", default=["1"],
                   help="the seeds to run: values and ranges, e.g. --seeds 1 2 3, --seeds 1-3 (3 alone is seed 3)")
    p.add_argument("--out", help="comparison root (default: the runs root; background runs always live in "
                                 "the run store's root, $DISC_RUNS_DIR)")
    p.add_argument("--no-reuse", action="store_true", help="rerun cells that already have results")
    p.add_argument("--csv", help="also write the table as CSV here")
    p.add_argument("--markdown", help="also write the table as Markdown here")
    p.add_argument("--background", action="store_true",
                   help="queue the cells as background runs (see `runs list`) instead of running here")
    p.add_argument("--race", action="store_true",
                   help="with --background: the cells train at the same time, sharing the cores (one thread each on "
                        "a 2-core CPU), so their curves grow side by side; the group takes the machine's slots")
    add_executor_flags(p)
    add_config_flags(p)

    def run(args) -> int:
        from ..study.compare import comparison_configs, run_comparison, summarize, to_markdown
        from ..engine.events import TqdmListener

        seeds = parse_seeds(args.seeds, what="--seeds")
        base = config_from_args(args, dataset=require_dataset(args.dataset))  # before anything is written
        for flag, path in (("--csv", args.csv), ("--markdown", args.markdown)):
            if path:
                check_output_path(path, flag)
        from ..runs.store import new_group_name

        group = new_group_name(base.dataset)
        configs = comparison_configs(base, args.variants, seeds, group=group)
        root = Path(args.out) if args.out else runs_root()
        if not args.background and args.executor == "ray":
            from ..errors import ConfigError

            raise ConfigError("--executor ray needs --background (runs in this process have no executor)")
        if args.race and not args.background:
            from ..errors import ConfigError

            raise ConfigError("--race needs --background (runs in this process go one after another)")
        if args.background:
            from ..errors import ConfigError
            from ..runs.runner import launch_group, set_executor

            if args.out:
                raise ConfigError("--out cannot be used with --background: background runs live in the run "
                                  "store's root; set DISC_RUNS_DIR to move it")
            executor = executor_from_args(args)
            if getattr(executor, "name", "local") != "ray":  # the runs train on this machine: its devices count
                from ..engine.training import pick_device

                pick_device(base.device)
            from ..runs.store import RunStore

            store = RunStore()
            if executor is not None:
                if hasattr(executor, "service"):  # reach the cluster before any run is queued
                    executor.service(store)
                set_executor(executor)
            ids = launch_group(configs, store=store, race=args.race)
            tell_store(store)  # a store set aside and rebuilt, or read-only, is said (on stderr)
            where = " on the Ray cluster" if getattr(executor, "name", "local") == "ray" else ""
            racing = ", racing (all at once)" if args.race and len(ids) > 1 else ""
            print(f"queued {len(ids)} runs{where}{racing} in group {group}: {', '.join(ids)}")
            print("watch them with `python -m disc_core runs list` or on the dashboard's Runs page")
            return 0
        results = run_comparison(configs, root, reuse=not args.no_reuse, log=print,
                                 listeners_for=lambda c: [TqdmListener(desc=f"{c.label}/seed{c.seed}")])
        # results.json has no data fraction or model: give summarize the configs' so that the paper's column is
        # the matching setting (train_fraction 0.01 -> "shift 1000 1% data") and model rows (BERT / ALBERT)
        table = summarize([{**r, "train_fraction": c.train_fraction, "model": c.model_name_or_path}
                           for r, c in zip(results, configs)])
        print()
        print(to_markdown(table))
        print()
        print(table.to_csv(index=False).strip())
        if args.csv:
            atomic_write_text(args.csv, table.to_csv(index=False))
        if args.markdown:
            atomic_write_text(args.markdown, to_markdown(table) + "\n")
        print("\nwhat each score rests on:")
        for r, c in zip(results, configs):
            print("\n".join(describe_result(r, c)))
        return 0

    return run
