"""A launch plan, as the Train page and the CLI make it: seeds, variants, a recipe, a custom mapping table,
the runs it queues and what they cost on this machine.

Seeds are read by the engine's one parser (:func:`disc_core.engine.config.parse_seeds`, re-exported here): on the
Train page ``"3"`` is seed 3 and ``"1, 2, 3"`` seeds 1, 2 and 3. :func:`suggested_recipe` is the plan the Train page starts from: the demo's learning rate (1e-4) and
the largest step budget of :data:`SUGGESTED_STEPS` that :func:`~disc_core.study.estimate.estimate_plan` does
not warn about on this machine (the paper's 3 epochs at 1e-5 cannot tell the variants apart on a laptop and
takes longer than a class can wait). :func:`custom_table` checks a pasted or uploaded ``symbol,token`` table
against the dataset's alphabet and the model's vocabulary and keeps it in the run store, where the workers
read it.

>>> plan = make_plan(RunConfig(dataset="splice-synthetic", max_steps=60), ["pretrained", "rand"], parse_seeds("1"))
>>> plan.estimate.describe(); launch_plan(plan, key="train/...")
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..engine.config import RunConfig, parse_seeds
from ..errors import ConfigError
from ..runs.store import GroupLaunch, RunStore

__all__ = ["parse_seeds", "default_variants", "suggested_recipe", "SUGGESTED_STEPS", "SUGGESTED_LR",
           "custom_table", "LaunchPlan", "make_plan", "launch_plan"]

#: The Train page's learning rate: the demo's and the laptop reproduction's (the paper's 1e-5 needs far more
#: steps than a laptop gives it).
SUGGESTED_LR = 1e-4
#: Step budgets the Train page tries, largest first; it starts from the first that raises no warning here.
SUGGESTED_STEPS = (200, 100, 60, 30)

def default_variants(is_text: bool) -> list[str]:
    """The comparison a launch starts from: the paper's headline for the discipline."""
    return ["pretrained+shift", "rand+shift"] if is_text else ["pretrained", "rand", "re-emb"]


def suggested_recipe(base: RunConfig, variants: Sequence[str], seeds: Sequence[int],
                     store: RunStore | None = None) -> RunConfig:
    """``base`` at :data:`SUGGESTED_LR` and the largest of :data:`SUGGESTED_STEPS` whose plan the estimate
    does not warn about on this machine (the smallest when every one warns)."""
    from .compare import comparison_configs
    from .estimate import estimate_plan

    store = store or RunStore()
    runs = store.list()
    cfg = base
    for steps in SUGGESTED_STEPS:
        cfg = base.replace(learning_rate=SUGGESTED_LR, max_steps=steps)
        if not estimate_plan(comparison_configs(cfg, list(variants), list(seeds)), runs=runs).warnings:
            break
    return cfg


def custom_table(text: str, alphabet: Sequence[str], tokenizer, store: RunStore | None = None) -> Path:
    """Check a ``symbol,token`` table (one pair a line; a ``symbol,token`` or ``symbol,token_id`` header is
    optional; CSV or TSV) against ``alphabet`` and ``tokenizer``, and keep it in the run store's ``tables/``
    folder under a name made of its content; returns that file, for ``RunConfig(mapping="custom",
    mapping_table=...)``. Raises the mapping's :class:`~disc_core.errors.DataError` (with the line) when a
    symbol is missing, a token is not in the vocabulary or two symbols share one."""
    from ..engine.mapping import build_symbol_mapping
    from ..fileio import atomic_write_text

    text = text.strip()
    if not text:
        raise ConfigError("the custom mapping needs a table -> one line per symbol: `symbol,token`")
    # the engine's one reader of tables (engine.mapping.parse_mapping_table, through the custom strategy):
    # a bad row is named by its line of "the mapping table"
    build_symbol_mapping(alphabet, tokenizer, "custom", table=text)
    root = (store or RunStore()).root / "tables"
    suffix = ".tsv" if "\t" in text.split("\n", 1)[0] else ".json" if text.startswith(("{", "[")) else ".csv"
    path = root / f"mapping-{hashlib.sha256(text.encode()).hexdigest()[:16]}{suffix}"
    if not path.is_file():
        atomic_write_text(path, text + "\n")
    return path


@dataclass
class LaunchPlan:
    """The runs a launch queues (one per variant and seed) and what they cost here."""

    configs: list[RunConfig]
    estimate: object = None  # a PlanEstimate
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        n_v = len({c.label for c in self.configs})
        n_s = len({c.seed for c in self.configs})
        return (f"**{len(self.configs)}** {'run' if len(self.configs) == 1 else 'runs'}: {n_v} "
                f"{'variant' if n_v == 1 else 'variants'} × {n_s} {'seed' if n_s == 1 else 'seeds'}")


def make_plan(base: RunConfig, variants: Sequence[str], seeds: Sequence[int], n_train: int | None = None,
              store: RunStore | None = None, dataset=None) -> LaunchPlan:
    """The configs of ``variants`` x ``seeds`` on ``base`` and their estimate. ``dataset`` (the loaded
    dataset, when it is not a known one) gives the training size for epoch budgets."""
    from .compare import comparison_configs
    from .estimate import estimate_plan, train_size

    configs = comparison_configs(base, list(variants), list(seeds)) if variants and seeds else []
    if not configs:
        return LaunchPlan([])
    if n_train is None and dataset is not None and not base.max_steps and train_size(base.dataset) is None:
        n_train = len(dataset.split("train"))
    return LaunchPlan(configs, estimate_plan(configs, n_train=n_train, store=store))


def launch_plan(plan: LaunchPlan, key: str | None = None, store: RunStore | None = None) -> GroupLaunch:
    """Check the model, name a new group and queue the plan's runs once per ``key`` (a double click joins)."""
    from ..engine.models import resolve_model
    from ..runs.runner import start_group
    from ..runs.store import new_group_name

    if not plan.configs:
        raise ConfigError("nothing to launch -> pick at least one variant and one seed")
    resolve_model(plan.configs[0].model_name_or_path)
    group = new_group_name(plan.configs[0].dataset)
    plans = plan.estimate.plans() if plan.estimate is not None else None
    return start_group([c.replace(group=group) for c in plan.configs], store=store, key=key, plans=plans)
