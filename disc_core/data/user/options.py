"""The options of an import (:class:`ImportOptions`), each checked by its own field.

Every option is a field with its default; a field's ``metadata`` says what values it takes (``choices``) or
how it is checked (``check``), and :meth:`ImportOptions.__post_init__` runs those checks, so a wrong value is
refused as soon as the options are made, naming the option. :meth:`ImportOptions.given` is what was set to
something other than its default: a reader refuses given options that do not apply to its format.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

from ...errors import ConfigError
from ..base import DISCIPLINES
from ..splits import split_counts

__all__ = ["ImportOptions", "FASTA_RULES", "FORMATS"]

#: Where a FASTA header holds the label (``fasta_label``), in words.
FASTA_RULES = {"auto": "label=X if there is one, else the last word, else the text after the last '|'",
               "key": "the label=X token (>id label=Nucleus)", "last": "the last word (>P12345 Nucleus)",
               "pipe": "the text after the last '|' (>sp|P12345|kinase)"}
#: ``fmt`` values: a reader's kind, or a common name of one (csv, tsv: table; fa: fasta).
FORMATS = {"fasta": "fasta", "fa": "fasta", "table": "table", "csv": "table", "tsv": "table", "midi": "midi",
           "zip": "zip"}


def _integer(minimum: int | None = None):
    def check(name: str, value) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
            least = f" of at least {minimum}" if minimum is not None else ""
            raise ConfigError(f"{name} must be a whole number{least}, not {value!r}")
    return check


def _boolean(name: str, value) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False, not {value!r}")


def _fractions(name: str, value) -> None:
    try:
        split_counts(0, tuple(float(v) for v in value))
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{name}: {err}") from None


def _one_character(name: str, value) -> None:
    if not isinstance(value, str) or len(value) != 1:
        raise ConfigError(f"{name} (the table's delimiter) must be one character, e.g. ',' or a tab, not {value!r}")


def _text(name: str, value) -> None:
    if not isinstance(value, (str, Path)):
        raise ConfigError(f"{name} must be text, not {value!r}")


@dataclass
class ImportOptions:
    """What :func:`~disc_core.data.user.read_user_data` takes besides the path and the name.

    ``discipline`` and ``task`` are guessed when unset, ``metric`` follows the task; ``seed`` and ``fractions``
    make the automatic split; ``fmt`` is the reader (else from the file); ``sequence_column``,
    ``label_column``, ``split_column`` and ``sep`` are a table's; ``labels`` (a side CSV of id,label),
    ``fasta_label`` and ``label_column`` a FASTA file's; ``merge_labels``: labels that differ only in case or
    surrounding spaces are one class (with a warning) or refused; ``workers``: MIDI parser processes;
    ``source``: what the dataset says it came from (default the path).
    """

    discipline: str | None = field(default=None, metadata={"choices": DISCIPLINES})
    task: str | None = field(default=None, metadata={"choices": ("classification", "regression")})
    metric: str | None = field(default=None, metadata={"check": _text})
    seed: int = field(default=42, metadata={"check": _integer()})
    fractions: tuple[float, float, float] = field(default=(0.8, 0.1, 0.1), metadata={"check": _fractions})
    fmt: str | None = field(default=None, metadata={"choices": tuple(FORMATS)})
    sequence_column: str | None = field(default=None, metadata={"check": _text})
    label_column: str | None = field(default=None, metadata={"check": _text})
    split_column: str | None = field(default=None, metadata={"check": _text})
    sep: str | None = field(default=None, metadata={"check": _one_character})
    labels: str | Path | None = field(default=None, metadata={"check": _text})
    fasta_label: str = field(default="auto", metadata={"choices": tuple(FASTA_RULES)})
    merge_labels: bool = field(default=True, metadata={"check": _boolean})
    workers: int | None = field(default=None, metadata={"check": _integer(1)})
    source: str | None = field(default=None, metadata={"check": _text})

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            choices = f.metadata.get("choices")
            if choices is not None and value not in choices:
                raise ConfigError(f"{f.name} must be one of {', '.join(choices)}, not {value!r}")
            if "check" in f.metadata:
                f.metadata["check"](f.name, value)
        if self.fractions is not None:
            self.fractions = tuple(float(v) for v in self.fractions)
        if self.fmt is not None:
            self.fmt = FORMATS[self.fmt]

    @classmethod
    def from_kwargs(cls, **options) -> ImportOptions:
        """The options from keyword arguments; an unknown name is a :class:`ConfigError` listing the known."""
        known = {f.name for f in fields(cls)}
        unknown = set(options) - known
        if unknown:
            raise ConfigError(f"unknown option(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        return cls(**options)

    def given(self) -> set[str]:
        """Names of the options set to something other than their default."""
        out = set()
        for f in fields(self):
            default = f.default if f.default is not MISSING else None
            if getattr(self, f.name) != (tuple(default) if isinstance(default, tuple) else default):
                out.add(f.name)
        return out

    def refuse_others(self, allowed: set[str] | frozenset[str], what: str) -> None:
        """:class:`ConfigError` for given options outside ``allowed`` (``fmt`` is always allowed)."""
        bad = sorted(self.given() - set(allowed) - {"fmt"})
        if bad:
            raise ConfigError(f"the {', '.join(b.replace('_', ' ') for b in bad)} option(s) do not apply to a "
                              f"{what}; leave them unset")
