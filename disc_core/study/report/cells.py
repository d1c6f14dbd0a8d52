"""Reading a reproduction's cells for the report: finished results (rescored to the headline metric now), the
pre-training-steps study, training-loss curves, and every cell that cannot be read.

A cell folder is ``<study>/<dataset>/<label>/seed<N>`` holding ``config.json`` (written when it starts),
``metrics.jsonl`` (every step and evaluation) and, once it finished, ``results.json``. A cell whose
``results.json`` or ``config.json`` cannot be read (empty, cut off, not an object, a score that is not a
number) is left out of every table and named by :func:`unreadable_cells`, with what is wrong and what to
do, so that one damaged file never stops a report; a finished cell without ``metrics.jsonl`` keeps its
score but has no training curve, and is named too.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ...engine.experiment import read_metrics

__all__ = ["CellProblem", "read_json", "result_problem", "config_problem", "cell_problem", "read_result",
           "load_cells", "rescore", "pretrain_step_results", "unreadable_cells", "loss_curves", "precision_of",
           "LABEL_ORDER", "STUDIES_WITH_CURVES"]

#: variant labels in the order the figures and the curve tables list them
LABEL_ORDER = ("pretrained", "rand", "re-emb", "unused", "pretrained+shift", "rand+shift", "pretrained+random-shift",
               "rand+random-shift")
#: the studies whose training curves the report compares (the paper's Figure 2)
STUDIES_WITH_CURVES = ("text", "text-1pct", "non-text", "signal")
#: what a results.json needs for the tables: the cell's identity and its score
_RESULT_KEYS = ("dataset", "label", "seed", "metric", "score")
_RERUN = ("delete the cell folder `{dir}` and run the reproduce command again (without --report-only): the cell "
          "runs again from the start")


@dataclass(frozen=True)
class CellProblem:
    """A cell the report could not use (or used without its curve): the file, what is wrong, what to do."""

    path: Path
    what: str
    fix: str
    skipped: bool = True  # False: the cell's score is in the tables, only its curve is missing

    def text(self, root: str | Path | None = None) -> str:
        where = self.path
        if root is not None:
            try:
                where = self.path.relative_to(root)
            except ValueError:
                pass
        return f"`{where}`: {self.what}; {self.fix}"


def read_json(path: str | Path):
    """``(data, None)``, or ``(None, what is wrong)`` when the file is missing, empty or not JSON."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, "missing"
    except (OSError, UnicodeDecodeError) as err:
        return None, f"cannot be read ({err})"
    if not text.strip():
        return None, "is empty"
    try:
        return json.loads(text), None
    except json.JSONDecodeError as err:
        return None, f"is not valid JSON (cut off? {err.msg}: line {err.lineno}, column {err.colno})"


def _kind(value) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false",
            type(None): "null"}.get(type(value), type(value).__name__)


def result_problem(r) -> str | None:
    """What keeps a parsed ``results.json`` out of the tables (None: nothing)."""
    if not isinstance(r, dict):
        return f"holds {_kind(r)} where a JSON object of results belongs"
    lacking = [k for k in _RESULT_KEYS if k not in r]
    if lacking:
        return f"lacks {', '.join(repr(k) for k in lacking)}"
    score = r["score"]
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        return f"gives the score as {score!r} ({_kind(score)}), not a finite number"
    if isinstance(r["seed"], bool) or not isinstance(r["seed"], int):
        return f"gives the seed as {r['seed']!r}, not a whole number"
    if not isinstance(r.get("test", {}), dict):
        return f"gives the test metrics as {_kind(r['test'])}, not an object"
    return None


def config_problem(c) -> str | None:
    """What is wrong with a parsed ``config.json`` (None: nothing)."""
    if not isinstance(c, dict):
        return f"holds {_kind(c)} where a JSON object belongs"
    lacking = [k for k in ("config", "resolved") if not isinstance(c.get(k), dict)]
    return f"has no {' or '.join(repr(k) for k in lacking)} object" if lacking else None


def cell_problem(d: str | Path) -> CellProblem | None:
    """Why cell folder ``d`` cannot be read (its ``config.json`` where present, its ``results.json`` where
    present), or None. An unfinished cell (no ``results.json``) with a good config is fine."""
    d = Path(d)
    fix = _RERUN.format(dir=d)
    if (d / "config.json").exists():
        cfg, err = read_json(d / "config.json")
        err = err or config_problem(cfg)
        if err:
            return CellProblem(d / "config.json", f"the config file {err}: which run this was cannot be told", fix)
    if (d / "results.json").exists():
        res, err = read_json(d / "results.json")
        err = err or result_problem(res)
        if err:
            return CellProblem(d / "results.json", f"the results file {err}", fix)
    return None


def read_result(d: str | Path) -> dict | None:
    """The results of a finished, readable cell folder (None: unfinished or unreadable)."""
    d = Path(d)
    if not (d / "results.json").exists() or cell_problem(d) is not None:
        return None
    return read_json(d / "results.json")[0]


def _cell_dirs(root: Path, pattern: str) -> list[Path]:
    return [p.parent for p in sorted(root.glob(pattern))]


def load_cells(study_root: str | Path, pattern: str = "*/*/seed*/results.json") -> list[dict]:
    """Every readable finished cell's results under a study's folder, rescored (:func:`rescore`)."""
    study_root = Path(study_root)
    if not study_root.exists():
        return []
    out = []
    for d in _cell_dirs(study_root, pattern):
        r = read_result(d)
        if r is not None:
            out.append(rescore(r))
    return out


def rescore(r: dict) -> dict:
    """A cell's score in its dataset's headline metric as it is now (a cell that finished before the metric
    changed, e.g. STS-B from Pearson to the paper's Spearman, has both in its ``test`` metrics)."""
    from ...data import get_info

    try:
        metric = get_info(r["dataset"]).metric
    except Exception:
        return r
    if metric != r.get("metric") and metric in (r.get("test") or {}):
        r = {**r, "metric": metric, "score": r["test"][metric]}
    return r


def pretrain_step_results(root: str | Path) -> tuple[list[dict], list[dict]]:
    """(results with a ``pretrain_step`` key, the checkpoint list) of the ``pretrain-steps`` study."""
    from ..pretrain import read_checkpoints

    base = Path(root) / "pretrain-steps"
    out = []
    for d in sorted((base / "runs").glob("step_*")):
        step = int(d.name.split("_", 1)[1])
        for sub in _cell_dirs(d, "*/*/seed*/results.json"):
            r = read_result(sub)
            if r is not None:
                out.append({**r, "pretrain_step": step})
    return out, read_checkpoints(base / "checkpoints")


def _in_set_aside(rel: Path) -> bool:
    return any(part.startswith("superseded") for part in rel.parts)


def unreadable_cells(root: str | Path) -> list[CellProblem]:
    """Every cell under a plan's ``root`` (its studies, the side studies, the pre-training-steps runs; not
    the folders set aside as superseded) that cannot be read, and every finished cell of a study whose
    curves are compared that has no ``metrics.jsonl``."""
    root = Path(root)
    out = []
    for d in sorted({p.parent for name in ("config.json", "results.json") for p in root.rglob(f"seed*/{name}")}):
        rel = d.relative_to(root)
        if _in_set_aside(rel) or len(rel.parts) < 4:
            continue
        problem = cell_problem(d)
        if problem is not None:
            out.append(problem)
        elif (d / "results.json").exists() and not (d / "metrics.jsonl").exists() and \
                rel.parts[0] in STUDIES_WITH_CURVES:
            out.append(CellProblem(d / "metrics.jsonl", "missing: the cell's score is in the tables, but it has no "
                                   "training curve, so it is left out of the training-loss comparison and its "
                                   "figure", _RERUN.format(dir=d) + " to have its curve", skipped=False))
    return out


def loss_curves(study_root: Path, dataset: str) -> dict[str, list[list[tuple[int, float]]]]:
    """``{label: [[(step, loss), ...] per finished seed]}`` of one dataset, labels in :data:`LABEL_ORDER`."""
    curves: dict[str, list] = {}
    for d in sorted((study_root / dataset).glob("*/seed*")):
        if read_result(d) is None:
            continue
        ev = [(e["step"], e["loss"]) for e in read_metrics(d) if e.get("kind") == "step"]
        curves.setdefault(d.parent.name, []).append(ev)
    order = list(LABEL_ORDER)
    return dict(sorted(curves.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99))


def precision_of(r: dict) -> str:
    """A run's precision; before runs recorded it, a CPU run was always fp32 and a CUDA run bf16."""
    return r.get("precision") or ("bf16" if str(r.get("device", "cpu")).startswith("cuda") else "fp32")
