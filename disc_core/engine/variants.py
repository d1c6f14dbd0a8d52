"""Model variants: the same network, differently initialised, each with a fresh linear head.

- ``pretrained``: every pretrained weight loaded, embeddings included.
- ``rand``: the same config, initialised as for pre-training (the model's own ``_init_weights``,
  N(0, initializer_range^2)); no trained weight.
- ``re-emb``: pretrained, with the word-embedding matrix re-initialised the same way.
- ``unused``: pretrained; the difference lies in the token mapping (symbols -> [unused*] tokens).

Weights load from safetensors only and never with remote code.
"""

from __future__ import annotations

import torch

from .config import BASELINES, VARIANTS
from ..errors import ConfigError, ModelError
from .models import check_weights, load_config, resolve_model

__all__ = ["build_model", "VARIANTS", "reinit_word_embeddings"]


def reinit_word_embeddings(model, std: float | None = None) -> None:
    """Re-initialise the input word embeddings in place: N(0, std^2), padding row zero."""
    emb = model.get_input_embeddings()
    std = std if std is not None else getattr(model.config, "initializer_range", 0.02)
    with torch.no_grad():
        emb.weight.normal_(mean=0.0, std=std)
        if emb.padding_idx is not None:
            emb.weight[emb.padding_idx].zero_()


def build_model(model_ref: str | None, variant: str, num_labels: int, task: str, seed: int = 42,
                attention_dropout: float | None = None):
    """A sequence-classification model of ``variant`` on top of ``model_ref``.

    ``task`` is ``classification`` or ``regression`` (sets ``problem_type`` and, for regression,
    ``num_labels=1``). The head is always freshly initialised from ``seed``. ``attention_dropout`` replaces
    the model's dropout on attention probabilities (``attention_probs_dropout_prob`` of BERT and ALBERT).
    """
    from transformers import AutoModelForSequenceClassification

    if variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    if variant in BASELINES:
        raise ConfigError(f"{variant!r} is a baseline without a BERT: run_experiment fits it (engine.baselines)")
    ref = resolve_model(model_ref)
    problem_type = "regression" if task == "regression" else "single_label_classification"
    n = 1 if task == "regression" else num_labels
    torch.manual_seed(seed)
    cfg = load_config(model_ref)
    kw = dict(num_labels=n, problem_type=problem_type)
    if attention_dropout is not None:
        if not hasattr(cfg, "attention_probs_dropout_prob"):
            raise ConfigError(f"{ref.describe()}: its config has no attention_probs_dropout_prob, so "
                              "attention_dropout cannot be set; leave it unset for this model")
        kw["attention_probs_dropout_prob"] = float(attention_dropout)
    try:
        if variant == "rand":
            config = cfg.__class__.from_dict({**cfg.to_dict(), **kw})
            model = AutoModelForSequenceClassification.from_config(config, trust_remote_code=False)
        else:
            check_weights(model_ref)  # a damaged weights file is named here, not in a SafetensorError traceback
            model = AutoModelForSequenceClassification.from_pretrained(
                ref.path, trust_remote_code=False, use_safetensors=True, local_files_only=True, **kw)
    except ModelError:
        raise
    except Exception as err:  # OSError, ValueError, safetensors' SafetensorError, a config/weights mismatch
        raise ModelError(f"{ref.describe()}: cannot build a sequence classifier ({type(err).__name__}: {err}) -> "
                         "check that the folder's config.json and model.safetensors belong to the same model") from err
    if variant == "re-emb":
        torch.manual_seed(seed + 1)
        reinit_word_embeddings(model)
    return model
