"""Which finished runs may share one results table, and what a score is to be read against.

A mean over seeds means something only when the runs differ in nothing but the seed. :func:`split_pools`
therefore pools run groups only when their configurations agree (apart from the seed, the variant, and
the fields that cannot change a number, :data:`~disc_core.study.compare.NOT_RESULT_FIELDS`); other groups
get their own table and :func:`differences` names the fields that keep them apart. :func:`one_per_seed`
keeps one run per (variant, seed, model), the newest, so that a seed never counts twice in a mean or a
paired test (a comparison launched twice, a demo joined and re-run).

:func:`chance_level` is the score that says nothing was learned: always predicting the training set's most
frequent class (accuracy, F1), or no relation at all (MCC, Spearman, Pearson: 0).

>>> rows = result_rows(store.list(status="finished"))
>>> for pool in split_pools(rows): kept, dropped = one_per_seed(pool.rows)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from .compare import NOT_RESULT_FIELDS

__all__ = ["results_table", "ordering_checks", "ORDERINGS", "result_rows", "setting_of", "Pool", "split_pools", "differences", "describe_differences",
           "one_per_seed", "chance_level", "one_class_runs", "IGNORED_FIELDS", "Section", "sections", "pending_note",
           "export_table", "Export", "EXPORT_FORMATS", "export_name", "export"]

#: Fields that never keep two groups apart: those that cannot change a number, the seed, and the fields
#: that make the variants of one group (the variant, its text shift; ``mapping`` for the unused variant)
IGNORED_FIELDS = frozenset(NOT_RESULT_FIELDS | {"seed", "variant", "text_shift"})


def result_rows(runs) -> list[dict]:
    """One dict per finished run with results (:class:`~disc_core.runs.store.RunInfo`), as the results
    table and :func:`~disc_core.study.compare.summarize` read them."""
    out = []
    for r in runs:
        if not r.results:
            continue
        c, res = r.config or {}, r.results
        out.append({"dataset": r.dataset, "label": r.label, "seed": r.seed, "metric": res.get("metric"),
                    "score": res.get("score"), "model": c.get("model_name_or_path", ""),
                    "train_fraction": c.get("train_fraction", 1.0), "group": r.group or "(no group)", "run": r.id,
                    "finished": r.finished or r.created, "test": res.get("test") or {},
                    "majority_class": res.get("majority_class"), "majority_accuracy": res.get("majority_accuracy"),
                    "predicts_one_class": res.get("predicts_one_class"), "train_time_s": res.get("train_time_s"),
                    "config": c})
    return out


def setting_of(rows: list[dict]) -> dict[str, list]:
    """The configuration a set of runs shares: every field that matters, with the values the runs use
    (sorted, as JSON text: a group of checkpoints uses several models)."""
    from ..engine.config import RunConfig

    defaults = RunConfig().to_dict()  # a field added after a run was recorded has its default there
    values: dict[str, set] = {}
    for r in rows:
        c = {**defaults, **(r.get("config") or {})}
        for k, v in c.items():
            if k in IGNORED_FIELDS or (k == "mapping" and c.get("variant") == "unused"):
                continue
            values.setdefault(k, set()).add(json.dumps(v, sort_keys=True))
    return {k: sorted(v) for k, v in sorted(values.items())}


@dataclass
class Pool:
    """Run groups whose runs differ only in seed and variant: one results table."""

    groups: list[str]
    rows: list[dict]
    setting: dict[str, list] = field(default_factory=dict)


def split_pools(rows: list[dict]) -> list[Pool]:
    """The rows' groups, pooled where their settings agree; in the order the groups first appear in ``rows``."""
    by_group: dict[str, list[dict]] = {}
    for r in rows:
        by_group.setdefault(r["group"], []).append(r)
    pools: list[Pool] = []
    for g, members in by_group.items():
        s = setting_of(members)
        for p in pools:
            if p.setting == s:
                p.groups.append(g)
                p.rows.extend(members)
                break
        else:
            pools.append(Pool([g], list(members), s))
    return pools


def differences(pools: list[Pool]) -> dict[str, list[str]]:
    """Per field that differs between ``pools``: its value in each pool (as shown, in pool order)."""
    keys = sorted({k for p in pools for k in p.setting})
    out = {}
    for k in keys:
        vals = [p.setting.get(k) for p in pools]
        if any(v != vals[0] for v in vals):
            out[k] = [", ".join(_show(x) for x in v) if v else "unset" for v in vals]
    return out


def _show(text: str) -> str:
    v = json.loads(text)
    return "unset" if v is None else v if isinstance(v, str) else f"{v:g}" if isinstance(v, float) else str(v)


def describe_differences(pools: list[Pool], limit: int = 6) -> str:
    """``learning_rate: 0.0001 (demo-1) vs 1e-05 (splice-2); max_steps: ...`` for the first ``limit`` fields."""
    diff = differences(pools)
    parts = []
    for k, vals in list(diff.items())[:limit]:
        parts.append(f"{k}: " + " vs ".join(f"{v} ({', '.join(p.groups)})" for v, p in zip(vals, pools)))
    more = f"; and {len(diff) - limit} more field(s)" if len(diff) > limit else ""
    return "; ".join(parts) + more


def one_per_seed(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(kept, dropped): one run per (variant label, seed, model), the newest; the others are dropped, so that
    a seed never counts twice in a mean or a paired test."""
    newest: dict[tuple, dict] = {}
    for r in rows:
        k = (r["label"], r["seed"], r.get("model", ""))
        if k not in newest or (r.get("finished") or 0) > (newest[k].get("finished") or 0):
            newest[k] = r
    kept_ids = {id(r) for r in newest.values()}
    return [r for r in rows if id(r) in kept_ids], [r for r in rows if id(r) not in kept_ids]


def chance_level(metric: str, rows: list[dict]) -> tuple[float | None, str]:
    """(the score of learning nothing, how it is reached) for ``metric`` over the runs ``rows``.

    accuracy: always predicting the training set's majority class, on the test set (recorded by each run;
    None for runs that did not record it); f1 (binary, positive class 1): that same predictor's F1;
    mcc, spearman, pearson: 0, no relation.
    """
    if metric in ("mcc", "spearman", "pearson"):
        return 0.0, "0 (no relation)"
    levels = []
    for r in rows:
        acc, cls = r.get("majority_accuracy"), r.get("majority_class")
        if not isinstance(acc, (int, float)) or math.isnan(acc):
            continue
        if metric == "accuracy":
            levels.append(float(acc))
        elif metric == "f1" and cls is not None:
            levels.append(2 * acc / (1 + acc) if cls == 1 else 0.0)  # precision = share of 1s, recall 1
    if not levels:
        return None, "not recorded by these runs"
    v = sum(levels) / len(levels)
    return v, f"{v:.4f} (majority class)"


def one_class_runs(rows: list[dict]) -> int:
    """How many of the runs predict a single class on the test set."""
    return sum(bool(r.get("predicts_one_class")) for r in rows)


#: The orderings the Results page tests for a pool of runs with several seeds.
ORDERINGS = (("pretrained", "rand"), ("pretrained", "re-emb"), ("re-emb", "rand"))


def results_table(rows: list[dict]):
    """``(summary, shown)`` for one pool of runs (one run per variant and seed): :func:`~.compare.summarize`'s
    table, and the table the Results page shows: mean ± std, runs, training time, the chance level, how many
    runs predict one class, and the paper's number beside each variant."""
    import pandas as pd

    from .compare import PAPER_COLUMN, summarize, train_time_text

    table = summarize(rows)
    by_label = {lb: [r for r in rows if r["label"] == lb] for lb in table["variant"]}
    chance = [chance_level(m, by_label[v]) for v, m in zip(table["variant"], table["metric"])]
    one_class = [one_class_runs(by_label[v]) for v in table["variant"]]
    shown = pd.DataFrame({
        "variant": table["variant"], "metric": table["metric"],
        "mean ± std": [f"{m:.4f} ± {s:.4f}" if n > 1 else f"{m:.4f} (1 run, no spread)" for m, s, n in
                       zip(table["mean"], table["std"], table["n"])],
        "runs": table["n"], "train time (mean)": [train_time_text(t) for t in table["train_time_s"]],
        "chance level": [text for _, text in chance],
        "predicts one class": [f"{k} of {n} {_runs(n)}" if k else "no" for k, n in zip(one_class, table["n"])],
        PAPER_COLUMN: table["paper_text"], "paper's table": table["paper_source"]}).set_index("variant")
    levels = [v for v, _ in chance if v is not None]
    shown.attrs["chance"] = sum(levels) / len(levels) if levels else None  # one line for the bar chart
    return table, shown


def ordering_checks(rows: list[dict]) -> list[str]:
    """One line per ordering of :data:`ORDERINGS` that the pool's variants allow: the paired test over seeds
    (``holds`` = the 95% interval of the paired difference lies above 0)."""
    from .compare import paired_test

    out = []
    if len({r["seed"] for r in rows}) < 2:
        return out
    for better, worse in ORDERINGS:
        t = paired_test(rows, better, worse)
        if t:
            verdict = "holds" if t["holds"] else ("same direction, not significant" if t["direction_ok"]
                                                  else "does not hold")
            out.append(f"`{better} > {worse}`: {verdict} (mean diff {t['mean_diff']:+.4f}, 95% CI "
                       f"[{t['ci95'][0]:+.4f}, {t['ci95'][1]:+.4f}], {t['n']} seeds)")
    return out



# --------------------------------------------------------------------------------------------
# What the Results page and ``python -m disc_core results`` show: sections, runs not finished, exports
# --------------------------------------------------------------------------------------------

@dataclass
class Section:
    """One pool of chosen run groups (one configuration apart from the seed), one run per variant and seed."""

    groups: list[str]
    rows: list[dict]
    #: older runs that repeat a (variant, seed, model) of a newer one: left out of every mean and test
    dropped: list[dict] = field(default_factory=list)
    #: the configuration the runs share (:func:`setting_of`); :func:`describe_differences` takes sections too
    setting: dict[str, list] = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        """The models (pre-training checkpoints) of the runs, in step order."""
        from ..plots import pretraining_step

        return sorted({r["model"] for r in self.rows}, key=lambda m: (pretraining_step(m) or 0, m))

    def rows_of(self, model: str | None = None) -> list[dict]:
        """The rows of one model (default: all of them when there is one, else the last checkpoint)."""
        models = self.models
        model = model if model in models else models[-1] if len(models) > 1 else None
        return [r for r in self.rows if model is None or r["model"] == model]

    def tables(self, model: str | None = None):
        """:func:`results_table` of :meth:`rows_of` ``model``."""
        return results_table(self.rows_of(model))

    def dropped_note(self) -> str | None:
        if not self.dropped:
            return None
        again = sorted({f"{r['label']} seed {r['seed']}" for r in self.dropped})
        return (f"{len(self.dropped)} older {_runs(len(self.dropped))} repeat a variant and seed of a newer run "
                f"({', '.join(again)}): only the newest of each counts, so that no seed counts twice in a mean or a "
                "paired test.")


def _runs(n: int) -> str:
    return "run" if n == 1 else "runs"


def sections(rows: list[dict], order: list[str] | None = None) -> list[Section]:
    """The rows pooled (:func:`split_pools`), each pool with one run per seed (:func:`one_per_seed`); the
    pools in the order of ``order`` (the groups as chosen), else as they first appear; the rows in the order of
    the variants (pretrained, re-emb, rand, ...), then of the seeds."""
    from ..plots import variant_order

    order = order or list(dict.fromkeys(r["group"] for r in rows))
    rows = sorted(rows, key=lambda r: (variant_order(r["label"]), r["seed"]))
    pools = sorted(split_pools(rows), key=lambda p: min(order.index(g) if g in order else len(order)
                                                        for g in p.groups))
    out = []
    for p in pools:
        kept, dropped = one_per_seed(p.rows)
        out.append(Section(list(p.groups), kept, dropped, p.setting))
    return out


def pending_note(runs, groups: list[str]) -> str | None:
    """Which runs of ``groups`` have no result yet (:class:`~disc_core.runs.store.RunInfo`s of the store):
    ``"2 of 3 runs of demo-1 have no result yet: rand seed 1 (running), re-emb seed 1 (queued); the table
    shows the finished ones only."``; None when every run finished."""
    members = [r for r in runs if r.group in groups]
    waiting = [r for r in members if not (r.status == "finished" and r.results)]
    if not waiting:
        return None
    what = ", ".join(f"{r.label} seed {r.seed} ({r.status})" for r in waiting[:8])
    more = f" and {len(waiting) - 8} more" if len(waiting) > 8 else ""
    return (f"{len(waiting)} of {len(members)} {_runs(len(members))} of {', '.join(groups)} "
            f"{'has' if len(waiting) == 1 else 'have'} no result yet: {what}{more}; the table shows the finished "
            f"{'one' if len(members) - len(waiting) == 1 else 'ones'} only.")


def export_table(section: Section, model: str | None = None):
    """The table an export writes: one row per variant with the groups it pools, mean, std (empty for a
    single run: one run has no spread), runs, how many predict one class, the chance level and the paper."""
    import numpy as np

    rows = section.rows_of(model)
    table, shown = results_table(rows)
    out = table.copy()
    out.insert(0, "groups", ", ".join(section.groups))
    out["std"] = [s if n > 1 else np.nan for s, n in zip(out["std"], out["n"])]
    out["predicts_one_class"] = [one_class_runs([r for r in rows if r["label"] == v]) for v in out["variant"]]
    out["chance_level"] = [chance_level(m, [r for r in rows if r["label"] == v])[0]
                           for v, m in zip(out["variant"], out["metric"])]
    out["model"] = ", ".join(sorted({r["model"] for r in rows}))
    return out


@dataclass
class Export:
    """A download: its file name, its text and its media type."""

    name: str
    data: str
    mime: str


EXPORT_FORMATS = {"csv": "text/csv", "json": "application/json", "md": "text/markdown"}


def export_name(groups: list[str], fmt: str, dataset: str = "") -> str:
    """``splice-synthetic-demo-20250301-142233-results.csv``: the dataset and the groups (at most 120
    characters, file-name safe), so that two exports never share a name."""
    import re

    stem = "-".join(dict.fromkeys([dataset, *groups] if dataset and not all(g.startswith(dataset) for g in groups)
                                  else groups)) or "results"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:110].strip("._-") or "results"
    return f"{stem}-results.{fmt}"


def export(chosen: list[Section], fmt: str, dataset: str = "", model: str | None = None) -> Export:
    """The sections' tables as CSV, JSON (``summary`` rows and the ``runs`` behind them, std null for a
    single run) or Markdown (one table per section, with the groups it pools)."""
    import pandas as pd

    from .compare import to_markdown

    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    groups = [g for s in chosen for g in s.groups]
    tables = [export_table(s, model) for s in chosen]
    name = export_name(groups, fmt, dataset)
    if fmt == "csv":
        data = pd.concat(tables, ignore_index=True).to_csv(index=False) if tables else ""
    elif fmt == "json":
        summary = [json.loads(t.to_json(orient="records")) for t in tables]
        runs = [{k: v for k, v in r.items() if k not in ("test", "config")} for s in chosen for r in s.rows_of(model)]
        data = json.dumps({"groups": groups, "summary": [r for t in summary for r in t], "runs": runs}, indent=2,
                          default=str)
    else:
        parts = []
        for s, t in zip(chosen, tables):
            flags = [f"{v}: {k} of {n} {_runs(n)} predict one class" for v, k, n in
                     zip(t["variant"], t["predicts_one_class"], t["n"]) if k]
            parts.append(f"Groups: {', '.join(s.groups)}\n\n{to_markdown(t)}" +
                         ("\n\n" + "; ".join(flags) + "." if flags else ""))
        data = "\n\n".join(parts) + "\n"
    return Export(name, data, EXPORT_FORMATS[fmt])
