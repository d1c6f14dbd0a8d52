"""The paper's eight GLUE tasks from the official GLUE TSVs (or the Hugging Face copy when online).

As in the paper, each task's dev set is the test set (GLUE's test labels are hidden); the validation
set is a seeded 10% slice of train (stratified by class for classification tasks).

Each task's headline metric is the paper's (Table 1): accuracy, F1 for QQP and MRPC, MCC for CoLA,
Spearman for STS-B; the engine computes the task's other metrics beside it (accuracy and F1 everywhere,
Pearson for STS-B). The paper averages MNLI over the matched and mismatched dev sets: with
``dev_mismatched.tsv`` present, MNLI's test split holds both (see :func:`_pooled_note`).

Files: ``glue/<TASK>/train.tsv`` and ``dev.tsv`` (``dev_matched.tsv``, optionally ``dev_mismatched.tsv``, for
MNLI) under a data dir. They are
read as plain tab-separated lines (``csv.QUOTE_NONE``: sentences contain quote characters). CoLA's
files have no header; MRPC's start with a BOM. A row with the wrong number of fields or a missing or
unknown label is a :class:`~disc_core.errors.DataError` naming file and line, except for QQP, whose
malformed rows are skipped and counted in the notes, as GLUE's reference processors do.

:func:`read_glue` loads a task from any folder; ``GLUE_TASKS`` says how each task's columns are read.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from .base import Record, data_dirs, make_dataset, register
from .base import AnyFilesInfo, find_file_set
from .splits import assign_splits
from .io import read_text

__all__ = ["GlueTask", "GLUE_TASKS", "read_glue", "read_glue_tsv", "glue_from_hub"]

VALIDATION_SPLIT = {"train": 0.9, "validation": 0.1}
#: Tasks whose TSVs ``python -m disc_core download`` can fetch (the others come from the hub or the user).
_DOWNLOADABLE = ("sst2", "cola", "stsb", "mrpc", "rte")


@dataclass(frozen=True)
class GlueTask:
    """How one GLUE task is read.

    ``text`` / ``pair`` / ``label`` are header column names, or 0-based column indices for files
    without a header (CoLA). ``label_values`` are the label strings in the file, in the order of
    ``label_names``; both are None for the regression task STS-B.
    """

    name: str
    folder: str
    title: str
    metric: str
    text: str | int
    pair: str | int | None
    label: str | int
    label_names: tuple[str, ...] | None
    label_values: tuple[str, ...] | None
    hub_config: str
    hub_columns: tuple[str, str | None]
    dev_file: str = "dev.tsv"
    #: further dev files pooled into the test split when present (MNLI's mismatched set)
    extra_dev_files: tuple[str, ...] = ()
    header: bool = True
    ncols: int | None = None
    skip_bad_rows: bool = False
    metric_note: str = ""

    @property
    def files(self) -> tuple[str, str]:
        return f"glue/{self.folder}/train.tsv", f"glue/{self.folder}/{self.dev_file}"

    @property
    def task(self) -> str:
        return "regression" if self.label_names is None else "classification"


_NLI = ("entailment", "not_entailment")
_01 = ("0", "1")
GLUE_TASKS: dict[str, GlueTask] = {t.name: t for t in (
    GlueTask("mnli", "MNLI", "MultiNLI (matched dev)", "accuracy", "sentence1", "sentence2", "gold_label",
             ("entailment", "neutral", "contradiction"), ("entailment", "neutral", "contradiction"),
             "mnli", ("premise", "hypothesis"), dev_file="dev_matched.tsv", extra_dev_files=("dev_mismatched.tsv",),
             metric_note="the paper reports accuracy averaged over the matched and mismatched dev sets"),
    GlueTask("qqp", "QQP", "Quora Question Pairs", "f1", "question1", "question2", "is_duplicate",
             ("not_duplicate", "duplicate"), _01, "qqp", ("question1", "question2"), skip_bad_rows=True,
             metric_note="the paper reports F1 (Table 1): F1 is the headline metric here; accuracy is computed "
                         "beside it"),
    GlueTask("qnli", "QNLI", "Question NLI", "accuracy", "question", "sentence", "label", _NLI, _NLI,
             "qnli", ("question", "sentence")),
    GlueTask("sst2", "SST-2", "Stanford Sentiment Treebank (binary)", "accuracy", "sentence", None, "label",
             ("negative", "positive"), _01, "sst2", ("sentence", None)),
    GlueTask("cola", "CoLA", "Corpus of Linguistic Acceptability", "mcc", 3, None, 1,
             ("unacceptable", "acceptable"), _01, "cola", ("sentence", None), header=False, ncols=4,
             metric_note="the paper reports Matthews correlation (MCC, the appendix's Table 1): MCC is the headline metric here; "
                         "accuracy and F1 are computed beside it"),
    GlueTask("stsb", "STS-B", "Semantic Textual Similarity (0-5)", "spearman", "sentence1", "sentence2", "score",
             None, None, "stsb", ("sentence1", "sentence2"),
             metric_note="the paper reports Spearman correlation (Table 1, 'spr'): Spearman is the headline "
                         "metric here; Pearson is computed beside it"),
    GlueTask("mrpc", "MRPC", "Microsoft Research Paraphrase Corpus", "f1", "#1 String", "#2 String", "Quality",
             ("not_equivalent", "equivalent"), _01, "mrpc", ("sentence1", "sentence2"),
             metric_note="the paper reports F1 (the appendix's Table 1): F1 is the headline metric here; accuracy is computed "
                         "beside it"),
    GlueTask("rte", "RTE", "Recognizing Textual Entailment", "accuracy", "sentence1", "sentence2", "label",
             _NLI, _NLI, "rte", ("sentence1", "sentence2")),
)}


def _label(spec: GlueTask, raw: str, path: Path, line: int) -> int | float:
    raw = raw.strip()
    if not raw:
        raise DataError("missing label", path=path, line=line, hint="every row of train/dev needs a label")
    if spec.label_values is not None:
        if raw not in spec.label_values:
            raise DataError(f"unknown label {raw!r}; expected one of {', '.join(spec.label_values)}",
                            path=path, line=line)
        return spec.label_values.index(raw)
    try:
        score = float(raw)
    except ValueError:
        raise DataError(f"score {raw!r} is not a number", path=path, line=line) from None
    if math.isnan(score) or not 0.0 <= score <= 5.0:
        raise DataError(f"score {raw!r} is not between 0 and 5", path=path, line=line)
    return score


def read_glue_tsv(path: str | Path, task: str) -> tuple[list[tuple[str, str | None, int | float]], int]:
    """Rows of one GLUE TSV as ``(text, text_pair, label)`` plus the number of malformed rows skipped.

    Raises :class:`DataError` naming file and line for a missing label column, a row with the wrong
    number of fields (skipped and counted instead for QQP) or a missing / unknown label.
    """
    spec, path = GLUE_TASKS[task], Path(path)
    # Split on '\n' only: str.splitlines() would also break on characters such as U+2028 inside sentences.
    lines = read_text(path, "TSV file").split("\n")
    if spec.header:
        header = [h.strip() for h in lines[0].rstrip("\r").split("\t")]
        wanted = [c for c in (spec.text, spec.pair, spec.label) if c is not None]
        missing = [c for c in wanted if c not in header]
        if missing:
            raise DataError(f"no column {', '.join(map(repr, missing))} in the header ({', '.join(header)})",
                            path=path, line=1, hint="is this the unlabelled test.tsv? give train.tsv or dev.tsv"
                            if spec.label in missing else None)
        cols = [header.index(c) if c is not None else None for c in (spec.text, spec.pair, spec.label)]
        ncols = len(header)
        first = 1
    else:
        ncols, cols, first = spec.ncols, [spec.text, spec.pair, spec.label], 0
    ti, pi, li = cols
    rows, skipped = [], 0
    for ln, line in enumerate(lines[first:], first + 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != ncols:
            if spec.skip_bad_rows:
                skipped += 1
                continue
            raise DataError(f"expected {ncols} tab-separated fields, found {len(fields)}", path=path, line=ln,
                            hint=f"a {spec.folder} row has {ncols} fields; check for a stray tab or a cut line")
        rows.append((fields[ti].strip(), fields[pi].strip() if pi is not None else None,
                     _label(spec, fields[li], path, ln)))
    return rows, skipped


def _pooled_note(spec: GlueTask, dev_parts: list[list]) -> str:
    """What the test split is when several dev sets are pooled (MNLI), or why it is one when the paper used two.

    The paper averages MNLI's matched and mismatched accuracies; the engine scores one test split, so both sets
    are pooled: pooled accuracy = the two accuracies weighted by the sets' sizes, which differs from their plain
    mean by (|n1 - n2| / (2 (n1 + n2))) x their difference (GLUE: 17 / 39,294 x, under 0.0005 x the gap).
    """
    if not spec.extra_dev_files:
        return ""
    if len(dev_parts) == 1:
        return (f"the paper averages accuracy over {spec.dev_file} and {', '.join(spec.extra_dev_files)}; only "
                f"{spec.dev_file} was found, so this test split is that set alone")
    n1, n2 = len(dev_parts[0]), len(dev_parts[1])
    w = abs(n1 - n2) / (2 * (n1 + n2))
    return (f"test = {spec.dev_file} ({n1:,}) + {spec.extra_dev_files[0]} ({n2:,}) pooled: its accuracy is the "
            f"paper's mean of the two accuracies to within {w:.5f} x their difference")


def _glue_dataset(spec: GlueTask, train_rows, dev_parts: list[list], seed: int, source: str, notes: list[str],
                  path=None, dev_names: tuple[str, ...] | None = None):
    labels = [y for _, _, y in train_rows]
    splits = assign_splits(labels, VALIDATION_SPLIT, seed, stratify=spec.task == "classification")
    records = [Record(label=y, split=s, text=a, text_pair=b) for (a, b, y), s in zip(train_rows, splits)]
    records += [Record(label=y, split="test", text=a, text_pair=b) for part in dev_parts for a, b, y in part]
    dev_names = dev_names or (spec.dev_file, *spec.extra_dev_files)[:len(dev_parts)]
    pooled = _pooled_note(spec, dev_parts)
    notes = ([pooled] if pooled else []) + notes
    notes = [f"test = GLUE {' + '.join(n.removesuffix('.tsv') for n in dev_names)} (as in the paper; GLUE test "
             f"labels are hidden); "
             f"validation = a seeded 10% slice of train (seed {seed}"
             + (", stratified)" if spec.task == "classification" else ")")] + notes
    if spec.metric_note:
        notes.append(spec.metric_note)
    return make_dataset(spec.name, "text", spec.task, spec.metric, records, source=source,
                        label_names=list(spec.label_names) if spec.label_names else None, path=path, notes=notes)


def read_glue(task: str, folder: str | Path, seed: int = 42, progress=None):
    """Load GLUE ``task`` (``mnli``, ``qqp``, ``qnli``, ``sst2``, ``cola``, ``stsb``, ``mrpc``, ``rte``) from a
    folder holding its ``train.tsv`` and ``dev.tsv`` (``dev_matched.tsv`` for MNLI).

    Returns a :class:`Dataset` whose test split is the dev file (MNLI: ``dev_matched.tsv`` and, when present,
    ``dev_mismatched.tsv``, pooled) and whose validation split is a seeded 10% of train.
    """
    if task not in GLUE_TASKS:
        raise DataError(f"unknown GLUE task {task!r}", hint=f"pick one of {', '.join(GLUE_TASKS)}")
    spec, folder = GLUE_TASKS[task], Path(folder)
    notes, parts = [], []
    files = ["train.tsv", spec.dev_file] + [f for f in spec.extra_dev_files if (folder / f).is_file()]
    for i, fname in enumerate(files):
        rows, skipped = read_glue_tsv(folder / fname, task)
        if skipped:
            notes.append(f"{skipped} malformed rows of {fname} skipped (wrong number of fields), as GLUE's "
                         f"reference {spec.folder} processor does")
        parts.append(rows)
        if progress:
            progress(i + 1, len(files))
    return _glue_dataset(spec, parts[0], parts[1:], seed, str(folder), notes, path=folder, dev_names=tuple(files[1:]))


def glue_from_hub(task: str, seed: int = 42):
    """Load GLUE ``task`` from the Hugging Face hub (``nyu-mll/glue``), split the same way as :func:`read_glue`.

    Needs network access (or the ``datasets`` cache).
    """
    import datasets

    spec = GLUE_TASKS[task]
    dd = datasets.load_dataset("nyu-mll/glue", spec.hub_config)
    a, b = spec.hub_columns

    def rows(split):
        return [(r[a], r[b] if b else None, float(r["label"]) if spec.task == "regression" else int(r["label"]))
                for r in dd[split]]

    devs = ("validation_matched", "validation_mismatched") if task == "mnli" else ("validation",)
    return _glue_dataset(spec, rows("train"), [rows(d) for d in devs], seed,
                         f"Hugging Face hub: nyu-mll/glue ({spec.hub_config})",
                         ["read from the Hugging Face copy (no GLUE TSVs found in the data dirs)"], dev_names=devs)


_hub_checked: tuple[float, bool] | None = None


def _hub_ok() -> bool:
    """hub_reachable(), remembered for a minute so that listing eight tasks costs one check."""
    global _hub_checked
    from .download import hub_reachable

    now = time.monotonic()
    if _hub_checked is None or now - _hub_checked[0] > 60:
        _hub_checked = (now, hub_reachable())
    return _hub_checked[1]


@dataclass
class GlueInfo(AnyFilesInfo):
    """A GLUE task: available from TSVs in a data dir, or else from the Hugging Face hub when it answers."""

    def available(self) -> tuple[bool, str]:
        ok, where = super().available()
        if ok:
            return ok, where
        if _hub_ok():
            return True, f"Hugging Face hub: nyu-mll/glue ({GLUE_TASKS[self.name].hub_config}), fetched on first load"
        return False, where + " (or go online: the Hugging Face copy nyu-mll/glue is used when the TSVs are absent)"


def _glue_loader(task: str):
    spec = GLUE_TASKS[task]

    def load(progress=None, seed: int = 42, **kw):
        found = find_file_set([spec.files])
        if found is not None:
            return read_glue(task, found[0] / "glue" / spec.folder, seed=seed, progress=progress)
        if _hub_ok():
            return glue_from_hub(task, seed=seed)
        raise DataError(f"GLUE {spec.folder} files not found and the Hugging Face hub is not reachable",
                        path=", ".join(map(str, data_dirs())),
                        hint=f"put {' and '.join(spec.files)} under DISC_DATA_DIR, or run "
                             f"`python -m disc_core download {task}` when online")

    return load


for _spec in GLUE_TASKS.values():
    register(GlueInfo(
        name=_spec.name, title=_spec.title, discipline="text", task=_spec.task, metric=_spec.metric, origin="paper",
        loader=_glue_loader(_spec.name), files=_spec.files, paper_key=_spec.folder,
        how_to_get="" if _spec.name in _DOWNLOADABLE else f"put {' and '.join(_spec.files)} under a folder and set "
                                                           f"DISC_DATA_DIR to it",
        description=f"GLUE {_spec.folder}: train.tsv / {' + '.join((_spec.dev_file, *_spec.extra_dev_files))}; test = dev (as in the paper), validation = "
                    f"seeded 10% of train; metric {_spec.metric}."
                    + (f" ({_spec.metric_note})" if _spec.metric_note else "")))
