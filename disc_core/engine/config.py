"""Experiment configuration: one dataclass that round-trips to JSON/YAML and is saved with every run.

Defaults are the paper's fine-tuning recipe: Adam, learning rate 1e-5, batch 32, linear decay, no
warm-up, no gradient clipping, early stopping on the validation set for non-text data. Every field is
overridable from the CLI (``--learning-rate 2e-5``), a JSON/YAML file (``--config cfg.yaml``) or code.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .models import DEFAULT_MODEL

__all__ = ["RunConfig", "VARIANTS", "BASELINES", "TEXT_SHIFTS", "REPORT_TO", "parse_variant", "comparison_labels",
           "parse_seeds", "MAX_SEED", "MAX_STEPS", "MAX_SEEDS", "MIN_MAX_LENGTH"]

#: Initialisation variants (the paper's Section 3): what is loaded before fine-tuning.
VARIANTS = {
    "pretrained": "every pretrained weight loaded, word embeddings included",
    "rand": "same architecture, initialised as for pre-training (N(0, initializer_range^2)); no trained weight",
    "re-emb": "pretrained, with the word-embedding matrix re-initialised",
    "unused": "pretrained, with the non-text symbols mapped onto BERT's [unused*] tokens",
}
#: Discipline-specific baselines (engine.baselines): no BERT, the same data, splits, metrics and run folders.
BASELINES = {
    "kmer-lr": "baseline: k-mer counts (k chosen on validation) into a logistic / ridge regression; no steps",
    "cnn": "baseline: a small 1-D dilated CNN over the same symbol ids (~1M weights), trained from scratch",
}
VARIANTS.update(BASELINES)
#: Text token shifts (the paper's Table 1): how text token ids are remapped before the model sees them.
TEXT_SHIFTS = ("none", "shift", "random-shift")
#: Experiment trackers a run can also log to (``report_to``, as the Hugging Face Trainer names them)
REPORT_TO = {
    "tensorboard": "TensorBoard event files in <run folder>/tensorboard (pip install tensorboard)",
    "mlflow": "an MLflow run in <run folder>/mlruns, or $MLFLOW_TRACKING_URI if it is a local path "
              "(pip install mlflow-skinny)",
}
#: Largest seed: NumPy's generators take seeds in [0, 2**32)
MAX_SEED = 2**32 - 1
#: Most optimiser steps one run may ask for (10 million: weeks of a GPU even for a tiny model); a larger
#: number is a typo, and a queued run would show an ETA of millions of hours
MAX_STEPS = 10_000_000
#: Most epochs one run may ask for (the paper fine-tunes for a few)
MAX_EPOCHS = 10_000
#: Most seeds one comparison may run
MAX_SEEDS = 1000
#: Shortest ``max_length``: [CLS], one symbol, [SEP]
MIN_MAX_LENGTH = 3
#: Most CPU threads a run may ask for
MAX_THREADS = 1024


def parse_variant(spec: str) -> tuple[str, str | None]:
    """``"pretrained"`` -> ("pretrained", None); ``"rand+shift"`` -> ("rand", "shift").

    The ``+shift`` / ``+random-shift`` suffix selects a text token shift for that cell of a comparison.
    """
    base, _, shift = spec.strip().partition("+")
    if base not in VARIANTS:
        raise ConfigError(f"unknown variant {base!r}; choose from {', '.join(VARIANTS)} "
                          f"(text datasets may add +shift or +random-shift, e.g. rand+shift)")
    if shift and shift not in TEXT_SHIFTS:
        raise ConfigError(f"unknown text shift {shift!r} in {spec!r}; choose from {', '.join(TEXT_SHIFTS)}")
    return base, (shift or None)


def parse_seeds(spec, what: str = "seeds") -> list[int]:
    """The seeds a comparison runs, checked: each in [0, MAX_SEED], none twice, at least one, at most
    :data:`MAX_SEEDS`. One meaning everywhere (the CLI's ``--seeds``, the Train page's box, ``check``): the
    seeds listed, and ``A-B`` (or ``A..B``) for a range, both ends included; ``3`` is seed 3 alone.

    ``spec`` is an int, a list of ints or texts, or text of seeds and ranges separated by commas, semicolons or
    spaces (``"1, 2, 3"``, ``"1-3"``, ``"0 7 9"``). ``what`` names the input in messages (``--seeds``).
    Raises :class:`~disc_core.errors.ConfigError`.
    """
    hint = "give seeds like 1, 2, 3 or a range like 1-3"
    if isinstance(spec, bool) or spec is None:
        raise ConfigError(f"{what}: no seeds given -> {hint}")
    items = [spec] if isinstance(spec, (int, str)) else list(spec)
    seeds: list[int] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise ConfigError(f"{what}: {item!r} is not a whole number -> {hint}")
        if isinstance(item, int):
            seeds.append(item)
            continue
        text = re.sub(r"(?<=\d)\s*(?:\.\.|-)\s*(?=\d)", "-", item.strip())
        for part in (p for p in re.split(r"[,;\s]+", text) if p):
            m = re.fullmatch(r"(-?\d+)(?:-(\d+))?", part)
            if not m:
                raise ConfigError(f"{what}: {part!r} is not a seed -> {hint}")
            lo, hi = int(m.group(1)), int(m.group(2) if m.group(2) is not None else m.group(1))
            if hi < lo:
                raise ConfigError(f"{what}: the range {part!r} runs backwards -> write it low to high (1-3)")
            if hi - lo >= MAX_SEEDS:
                raise ConfigError(f"{what}: the range {part!r} has more than the {MAX_SEEDS} seeds one comparison "
                                  "may run")
            seeds += range(lo, hi + 1)
    if not seeds:
        raise ConfigError(f"{what}: no seeds given -> {hint}")
    bad = [v for v in seeds if not 0 <= v <= MAX_SEED]
    if bad:
        raise ConfigError(f"{what}: seed {bad[0]} is out of range -> seeds are whole numbers from 0 to {MAX_SEED}")
    dup = sorted({v for v in seeds if seeds.count(v) > 1})
    if dup:
        raise ConfigError(f"{what}: seed {dup[0]} is given twice (it would run the same cell twice) -> "
                          "list each seed once")
    if len(seeds) > MAX_SEEDS:
        raise ConfigError(f"{what}: {len(seeds)} seeds, more than the {MAX_SEEDS} one comparison may run")
    return seeds


def _normalise_report_to(value) -> list[str]:
    """``report_to`` as a list of tracker names: ``"tensorboard,mlflow"``, ``["mlflow"]``, ``"all"``, ``"none"``."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    names: list[str] = []
    for item in items:
        for name in str(item).split(","):
            name = name.strip().lower()
            if not name or name == "none":
                continue
            for n in (REPORT_TO if name == "all" else [name]):
                if n not in REPORT_TO:
                    raise ConfigError(f"report_to: unknown tracker {name!r} -> choose from "
                                      f"{', '.join(REPORT_TO)} (or all / none)")
                if n not in names:
                    names.append(n)
    return names


def comparison_labels(text: bool) -> list[str]:
    """The cells a comparison can hold (what :func:`parse_variant` accepts and a page offers): every variant,
    and on a text dataset the BERT variants under each token shift (``unused`` maps non-text symbols only)."""
    shifted = [f"{v}+{s}" for v in ("pretrained", "rand", "re-emb") for s in TEXT_SHIFTS if s != "none"]
    return list(VARIANTS) + (shifted if text else [])


@dataclass
class RunConfig:
    """Everything that defines one fine-tuning run (one cell of a comparison)."""

    dataset: str = "splice-synthetic"
    model_name_or_path: str = DEFAULT_MODEL
    variant: str = "pretrained"
    # token mapping: non-text symbols -> BERT tokens
    mapping: str = "frequent"
    mapping_table: str | None = None
    mapping_seed: int = 0
    frequency_source: str = "vocab"
    # text token shift
    text_shift: str = "none"
    shift_c: int = 1000
    shift_special: bool = False
    # the paper's recipe
    learning_rate: float = 1e-5
    per_device_train_batch_size: int = 32
    per_device_eval_batch_size: int = 64
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    lr_scheduler_type: str = "linear"
    warmup_steps: int = 0
    max_grad_norm: float | None = None
    #: dropout on the attention probabilities (None: the model's own, 0.1 for BERT). On a CPU any attention
    #: dropout sends PyTorch's attention off its fused kernel onto the one that materialises every
    #: length x length matrix: 4x the time of a training step at 502 tokens (benchmarks/RESULTS.md), hence
    #: 0.0 for the laptop plan's 500-bp task; the hidden-layer dropout is untouched
    attention_dropout: float | None = None
    #: the cnn baseline's own learning rate: a small network trained from scratch barely moves at BERT's 1e-5
    cnn_learning_rate: float = 1e-3
    num_train_epochs: float = 3.0
    max_steps: int | None = None
    gradient_accumulation_steps: int = 1
    train_fraction: float = 1.0
    max_length: int = 512
    # evaluation and early stopping
    eval_steps: int | None = None
    early_stopping_patience: int | None = None
    #: validation during training runs on a seeded sample of at most this many examples (whole pieces kept
    #: together); the test set is scored once, at the end, in full unless ``max_test_examples`` caps it
    max_eval_examples: int | None = None
    max_test_examples: int | None = None
    #: score a seeded sample of this many training examples at the end (split "train"): how well the model
    #: fits, the paper's criterion for choosing its learning rate (rand's training F1 on MRPC)
    eval_train_examples: int | None = None
    # reproducibility and hardware
    seed: int = 42
    device: str = "auto"
    #: bf16 autocast where the hardware multiplies bf16 natively: CUDA, or a CPU with AMX / AVX512-BF16 for a
    #: model of hidden size >= 256 (engine.training.precision_for; DISC_CPU_BF16=0|1 overrides on CPU)
    bf16: bool = True
    num_threads: int | None = None
    length_bucketing: bool = True
    # bookkeeping
    checkpoint_steps: int | None = None
    save_model: bool = True
    logging_steps: int = 1
    group: str | None = None
    tags: list[str] = field(default_factory=list)
    #: experiment trackers that also receive the loss, validation metrics and config (REPORT_TO); empty: none.
    #: Not a result field: it changes where numbers are logged, never the numbers
    report_to: list[str] = field(default_factory=list)

    def __post_init__(self):
        base, shift = parse_variant(self.variant)
        if shift:
            self.variant, self.text_shift = base, shift
        if self.variant == "unused":
            self.mapping = "unused"
        if self.text_shift not in TEXT_SHIFTS:
            raise ConfigError(f"text_shift must be one of {TEXT_SHIFTS}, not {self.text_shift!r}")
        self.report_to = _normalise_report_to(self.report_to)
        self._check_numbers()

    def _check_numbers(self) -> None:
        """Refuse values that would crash deep inside torch, train to NaN, or run for ever: what is wrong, the
        field (its CLI flag) and the range that works."""
        def bad(name: str, why: str, fix: str | None = None):
            flag = "--" + name.replace("_", "-")
            return ConfigError(f"{name} ({flag}) {why}, got {getattr(self, name)!r}" + (f" -> {fix}" if fix else ""))

        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and not math.isfinite(v):
                raise bad(f.name, "must be a finite number (not nan or inf)", "give a number such as the default, "
                          f"{f.default!r}" if isinstance(f.default, float) else None)
        if not 0 < self.train_fraction <= 1:
            raise bad("train_fraction", "must be in (0, 1]")
        if self.attention_dropout is not None and not 0 <= self.attention_dropout < 1:
            raise ConfigError(f"attention_dropout must be in [0, 1) (or unset), got {self.attention_dropout}")
        for name in ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps",
                     "logging_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("learning_rate", "cnn_learning_rate", "adam_epsilon"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("adam_beta1", "adam_beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise bad(name, "must be in [0, 1)")
        if self.weight_decay < 0:
            raise bad("weight_decay", "must be 0 or more")
        if self.max_grad_norm is not None and self.max_grad_norm <= 0:
            raise bad("max_grad_norm", "must be positive (or unset for no clipping)")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max_steps must be at least 1, got {self.max_steps}")
        if self.max_steps is not None and self.max_steps > MAX_STEPS:
            raise bad("max_steps", f"must be at most {MAX_STEPS:,} optimiser steps (more is years of compute)",
                      "give a smaller number, or leave it unset to train for num_train_epochs")
        if not 0 < self.num_train_epochs <= MAX_EPOCHS:
            raise bad("num_train_epochs", f"must be more than 0 and at most {MAX_EPOCHS:,}")
        if self.warmup_steps < 0:
            raise bad("warmup_steps", "must be 0 or more (a negative warm-up shifts the learning-rate schedule)")
        if self.warmup_steps > MAX_STEPS:
            raise bad("warmup_steps", f"must be at most {MAX_STEPS:,}")
        if self.max_length < MIN_MAX_LENGTH:
            raise bad("max_length", f"must be at least {MIN_MAX_LENGTH} ([CLS], one symbol, [SEP])")
        if not 0 <= self.seed <= MAX_SEED:
            raise bad("seed", f"must be a whole number from 0 to {MAX_SEED}")
        if not 0 <= self.mapping_seed <= MAX_SEED:
            raise bad("mapping_seed", f"must be a whole number from 0 to {MAX_SEED}")
        if self.num_threads is not None and not 1 <= self.num_threads <= MAX_THREADS:
            raise bad("num_threads", f"must be between 1 and {MAX_THREADS} (or unset: torch's default)")
        for name in ("eval_steps", "checkpoint_steps"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise bad(name, "must be at least 1 (or unset)")
        if self.early_stopping_patience is not None and self.early_stopping_patience < 0:
            raise bad("early_stopping_patience", "must be 0 or more (0: no early stopping), or unset")
        for name in ("max_eval_examples", "max_test_examples", "eval_train_examples"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1 (or unset), got {getattr(self, name)}")
        if self.lr_scheduler_type not in ("linear", "constant"):
            raise ConfigError(f"lr_scheduler_type must be linear or constant, not {self.lr_scheduler_type!r}")
        if not isinstance(self.device, str) or not re.fullmatch(r"auto|(cpu|cuda|mps|xpu)(:\d+)?", self.device.strip()):
            raise bad("device", "must be auto, cpu, cuda, cuda:N, mps or xpu")

    @property
    def label(self) -> str:
        """Short name of the cell: ``pretrained``, ``rand+shift`` ..."""
        return self.variant + (f"+{self.text_shift}" if self.text_shift != "none" else "")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown config keys: {', '.join(unknown)}; known keys: {', '.join(sorted(known))}")
        return cls(**d)

    @classmethod
    def from_file(cls, path: str | Path, **overrides) -> "RunConfig":
        """Read a JSON or YAML file; ``overrides`` (non-None) win over the file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigError(f"{path}: cannot read the config file ({err.strerror})") from None
        try:
            if path.suffix.lower() in (".yaml", ".yml"):
                import yaml

                d = yaml.safe_load(text) or {}
            else:
                d = json.loads(text)
        except Exception as err:
            raise ConfigError(f"{path}: not valid {path.suffix[1:].upper() or 'JSON'} ({err})") from None
        if not isinstance(d, dict):
            raise ConfigError(f"{path}: the config must be a mapping of keys to values")
        d.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(d)

    def replace(self, **changes) -> "RunConfig":
        return dataclasses.replace(self, **changes)
