"""Music as symbol sequences: composer classification from MIDI pitches.

A piece becomes the sequence of MIDI pitch numbers of its notes in onset order (all parts or
instruments together, simultaneous notes low to high), written as strings (``"60"``). The sequence is
cut into consecutive, non-overlapping segments of :data:`SEGMENT_LENGTH` (128) pitches; a last partial
segment is kept when it has at least :data:`MIN_SEGMENT` (32) pitches, so a piece shorter than that
yields nothing and is reported as too short. Every segment is one :class:`Record` whose ``group`` is the
piece id: splits are made by piece (no piece in two splits) and validation/test predictions are one per
piece, by voting over its segments (``Dataset.voting``).

Datasets:

- ``composers`` (built in, offline): music21's bundled corpus -- Bach chorales, Palestrina mass
  movements, Monteverdi madrigals and Trecento (14th-century Italian) pieces.
- ``maestro`` (paper): MAESTRO v2.0.0 piano performances, labelled by composer, with the CSV's splits.

:func:`read_midi_folder` turns a folder of the user's MIDI files (one sub-folder per class) into a
dataset the same way.

Parsing is slow (music21 reads about two scores a second a core), so files are parsed once per machine,
in parallel worker processes, and each file's pitch sequence is cached as JSON (:mod:`~disc_core.data.parsed`):
a second load, in any process, reads the cache only. :func:`warm` parses the built-in sets ahead of time
(``python -m disc_core data warm``) and :func:`music_cache_state` says how much of a set is parsed already.
A load's ``progress(done, total)`` is called at once with ``done`` 0, before the first piece is parsed.
Files that cannot be parsed are skipped and counted in the dataset's notes (and cached as failures).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Callable, Sequence

from ..errors import ConfigError, DataError
from .base import (SPLITS, Dataset, DatasetInfo, Record, find_data_file, get_info, load_dataset, make_dataset,
                   register)
from .io import read_text
from .parsed import count_cached, parse_files
from .splits import assign_splits

__all__ = [
    "SEGMENT_LENGTH", "MIN_SEGMENT", "COMPOSERS", "MAX_WORKS_PER_COMPOSER", "MIDI_SUFFIXES", "segment_pitches",
    "score_to_pitches", "midi_to_pitches", "composer_works", "load_composers",
    "load_maestro", "read_midi_folder", "METADATA_FOLDERS", "BUILTIN_MUSIC", "warm", "music_cache_state",
]

SEGMENT_LENGTH = 128
#: A last partial segment shorter than this is dropped (too little to say anything about a composer).
MIN_SEGMENT = 32
#: music21 corpus composers used by default: the four with enough works (Beethoven 26 and Mozart 16
#: are string quartets/symphonies that parse slowly and would be small classes).
COMPOSERS = ("bach", "palestrina", "monteverdi", "trecento")
#: Works per composer by default: balances the classes (Monteverdi has 49 scores) and keeps a cold
#: parse of the default selection to well under a minute on two cores.
MAX_WORKS_PER_COMPOSER = 90
#: Score formats read from the corpus; ``.rntxt`` files are Roman-numeral analyses, not scores.
_SCORE_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn", ".abc", ".mid", ".midi")
MIDI_SUFFIXES = (".mid", ".midi")
MAESTRO_CSV = "music_maestro/maestro-v2.0.0.csv"
_PITCH_STR = tuple(str(i) for i in range(128))

Progress = Callable[[int, int], None] | None


# --------------------------------------------------------------------------------------------
# Pitch sequences and segments
# --------------------------------------------------------------------------------------------

def segment_pitches(pitches: Sequence[int], length: int = SEGMENT_LENGTH,
                    min_length: int = MIN_SEGMENT) -> list[tuple[str, ...]]:
    """Cut a pitch sequence into consecutive segments of ``length`` pitches.

    The last partial segment is kept when it has at least ``min_length`` pitches. Returns a list of
    symbol tuples (pitches as strings, e.g. ``("60", "64", "67")``), possibly empty.
    """
    if length < 1 or min_length < 1:
        raise ConfigError(f"segment length ({length}) and minimum ({min_length}) must be positive")
    out = []
    for start in range(0, len(pitches), length):
        seg = pitches[start:start + length]
        if len(seg) == length or len(seg) >= min_length:
            out.append(tuple(_PITCH_STR[p] for p in seg))
    return out


def score_to_pitches(path: str | Path) -> bytes:
    """MIDI pitches of a score file read with music21, in onset order.

    All parts are merged; notes starting together are ordered low to high, a chord gives each of its
    pitches, and a tied continuation is not repeated (a held note is one symbol). Returns the pitches
    as ``bytes`` (each value 0..127), compact for the cache.
    """
    from music21 import chord, converter, note, stream

    # forceSource: music21 would otherwise write its own pickles to a temp folder; we cache ourselves.
    parsed = converter.parse(str(path), forceSource=True)
    scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
    pitches: list[int] = []
    for sc in scores:
        events = []
        for el in sc.flatten().notes:
            if isinstance(el, chord.Chord):
                members = list(el.notes)
            elif isinstance(el, note.Note):
                members = [el]
            else:  # unpitched percussion
                continue
            for n in members:
                if n.tie is not None and n.tie.type in ("stop", "continue"):
                    continue
                midi = n.pitch.midi
                if 0 <= midi <= 127:
                    events.append((float(el.offset), midi))
        pitches.extend(p for _, p in sorted(events))
    return bytes(pitches)


def midi_to_pitches(path: str | Path) -> bytes:
    """MIDI pitches of a MIDI file read with pretty_midi: notes of every non-drum instrument, sorted by
    start time, then pitch. Returns ``bytes`` (each value 0..127)."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(path))
    notes = sorted((n.start, n.pitch) for inst in pm.instruments if not inst.is_drum for n in inst.notes)
    return bytes(p for _, p in notes)


# --------------------------------------------------------------------------------------------
# Parallel, cached parsing
# --------------------------------------------------------------------------------------------

def _parser_version(kind: str) -> str:
    if kind == "score":
        import music21

        return f"music21-{music21.__version__}"
    from importlib.metadata import version

    return f"pretty_midi-{version('pretty_midi')}"


def _parse_files(paths: list[Path], kind: str, progress: Progress = None,
                 workers: int | None = None) -> dict[Path, tuple[bytes | None, str | None]]:
    """Pitch bytes (or an error message) for every path, from the cache or parsed (:mod:`.parsed`)."""
    # Looked up at call time so that a test (or a caller) can replace the parser on the module.
    fn = score_to_pitches if kind == "score" else midi_to_pitches
    return parse_files(paths, fn, kind, _parser_version(kind), progress, workers)


def _failure_note(failed: list[tuple[Path, str]], total: int, what: str = "MIDI files") -> str:
    names = ", ".join(p.name for p, _ in failed[:10]) + (" ..." if len(failed) > 10 else "")
    return f"{len(failed)} of {total} {what} could not be read: {names}"


def _reject_unknown(kw: dict, what: str) -> None:
    if kw:
        raise ConfigError(f"unknown option(s) for {what}: {', '.join(sorted(kw))}")


# --------------------------------------------------------------------------------------------
# From parsed pieces to a dataset
# --------------------------------------------------------------------------------------------

def _pieces_to_records(pieces: list[tuple[str, int, str, bytes]], segment_length: int,
                       min_segment: int) -> tuple[list[Record], list[str]]:
    """``pieces`` = (group, label, split, pitches). Returns records and the ids of too-short pieces."""
    records, short = [], []
    for group, label, split, pitches in pieces:
        segs = segment_pitches(pitches, segment_length, min_segment)
        if not segs:
            short.append(group)
        records.extend(Record(label=label, split=split, symbols=s, group=group) for s in segs)
    return records, short


def _segment_note(segment_length: int, min_segment: int) -> str:
    return (f"each piece is cut into segments of {segment_length} pitches (a last partial segment of at "
            f"least {min_segment} is kept); validation and test predict a piece by voting over its segments")


def _split_note(pieces: list[tuple[str, int, str, bytes]], label_names: list[str]) -> str:
    counts = {}
    for _, label, split, _ in pieces:
        counts.setdefault(label, {s: 0 for s in SPLITS})[split] += 1
    parts = [f"{label_names[k]} {'/'.join(str(v[s]) for s in SPLITS)}" for k, v in sorted(counts.items())]
    return "pieces per class (train/validation/test): " + ", ".join(parts)


# --------------------------------------------------------------------------------------------
# music21 corpus composers (built in)
# --------------------------------------------------------------------------------------------

def composer_works(composers: Sequence[str] = COMPOSERS,
                   max_works_per_composer: int | None = MAX_WORKS_PER_COMPOSER,
                   seed: int = 42) -> dict[str, list[Path]]:
    """The corpus files used for each composer: score files only, a seeded sample of at most
    ``max_works_per_composer`` (``None`` = all), sorted by path. Parses nothing."""
    from music21 import corpus

    out = {}
    for c in composers:
        key = c.strip().lower()
        paths = sorted(Path(p) for p in corpus.getComposer(key) if Path(p).suffix.lower() in _SCORE_SUFFIXES)
        if not paths:
            raise DataError(f"music21's corpus has no scores for composer {c!r}",
                            hint=f"pick composers with works in the corpus, e.g. {', '.join(COMPOSERS)}")
        if max_works_per_composer is not None and len(paths) > max_works_per_composer:
            paths = sorted(random.Random(f"{seed}|{key}").sample(paths, max_works_per_composer))
        out[key] = paths
    return out


def load_composers(progress: Progress = None, composers: Sequence[str] = COMPOSERS,
                   max_works_per_composer: int | None = MAX_WORKS_PER_COMPOSER, seed: int = 42,
                   fractions: Sequence[float] = (0.8, 0.1, 0.1), segment_length: int = SEGMENT_LENGTH,
                   min_segment: int = MIN_SEGMENT, workers: int | None = None, **kw) -> Dataset:
    """Composer classification on music21's bundled corpus (offline).

    Works are split by piece, per composer (seeded, ``fractions`` = train/validation/test); pieces are
    cut into 128-pitch segments grouped by piece. The first load parses the scores in parallel
    (``progress(done, total)`` per file); later loads come from the cache.
    """
    _reject_unknown(kw, "composers")
    if isinstance(composers, str):  # "bach,palestrina" from a command line
        composers = [c for c in composers.replace(" ", ",").split(",") if c]
    if len(set(composers)) < 2:
        raise ConfigError("composer classification needs at least two composers")
    works = composer_works(composers, max_works_per_composer, seed)
    label_names = [c.capitalize() for c in works]
    all_paths = [p for ps in works.values() for p in ps]
    parsed = _parse_files(all_paths, "score", progress, workers)
    pieces, failed = [], []
    for label, (key, paths) in enumerate(works.items()):
        ok = [p for p in paths if parsed[p][0] is not None]
        failed += [(p, parsed[p][1]) for p in paths if parsed[p][0] is None]
        splits = assign_splits([key] * len(ok), fractions, seed, keep_small_classes=True)
        pieces += [(f"{key}/{p.name}", label, s, parsed[p][0]) for p, s in zip(ok, splits)]
    if not pieces:
        raise DataError(_failure_note(failed, len(all_paths), "scores"),
                        hint="reinstall music21: its bundled corpus could not be parsed")
    records, short = _pieces_to_records(pieces, segment_length, min_segment)
    import music21

    notes = [f"music21 {music21.__version__} corpus: {len(all_paths)} works "
             f"({', '.join(f'{k} {len(v)}' for k, v in works.items())}; at most "
             f"{max_works_per_composer} per composer, sampled with seed {seed})",
             _split_note(pieces, label_names), _segment_note(segment_length, min_segment)]
    if failed:
        notes.append(_failure_note(failed, len(all_paths), "scores"))
    if short:
        notes.append(f"{len(short)} pieces had fewer than {min_segment} pitches and were left out")
    return make_dataset("composers", "music", "classification", "accuracy", records,
                        source="music21 corpus (bundled with the music21 package)",
                        label_names=label_names, voting=True, notes=notes)


#: The built-in music sets: parsed ahead of time by :func:`warm` (``python -m disc_core data warm``).
BUILTIN_MUSIC = ("composers",)


def music_cache_state(name: str = "composers", composers: Sequence[str] = COMPOSERS,
                      max_works_per_composer: int | None = MAX_WORKS_PER_COMPOSER, seed: int = 42) -> tuple[int, int]:
    """(works of the built-in set ``name`` already parsed and cached, works in all), for the selection the
    options make (those of :func:`load_composers`); the set is ready when the two are equal. Parses nothing."""
    if name not in BUILTIN_MUSIC:
        raise DataError(f"{name!r} is not a built-in music set", hint=f"use one of {', '.join(BUILTIN_MUSIC)}")
    paths = [p for ps in composer_works(composers, max_works_per_composer, seed).values() for p in ps]
    return count_cached(paths, "score", _parser_version("score")), len(paths)


def warm(name: str = "composers", progress: Progress = None, workers: int | None = None) -> Dataset:
    """Parse the music dataset ``name`` into the cache now, as its first load would, so that every later
    load, in any process (a new dashboard tab, a run), reads the cache; returns the dataset.
    ``progress(done, total)`` is called at once with 0 done, then after each file."""
    info = get_info(name)
    if info.discipline != "music" or info.origin == "user":
        raise DataError(f"{info.name} is not a music set that is parsed on load (only {', '.join(BUILTIN_MUSIC)} "
                        f"and maestro are)", hint="name a built-in music set, e.g. composers")
    return load_dataset(info.name, progress=progress, workers=workers)


# --------------------------------------------------------------------------------------------
# MAESTRO (paper)
# --------------------------------------------------------------------------------------------

def load_maestro(progress: Progress = None, segment_length: int = SEGMENT_LENGTH,
                 min_segment: int = MIN_SEGMENT, workers: int | None = None, **kw) -> Dataset:
    """MAESTRO v2.0.0 composer classification with the metadata CSV's own train/validation/test split.

    Only rows whose MIDI file is present next to the CSV are used (the project's copy holds a 150-file
    subset). Composers with no training piece are dropped (a class the model never sees cannot be
    learned). The paper (MAESTRO v1) kept the composers with the most pieces; with the subset that is
    what the present files already are.
    """
    _reject_unknown(kw, "maestro")
    csv_path = find_data_file(MAESTRO_CSV)
    if csv_path is None:
        raise DataError(f"{MAESTRO_CSV} not found", hint="set DISC_DATA_DIR to a folder holding it")
    root = csv_path.parent
    lines = read_text(csv_path, "MAESTRO metadata CSV").splitlines()
    reader = csv.DictReader(lines)
    need = ("canonical_composer", "split", "midi_filename")
    missing = [c for c in need if c not in (reader.fieldnames or [])]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}; columns found: "
                        f"{', '.join(reader.fieldnames or [])}", path=csv_path, line=1,
                        hint="give the maestro-v2.0.0.csv from the MAESTRO release")
    rows, n_rows = [], 0
    for row in reader:
        n_rows += 1
        if row["split"] not in SPLITS:
            raise DataError(f"unknown split {row['split']!r} (expected {', '.join(SPLITS)})",
                            path=csv_path, line=reader.line_num)
        path = root / row["midi_filename"]
        if path.is_file():
            rows.append((row["canonical_composer"], row["split"], row["midi_filename"], path))
    if not rows:
        raise DataError(f"none of the {n_rows} MIDI files listed in {csv_path.name} is present",
                        path=root, hint="put the MAESTRO MIDI files (YEAR/....midi) next to the CSV")
    parsed = _parse_files([r[3] for r in rows], "midi", progress, workers)
    failed = [(r[3], parsed[r[3]][1]) for r in rows if parsed[r[3]][0] is None]
    ok = [r for r in rows if parsed[r[3]][0] is not None]
    if not ok:
        raise DataError(_failure_note(failed, len(rows)), path=root,
                        hint="check that the files are intact Standard MIDI files")
    trained = {c for c, s, _, _ in ok if s == "train"}
    dropped = sorted({c for c, _, _, _ in ok} - trained)
    label_names = sorted(trained)
    index = {c: i for i, c in enumerate(label_names)}
    pieces = [(fn, index[c], s, parsed[p][0]) for c, s, fn, p in ok if c in index]
    records, short = _pieces_to_records(pieces, segment_length, min_segment)
    notes = [f"{len(rows)} of {n_rows} rows of {csv_path.name} have their MIDI file present; only those "
             f"are used", "splits are the CSV's own (by performance)",
             _split_note(pieces, label_names), _segment_note(segment_length, min_segment)]
    if failed:
        notes.append(_failure_note(failed, len(rows)))
    if dropped:
        notes.append(f"dropped composers with no training piece: {', '.join(dropped)}")
    if short:
        notes.append(f"{len(short)} pieces had fewer than {min_segment} pitches and were left out")
    return make_dataset("maestro", "music", "classification", "accuracy", records,
                        source=str(root), label_names=label_names, path=csv_path, voting=True,
                        notes=notes)


# --------------------------------------------------------------------------------------------
# The user's MIDI folder
# --------------------------------------------------------------------------------------------

#: Folders that archivers and editors add next to the data (macOS zip metadata, notebooks); never classes.
METADATA_FOLDERS = ("__MACOSX",)


def _is_metadata(p: Path) -> bool:
    """macOS zip metadata (``__MACOSX``, ``._name`` AppleDouble files) or a hidden file or folder."""
    return p.name in METADATA_FOLDERS or p.name.startswith(".")


def _reasons(failed: list[tuple[Path, str]], root: Path, limit: int = 10) -> str:
    return "; ".join(f"{p.relative_to(root).as_posix()} ({why})" for p, why in failed[:limit]) + (
        f"; and {len(failed) - limit} more" if len(failed) > limit else "")


def read_midi_folder(path: str | Path, name: str = "midi-folder", seed: int = 42,
                     fractions: Sequence[float] = (0.8, 0.1, 0.1), segment_length: int = SEGMENT_LENGTH,
                     min_segment: int = MIN_SEGMENT, workers: int | None = None,
                     progress: Progress = None, source: str | None = None, **kw) -> Dataset:
    """A folder of MIDI files, one sub-folder per class (``folder/<class>/*.mid|*.midi``, nested
    folders included), as a composer-style dataset.

    Files are split by piece, per class (seeded). What is left out is said in ``Dataset.warnings``, by name:
    unreadable files (with the parser's reason), a class folder that is empty or none of whose files can be
    read, MIDI files outside class folders, metadata folders (``__MACOSX``) and ``._`` files, classes with
    fewer than a handful of pieces or none in validation or test. :class:`DataError` (naming the folder) when
    no file can be read, fewer than two classes remain, or the test split would be empty. ``source`` is what
    the dataset says it came from (default: the folder's path).
    """
    from .checks import require_test_split, split_warnings

    _reject_unknown(kw, "a MIDI folder")
    root = Path(path)
    if not root.is_dir():
        raise DataError("expected a folder of MIDI files (one sub-folder per class)", path=root,
                        hint="check the path")
    warnings: list[str] = []
    skipped = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir() if _is_metadata(p))
    classes: dict[str, list[Path]] = {}
    empty: list[str] = []
    apple_double = 0
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not _is_metadata(p)):
        found = [f for f in sub.rglob("*") if f.is_file() and not any(_is_metadata(q) for q in
                                                                     f.relative_to(sub).parents if q.name)]
        meta = [f for f in found if f.name.startswith(".")]
        apple_double += sum(f.name.startswith("._") for f in meta)
        files = sorted(f for f in found if f not in meta and f.suffix.lower() in MIDI_SUFFIXES)
        if files:
            classes[sub.name] = files
        else:
            others = sorted(f.name for f in found if f not in meta)
            empty.append(f"{sub.name!r} (" + (f"{len(others)} files, none .mid/.midi: {', '.join(others[:5])}"
                                             f"{' ...' if len(others) > 5 else ''})" if others else "empty)"))
    loose = sorted(f.name for f in root.iterdir() if f.is_file() and f.suffix.lower() in MIDI_SUFFIXES
                   and not _is_metadata(f))
    if empty:
        warnings.append(f"{len(empty)} class folder(s) hold no MIDI file and were left out: {', '.join(empty)}")
    if loose:
        warnings.append(f"{len(loose)} MIDI file(s) lie directly in the folder, outside any class folder, and "
                        f"were left out: {', '.join(loose[:10])}{' ...' if len(loose) > 10 else ''} -- move each "
                        f"into the sub-folder of its class")
    if skipped or apple_double:
        what = [f"{', '.join(skipped)}"] if skipped else []
        if apple_double:
            what.append(f"{apple_double} '._' file(s)")
        warnings.append(f"ignored metadata that is not music (left by macOS or an editor): {'; '.join(what)}")
    if len(classes) < 2:
        found = ", ".join(classes) or "none"
        raise DataError(f"found {len(classes)} class sub-folder(s) with .mid/.midi files ({found}); "
                        f"classification needs at least two" + (f"; {warnings[0]}" if empty else ""), path=root,
                        hint="make one sub-folder per class, each holding that class's MIDI files")
    all_paths = [f for fs in classes.values() for f in fs]
    parsed = _parse_files(all_paths, "midi", progress, workers)
    failed = [(p, parsed[p][1]) for p in all_paths if parsed[p][0] is None]
    if len(failed) == len(all_paths):
        raise DataError(_failure_note(failed, len(all_paths)) + f" ({_reasons(failed, root, 3)})", path=root,
                        hint="check that these are Standard MIDI files (.mid/.midi)")
    usable = {c: [f for f in fs if parsed[f][0] is not None] for c, fs in classes.items()}
    dead = [c for c, fs in usable.items() if not fs]
    for c in dead:
        bad = [(f, parsed[f][1]) for f in classes[c]]
        warnings.append(f"class {c!r} was left out: none of its {len(bad)} MIDI files could be read: "
                        f"{_reasons(bad, root)}")
    in_dead = {p for c in dead for p in classes[c]}
    rest = [(p, why) for p, why in failed if p not in in_dead]
    if rest:
        warnings.append(f"{len(rest)} of {len(all_paths)} MIDI files could not be read and were left out: "
                        f"{_reasons(rest, root)}")
    usable = {c: fs for c, fs in usable.items() if fs}
    if len(usable) < 2:
        raise DataError(f"only class {', '.join(usable)} has readable MIDI files; classification needs "
                        f"at least two", path=root, hint="add readable MIDI files for other classes")
    label_names = list(usable)
    pieces = []
    for label, (c, fs) in enumerate(usable.items()):
        splits = assign_splits([c] * len(fs), fractions, seed, keep_small_classes=True)
        pieces += [(f.relative_to(root).as_posix(), label, s, parsed[f][0]) for f, s in zip(fs, splits)]
    records, short = _pieces_to_records(pieces, segment_length, min_segment)
    notes = [_split_note(pieces, label_names), _segment_note(segment_length, min_segment)]
    if failed:
        notes.append(_failure_note(failed, len(all_paths)))
    if loose:
        notes.append(f"{len(loose)} MIDI files directly in the folder were ignored (not in a class sub-folder)")
    if short:
        notes.append(f"{len(short)} pieces had fewer than {min_segment} pitches and were left out: "
                     f"{', '.join(short[:10])}")
        warnings.append(f"{len(short)} piece(s) have fewer than {min_segment} notes and were left out: "
                        f"{', '.join(short[:10])}{' ...' if len(short) > 10 else ''}")
    ds = make_dataset(name, "music", "classification", "accuracy", records, source=source or str(root),
                      label_names=label_names, path=root, voting=True, notes=notes)
    ds.warnings = warnings + split_warnings(ds)
    require_test_split(ds, root, splits_from_file=False)
    return ds


register(DatasetInfo(
    name="composers", title="Composers (music21 corpus)", discipline="music", task="classification",
    metric="accuracy", origin="builtin", loader=load_composers,
    description="built in: music21's bundled corpus, Bach / Palestrina / Monteverdi / Trecento, "
                f"up to {MAX_WORKS_PER_COMPOSER} works each, 128-pitch segments voted per piece"))
register(DatasetInfo(
    name="maestro", title="MAESTRO composers", discipline="music", task="classification",
    metric="accuracy", origin="paper", loader=load_maestro, files=(MAESTRO_CSV,), paper_key="maestro",
    description="MAESTRO v2.0.0 piano MIDI, composer labels, 128-pitch segments voted per performance"))
