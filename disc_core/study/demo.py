"""The one-click demos, one per headline of the paper, shared by a whole room.

``splice``: pretrained vs rand vs re-emb on the built-in synthetic splice data (offline, always there).
``stsb-shift``: the scrambled-text headline, pretrained+shift against rand+shift on 1% of STS-B's training
set trained to convergence; offered when STS-B is available (``$DISC_DATA_DIR`` or downloaded).

Both are sized for a laptop CPU with the bundled MiniLM: a fixed number of optimiser steps instead of the
paper's 3 epochs, and a learning rate of 1e-4 or 2e-4 instead of the paper's 1e-5 (at 1e-5 even the pretrained
model still predicted only the majority class after 40 steps, so nothing would be seen). Each demo's
``note`` says so in the dashboard.

A room of students pressing the button must not queue one demo each: :func:`start_demo` joins the demo
that runs (or finished within :data:`JOIN_S`) with the same settings, and creates one only when there is
none or when asked for a fresh one. The find-or-create is one run-store transaction
(:meth:`disc_core.runs.store.RunStore.create_group`), so presses from many tabs, threads or processes at
once still create at most one demo.

>>> from disc_core.study.demo import start_demo
>>> start_demo("splice")          # what the Overview page's button does: GroupLaunch(group, ids, created)
"""

from __future__ import annotations

import time
from pathlib import Path
from dataclasses import dataclass, field

from ..engine.config import RunConfig, parse_variant
from ..engine.models import DEFAULT_MODEL
from ..runs.store import ACTIVE, FINISHED, GroupLaunch, RunStore

__all__ = ["Demo", "DEMOS", "demo_configs", "start_demo", "demo_key", "demo_estimate", "available_demos", "current_demo",
           "JOIN_S", "DemoCard", "demo_card", "DEMO_DATASET", "DEMO_VARIANTS", "DEMO_STEPS", "DEMO_LEARNING_RATE", "DEMO_NOTE"]

#: A press within this many seconds of a demo's end (same settings) joins it instead of starting another.
JOIN_S = 30 * 60


@dataclass(frozen=True)
class Demo:
    """One demo: its dataset, variants, step budget and learning rate, and what to tell the room."""

    name: str
    title: str
    dataset: str
    variants: tuple[str, ...]
    steps: int
    learning_rate: float
    #: other RunConfig fields (validation sample and frequency, data fraction ...)
    overrides: dict = field(default_factory=dict)
    #: what it shows, one sentence
    what: str = ""
    #: how it differs from the paper
    note: str = ""
    #: what it gave when measured on a 2-core CPU, and the paper's numbers
    measured: str = ""
    #: its variants race (train at the same time, sharing the cores: runs.race), so the curves grow together
    race: bool = True

    def configs(self, model: str = DEFAULT_MODEL, group: str | None = None, device: str = "auto",
                steps: int | None = None) -> list[RunConfig]:
        """One :class:`RunConfig` per variant, all in one run group (``demo-...-<date>-<time>``)."""
        steps = steps or self.steps
        stamp = time.strftime("%Y%m%d-%H%M%S")
        group = group or (f"demo-{stamp}" if self.name == "splice" else f"demo-{self.name}-{stamp}")
        base = RunConfig(dataset=self.dataset, model_name_or_path=model, learning_rate=self.learning_rate,
                         max_steps=steps, seed=1, device=device, save_model=False, group=group, tags=["demo"],
                         **{"eval_steps": max(1, steps // 6), **self.overrides})
        out = []
        for v in self.variants:
            name, shift = parse_variant(v)
            out.append(base.replace(variant=name, **({"text_shift": shift} if shift else {})))
        return out

    def available(self) -> tuple[bool, str]:
        """(True, where the data comes from) or (False, how to get it)."""
        from ..data import get_info

        try:
            return get_info(self.dataset).available()
        except Exception as err:  # an unknown dataset: say so instead of failing the page
            return False, str(err)


def _load_demos() -> dict[str, Demo]:
    """The demos of ``assets/demos.yaml``: settings and the room's texts are data, not code."""
    import yaml

    path = Path(__file__).resolve().parents[2] / "assets" / "demos.yaml"
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {name: Demo(name=name, **{**e, "variants": tuple(e["variants"]), "overrides": dict(e.get("overrides") or {})})
            for name, e in entries.items()}


DEMOS: dict[str, Demo] = _load_demos()

# the splice demo under its old names (the Datasets/Train pickers default to its dataset)
DEMO_DATASET = DEMOS["splice"].dataset
DEMO_VARIANTS = DEMOS["splice"].variants
#: Optimiser steps per variant (batch 32), the variants racing (benchmarks/bench_demo.py).
DEMO_STEPS = DEMOS["splice"].steps
#: Higher than the paper's 1e-5 so that differences show within :data:`DEMO_STEPS` steps.
DEMO_LEARNING_RATE = DEMOS["splice"].learning_rate
DEMO_NOTE = DEMOS["splice"].note


def demo_configs(model: str = DEFAULT_MODEL, steps: int = DEMO_STEPS, group: str | None = None,
                 device: str = "auto") -> list[RunConfig]:
    """The splice demo's configs: one per variant, all in one run group (``demo-<date>-<time>``)."""
    return DEMOS["splice"].configs(model, group=group, device=device, steps=steps)


def available_demos() -> dict[str, Demo]:
    """The demos whose data is here (the splice one always is)."""
    return {k: d for k, d in DEMOS.items() if d.available()[0]}


def demo_key(configs: list[RunConfig]) -> str:
    """The demo's launch key: the same settings (group and run names aside) give the same key."""
    from ..runs.runner import plan_signature

    return f"demo/{configs[0].dataset}/{plan_signature(configs)}"


def _joinable(records: list[dict], now: float | None = None) -> bool:
    """A demo a press may join: one of its runs is queued or running, or all finished within :data:`JOIN_S`."""
    now = time.time() if now is None else now
    if any(r["status"] in ACTIVE for r in records):
        return True
    return all(r["status"] == FINISHED for r in records) and \
        now - max((r.get("finished") or 0.0) for r in records) < JOIN_S


def _fresh_key(key: str) -> str:
    """The launch key of the fresh demos ("Start a fresh one"): apart from the room's key, so that a fresh demo
    that is cancelled never hides the room's demo, and the room's key never points at a cancelled fresh one."""
    return f"{key}/fresh"


def _joinable_group(store: RunStore, key: str) -> GroupLaunch | None:
    """The group last created under ``key`` when a press may join it, else None."""
    got = store.keyed(key)
    if got is None:
        return None
    try:
        recs = [store.get(i).to_dict() for i in got.ids]
    except KeyError:
        return None
    return got if _joinable(recs) else None


def start_demo(name: str = "splice", fresh: bool = False, store: RunStore | None = None,
               model: str = DEFAULT_MODEL, device: str = "auto") -> GroupLaunch:
    """Join the demo ``name`` that runs (or finished recently) with these settings, else queue a new one.

    ``fresh`` queues a new one in any case (someone asked for it explicitly), under a key of its own: the
    room's demo stays the one a press joins, and once the fresh one runs while the room's has ended, a press
    joins the fresh one. Returns the group, its run ids and ``created`` (False: joined). Safe to call from
    many tabs, threads or processes at once: at most one demo is created per settings.
    """
    from ..runs.runner import start_group
    from .estimate import estimate_plan

    store = store or RunStore()
    demo = DEMOS[name]
    configs = demo.configs(model, device=device)
    key = demo_key(configs)
    if not fresh:
        on = _joinable_group(store, key) or _joinable_group(store, _fresh_key(key))
        if on is not None:
            return on
    plans = estimate_plan(configs, store=store, race=demo.race).plans()
    if fresh:
        return start_group(configs, store=store, key=_fresh_key(key), join=lambda recs: False, plans=plans,
                           race=demo.race)
    return start_group(configs, store=store, key=key, join=_joinable, plans=plans, race=demo.race)


def current_demo(name: str = "splice", store: RunStore | None = None, model: str = DEFAULT_MODEL) -> str | None:
    """The group a press of demo ``name`` would join now (running, queued or just finished), else None."""
    store = store or RunStore()
    key = demo_key(DEMOS[name].configs(model))
    on = _joinable_group(store, key) or _joinable_group(store, _fresh_key(key))
    return on.group if on is not None else None


@dataclass
class DemoCard:
    """What the Overview's card of a demo says: the demo a press joins now, or what a new one costs."""

    name: str
    #: the group a press joins (None: a press queues a new demo)
    group: str | None
    #: ``running``, ``queued`` or ``finished`` (the joinable demo's state), or ``new``
    state: str
    #: one sentence on the joinable demo (its progress), or on the cost of a new one
    text: str
    #: the cost of a new demo of these settings (a :class:`~disc_core.study.estimate.PlanEstimate`)
    estimate: object


def demo_card(name: str = "splice", store: RunStore | None = None, model: str = DEFAULT_MODEL,
              now: float | None = None) -> DemoCard:
    """The Overview card of demo ``name``: a press joins the demo that is on (how far it is, when it ends) or
    one that finished within :data:`JOIN_S` (how long ago); else what a new one costs on this machine."""
    from ..runs.queue import about, group_progress, queue_view

    store = store or RunStore()
    now = time.time() if now is None else now
    est = demo_estimate(name, store=store, model=model)
    group = current_demo(name, store=store, model=model)
    if group is None:
        return DemoCard(name, None, "new", f"**How long here:** {est.describe()}", est)
    every = store.list()
    runs = [r for r in every if r.group == group]
    if any(r.status in ACTIVE for r in runs):
        state = "running" if any(r.status == "running" for r in runs) else "queued"
        prog = group_progress(runs, queue_view(runs=every), every)
        text = (f"**A demo with these settings is {state} now ({group})**: {prog.describe()}. The button opens it: "
                "you join it and watch the same runs; nothing new is queued.")
    else:
        state = "finished"
        ago = now - max((r.finished or 0.0) for r in runs)
        text = (f"**A demo with these settings finished {about(ago).replace('about ', '')} ago ({group})**: the "
                "button opens its curves and results instead of training it again. "
                f"From {JOIN_S // 60} min after its end a press starts a new one.")
    return DemoCard(name, group, state, text, est)


def demo_estimate(name: str = "splice", store: RunStore | None = None, model: str = DEFAULT_MODEL):
    """How long demo ``name`` takes on this machine (a :class:`~disc_core.study.estimate.PlanEstimate`)."""
    from .estimate import estimate_plan

    return estimate_plan(DEMOS[name].configs(model), store=store, race=DEMOS[name].race)
