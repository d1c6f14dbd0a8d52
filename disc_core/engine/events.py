"""Events the training loop emits, and the listener protocol.

The loop only optimises and reports; the CLI progress bar, the run folder's metric log, the run store,
the dashboard's live curves and the optional experiment trackers (``RunConfig.report_to``: TensorBoard,
MLflow) are all listeners of the same events (minGPT's ``on_batch_end`` idea).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ConfigError

__all__ = ["RunStarted", "RunResumed", "StepLogged", "EvalLogged", "RunFinished", "Listener", "JsonlListener",
           "TqdmListener", "TensorBoardListener", "MlflowListener", "TRACKER_PACKAGES", "check_trackers",
           "tracker_listeners", "emit"]


@dataclass
class RunStarted:
    total_steps: int
    steps_per_epoch: int
    train_examples: int
    start_step: int = 0
    device: str = "cpu"
    kind: str = "start"


@dataclass
class RunResumed:
    """A run started with ``resume``: where it continues (``from_step`` 0: no usable checkpoint, it starts
    again) and the sentence to show (``resumed from step 40`` / ``no usable checkpoint (...): started again``).
    ``metrics_kept_in``: where the earlier attempt's metric log was moved when the run starts again."""

    from_step: int
    message: str
    checkpoint: str | None = None
    metrics_kept_in: str | None = None
    kind: str = "resume"


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

    def on_resume(self, ev: RunResumed) -> None: ...

    def on_step(self, ev: StepLogged) -> None: ...

    def on_eval(self, ev: EvalLogged) -> None: ...

    def on_end(self, ev: RunFinished) -> None: ...


_DISPATCH = {"start": "on_start", "resume": "on_resume", "step": "on_step", "eval": "on_eval", "end": "on_end"}


def emit(listeners, ev) -> None:
    """Call each listener's handler of ``ev`` (a listener without one, e.g. no ``on_resume``, skips it)."""
    name = _DISPATCH[ev.kind]
    for li in listeners:
        handler = getattr(li, name, None)
        if handler is not None:
            handler(ev)


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

    def on_resume(self, ev: RunResumed) -> None:
        from tqdm.auto import tqdm

        tqdm.write(f"{self.desc}: {ev.message}")

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


# ------------------------------------------------------------------------------------------ trackers
#: tracker name -> (module that must import, pip package that brings it)
TRACKER_PACKAGES = {"tensorboard": ("tensorboard", "tensorboard"), "mlflow": ("mlflow", "mlflow-skinny")}


def check_trackers(names) -> None:
    """Raise :class:`~disc_core.errors.ConfigError` naming the pip package of each tracker in ``names`` whose
    package is not installed (they are optional: ``requirements-dev.txt`` has them, ``requirements.txt`` not)."""
    import importlib.util

    missing = [n for n in names if importlib.util.find_spec(TRACKER_PACKAGES[n][0]) is None]
    if missing:
        pkgs = " ".join(TRACKER_PACKAGES[n][1] for n in missing)
        raise ConfigError(f"report_to (--report-to) {', '.join(missing)}: not installed -> run "
                          f"`pip install {pkgs}`, or leave {'it' if len(missing) == 1 else 'them'} out of --report-to")


def _numbers(metrics: dict) -> dict:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


class TensorBoardListener(Listener):
    """Writes the training loss and learning rate (``train/``), every evaluation's metrics (``validation/``,
    ``test/``, ``train/`` of the final training sample) and the config (a text entry) as TensorBoard event files
    in ``log_dir``. A resumed run purges the events after its checkpoint's step, so curves are not doubled."""

    def __init__(self, log_dir: str | Path, config: dict):
        self.log_dir, self.config, self.writer, self.purge_step = Path(log_dir), config, None, None

    def _w(self):
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.log_dir), purge_step=self.purge_step, flush_secs=10)
            self.writer.add_text("config", "```\n" + json.dumps(self.config, indent=2, default=str) + "\n```", 0)
        return self.writer

    def on_resume(self, ev: RunResumed) -> None:
        self.purge_step = ev.from_step + 1 if ev.from_step else 0

    def on_step(self, ev: StepLogged) -> None:
        w = self._w()
        w.add_scalar("train/loss", ev.loss, ev.step)
        w.add_scalar("train/learning_rate", ev.learning_rate, ev.step)

    def on_eval(self, ev: EvalLogged) -> None:
        w = self._w()
        for k, v in _numbers(ev.metrics).items():
            w.add_scalar(f"{ev.split}/{k}", v, ev.step)
        w.flush()

    def on_end(self, ev: RunFinished) -> None:
        self.close()

    def close(self, error: BaseException | None = None) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _mlflow_uri(run_dir: Path) -> str:
    """``$MLFLOW_TRACKING_URI`` if set, else the file store ``run_dir/mlruns``. MLflow 3 refuses a file store
    unless ``MLFLOW_ALLOW_FILE_STORE`` is set (it prefers a database); the file store needs no server or
    database package, so it is allowed here for file stores."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or (run_dir / "mlruns").resolve().as_uri()
    if uri.startswith("file:") or "://" not in uri:
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return uri


class MlflowListener(Listener):
    """One MLflow run per attempt (experiment: the dataset's name): the config as parameters, the loss and
    learning rate per step, every evaluation's metrics (``validation/accuracy`` ...), the test score; tags
    say the run folder, the variant label and where a resumed attempt continued."""

    def __init__(self, tracking_uri: str, experiment: str, run_name: str, config: dict, tags: dict):
        self.uri, self.experiment, self.run_name = tracking_uri, experiment, run_name
        self.config, self.tags, self.client, self.run_id = config, tags, None, None

    def _start(self) -> str:
        if self.run_id is None:
            from mlflow.entities import Param
            from mlflow.tracking import MlflowClient

            self.client = MlflowClient(tracking_uri=self.uri)
            exp = self.client.get_experiment_by_name(self.experiment)
            exp_id = exp.experiment_id if exp is not None else self.client.create_experiment(self.experiment)
            run = self.client.create_run(exp_id, run_name=self.run_name, tags=self.tags)
            self.run_id = run.info.run_id
            params = [Param(k, json.dumps(v, default=str) if not isinstance(v, str) else v)
                      for k, v in self.config.items()]
            self.client.log_batch(self.run_id, params=params)
        return self.run_id

    def _metrics(self, values: dict, step: int) -> None:
        from mlflow.entities import Metric

        run_id = self._start()
        now = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[Metric(k, v, now, step) for k, v in values.items()])

    def on_resume(self, ev: RunResumed) -> None:
        self.tags = {**self.tags, "resumed_from_step": str(ev.from_step), "resume": ev.message}

    def on_step(self, ev: StepLogged) -> None:
        self._metrics({"train/loss": ev.loss, "train/learning_rate": ev.learning_rate}, ev.step)

    def on_eval(self, ev: EvalLogged) -> None:
        self._metrics({f"{ev.split}/{k}": v for k, v in _numbers(ev.metrics).items()}, ev.step)

    def on_end(self, ev: RunFinished) -> None:
        res = ev.results
        if isinstance(res.get("score"), (int, float)):
            self._metrics({"score": float(res["score"])}, int(res.get("steps") or 0))
        self.close()

    def close(self, error: BaseException | None = None) -> None:
        if self.run_id is not None and self.client is not None:
            status = "FINISHED" if error is None else ("KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
            self.client.set_terminated(self.run_id, status=status)
            self.client = None


def tracker_listeners(cfg, run_dir: str | Path) -> list[Listener]:
    """The listeners of ``cfg.report_to`` for a run in ``run_dir``: TensorBoard logs in ``run_dir/tensorboard``,
    MLflow in ``run_dir/mlruns`` (or ``$MLFLOW_TRACKING_URI``)."""
    if not cfg.report_to:
        return []
    check_trackers(cfg.report_to)
    run_dir = Path(run_dir)
    config = cfg.to_dict()
    out: list[Listener] = []
    for name in cfg.report_to:
        if name == "tensorboard":
            out.append(TensorBoardListener(run_dir / "tensorboard", config))
        elif name == "mlflow":
            tags = {"run_dir": str(run_dir.resolve()), "label": cfg.label, "seed": str(cfg.seed),
                    "group": cfg.group or ""}
            out.append(MlflowListener(_mlflow_uri(run_dir), cfg.dataset, f"{cfg.label} seed {cfg.seed}", config,
                                      tags))
    return out
