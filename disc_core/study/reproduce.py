"""Reproduce Kao & Lee (2021) with this tool's own commands: run a plan's cells, reusing what is done.

The plans are data (:mod:`disc_core.study.plans`: ``quick``, ``laptop``, ``gpu``); their cost before they run is
:mod:`disc_core.study.plan_cost`. :func:`run_plan` runs the tasks in order into
``root/<study>/<dataset>/<label>/seed<N>`` through :func:`disc_core.study.compare.run_comparison`, which
reuses every finished cell: a plan runs in pieces, and stopping it loses at most the cell in progress (a cell
with ``checkpoint_steps`` goes on from its last checkpoint). A cell another study already ran with the same
config is copied (:class:`_Twins`). :mod:`disc_core.study.report` writes the report.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from ..engine.config import RunConfig, parse_variant
from ..errors import DiscError
from ..fileio import atomic_write_json
from .compare import cell_dir, cell_state, set_aside
from .plan_cost import estimate_seconds, gpu_cell_seconds, hours_on_gpus, n_cells
from .plans import (NON_TEXT_VARIANTS, PROFILES, STUDIES, TEXT_VARIANTS, Plan, Task, build_plan, lr_sub,
                    task_configs, task_root)
from .pretrain import checkpoints_from_refs, pretrain_mlm, read_checkpoints, resolve_checkpoint, write_checkpoint_index

__all__ = ["Task", "Plan", "PROFILES", "STUDIES", "build_plan", "task_configs", "estimate_seconds",
           "gpu_cell_seconds", "hours_on_gpus", "n_cells", "run_plan", "task_root", "pretrain_checkpoints",
           "best_lr_choice", "lr_sub", "NON_TEXT_VARIANTS", "TEXT_VARIANTS", "PAPER_LR_RANGE"]

#: The top of the learning rates the paper searched (its appendix A: 1e-4 .. 1e-7).
PAPER_LR_RANGE = (1e-7, 1e-4)


def _dataset_available(name: str) -> tuple[bool, str]:
    from ..data import get_info

    try:
        return get_info(name).available()
    except Exception as err:
        return False, str(err)


def _set_aside(study: Path, what: list[Path], why: str, log) -> None:
    """Move run folders that no longer match the plan to ``study/superseded-<time>/`` (kept, never reused)."""
    moved = [set_aside(study, p) for p in what if p.exists()]
    if moved:
        log(f"  {why}: moved to {', '.join(str(m.relative_to(study)) for m in moved)}")


def pretrain_checkpoints(task: Task, root: str | Path, corpus: str | None = None, log=print) -> list[dict]:
    """The (step, path) checkpoints of a ``pretrain-steps`` task: pre-trained now (reused when done) or given.

    Fine-tuning cells live in ``runs/step_<N>``; when the checkpoints behind them change (another
    pre-training config, another checkpoint at the same step) the old checkpoints and cells are set aside
    under ``superseded-<time>/`` so that no cell of an old checkpoint is reused for a new one.
    """
    study = task_root(root, task)
    out = study / "checkpoints"
    if task.checkpoints:
        refs = checkpoints_from_refs(list(task.checkpoints))
        prev = {c["step"]: c for c in read_checkpoints(out)}
        stale = [c["step"] for c in refs if c["step"] in prev and prev[c["step"]].get("ref") != c["path"]]
        _set_aside(study, [study / "runs" / f"step_{s}" for s in stale],
                   f"checkpoints at steps {stale} changed", log)
        ckpts = []
        for c in refs:
            if c["step"] in prev and prev[c["step"]]["ref"] == c["path"]:
                ckpts.append(prev[c["step"]])  # resolved before: no hub call
                continue
            log(f"  resolving checkpoint {c['path']} (step {c['step']})")
            ckpts.append({"step": c["step"], "ref": c["path"], "path": resolve_checkpoint(c["path"]),
                          "mlm_loss": None})
        write_checkpoint_index(out, ckpts, given=True, corpus="given checkpoints: " + ", ".join(task.checkpoints))
        return ckpts
    idx = out / "checkpoints.json"
    if idx.exists():
        prev = json.loads(idx.read_text(encoding="utf-8")).get("config")
        if prev != task.pretrain.to_dict():
            _set_aside(study, [out, study / "runs"], "the pre-training config changed", log)
    return pretrain_mlm(task.pretrain, out, corpus=corpus, log=log)


def _ensure_model(plan: Plan, root: Path, log) -> str:
    if plan.model != "tiny":
        return plan.model
    from ..engine.models import create_tiny_bert

    folder = root / "tiny-bert"
    if not (folder / "config.json").exists():
        log(f"creating a tiny random BERT in {folder}")
        create_tiny_bert(folder)
    return str(folder)


def _mark_where(d: Path, where: dict) -> None:
    """Record in a cell's ``results.json`` where it ran (the report's 'Where the cells ran')."""
    p = d / "results.json"
    try:
        res = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    res["ran_on"] = where
    atomic_write_json(p, res, default=str)


def best_lr_choice(task: Task, root: str | Path) -> dict[str, dict]:
    """``{variant: {"learning_rate", "validation", "grid": {rate: validation}}}`` of a ``best-lr`` task: the rate
    :func:`~disc_core.study.best_lr.choose_rate` picks from the first-seed cells (the report shows the same
    choice). A variant with a grid cell not finished yet is left out."""
    from .best_lr import _read, choose_rate

    out = {}
    study, seed = task_root(root, task), task.seeds[0]
    for v in task.variants:
        base, shift = parse_variant(v)
        label = RunConfig(variant=base, text_shift=shift or "none", dataset=task.dataset).label
        grid = {}
        for lr in task.lr_grid:
            r = _read(study / lr_sub(lr) / task.dataset / label / f"seed{seed}")
            grid[lr] = (r or {}).get("best_validation")
        best = choose_rate(grid, tuple(task.lr_grid))
        if best is not None:
            out[v] = {"learning_rate": best, "validation": float(grid[best]), "grid": grid}
    return out


class _Twins:
    """Finished cells anywhere under the plan's root, by their result-relevant config: a cell that another study
    already ran with the same config on the same data is copied, not run again (``copied_from`` in its results)."""

    def __init__(self, root: Path):
        self.root, self._index = root, None

    @staticmethod
    def key(cfg: RunConfig) -> str:
        from .compare import NOT_RESULT_FIELDS

        return json.dumps({k: v for k, v in cfg.to_dict().items() if k not in NOT_RESULT_FIELDS}, sort_keys=True,
                          default=str)

    def find(self, cfg: RunConfig) -> Path | None:
        if self._index is None:
            self._index = {}
            for res in sorted(self.root.glob("**/seed*/results.json")):
                d = res.parent
                if any(part.startswith("superseded-") for part in d.relative_to(self.root).parts):
                    continue
                try:
                    old = RunConfig.from_dict(json.loads((d / "config.json").read_text(encoding="utf-8"))["config"])
                except Exception:
                    continue
                self._index.setdefault(self.key(old), d)
        return self._index.get(self.key(cfg))

    def add(self, cfg: RunConfig, d: Path) -> None:
        if self._index is not None:
            self._index.setdefault(self.key(cfg), d)


def _copy_twin(src: Path, d: Path, root: Path) -> None:
    import shutil

    if d.exists():
        shutil.rmtree(d)
    d.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, d, ignore=shutil.ignore_patterns("checkpoint", "checkpoint.old", "model", "*.tmp"))
    res = json.loads((d / "results.json").read_text(encoding="utf-8"))
    res["copied_from"] = str(src.relative_to(root))
    atomic_write_json(d / "results.json", res, default=str)


def _launch_cells(cells: list[tuple[RunConfig, Path]], executor, log,
                  progress: bool = False) -> list[tuple[RunConfig, Path, object]]:
    """Queue ``cells`` (config, folder) as one group of the run store and wait for them: each is a background
    run like any other launch (the queue, ``runs list``, the dashboard's Runs page see it), its worker started
    by ``executor``, its folder the cell's own. A cell stopped part-way with a checkpoint resumes from it.
    Returns (config, folder, the run's last state) per cell; ``progress``: a tqdm bar of cells and steps."""
    from ..runs.runner import wait
    from ..runs.store import RunStore

    if not cells:
        return []
    store = RunStore()
    launched = store.create_group([c for c, _ in cells], cells[0][0].group or "reproduce",
                                  run_dirs=[d for _, d in cells])
    for rid, (cfg, d) in zip(launched.ids, cells):
        resume = (d / "checkpoint" / "trainer_state.pt").exists()
        if resume:
            log(f"  {cfg.dataset} {cfg.label} seed {cfg.seed}: goes on from its checkpoint")
        try:
            executor.submit(store, rid, resume=resume)
        except Exception as err:  # the run is marked failed by the store; the other cells still go
            store.finish(rid, "failed", error=f"could not start the worker: {type(err).__name__}: {err}")
    log(f"  queued {len(cells)} cell(s) as group {launched.group} (python -m disc_core runs queue)")
    if not progress:
        infos = wait(launched.ids, store=store)
        return [(cfg, d, info) for (cfg, d), info in zip(cells, infos)]
    from tqdm import tqdm

    bar = tqdm(total=len(cells), unit="cell", desc=launched.group, leave=False)
    while True:
        infos = [store.get(i) for i in launched.ids]
        bar.n = sum(not i.active for i in infos)
        now = [i for i in infos if i.status == "running"]
        bar.set_postfix_str(", ".join(f"{i.label} s{i.config.get('seed')} step {i.step or 0}/{i.total_steps or '?'}"
                                      for i in now), refresh=True)
        if not any(i.active for i in infos):
            bar.close()
            return [(cfg, d, info) for (cfg, d), info in zip(cells, infos)]
        time.sleep(1.0)


def run_plan(plan: Plan, root: str | Path, log=print, corpus: str | None = None, num_threads: int | None = None,
             executor: str = "local", ray_address: str | None = None, progress: bool = False) -> dict:
    """Run every task of ``plan`` into ``root``, reusing finished cells. Returns counts and skipped tasks.

    A task whose dataset is not available (no ``DISC_DATA_DIR``, no download) is skipped and
    reported, not fatal: the quick profile runs anywhere. A cell that another task under ``root`` already ran
    with the same config on the same data is copied from there (its ``results.json`` says ``copied_from``).

    The cells still to run go through the run store like every other launch (:func:`_launch_cells`): a task's
    cells are queued as one group and run by the ``executor`` (``local``: worker processes on this machine, as
    many at a time as ``DISC_MAX_CONCURRENT`` allows, which ``reproduce --jobs N`` sets; ``ray``: tasks on the
    cluster at ``ray_address``), into the cell folders under ``root``. This process only plans, pre-trains
    (``pretrain-steps``) and waits. ``num_threads`` overrides the cells' torch threads (not a result field:
    finished cells are still reused). Each cell's ``results.json`` says where it ran.
    """
    from ..runs.runner import make_executor
    from ..runs.store import HOST

    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    model = _ensure_model(plan, root, log)
    counts = {"ran": 0, "reused": 0, "copied": 0, "skipped": [], "failed": []}
    group = f"reproduce-{plan.profile}"
    twins = _Twins(root)
    ex = make_executor(executor, address=ray_address)
    total_est = sum(estimate_seconds(t, model) for t in plan.tasks)
    log(f"plan {plan.profile}: {len(plan.tasks)} tasks, model {plan.model}; estimated "
        f"{total_est / 3600:.1f} h of an idle 2-core CPU for all of it (finished cells are reused)")
    for t in plan.tasks:
        ok, where = _dataset_available(t.dataset)
        if not ok:
            log(f"[{t.key}] skipped: dataset not available ({where})")
            counts["skipped"].append(t.key)
            continue
        log(f"[{t.key}] {len(t.variants)} variants x {len(t.seeds)} seeds, ~{estimate_seconds(t, model) / 60:.0f} "
            f"min estimated; {t.why}")
        dataset = None

        def run_cells(cells):
            nonlocal dataset
            todo = []
            for cfg, sub in cells:
                if num_threads:
                    cfg = cfg.replace(num_threads=num_threads)
                d = cell_dir(sub, cfg)
                state = cell_state(d, cfg)
                if state == "done":
                    counts["reused"] += 1
                    continue
                if dataset is None:
                    from ..data import load_dataset

                    dataset = load_dataset(t.dataset)
                if cell_state(d, cfg, dataset.fingerprint()) == "done":
                    counts["reused"] += 1
                    continue
                twin = twins.find(cfg) if state == "missing" else None
                if twin is not None and twin != d and cell_state(twin, cfg, dataset.fingerprint()) == "done":
                    _copy_twin(twin, d, root)
                    counts["copied"] += 1
                    log(f"  {t.dataset} {cfg.label} seed {cfg.seed}: the same cell as {twin.relative_to(root)}: copied")
                    continue
                if state == "stale" or (d / "results.json").exists():
                    _set_aside(sub, [d], f"{cfg.dataset} {cfg.label} seed {cfg.seed}: its config or data changed",
                               log)
                todo.append((cfg, d))
            for cfg, d, info in _launch_cells(todo, ex, log, progress):
                if getattr(info, "status", None) != "finished" or not (d / "results.json").exists():
                    why = getattr(info, "error", None) or getattr(info, "status", "?")
                    log(f"  {t.dataset} {cfg.label} seed {cfg.seed}: {why}")
                    counts["failed"].append(f"{cfg.dataset}/{cfg.label}/seed{cfg.seed}")
                    continue
                _mark_where(d, {"executor": executor, "host": getattr(info, "host", None) or HOST,
                                **({"node": info.node} if getattr(info, "node", None) else {})})
                twins.add(cfg, d)
                counts["ran"] += 1
                r = json.loads((d / "results.json").read_text(encoding="utf-8"))
                steps = f"{r['steps']} steps" if r.get("steps") is not None else "no steps"
                log(f"  {t.dataset} {cfg.label} seed {cfg.seed}: {r.get('metric')} {r.get('score', float('nan')):.4f} "
                    f"({steps}, {r.get('wall_time_s') or 0:.0f} s)")

        if t.study == "pretrain-steps":
            try:
                ckpts = pretrain_checkpoints(t, root, corpus=corpus, log=log)
            except DiscError as err:  # e.g. hub checkpoints offline: the other tasks still run
                log(f"[{t.key}] skipped: {err}")
                counts["skipped"].append(t.key)
                continue
            cells = [(cfg, task_root(root, t) / "runs" / f"step_{c['step']}")
                     for c in ckpts for cfg in task_configs(t, model, c, group)]
            if t.google:
                cells += [(cfg, task_root(root, t) / "runs" / "google") for cfg in task_configs(t, model, group=group)]
            run_cells(cells)
        elif t.lr_grid:
            first, rest = t.seeds[:1], t.seeds[1:]
            run_cells([(cfg, task_root(root, t) / lr_sub(lr))
                       for lr in t.lr_grid for cfg in task_configs(replace(t, seeds=first), model, group=group,
                                                                  learning_rate=lr)])
            chosen = best_lr_choice(t, root)
            finals = []
            for v in t.variants:
                if v not in chosen:
                    log(f"  [{t.key}] {v}: its grid is not complete; its other seeds wait for it")
                    continue
                lr = chosen[v]["learning_rate"]
                log(f"  [{t.key}] {v}: learning rate {lr:g} (validation {chosen[v]['validation']:.4f})")
                finals += [(cfg, task_root(root, t) / lr_sub(lr))
                           for cfg in task_configs(replace(t, seeds=rest, variants=(v,)), model, group=group,
                                                   learning_rate=lr)]
            run_cells(finals)
        else:
            run_cells([(cfg, task_root(root, t)) for cfg in task_configs(t, model, group=group)])
    return counts
