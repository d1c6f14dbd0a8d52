"""Masked-language-model pre-training of a small BERT, with checkpoints along the way (the paper's Figure 3).

The paper fine-tunes intermediate pre-training checkpoints on non-text tasks and finds that the first
~2% of pre-training steps give most of the gain. Google's MultiBERTs checkpoints need the hub; offline,
:func:`pretrain_mlm` makes the same curve observable at small scale: a small BERT (the bundled
30,522-token uncased WordPiece vocabulary, so every token mapping works unchanged) is pre-trained with
15% masking on an English corpus that is available offline, and saved at several steps, step 0 (the
initialisation) included::

    out/
      step_0/  step_20/ ... step_2000/    save_pretrained folders (safetensors + tokenizer)
      checkpoints.json                    [{"step", "path", "mlm_loss"}], the corpus and the config

:func:`load_corpus` picks the corpus: a text file the user gives (one sentence per line), else the
training sentences of the GLUE tasks under ``DISC_DATA_DIR`` (SST-2, CoLA, MRPC, RTE, STS-B; deduplicated),
else -- only so that the quick mode works anywhere -- sentences synthesised from wordfreq's most frequent
English words (word salad with English token statistics, not real language; the report says so).

:func:`checkpoints_from_refs` turns a list of folders or hub ids (``google/multiberts-seed_0-step_20k``)
into the same (step, path) list, so the fine-tuning side does not care where checkpoints came from.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..fileio import atomic_write_json

__all__ = ["PretrainConfig", "load_corpus", "checkpoint_steps", "pretrain_mlm", "read_checkpoints",
           "checkpoints_from_refs", "resolve_checkpoint", "write_checkpoint_index", "GLUE_CORPUS_TASKS"]

#: Hub revision holding the safetensors conversion of repositories that ship only pickles (the hub's
#: SFconvertbot pull requests; the MultiBERTs checkpoints are such repositories).
SAFETENSORS_REVISION = "refs/pr/1"

#: GLUE tasks whose training sentences form the offline English corpus.
GLUE_CORPUS_TASKS = ("sst2", "cola", "mrpc", "rte", "stsb")


@dataclass
class PretrainConfig:
    """A small BERT and its MLM pre-training budget."""

    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    intermediate_size: int = 512
    max_length: int = 64
    batch_size: int = 64
    learning_rate: float = 5e-4
    warmup_fraction: float = 0.02
    weight_decay: float = 0.01
    max_steps: int = 2000
    #: fractions of ``max_steps`` at which a checkpoint is saved (0 = the initialisation)
    checkpoint_fractions: tuple[float, ...] = (0.0, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
    mlm_probability: float = 0.15
    seed: int = 0
    max_sentences: int | None = None
    num_threads: int | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["checkpoint_fractions"] = list(self.checkpoint_fractions)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "PretrainConfig":
        d = dict(d)
        if "checkpoint_fractions" in d:
            d["checkpoint_fractions"] = tuple(d["checkpoint_fractions"])
        return cls(**d)


def checkpoint_steps(max_steps: int, fractions) -> list[int]:
    """Distinct checkpoint steps, ascending: ``round(f * max_steps)`` for each fraction (0 kept)."""
    return sorted({int(round(f * max_steps)) for f in fractions if 0 <= f <= 1})


def _glue_sentences() -> list[str]:
    from ..data import get_info, load_dataset

    out = []
    for name in GLUE_CORPUS_TASKS:
        try:
            ok, _ = get_info(name).available()
        except Exception:
            ok = False
        if not ok:
            continue
        for r in load_dataset(name).split("train"):
            out.append(r.text)
            if r.text_pair:
                out.append(r.text_pair)
    return out


def _wordfreq_sentences(n: int, seed: int) -> list[str]:
    import numpy as np
    from wordfreq import top_n_list, word_frequency

    words = top_n_list("en", 5000)
    p = np.array([word_frequency(w, "en") for w in words])
    p /= p.sum()
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, size=int(rng.integers(6, 20)), p=p)) for _ in range(n)]


def load_corpus(path: str | Path | None = None, max_sentences: int | None = None,
                seed: int = 0) -> tuple[list[str], str]:
    """English sentences for MLM pre-training, and a one-line description of where they came from."""
    if path:
        p = Path(path)
        try:
            lines = p.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise ConfigError(f"{p}: cannot read the corpus file ({err.strerror}) -> give a UTF-8 text "
                              "file with one sentence or paragraph per line") from None
        sents = [s.strip() for s in lines if s.strip()]
        if not sents:
            raise ConfigError(f"{p}: the corpus file has no non-empty line")
        what = f"the text file {p} ({len(sents):,} non-empty lines)"
    else:
        sents = list(dict.fromkeys(s.strip() for s in _glue_sentences() if s and s.strip()))
        if sents:
            what = (f"GLUE training sentences ({', '.join(GLUE_CORPUS_TASKS)}) from DISC_DATA_DIR, "
                    f"deduplicated: {len(sents):,} sentences")
        else:
            sents = _wordfreq_sentences(max_sentences or 5000, seed)
            what = (f"{len(sents):,} synthetic sentences sampled from wordfreq's 5,000 most frequent English "
                    "words (no GLUE data and no corpus file: English token statistics, not real language)")
    if max_sentences and len(sents) > max_sentences:
        import numpy as np

        keep = np.random.default_rng(seed).choice(len(sents), size=max_sentences, replace=False)
        sents = [sents[i] for i in sorted(keep)]
        what += f"; a seeded sample of {max_sentences:,}"
    return sents, what


def _new_model(cfg: PretrainConfig, tok):
    import torch
    from transformers import BertConfig, BertForMaskedLM

    bcfg = BertConfig(vocab_size=len(tok), hidden_size=cfg.hidden_size, num_hidden_layers=cfg.num_hidden_layers,
                      num_attention_heads=cfg.num_attention_heads, intermediate_size=cfg.intermediate_size,
                      max_position_embeddings=512, pad_token_id=tok.pad_token_id)
    torch.manual_seed(cfg.seed)
    return BertForMaskedLM(bcfg)


def _mlm_loss(model, input_ids, attention_mask, labels):
    """Cross-entropy on the masked positions only: the (B, T, 30522) logits of every position would
    dominate time and memory for a small model."""
    import torch.nn.functional as F

    h = model.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, T, C)
    sel = labels != -100
    logits = model.cls(h[sel])  # (M, V) for the M masked positions
    return F.cross_entropy(logits, labels[sel])


def read_checkpoints(out_dir: str | Path) -> list[dict]:
    """The ``[{"step", "path", ...}]`` list of ``out_dir/checkpoints.json`` (empty if absent)."""
    p = Path(out_dir) / "checkpoints.json"
    if not p.exists():
        return []
    return json.loads(p.read_text(encoding="utf-8"))["checkpoints"]


def write_checkpoint_index(out: str | Path, ckpts: list[dict], **about) -> None:
    """Write ``out/checkpoints.json`` (``{"checkpoints": [{"step", "path", ...}], **about}``) atomically."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "checkpoints.json", {**about, "checkpoints": ckpts})


def _write_index(out: Path, cfg: PretrainConfig, corpus_what: str, ckpts: list[dict], done: bool) -> None:
    atomic_write_json(out / "checkpoints.json",
                      {"config": cfg.to_dict(), "corpus": corpus_what, "finished": done, "checkpoints": ckpts})


def pretrain_mlm(cfg: PretrainConfig, out_dir: str | Path, corpus: str | Path | None = None,
                 log=print, reuse: bool = True, resume_every: int | None = None) -> list[dict]:
    """Pre-train a small BERT with MLM and save ``out_dir/step_<N>`` at :func:`checkpoint_steps`.

    Returns the checkpoint list (also written to ``out_dir/checkpoints.json``). With ``reuse`` a
    finished pre-training with the same config is not repeated, and one stopped part-way goes on from
    ``out_dir/resume/`` (model, optimiser, schedule, random state and the losses so far, written every
    ``resume_every`` steps, default a twentieth of the run), so a pre-training spans several sittings and
    gives the same checkpoints as one uninterrupted run.
    """
    import numpy as np
    import torch
    from transformers import DataCollatorForLanguageModeling
    from transformers.utils import logging as hf_logging

    from ..engine.models import load_tokenizer

    hf_logging.disable_progress_bar()
    out = Path(out_dir)
    idx = out / "checkpoints.json"
    if reuse and idx.exists():
        prev = json.loads(idx.read_text(encoding="utf-8"))
        if prev.get("finished") and prev.get("config") == cfg.to_dict():
            return prev["checkpoints"]
    out.mkdir(parents=True, exist_ok=True)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    sents, what = load_corpus(corpus, cfg.max_sentences, cfg.seed)
    tok = load_tokenizer(None)
    log(f"pre-training corpus: {what}")
    enc = tok(sents, truncation=True, max_length=cfg.max_length)["input_ids"]
    enc = [ids for ids in enc if len(ids) > 3]
    collator = DataCollatorForLanguageModeling(tok, mlm=True, mlm_probability=cfg.mlm_probability,
                                               return_tensors="pt")
    model = _new_model(cfg, tok)
    model.train()
    no_decay = ("bias", "LayerNorm.weight")
    params = [{"params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)],
               "weight_decay": cfg.weight_decay},
              {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)],
               "weight_decay": 0.0}]
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate)
    warm = max(1, int(cfg.warmup_fraction * cfg.max_steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (cfg.max_steps - s) / max(1, cfg.max_steps - warm)))
    save_at = checkpoint_steps(cfg.max_steps, cfg.checkpoint_fractions)
    rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)
    ckpts, losses, t0 = [], [], time.time()
    resume_dir = out / "resume"
    every = resume_every or max(1, cfg.max_steps // 20)

    def save(step: int) -> None:
        d = out / f"step_{step}"
        model.save_pretrained(d, safe_serialization=True)
        tok.save_pretrained(d)
        recent = float(np.mean(losses[-20:])) if losses else None
        ckpts.append({"step": step, "path": str(d.resolve()), "mlm_loss": recent})
        _write_index(out, cfg, what, ckpts, done=False)
        log(f"  saved step_{step}" + (f" (MLM loss {recent:.3f})" if recent is not None else ""))

    order, pos, start = rng.permutation(len(enc)), 0, 1
    state = _load_resume(resume_dir, cfg) if reuse else None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        rng.bit_generator.state = json.loads(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        order, pos, start = state["order"].numpy(), state["pos"], state["step"] + 1
        losses, ckpts = list(state["losses"]), [c for c in read_checkpoints(out) if c["step"] < start]
        log(f"  pre-training goes on from step {state['step']} (out/resume)")
    elif 0 in save_at:
        save(0)

    def save_resume(step: int) -> None:
        tmp = out / "resume.tmp"
        tmp.mkdir(exist_ok=True)
        torch.save({"config": cfg.to_dict(), "step": step, "model": model.state_dict(), "opt": opt.state_dict(),
                    "sched": sched.state_dict(), "rng": json.dumps(rng.bit_generator.state),
                    "torch_rng": torch.get_rng_state(), "order": torch.as_tensor(order), "pos": pos, "losses": losses}, tmp / "state.pt")
        old = out / "resume.old"
        if resume_dir.exists():
            resume_dir.rename(old)
        tmp.rename(resume_dir)
        if old.exists():
            import shutil

            shutil.rmtree(old)

    for step in range(start, cfg.max_steps + 1):
        while len(order) - pos < cfg.batch_size:  # a corpus smaller than a batch is cycled
            order = np.concatenate([order[pos:], rng.permutation(len(enc))])
            pos = 0
        batch = collator([{"input_ids": enc[i]} for i in order[pos:pos + cfg.batch_size]])
        pos += cfg.batch_size
        if not (batch["labels"] != -100).any():  # nothing masked: no loss (and no NaN) to learn from
            batch["labels"][:, 1] = batch["input_ids"][:, 1]
            batch["input_ids"][:, 1] = tok.mask_token_id
        loss = _mlm_loss(model, batch["input_ids"], batch["attention_mask"], batch["labels"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        if step % max(1, cfg.max_steps // 20) == 0:
            log(f"  MLM step {step}/{cfg.max_steps}: loss {np.mean(losses[-20:]):.3f} "
                f"({time.time() - t0:.0f} s)")
        if step in save_at:
            save(step)
        if step % every == 0 and step < cfg.max_steps:
            save_resume(step)
    _write_index(out, cfg, what, ckpts, done=True)
    atomic_write_json(out / "mlm_losses.json", losses, indent=None)
    if resume_dir.exists():
        import shutil

        shutil.rmtree(resume_dir)
    return ckpts


def _load_resume(resume_dir: Path, cfg: PretrainConfig) -> dict | None:
    """The saved state of a pre-training stopped part-way, if it is of ``cfg`` and readable (else None: start
    again; a rename interrupted half-way leaves ``resume.old``, which is used then)."""
    import torch

    for d in (resume_dir, resume_dir.with_name("resume.old")):
        try:
            state = torch.load(d / "state.pt", weights_only=True)  # tensors and plain values: no pickle
        except Exception:
            continue
        if state.get("config") == cfg.to_dict():
            return state
    return None


_STEP_RE = re.compile(r"step[_-]?(\d+)(k?)", re.IGNORECASE)


def checkpoints_from_refs(refs: list[str]) -> list[dict]:
    """``[{"step", "path"}]`` for model references (folders or hub ids), ordered by step.

    The step is read from the name: ``.../step_200`` -> 200, ``google/multiberts-seed_0-step_20k`` ->
    20,000; ``REF=STEP`` gives it explicitly. Hub ids are resolved (downloaded when online) only when
    fine-tuned, through :func:`disc_core.engine.models.resolve_model`.
    """
    out = []
    for ref in refs:
        ref, _, explicit = ref.partition("=")
        if explicit:
            step = int(explicit)
        else:
            m = None
            for m in _STEP_RE.finditer(Path(ref).name or ref):
                pass
            if m is None:
                raise ConfigError(f"{ref}: cannot tell its pre-training step from the name -> write REF=STEP, "
                                  "e.g. my_ckpt=20000")
            step = int(m.group(1)) * (1000 if m.group(2) else 1)
        out.append({"step": step, "path": ref})
    return sorted(out, key=lambda c: c["step"])


def resolve_checkpoint(ref: str) -> str:
    """A local folder with safetensors weights for a checkpoint reference (folder or hub id).

    Hub repositories that ship only ``pytorch_model.bin`` (the MultiBERTs checkpoints among them) are
    fetched from their safetensors conversion (revision ``refs/pr/1``) when it exists; pickles are never
    loaded. Offline, a hub id that is not cached fails fast with :func:`disc_core.engine.models.resolve_model`'s
    message.
    """
    from ..errors import ModelError
    from ..engine.models import resolve_model

    try:
        return resolve_model(ref).path
    except ModelError as err:
        if "safetensors" not in str(err):
            raise
    from huggingface_hub import snapshot_download

    try:
        local = Path(snapshot_download(ref, revision=SAFETENSORS_REVISION,
                                       allow_patterns=["*.json", "*.txt", "*.safetensors"]))
    except Exception as err:
        local = None
        why = f"{type(err).__name__}: {err}"
    if local is None or not any(local.glob("*.safetensors")):
        raise ModelError(f"{ref}: the hub repository ships no safetensors weights, and its revision "
                         f"{SAFETENSORS_REVISION} has none either ({why if local is None else 'no file'}) -> "
                         "convert it yourself (load pytorch_model.bin in a trusted environment, save_pretrained "
                         "with safe_serialization=True) and pass the folder as FOLDER=STEP")
    return str(local)
