"""``check``: does a text-pretrained BERT help on this dataset, by how much, against what a discipline model gets?

One answer for someone who imported their own sequences. :func:`run_check` trains ``pretrained`` and ``rand``
(the same network from scratch) seed after seed, paired by seed, and stops as soon as the 95% interval of the
paired difference (:func:`~disc_core.study.compare.paired_test`) excludes 0, or when its budget is spent
(``max_seeds``, ``budget_minutes``: a seed that would not finish within the budget is not started). The
dataset's discipline baselines (``kmer-lr``, ``cnn``: :mod:`disc_core.engine.baselines`) run once, on the
first seed, for scale. :meth:`CheckResult.paragraph` is the answer: a line beginning ``verdict:``, the effect
with its interval ``[lo, hi]``, the baselines, what it cost, and where it stays undecided what more budget
might settle.

The CLI (``python -m disc_core check NAME``) runs it in its own process with a progress bar; the dashboard's
Datasets page runs the same check as background runs of the run store (:func:`start_check`, then
:func:`check_progress` at every poll: it queues the next seed when the last one finished undecided, the
pretrained and rand runs of a seed racing so their curves grow side by side).

>>> from disc_core.study.check import CheckSpec, run_check
>>> print(run_check(CheckSpec("splice-synthetic", max_steps=20, max_seeds=3)).paragraph())
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..engine.config import RunConfig
from ..engine.models import DEFAULT_MODEL
from ..runs.queue import about
from .compare import cell_dir, headline, paired_test, run_comparison

__all__ = ["CheckSpec", "CheckResult", "run_check", "judge", "start_check", "check_progress", "CheckProgress",
           "dashboard_spec", "check_runs", "DASHBOARD_CHECK",
           "BERT_VARIANTS", "BASELINE_VARIANTS", "CHECK_LEARNING_RATE", "MIN_SEEDS"]

#: The two networks compared: BERT's pretrained weights against the same architecture from scratch.
BERT_VARIANTS = ("pretrained", "rand")
#: The discipline models, for scale (one seed each).
BASELINE_VARIANTS = ("kmer-lr", "cnn")
#: A learning rate that moves the bundled MiniLM within a few dozen steps (the paper's 1e-5 needs thousands;
#: the demo's study, benchmarks/bench_demo.py); ``--learning-rate`` sets another.
CHECK_LEARNING_RATE = 2e-4
#: Paired seeds needed before an interval exists.
MIN_SEEDS = 2
#: The Datasets page's check: few enough steps for a CPU (the demo's budget), at most 5 seeds or 30 minutes.
DASHBOARD_CHECK = {"max_steps": 40, "max_seeds": 5, "budget_minutes": 30.0}


@dataclass
class CheckSpec:
    """What a check runs: the dataset, model, budget and recipe (``overrides``: other RunConfig fields)."""

    dataset: str
    model: str = DEFAULT_MODEL
    max_seeds: int = 5
    budget_minutes: float | None = None
    max_steps: int | None = None
    learning_rate: float = CHECK_LEARNING_RATE
    baselines: tuple[str, ...] = BASELINE_VARIANTS
    overrides: dict = field(default_factory=dict)

    def base(self) -> RunConfig:
        return RunConfig(dataset=self.dataset, model_name_or_path=self.model, learning_rate=self.learning_rate,
                         max_steps=self.max_steps, save_model=False, tags=["check"],
                         **{"eval_steps": max(1, (self.max_steps or 600) // 6), **self.overrides})

    def pair(self, seed: int) -> list[RunConfig]:
        """The seed's pretrained and rand runs."""
        return [self.base().replace(variant=v, seed=int(seed)) for v in BERT_VARIANTS]

    def baseline_configs(self) -> list[RunConfig]:
        return [self.base().replace(variant=v, seed=1) for v in self.baselines]

    def to_dict(self) -> dict:
        return {**asdict(self), "baselines": list(self.baselines)}

    @classmethod
    def from_dict(cls, d: dict) -> "CheckSpec":
        return cls(**{**d, "baselines": tuple(d.get("baselines") or ())})


@dataclass
class CheckResult:
    """Where a check stands: its finished runs' results, the paired test, the verdict and what it cost."""

    spec: CheckSpec
    results: list[dict]
    #: :func:`~disc_core.study.compare.paired_test` of pretrained against rand (None: under two paired seeds)
    test: dict | None
    #: ``helps`` (the interval lies above 0), ``hurts`` (below 0) or ``undecided``
    verdict: str
    elapsed_s: float
    #: why it stopped adding seeds: ``settled``, ``max-seeds``, ``budget`` (or ``running`` in the background)
    stopped: str
    #: seconds one more paired seed took (the last one), for what more budget buys
    seed_s: float | None = None

    @property
    def metric(self) -> str:
        return headline(self.results[0])[0] if self.results else "score"

    @property
    def n_seeds(self) -> int:
        return self.test["n"] if self.test else len({r["seed"] for r in self.results if r["label"] == "pretrained"})

    def scores(self, label: str) -> list[float]:
        return [headline(r)[1] for r in self.results if r["label"] == label]

    def paragraph(self) -> str:
        """The answer in one paragraph: the verdict line, then the effect, baselines, cost and what more
        budget might settle."""
        m = self.metric
        t = self.test
        lines = []
        if t is None:
            lines.append(f"verdict: undecided: {self.n_seeds} paired seed{'s' if self.n_seeds != 1 else ''} of "
                         f"pretrained and rand; an interval needs at least {MIN_SEEDS}.")
        else:
            lo, hi = t["ci95"]
            word = {"helps": "text pretraining helps here", "hurts": "text pretraining hurts here",
                    "undecided": "undecided: the interval includes 0"}[self.verdict]
            lines.append(f"verdict: {word}. Pretrained minus rand on {m}: {t['mean_diff']:+.3f}, 95% interval "
                         f"[{lo:+.3f}, {hi:+.3f}], over {t['n']} paired seeds (pretrained "
                         f"{_mean(self.scores('pretrained')):.3f}, rand {_mean(self.scores('rand')):.3f}).")
            if t.get("constant"):
                lines.append("Every seed gave the same difference, so the t interval has no width: that is no "
                             "evidence either way from so few seeds.")
        one = sorted({r["label"] for r in self.results if r.get("predicts_one_class") and r["label"] in BERT_VARIANTS})
        if one:
            lines.append(f"{' and '.join(one)} predict{'s' if len(one) == 1 else ''} one class only on some seed "
                         "(it learned nothing that tells the classes apart at this budget).")
        base = {b: self.scores(b) for b in self.spec.baselines}
        base = {b: s for b, s in base.items() if s}
        if base:
            p = _mean(self.scores("pretrained"))
            parts = [f"{b} {s[0]:.3f} ({'pretrained ahead by' if p > s[0] else 'ahead of pretrained by'} "
                     f"{abs(p - s[0]):.3f})" for b, s in base.items()]
            best = max(base, key=lambda b: base[b][0])
            lines.append(f"Discipline baselines (seed 1): {', '.join(parts)}; "
                         + ("BERT, pretrained or not, does not reach the best of them here."
                            if base[best][0] > max(p, _mean(self.scores('rand'))) else
                            "pretrained BERT is at or above them here."))
        elif self.spec.baselines:
            lines.append("The discipline baselines did not finish.")
        n_bert = sum(r["label"] in BERT_VARIANTS for r in self.results)
        steps = sorted({int(r.get("steps") or 0) for r in self.results if r["label"] in BERT_VARIANTS})
        steps_text = f"{steps[0]} steps each" if len(steps) == 1 else "their own step budgets"
        lines.append(f"Cost: {n_bert} BERT runs ({steps_text}, learning rate {self.spec.learning_rate:g}) and "
                     f"{len(self.results) - n_bert} baseline runs, {about(self.elapsed_s)} on this machine"
                     + (f" ({self.spec.model})." if self.spec.model != DEFAULT_MODEL else " (the bundled MiniLM)."))
        if self.verdict == "undecided":
            lines.append(self._more())
        return " ".join(lines)

    def _more(self) -> str:
        """What more budget might settle, from the differences seen so far."""
        why = {"max-seeds": f"it stopped at --max-seeds {self.spec.max_seeds}",
               "budget": f"it stopped at its budget of {self.spec.budget_minutes:g} min" if self.spec.budget_minutes
               else "it stopped at its budget"}.get(self.stopped, "it is still running")
        per_seed = f" ({about(self.seed_s)} a seed here)" if self.seed_s else ""
        t = self.test
        if t is None or t.get("constant") or t["mean_diff"] == 0:
            same = t is not None and t["mean_diff"] == 0
            return (f"Undecided because {why}. " + (
                "Pretrained and rand scored the same on every seed (both at one class?): more seeds will not "
                "separate them at this budget; more steps (--max-steps) or a higher learning rate first."
                if same else f"At least {MIN_SEEDS} paired seeds are needed for an interval{per_seed}."))
        need = seeds_needed(t["mean_diff"], t["ci95"], t["n"])
        if need is None:
            return (f"Undecided because {why}. The difference is small against its spread: even 50 seeds would "
                    "likely not settle it; more steps (--max-steps) may separate the variants more.")
        return (f"Undecided because {why}. If the difference stays at {t['mean_diff']:+.3f} with this spread, about "
                f"{need} paired seeds in all would settle it ({need - t['n']} more{per_seed}; "
                f"--max-seeds {need}" + (f", {about(self.seed_s * (need - t['n']))} more" if self.seed_s else "")
                + "); more steps may also make the difference larger.")


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def seeds_needed(mean: float, ci95: tuple[float, float], n: int, most: int = 50) -> int | None:
    """Paired seeds at which an interval of the same spread would exclude 0 (None: not within ``most``)."""
    from scipy import stats

    half = (ci95[1] - ci95[0]) / 2
    if n < 2 or half <= 0 or mean == 0:
        return None
    sd = half / stats.t.ppf(0.975, n - 1) * math.sqrt(n)
    for k in range(max(n + 1, MIN_SEEDS), most + 1):
        if stats.t.ppf(0.975, k - 1) * sd / math.sqrt(k) < abs(mean):
            return k
    return None


def judge(results: list[dict]) -> tuple[str, dict | None]:
    """(verdict, paired test) of pretrained against rand over the paired seeds of ``results``."""
    t = paired_test(results, "pretrained", "rand")
    if t is None or t.get("constant"):
        return "undecided", t
    lo, hi = t["ci95"]
    return ("helps" if lo > 0 else "hurts" if hi < 0 else "undecided"), t


def check_root(spec: CheckSpec) -> Path:
    """Where a check's run folders go: ``<runs root>/check/<settings>``, so the same check reuses its cells."""
    from ..runs.runner import plan_signature
    from ..runs.store import runs_root

    return runs_root() / "check" / f"{spec.dataset}-{plan_signature([spec.base()])}"


def run_check(spec: CheckSpec, root: str | Path | None = None, progress: bool = True, log=print) -> CheckResult:
    """Run the check in this process (seed after seed; finished cells of the same settings under ``root`` are
    reused). ``progress``: a tqdm bar over the runs, with its ETA, and one over each run's steps."""
    from ..engine.events import TqdmListener

    if spec.max_seeds < 1:
        from ..errors import ConfigError

        raise ConfigError(f"--max-seeds must be at least 1, not {spec.max_seeds}")
    root = Path(root) if root is not None else check_root(spec)
    t0 = time.time()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=2 * spec.max_seeds + len(spec.baselines), unit="run", desc=f"check {spec.dataset}",
                   dynamic_ncols=True)

    def listeners_for(cfg):
        return [TqdmListener(desc=f"  {cfg.label} seed {cfg.seed}", leave=False)] if progress else []

    def run(cfgs) -> list[dict]:
        out = run_comparison(cfgs, root, listeners_for=listeners_for, log=(bar.write if bar else log))
        if bar is not None:
            bar.update(len(cfgs))
        return out

    results: list[dict] = []
    verdict, test, stopped, seed_s = "undecided", None, "max-seeds", None
    budget = spec.budget_minutes * 60 if spec.budget_minutes else None
    for seed in range(1, spec.max_seeds + 1):
        if budget is not None and seed > 1 and seed_s is not None and time.time() - t0 + seed_s > budget:
            stopped = "budget"
            break
        ts = time.time()
        results += run(spec.pair(seed))
        seed_s = time.time() - ts
        if seed == 1 and spec.baselines:
            results += run(spec.baseline_configs())
        verdict, test = judge(results)
        if bar is not None and test is not None:
            lo, hi = test["ci95"]
            bar.set_postfix(diff=f"{test['mean_diff']:+.3f}", ci=f"[{lo:+.3f}, {hi:+.3f}]", refresh=True)
        if verdict != "undecided":
            stopped = "settled"
            break
    if bar is not None:
        bar.close()
    return CheckResult(spec, results, test, verdict, time.time() - t0, stopped, seed_s)


# ------------------------------------------------------------------------------ in the background (dashboard)
@dataclass
class CheckProgress:
    """A background check at a glance: its run groups (for the queue and the curves), where it stands, and
    the answer once it has one (``done``)."""

    check_id: str
    groups: list[str]
    result: CheckResult
    done: bool
    text: str


def dashboard_spec(dataset: str) -> CheckSpec:
    """The check the Datasets page's button runs on ``dataset`` (:data:`DASHBOARD_CHECK`)."""
    return CheckSpec(dataset, **DASHBOARD_CHECK)


def _state(check_id: str) -> dict:
    return json.loads(_spec_path(check_id).read_text(encoding="utf-8"))


def check_runs(check_id: str, store=None) -> list:
    """The background check's runs (:class:`~disc_core.runs.store.RunInfo`), BERT seeds first, for the curves."""
    from ..runs.store import RunStore

    store = store or RunStore()
    tag = f"check:{check_id}:{_state(check_id)['stamp']}"
    runs = [r for r in store.list() if tag in ((r.config or {}).get("tags") or [])]
    return sorted(runs, key=lambda r: (r.config.get("variant") not in BERT_VARIANTS, r.seed, r.label))


def _spec_path(check_id: str) -> Path:
    from ..runs.store import runs_root

    return runs_root() / "check" / "background" / f"{check_id}.json"


def start_check(spec: CheckSpec, store=None) -> str:
    """Queue the check as background runs: seed 1's pretrained and rand (racing) and the baselines. Returns the
    check's id; :func:`check_progress` advances it. Pressing again with the same settings while one is on
    joins it (one check per settings)."""
    from ..fileio import atomic_write_json
    from ..runs.runner import plan_signature
    from ..runs.store import RunStore

    store = store or RunStore()
    check_id = f"{spec.dataset}-{plan_signature([spec.base()])}-{spec.max_seeds}"
    path = _spec_path(check_id)
    if path.exists():
        state = json.loads(path.read_text(encoding="utf-8"))
        if not state.get("done"):
            return check_id  # on already: join it
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {"spec": spec.to_dict(), "started": time.time(), "done": False, "stamp":
                             time.strftime("%Y%m%d-%H%M%S")})
    _launch_seed(check_id, spec, 1, store)
    return check_id


def _launch_seed(check_id: str, spec: CheckSpec, seed: int, store) -> None:
    from ..runs.runner import start_group
    from .estimate import estimate_plan

    state = json.loads(_spec_path(check_id).read_text(encoding="utf-8"))
    tag = f"check:{check_id}:{state['stamp']}"
    cfgs = [c.replace(group=f"check-{spec.dataset}-{state['stamp']}-seed{seed}", tags=["check", tag])
            for c in spec.pair(seed)]
    plans = estimate_plan(cfgs, store=store, race=True).plans()
    start_group(cfgs, store=store, key=f"{tag}/seed{seed}", plans=plans, race=True)
    if seed == 1 and spec.baselines:
        base = [c.replace(group=f"check-{spec.dataset}-{state['stamp']}-baselines", tags=["check", tag])
                for c in spec.baseline_configs()]
        start_group(base, store=store, key=f"{tag}/baselines", plans=estimate_plan(base, store=store).plans())


def check_progress(check_id: str, store=None) -> CheckProgress:
    """Where background check ``check_id`` stands; queues its next seed when the last one finished undecided
    and the budget allows (safe from many tabs at once: each seed is launched under a key of its own)."""
    from ..fileio import atomic_write_json
    from ..runs.store import RunStore

    store = store or RunStore()
    path = _spec_path(check_id)
    state = json.loads(path.read_text(encoding="utf-8"))
    spec = CheckSpec.from_dict(state["spec"])
    tag = f"check:{check_id}:{state['stamp']}"
    runs = [r for r in store.list() if tag in ((r.config or {}).get("tags") or [])]
    groups = sorted({r.group for r in runs if r.group})
    results = [r.results for r in runs if r.status == "finished" and r.results]
    verdict, test = judge(results)
    active = any(r.active for r in runs)
    ended = [r for r in runs if not r.active and r.status != "finished"]
    seeds = {int(r.config.get("seed", 0)) for r in runs if r.config.get("variant") in BERT_VARIANTS}
    last = max(seeds, default=0)
    pair = [r for r in runs if r.config.get("variant") in BERT_VARIANTS and int(r.config.get("seed", 0)) == last]
    seed_s = max(((r.finished or 0) - (r.created or 0)) for r in pair) if pair and not any(r.active for r in pair) \
        else None
    elapsed = time.time() - state["started"]
    stopped = "running"
    if verdict != "undecided":
        stopped = "settled"
    elif ended:
        stopped = "failed"
    elif pair and not any(r.active for r in pair):
        budget = spec.budget_minutes * 60 if spec.budget_minutes else None
        if last >= spec.max_seeds:
            stopped = "max-seeds"
        elif budget is not None and seed_s is not None and elapsed + seed_s > budget:
            stopped = "budget"
        else:
            _launch_seed(check_id, spec, last + 1, store)
            return check_progress(check_id, store)
    done = stopped != "running" and not active
    result = CheckResult(spec, results, test, verdict, elapsed, stopped, seed_s)
    if done and not state.get("done"):
        atomic_write_json(path, {**state, "done": True, "paragraph": result.paragraph()})
    if stopped == "failed":
        text = ("A run of the check failed: " + "; ".join(f"{r.label} seed {r.seed}: {r.status}" for r in ended)
                + ". The Runs page shows why; press the button again to start over.")
    elif done:
        text = result.paragraph()
    else:
        now = f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} so far"
        if test is not None:
            lo, hi = test["ci95"]
            now += f"; pretrained minus rand {test['mean_diff']:+.3f}, 95% interval [{lo:+.3f}, {hi:+.3f}]"
        text = f"Running: {now}. It adds seeds until the interval excludes 0 or its budget is spent."
    return CheckProgress(check_id, groups, result, done, text)
