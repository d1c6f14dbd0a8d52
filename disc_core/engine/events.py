"""Events the training loop emits, and the listener protocol.

The loop only optimises and reports; the CLI progress bar, the run folder's metric log, the run store
and the dashboard's live curves are all listeners of the same events (minGPT's ``on_batch_end`` idea).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["RunStarted", "StepLogged", "EvalLogged", "RunFinished", "Listener", "JsonlListener",
           "TqdmListener", "emit"]


@dataclass
class RunStarted:
    total_steps: int
    steps_per_epoch: int
    train_examples: int
    start_step: int = 0
    device: str = "cpu"
    kind: str = "start"


@dataclass
class StepLogged:
    """One optimiser step. ``tokens_per_s`` counts real tokens (padding excluded)."""

    step: int
    epoch: float
    loss: float
    learning_rate: float
    examples_seen: int
    tokens_seen: int
    tokens_per_s: float
    elapsed_s: float
    time: float = field(default_factory=time.time)
    kind: str = "step"


@dataclass
class EvalLogged:
    step: int
    split: str
    metrics: dict
    elapsed_s: float
    time: float = field(default_factory=time.time)
    kind: str = "eval"


@dataclass
class RunFinished:
    results: dict
    kind: str = "end"


class Listener:
    """Base listener: override what you need. Exceptions in a listener propagate (fail loudly)."""

    def on_start(self, ev: RunStarted) -> None: ...

    def on_step(self, ev: StepLogged) -> None: ...

    def on_eval(self, ev: EvalLogged) -> None: ...

    def on_end(self, ev: RunFinished) -> None: ...


_DISPATCH = {"start": "on_start", "step": "on_step", "eval": "on_eval", "end": "on_end"}


def emit(listeners, ev) -> None:
    for li in listeners:
        getattr(li, _DISPATCH[ev.kind])(ev)


class JsonlListener(Listener):
    """Appends every step and evaluation to ``metrics.jsonl`` (one JSON object a line, flushed)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _write(self, ev) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(asdict(ev)) + "\n")

    on_step = on_eval = _write


class TqdmListener(Listener):
    """A tqdm progress bar over optimiser steps, showing loss and tokens/s."""

    def __init__(self, desc: str = "fine-tuning", leave: bool = True):
        self.desc, self.leave, self.bar = desc, leave, None

    def on_start(self, ev: RunStarted) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=ev.total_steps, initial=ev.start_step, desc=self.desc, leave=self.leave,
                        unit="step", dynamic_ncols=True)

    def on_step(self, ev: StepLogged) -> None:
        if self.bar is not None:
            self.bar.update(ev.step - self.bar.n)
            self.bar.set_postfix(loss=f"{ev.loss:.4f}", tok_s=f"{ev.tokens_per_s:,.0f}", refresh=False)

    def on_eval(self, ev: EvalLogged) -> None:
        if self.bar is not None:
            shown = {k: round(v, 4) for k, v in ev.metrics.items() if isinstance(v, float)}
            self.bar.write(f"step {ev.step} {ev.split}: {shown}")

    def on_end(self, ev: RunFinished) -> None:
        if self.bar is not None:
            self.bar.close()
