"""Plans of the reproduction, as data: ``quick.yaml``, ``laptop.yaml``, ``gpu.yaml`` beside this file.

A *plan* is an ordered list of :class:`Task` s, each one dataset of one *study* (:data:`STUDIES`). A plan file
holds ``model``, ``about`` (one line for the report), ``config`` (the RunConfig fields every task starts from),
``seeds`` (the default), ``budget`` and ``tasks``; a task entry holds:

``study``, ``dataset``        a dataset name, or a list of them (one task each, in order)
``variants``, ``seeds``       variant labels (``rand+shift``); seeds default to the plan's
``config``                    RunConfig fields of this task, over the plan's ``config``
``epochs`` / ``max_steps``    with ``budget: true``: ``max_steps`` from whole epochs of the training set (or
                              given), validation every eighth of it; ``fraction`` trains on part of the set;
                              ``checkpoints_per_run: N`` writes a resumable checkpoint every N-th of the run
``each``                      ``{field: [values]}``: one task per value, in a sub-folder (``lr1e-04``)
``lr_grid``                   the ``best-lr`` study's grid (each variant's rate chosen by validation)
``pretrain`` / ``google``     ``pretrain-steps``: a named pre-training of the file's ``pretrain`` section, and
                              whether the plan's own model is fine-tuned too (the paper's "google" point)
``checkpoints``               ``pretrain-steps``: given checkpoints (hub ids or folders) instead
``why``                       what the report prints; ``{ep}`` is "3 epochs (270 steps of batch 32)", ``{grid}``
                              the grid, ``{learning_rate}`` an ``each`` value, ``{layers}``/``{hidden}``/
                              ``{pt_steps}``/``{pt_batch}`` the pre-training's size

Why each budget is what it is, and what earlier budgets showed, is in ``docs/plan-notes.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ...engine.config import RunConfig, parse_variant
from ...errors import ConfigError
from ..pretrain import PretrainConfig

__all__ = ["Task", "Plan", "PROFILES", "STUDIES", "build_plan", "task_configs", "task_root", "lr_sub",
           "dataset_facts", "NON_TEXT_VARIANTS", "TEXT_VARIANTS", "TEXT_1PCT_VARIANTS"]

HERE = Path(__file__).resolve().parent

#: study name -> (title, the paper's table or figure)
STUDIES = {
    "non-text": ("Non-text transfer", "Table 2"),
    "text": ("Token shifting on text", "Table 1 and appendix"),
    "text-1pct": ("Token shifting on text, 1% of the training data", "appendix"),
    "pretrain-steps": ("Pre-training steps", "Figure 3"),
    "lr-grid": ("Choosing the learning rate", "appendix A"),
    "lr-look": ("A learning-rate look before a claim is called failed", "appendix A's grid, per task"),
    "signal": ("Time to signal on the long-sequence tasks", "Figure 2's question, asked of the metric"),
    "best-lr": ("Each variant at its own best learning rate", "a fair-rate check of Tables 1-2"),
}
NON_TEXT_VARIANTS = ("pretrained", "rand", "re-emb", "unused")
TEXT_VARIANTS = ("pretrained", "rand", "re-emb", "pretrained+shift", "rand+shift",
                 "pretrained+random-shift", "rand+random-shift")
TEXT_1PCT_VARIANTS = ("pretrained", "rand", "pretrained+shift", "rand+shift")
#: the plan files, in the order the CLI and the page offer them
PROFILES = {name: HERE / f"{name}.yaml" for name in ("quick", "laptop", "gpu")}


@dataclass
class Task:
    """One dataset of one study: its variants, seeds and the RunConfig fields that differ from the recipe.

    ``why`` says why the budget differs from the paper's; the report prints it. For the ``pretrain-steps``
    study, ``pretrain`` is the MLM pre-training to run (or None when ``checkpoints`` lists existing
    checkpoints, e.g. MultiBERTs hub ids) and ``variants`` is one label: each checkpoint is fine-tuned as is.
    """

    study: str
    dataset: str
    variants: tuple[str, ...]
    seeds: tuple[int, ...]
    overrides: dict = field(default_factory=dict)
    why: str = ""
    pretrain: PretrainConfig | None = None
    checkpoints: tuple[str, ...] = ()
    #: a sub-folder of the study for tasks that share a dataset and labels but not a config (the lr grid)
    sub: str = ""
    #: ``best-lr``: each variant runs the first seed at every rate of this grid, keeps the rate with the best
    #: validation score (never test), and runs the other seeds at that rate
    lr_grid: tuple[float, ...] = ()
    #: ``pretrain-steps``: also fine-tune the plan's own model (the paper's "google" point)
    google: bool = False

    @property
    def key(self) -> str:
        return f"{self.study}/{self.dataset}" + (f"/{self.sub}" if self.sub else "")


@dataclass
class Plan:
    profile: str
    model: str
    tasks: list[Task]
    about: str = ""
    corpus: str | None = None


@lru_cache(maxsize=None)
def dataset_facts() -> dict:
    """Per dataset: typical tokens an example, training and evaluation sizes (``costs.yaml``): for the
    estimate and for epoch budgets of datasets that are not loaded to plan."""
    import yaml

    return yaml.safe_load((HERE / "costs.yaml").read_text(encoding="utf-8"))["datasets"]


def epoch_steps(dataset: str, epochs: float, batch: int = 32, fraction: float = 1.0) -> int:
    """Optimiser steps of ``epochs`` whole epochs of ``dataset``'s training set (at least one)."""
    return max(1, math.ceil(dataset_facts()[dataset]["train"] * fraction / batch) * epochs)


def lr_sub(lr: float) -> str:
    """The folder of one learning rate of a grid: ``lr3e-05``."""
    return f"lr{lr:.0e}"


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _tasks_of(entry: dict, plan: dict, pretrains: dict) -> list[Task]:
    known = {"study", "dataset", "variants", "seeds", "config", "epochs", "max_steps", "fraction", "each",
             "lr_grid", "pretrain", "google", "checkpoints", "why", "checkpoints_per_run"}
    if set(entry) - known:
        raise ConfigError(f"plan task {entry.get('study')}/{entry.get('dataset')}: unknown keys "
                          f"{sorted(set(entry) - known)} -> use {', '.join(sorted(known))}")
    out = []
    each_field, each_values = next(iter((entry.get("each") or {None: [None]}).items()))
    for ds in _as_list(entry["dataset"]):
        for value in each_values:
            own = {**(entry.get("config") or {}), **({each_field: value} if each_field else {})}
            cfg = {**(plan.get("config") or {}), **own}
            epochs = entry.get("epochs", 1)
            fraction = entry.get("fraction", 1.0)
            words = {"grid": ", ".join(f"{r:g}" for r in entry.get("lr_grid") or ()), each_field or "_": value}
            if plan.get("budget"):
                n = entry.get("max_steps") or epoch_steps(ds, epochs, fraction=fraction)
                cfg = {**plan["config"], "max_steps": n, "eval_steps": max(1, n // 8),
                       **({"train_fraction": fraction} if fraction < 1 else {}), **own}
                if entry.get("checkpoints_per_run"):
                    cfg["checkpoint_steps"] = epoch_steps(ds, epochs, fraction=fraction) // entry["checkpoints_per_run"]
                words["ep"] = (f"{epochs:g} epoch{'s' if epochs != 1 else ''} "
                               f"({epoch_steps(ds, epochs)} steps of batch 32)")
            pt = pretrains.get(entry["pretrain"]) if entry.get("pretrain") else None
            if entry.get("pretrain") and pt is None:
                raise ConfigError(f"plan task {entry['study']}/{ds}: no pre-training named {entry['pretrain']!r}")
            if pt is not None:
                words.update(layers=pt.num_hidden_layers, hidden=pt.hidden_size, pt_steps=pt.max_steps,
                             pt_batch=pt.batch_size)
            out.append(Task(entry["study"], ds, tuple(entry["variants"]), tuple(entry.get("seeds", plan.get("seeds"))),
                            cfg, entry.get("why", "").format(**words), pretrain=pt,
                            checkpoints=tuple(entry.get("checkpoints") or ()),
                            sub=lr_sub(value) if each_field == "learning_rate" else (f"{each_field}{value}" if each_field
                                                                                     else ""),
                            lr_grid=tuple(entry.get("lr_grid") or ()), google=bool(entry.get("google"))))
    return out


def load_plan_file(path: str | Path) -> tuple[list[Task], str, str]:
    """(tasks, about, default model) of a plan file."""
    import yaml

    path = Path(path)
    try:
        plan = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read the plan ({err}) -> fix the YAML or use a profile: "
                          f"{', '.join(PROFILES)}") from None
    pretrains = {k: PretrainConfig.from_dict(v) for k, v in (plan.get("pretrain") or {}).items()}
    tasks = [t for entry in plan["tasks"] for t in _tasks_of(entry, plan, pretrains)]
    return tasks, plan.get("about", ""), plan.get("model", "")


def build_plan(profile: str, model: str | None = None, only: list[str] | None = None,
               checkpoints: list[str] | None = None) -> Plan:
    """The plan of ``profile`` (a name of :data:`PROFILES` or a plan file); ``only`` keeps tasks whose
    ``study/dataset`` (or study, or dataset) matches; ``checkpoints`` replaces the pre-training of the
    ``pretrain-steps`` study."""
    path = PROFILES.get(profile) or (Path(profile) if str(profile).endswith((".yaml", ".yml")) else None)
    if path is None:
        raise ConfigError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)} or give a plan file")
    tasks, about, default_model = load_plan_file(path)
    if checkpoints:
        for t in tasks:
            if t.study == "pretrain-steps":
                t.pretrain, t.checkpoints = None, tuple(checkpoints)
                t.why = f"{len(checkpoints)} given checkpoints"
    if only:
        keep = [t for t in tasks if any(o in (t.key, t.study, t.dataset, f"{t.study}/{t.dataset}") for o in only)]
        if not keep:
            raise ConfigError(f"--only {' '.join(only)} matches no task of profile {profile}; tasks: "
                              + ", ".join(t.key for t in tasks))
        tasks = keep
    return Plan(profile, model or default_model, tasks, about)


def task_root(root: str | Path, task: Task) -> Path:
    """Folder of ``task``'s study: cells go to ``task_root/<dataset>/<label>/seed<N>``."""
    return Path(root) / task.study / task.sub if task.sub else Path(root) / task.study


def task_configs(task: Task, model: str, checkpoint: dict | None = None, group: str | None = None,
                 **extra) -> list[RunConfig]:
    """The task's RunConfigs, seed-major (every variant of seed 0, then seed 1 ...): a plan stopped
    half-way still has complete seeds to pair. ``extra`` fields win over the task's (a grid's rate)."""
    tags = ["reproduce", f"study={task.study}"]
    if checkpoint is not None:
        model = checkpoint["path"]
        tags.append(f"pretrain_step={checkpoint['step']}")
    out = []
    for s in task.seeds:
        for v in task.variants:
            base, shift = parse_variant(v)
            out.append(RunConfig(dataset=task.dataset, model_name_or_path=model, variant=base,
                                 text_shift=shift or "none", seed=s, tags=list(tags),
                                 **{"save_model": False, "group": group or f"reproduce-{task.study}", **task.overrides,
                                    **extra}))
    return out
