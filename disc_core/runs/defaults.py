"""The queue's fallback numbers, read from ``assets/estimate_defaults.yaml`` (each with where it comes from):
used only until a run of the model has been measured on this machine (:mod:`disc_core.runs.queue`)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULTS_FILE", "load_defaults", "DEFAULT_TOKENS_PER_S", "DEFAULT_OVERHEAD_S",
           "DEFAULT_TOKENS_PER_EXAMPLE", "RACE_GAIN", "race_factor"]

#: Where the fallback numbers live, each with its provenance (data, not code): ``assets/estimate_defaults.yaml``.
DEFAULTS_FILE = Path(__file__).resolve().parents[2] / "assets" / "estimate_defaults.yaml"


def load_defaults(path: Path | None = None) -> dict[str, float]:
    """``{name: value}`` of :data:`DEFAULTS_FILE` (``tokens_per_s``, ``overhead_s``, ``tokens_per_example``,
    ``race_gain``). Raises :class:`~disc_core.errors.ConfigError` naming the file when it is unreadable."""
    import yaml

    from ..errors import ConfigError

    path = path or DEFAULTS_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return {k: float(v["value"]) for k, v in data.items()}
    except (OSError, yaml.YAMLError, AttributeError, KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"{path}: cannot read the estimates' default numbers ({type(err).__name__}: {err}) -> "
                          "restore the file from the repository; each entry needs a numeric 'value'") from err


_D = load_defaults()
#: Fallback throughput (tokens/s, one run on every core), fallback per-run overhead (s), fallback tokens per
#: example, and the throughput gain of racing runs: read from :data:`DEFAULTS_FILE`, used only without a
#: measurement on this machine.
DEFAULT_TOKENS_PER_S = _D["tokens_per_s"]
DEFAULT_OVERHEAD_S = _D["overhead_s"]
DEFAULT_TOKENS_PER_EXAMPLE = int(_D["tokens_per_example"])
RACE_GAIN = _D["race_gain"]


def race_factor(k: int) -> float:
    """Each of ``k`` racing runs' speed relative to one run on every core (1 for a run that does not race)."""
    return 1.0 if k <= 1 else RACE_GAIN / k
