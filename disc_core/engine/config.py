"""Experiment configuration: one dataclass that round-trips to JSON/YAML and is saved with every run.

Defaults are the paper's fine-tuning recipe: Adam, learning rate 1e-5, batch 32, linear decay, no
warm-up, no gradient clipping, early stopping on the validation set for non-text data. Every field is
overridable from the CLI (``--learning-rate 2e-5``), a JSON/YAML file (``--config cfg.yaml``) or code.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .models import DEFAULT_MODEL

__all__ = ["RunConfig", "VARIANTS", "BASELINES", "TEXT_SHIFTS", "parse_variant", "comparison_labels"]

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

    def __post_init__(self):
        base, shift = parse_variant(self.variant)
        if shift:
            self.variant, self.text_shift = base, shift
        if self.variant == "unused":
            self.mapping = "unused"
        if self.text_shift not in TEXT_SHIFTS:
            raise ConfigError(f"text_shift must be one of {TEXT_SHIFTS}, not {self.text_shift!r}")
        if not 0 < self.train_fraction <= 1:
            raise ConfigError(f"train_fraction must be in (0, 1], got {self.train_fraction}")
        if self.attention_dropout is not None and not 0 <= self.attention_dropout < 1:
            raise ConfigError(f"attention_dropout must be in [0, 1) (or unset), got {self.attention_dropout}")
        for name in ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("learning_rate", "cnn_learning_rate"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max_steps must be at least 1, got {self.max_steps}")
        for name in ("max_eval_examples", "max_test_examples", "eval_train_examples"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1 (or unset), got {getattr(self, name)}")
        if self.lr_scheduler_type not in ("linear", "constant"):
            raise ConfigError(f"lr_scheduler_type must be linear or constant, not {self.lr_scheduler_type!r}")

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
