"""The formats of the user's data, one reader each, in :data:`READERS`; and :func:`read_user_data`.

A reader knows its file name suffixes, the options that apply to it and how to turn a path into a
:class:`~disc_core.data.base.Dataset`. :func:`reader_for` picks one: ``fmt`` when given, else a folder is a
MIDI folder, else the suffix, else a file whose first line starts with ``>`` is FASTA and any other text a
table. Adding a format is adding a reader to :data:`READERS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ...errors import ConfigError, DataError
from ..base import Dataset
from ..io import read_text
from ..music import MIDI_SUFFIXES, read_midi_folder
from .build import build_dataset
from .fasta import FASTA_SUFFIXES, read_fasta
from .options import ImportOptions
from .table import TABLE_SUFFIXES, read_table
from .zipped import read_zip

__all__ = ["Reader", "READERS", "DATA_SUFFIXES", "reader_for", "read_user_data", "upload_kind"]

Progress = Callable[[int, int], None] | None

#: Options every reader of sequences (FASTA, tables) takes: what the dataset is built with.
_BUILD = frozenset({"discipline", "task", "metric", "seed", "fractions", "merge_labels", "source", "workers"})
#: Options a MIDI folder (or a zip of one) takes; its discipline and task are fixed.
_MIDI = frozenset({"seed", "fractions", "workers", "source", "discipline", "task"})


@dataclass(frozen=True)
class Reader:
    """One format: ``kind`` (the ``fmt`` name), ``what`` (its name in messages), ``suffixes`` that say a file
    is of it, ``options`` that apply to it, ``read_fn(path, name, opts, progress)``, and ``check(opts)``, run
    first, for what the format fixes (a MIDI folder is music classification)."""

    kind: str
    what: str
    suffixes: tuple[str, ...]
    options: frozenset[str]
    read_fn: Callable[[Path, str, ImportOptions, Progress], Dataset]
    check: Callable[[ImportOptions], None] | None = None

    def read(self, path: Path, name: str, opts: ImportOptions, progress: Progress = None) -> Dataset:
        if self.check is not None:
            self.check(opts)
        opts.refuse_others(self.options, self.what)
        return self.read_fn(path, name, opts, progress)


def _fasta(path: Path, name: str, opts: ImportOptions, progress: Progress) -> Dataset:
    rows, notes, warnings = read_fasta(path, opts.labels, opts.fasta_label, opts.label_column)
    return build_dataset(rows, path, name, opts, notes=notes, warnings=warnings, progress=progress)


def _table(path: Path, name: str, opts: ImportOptions, progress: Progress) -> Dataset:
    rows, notes = read_table(path, opts.sequence_column, opts.label_column, opts.split_column, opts.sep)
    return build_dataset(rows, path, name, opts, notes=notes, progress=progress)


def _music_only(opts: ImportOptions) -> None:
    if opts.discipline not in (None, "music") or opts.task not in (None, "classification"):
        raise ConfigError("a MIDI folder is a music classification dataset: leave the discipline and the "
                          "task unset (or music, classification)")


def _midi(path: Path, name: str, opts: ImportOptions, progress: Progress) -> Dataset:
    return read_midi_folder(path, name=name, progress=progress, seed=opts.seed, fractions=opts.fractions,
                            workers=opts.workers, source=opts.source)


def _zip(path: Path, name: str, opts: ImportOptions, progress: Progress) -> Dataset:
    return read_zip(path, name, progress, seed=opts.seed, fractions=opts.fractions, workers=opts.workers,
                    source=opts.source)


#: Every format the user's data can come in, by ``fmt`` name.
READERS: dict[str, Reader] = {r.kind: r for r in (
    Reader("fasta", "FASTA", FASTA_SUFFIXES, _BUILD | {"labels", "fasta_label", "label_column"}, _fasta),
    Reader("table", "CSV/TSV", TABLE_SUFFIXES, _BUILD | {"sequence_column", "label_column", "split_column", "sep"},
           _table),
    Reader("midi", "MIDI folder", (), _MIDI, _midi, _music_only),
    Reader("zip", "MIDI folder", (".zip",), _MIDI, _zip, _music_only),
)}
#: What a data file given where a dataset name belongs usually ends with.
DATA_SUFFIXES = FASTA_SUFFIXES + TABLE_SUFFIXES + MIDI_SUFFIXES + (".zip", ".txt")


def reader_for(path: Path, fmt: str | None = None) -> Reader:
    """The reader of ``path``: ``fmt``'s, else a folder's (MIDI), the suffix's, or FASTA / table by content."""
    if fmt is not None:
        return READERS[fmt]
    if path.is_dir():
        return READERS["midi"]
    suffix = path.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        raise DataError("one MIDI file is not a dataset", path=path,
                        hint="give a folder with one sub-folder per class, each holding .mid/.midi files")
    for reader in READERS.values():
        if suffix in reader.suffixes:
            return reader
    text = read_text(path, "data file")  # also rejects binary junk and non-UTF-8 before we guess
    return READERS["fasta" if text.lstrip().startswith(">") else "table"]


def read_user_data(path: str | Path, name: str = "user", progress: Progress = None, **options) -> Dataset:
    """Read the user's file or MIDI folder into a :class:`Dataset` (nothing is saved).

    ``options`` are :class:`~disc_core.data.user.options.ImportOptions` fields: ``discipline``, ``task``,
    ``metric``, ``seed`` (42), ``fractions`` ((0.8, 0.1, 0.1)), ``fmt`` (``fasta`` / ``table`` (csv, tsv) /
    ``midi`` / ``zip``; else from the file), ``sequence_column``, ``label_column``, ``split_column``, ``sep``
    (table delimiter), ``labels`` (side CSV for FASTA), ``fasta_label`` (``auto`` / ``key`` / ``last`` /
    ``pipe``), ``merge_labels`` (True: labels that differ only in case or surrounding spaces are one class,
    with a warning; False: refused), ``workers`` (MIDI parsing), ``source`` (what the dataset says it came
    from; default the path). Raises :class:`ConfigError` for an unknown option, a wrong value or one that
    does not apply to the format, :class:`DataError` naming the file and line or record for anything wrong
    with the data; ``Dataset.warnings`` holds what looks wrong but was let through.
    """
    opts = ImportOptions.from_kwargs(**options)
    path = Path(path)
    if not path.exists():
        raise DataError("not found", path=path, hint="check the path")
    return reader_for(path, opts.fmt).read(path, name, opts, progress)


def upload_kind(file_name: str) -> str | None:
    """``fasta``, ``table`` or ``zip`` from a file name's suffix (None: none of them), for a caller that shows
    the options of that kind of file before reading it."""
    suffix = Path(file_name).suffix.lower()
    return next((r.kind for r in READERS.values() if suffix in r.suffixes), None)
