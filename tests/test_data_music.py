"""Music datasets: pitch segments, splits by piece, the music21 corpus, MAESTRO and MIDI folders."""

from __future__ import annotations

import csv
import random
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from disc_core.data import get_info, load_dataset
from disc_core.data import music
from disc_core.data.music import composer_works, midi_to_pitches, read_midi_folder, segment_pitches
from disc_core.data.splits import assign_splits, split_counts


def stratified_split(labels, seed):
    return assign_splits(labels, (0.8, 0.1, 0.1), seed, keep_small_classes=True)
from disc_core.errors import DataError


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def write_midi(path: Path, pitches, drums=(), step=0.25) -> Path:
    """A one-piano MIDI file playing ``pitches`` in order (plus optional drum notes)."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0)
    for i, p in enumerate(pitches):
        piano.notes.append(pretty_midi.Note(velocity=80, pitch=p, start=i * step, end=i * step + step))
    pm.instruments.append(piano)
    if drums:
        kit = pretty_midi.Instrument(program=0, is_drum=True)
        for i, p in enumerate(drums):
            kit.notes.append(pretty_midi.Note(velocity=80, pitch=p, start=i * step, end=i * step + step))
        pm.instruments.append(kit)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))
    return path


def write_junk(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(seed).randbytes(600))
    return path


def check_grouped(ds):
    """Every record has a group and no group is in two splits; returns {group: split}."""
    where = {}
    for r in ds.records:
        assert r.group, "every music record needs its piece id"
        assert where.setdefault(r.group, r.split) == r.split, f"{r.group} is in two splits"
    return where


def _shared_cache(tmp_path_factory):
    """A module-scoped fixture runs before the per-test cache fixture; use the same session cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("DISC_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "disc_cache"))
    return mp


# --------------------------------------------------------------------------------------------
# segments and splits
# --------------------------------------------------------------------------------------------

def test_segments_are_consecutive_and_keep_a_long_enough_tail():
    pitches = [i % 128 for i in range(300)]
    segs = segment_pitches(pitches)
    assert [len(s) for s in segs] == [128, 128, 44]
    assert segs[0][:3] == ("0", "1", "2") and segs[1][0] == str(128 % 128) and segs[2][-1] == str(299 % 128)
    assert [len(s) for s in segment_pitches(pitches[:280])] == [128, 128]  # 24-pitch tail dropped
    assert segment_pitches(list(range(20))) == []                          # too short for any segment
    assert [len(s) for s in segment_pitches(list(range(20)), min_length=10)] == [20]


def test_split_counts_and_stratified_split():
    assert split_counts(10) == (8, 1, 1)
    assert split_counts(49) == (39, 5, 5)
    assert split_counts(3) == (1, 1, 1)
    assert split_counts(2) == (1, 0, 1)
    assert split_counts(1) == (1, 0, 0)
    labels = ["a"] * 50 + ["b"] * 20
    s = stratified_split(labels, seed=0)
    per = Counter(zip(labels, s))
    assert (per["a", "train"], per["a", "validation"], per["a", "test"]) == (40, 5, 5)
    assert (per["b", "train"], per["b", "validation"], per["b", "test"]) == (16, 2, 2)
    assert stratified_split(labels, seed=0) == s
    assert stratified_split(labels, seed=1) != s


# --------------------------------------------------------------------------------------------
# music21 corpus (built in)
# --------------------------------------------------------------------------------------------

def test_composers_defaults_without_parsing():
    info = get_info("composers")
    assert (info.origin, info.discipline, info.task, info.metric) == ("builtin", "music", "classification",
                                                                      "accuracy")
    assert info.available()[0]
    works = composer_works()
    assert list(works) == ["bach", "palestrina", "monteverdi", "trecento"]
    assert {k: len(v) for k, v in works.items()} == {"bach": 90, "palestrina": 90, "monteverdi": 49,
                                                     "trecento": 90}
    assert all(p.suffix != ".rntxt" for ps in works.values() for p in ps)  # analyses, not scores
    assert composer_works(seed=42) == works and composer_works(seed=1)["bach"] != works["bach"]


@pytest.fixture(scope="module")
def small_composers(tmp_path_factory):
    mp = _shared_cache(tmp_path_factory)
    calls = []
    try:
        ds = load_dataset("composers", progress=lambda d, t: calls.append((d, t)), max_works_per_composer=8)
    finally:
        mp.undo()
    return ds, calls


def test_composers_small_selection(small_composers):
    ds, calls = small_composers
    assert ds.label_names == ["Bach", "Palestrina", "Monteverdi", "Trecento"]
    assert ds.voting and ds.discipline == "music" and ds.metric == "accuracy"
    assert calls[-1] == (32, 32)
    where = check_grouped(ds)
    assert len(where) == 32
    pieces = Counter((g.split("/")[0], s) for g, s in where.items())
    for c in ("bach", "palestrina", "monteverdi", "trecento"):
        assert (pieces[c, "train"], pieces[c, "validation"], pieces[c, "test"]) == (6, 1, 1)
    for r in ds.records:
        assert 32 <= len(r.symbols) <= 128 and all(0 <= int(s) <= 127 for s in r.symbols)
        assert ds.label_names[r.label].lower() == r.group.split("/")[0]
    assert ds.alphabet == sorted({s for r in ds.records for s in r.symbols}, key=int)


def test_composers_second_load_comes_from_the_cache(small_composers, monkeypatch, tmp_path):
    calls = []

    def no_parsing(path):
        calls.append(path)
        raise RuntimeError("parsed again")

    monkeypatch.setattr(music, "score_to_pitches", no_parsing)
    again = load_dataset("composers", max_works_per_composer=8, workers=1)
    assert calls == []
    assert again.records == small_composers[0].records
    # The patch is on the parsing path: with an empty cache it is called for every work.
    monkeypatch.setenv("DISC_CACHE_DIR", str(tmp_path))
    with pytest.raises(DataError, match="4 of 4 scores could not be read"):
        load_dataset("composers", max_works_per_composer=1, workers=1)
    assert len(calls) == 4


# --------------------------------------------------------------------------------------------
# MAESTRO (real subset)
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def maestro(real_data_dir, tmp_path_factory):
    mp = _shared_cache(tmp_path_factory)
    mp.setenv("DISC_DATA_DIR", str(real_data_dir))
    calls = []
    try:
        ds = load_dataset("maestro", progress=lambda d, t: calls.append((d, t)))
    finally:
        mp.undo()
    return ds, calls


@pytest.mark.realdata
def test_maestro_subset_by_piece(maestro, real_data_dir):
    ds, calls = maestro
    with open(real_data_dir / "music_maestro" / "subset_index.csv", encoding="utf-8", newline="") as f:
        index = list(csv.DictReader(f))
    assert calls[-1] == (150, 150)
    assert ds.label_names == sorted({row["canonical_composer"] for row in index}) and ds.num_labels == 10
    assert ds.voting and ds.metric == "accuracy"
    where = check_grouped(ds)
    assert where == {row["midi_filename"]: row["split"] for row in index}  # the CSV's split, by piece
    assert {s: ds.groups(s) for s in ("train", "validation", "test")} == {"train": 112, "validation": 18,
                                                                          "test": 20}
    assert any(n.startswith("150 of 1282 rows") for n in ds.notes)
    composer = {row["midi_filename"]: row["canonical_composer"] for row in index}
    assert all(ds.label_names[r.label] == composer[r.group] for r in ds.records)


@pytest.mark.realdata
def test_maestro_segments_cover_each_piece(maestro, real_data_dir):
    ds, _ = maestro
    by_group = defaultdict(list)
    for r in ds.records:
        by_group[r.group].append(r.symbols)
    name = sorted(by_group)[0]
    pitches = list(midi_to_pitches(real_data_dir / "music_maestro" / name))
    segs = by_group[name]
    assert len(segs) == len(pitches) // 128 + (len(pitches) % 128 >= 32)
    assert [int(s) for s in segs[0] + segs[1]] == pitches[:256]


def _fake_maestro(root: Path, rows) -> Path:
    """A tiny MAESTRO layout: rows = (composer, split, filename, pitches or None for junk or missing)."""
    d = root / "music_maestro"
    d.mkdir(parents=True)
    with open(d / "maestro-v2.0.0.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["canonical_composer", "canonical_title", "split", "year", "midi_filename",
                    "audio_filename", "duration"])
        for i, (composer, split, fn, content) in enumerate(rows):
            w.writerow([composer, f"piece {i}", split, 2004, fn, fn.replace(".midi", ".wav"), 60.0])
            if content == "junk":
                write_junk(d / fn, seed=i)
            elif content is not None:
                write_midi(d / fn, content)
    return root


def test_maestro_skips_corrupt_and_absent_files(tmp_path, monkeypatch):
    low, high = [48 + i % 12 for i in range(200)], [72 + i % 12 for i in range(200)]
    rows = [("A", "train", "2004/a1.midi", low), ("A", "train", "2004/a2.midi", low),
            ("A", "test", "2004/a3.midi", low), ("B", "train", "2004/b1.midi", high),
            ("B", "validation", "2004/b2.midi", high), ("C", "test", "2004/c1.midi", high),
            ("B", "train", "2004/bad1.midi", "junk"), ("A", "test", "2004/bad2.midi", "junk"),
            ("A", "train", "2004/absent.midi", None)]
    monkeypatch.setenv("DISC_DATA_DIR", str(_fake_maestro(tmp_path, rows)))
    ds = load_dataset("maestro", workers=1)
    assert "2 of 8 MIDI files could not be read: bad1.midi, bad2.midi" in ds.notes
    assert any(n.startswith("8 of 9 rows") for n in ds.notes)
    assert "dropped composers with no training piece: C" in ds.notes
    assert ds.label_names == ["A", "B"]
    assert check_grouped(ds) == {"2004/a1.midi": "train", "2004/a2.midi": "train", "2004/a3.midi": "test",
                                 "2004/b1.midi": "train", "2004/b2.midi": "validation"}


def test_maestro_with_only_corrupt_files_is_an_error(tmp_path, monkeypatch):
    rows = [("A", "train", "2004/x.midi", "junk"), ("B", "train", "2004/y.midi", "junk")]
    monkeypatch.setenv("DISC_DATA_DIR", str(_fake_maestro(tmp_path, rows)))
    with pytest.raises(DataError, match="2 of 2 MIDI files could not be read"):
        load_dataset("maestro", workers=1)


# --------------------------------------------------------------------------------------------
# the user's MIDI folder
# --------------------------------------------------------------------------------------------

def test_midi_pitches_sorted_by_onset_without_drums(tmp_path):
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    a, b = pretty_midi.Instrument(0), pretty_midi.Instrument(40)
    a.notes += [pretty_midi.Note(80, 60, 1.0, 1.5), pretty_midi.Note(80, 64, 0.0, 0.5)]
    b.notes += [pretty_midi.Note(80, 55, 0.5, 1.0), pretty_midi.Note(80, 52, 1.0, 1.5)]
    kit = pretty_midi.Instrument(0, is_drum=True)
    kit.notes.append(pretty_midi.Note(80, 36, 0.0, 0.1))
    pm.instruments += [a, b, kit]
    pm.write(str(tmp_path / "x.mid"))
    assert list(midi_to_pitches(tmp_path / "x.mid")) == [64, 55, 52, 60]


@pytest.fixture
def midi_folder(tmp_path):
    root = tmp_path / "my_midi"
    for k in range(5):
        write_midi(root / "low" / f"l{k}.mid", [40 + (i * (k + 1)) % 12 for i in range(200 + 10 * k)])
        write_midi(root / "high" / "nested" / f"h{k}.MIDI", [80 + (i * (k + 2)) % 12 for i in range(150)],
                   drums=[36] * 50)
    write_junk(root / "high" / "broken.mid")
    write_midi(root / "loose.mid", [60] * 100)
    (root / "empty_class").mkdir()
    return root


def test_read_midi_folder(midi_folder):
    ds = read_midi_folder(midi_folder, name="mine", workers=2)
    assert ds.name == "mine" and ds.label_names == ["high", "low"] and ds.voting
    where = check_grouped(ds)
    assert len(where) == 10 and "high/broken.mid" not in where
    assert Counter(where.values()) == {"train": 6, "validation": 2, "test": 2}
    assert "1 of 11 MIDI files could not be read: broken.mid" in ds.notes
    assert any("directly in the folder were ignored" in n for n in ds.notes)
    for r in ds.records:
        low = r.group.startswith("low/")
        assert ds.label_names[r.label] == ("low" if low else "high")
        assert all((40 <= int(s) < 52) if low else (80 <= int(s) < 92) for s in r.symbols)  # no drums
    assert read_midi_folder(midi_folder, seed=1).records != ds.records
    assert read_midi_folder(midi_folder, name="mine", workers=1).records == ds.records


def test_midi_folder_errors(tmp_path, midi_folder):
    with pytest.raises(DataError, match="expected a folder") as err:
        read_midi_folder(midi_folder / "loose.mid")
    one = tmp_path / "one"
    write_midi(one / "only" / "a.mid", [60] * 64)
    with pytest.raises(DataError, match="found 1 class sub-folder") as err:
        read_midi_folder(one)
    assert str(one) in str(err.value)
    junk = tmp_path / "junk"
    write_junk(junk / "a" / "x.mid", 1)
    write_junk(junk / "b" / "y.midi", 2)
    with pytest.raises(DataError, match="2 of 2 MIDI files could not be read: x.mid, y.midi") as err:
        read_midi_folder(junk, workers=1)
    assert str(junk) in str(err.value)
    write_midi(junk / "a" / "ok.mid", [60] * 64)
    with pytest.raises(DataError, match="only class a has readable MIDI files"):
        read_midi_folder(junk, workers=1)


# --------------------------------------------------------------------------------------------
# the parsed-music cache: JSON only, progress from the first moment, ready once per machine
# --------------------------------------------------------------------------------------------

def test_parsed_music_is_cached_as_json_and_progress_starts_at_zero(monkeypatch, tmp_path):
    import sqlite3

    import diskcache

    from disc_core.data.parsed import CACHE_FOLDER
    from disc_core.data.music import music_cache_state

    monkeypatch.setenv("DISC_CACHE_DIR", str(tmp_path))
    events = []

    def fake_parse(path):  # the parser's speed is not what is tested here: the cache and the progress are
        events.append(("parse", Path(path).name))
        if sum(e[0] == "parse" for e in events) == 1:
            raise ValueError("cannot read this one")
        return bytes(60 + i % 12 for i in range(200))

    monkeypatch.setattr(music, "score_to_pitches", fake_parse)
    assert music_cache_state(max_works_per_composer=3) == (0, 12)
    ds = load_dataset("composers", max_works_per_composer=3, workers=1,
                      progress=lambda d, t: events.append(("progress", d, t)))
    assert events[0] == ("progress", 0, 12)  # said before the first piece is parsed
    assert [e for e in events if e[0] == "progress"][-1] == ("progress", 12, 12)
    assert sum(e[0] == "parse" for e in events) == 12 and ds.label_names[0] == "Bach"
    assert any(n.startswith("1 of 12 scores could not be read") for n in ds.notes)
    assert music_cache_state(max_works_per_composer=3) == (12, 12)
    db = tmp_path / CACHE_FOLDER / "cache.db"
    with sqlite3.connect(db) as con:
        modes = {m for (m,) in con.execute("SELECT mode FROM Cache")}
    assert modes and diskcache.core.MODE_PICKLE not in modes  # keys and values are JSON, never pickled
    with diskcache.Cache(str(tmp_path / CACHE_FOLDER), disk=diskcache.JSONDisk) as cache:
        values = [cache[k] for k in cache]
    assert all(set(v) == {"pitches", "error"} for v in values)
    assert any(v["pitches"] == bytes(60 + i % 12 for i in range(200)).hex() for v in values)
    # a second load, in a new process as much as in this one, parses nothing: failures are cached too
    events.clear()
    again = load_dataset("composers", max_works_per_composer=3, workers=1,
                         progress=lambda d, t: events.append(("progress", d, t)))
    assert again.records == ds.records and events == [("progress", 0, 12), ("progress", 12, 12)]


def test_warm_takes_music_sets_only():
    with pytest.raises(DataError, match="splice is not a music set"):
        music.warm("splice")
    with pytest.raises(DataError, match="not a built-in music set"):
        music.music_cache_state("maestro")


def _logged_fake_score(path):
    """A stand-in for music21 that runs in worker processes too and writes down each file it parses."""
    import os
    import time

    with open(os.environ["DISC_TEST_PARSE_LOG"], "a") as f:
        f.write(str(path) + "\n")
    time.sleep(0.05)  # a parse takes a moment, so that a stop finds files still waiting
    return bytes(60 + i % 12 for i in range(200))


class _Stopped(BaseException):
    """What a dashboard rerun raises from inside a progress callback (Streamlit's are BaseExceptions)."""


def test_a_load_stopped_part_way_keeps_what_it_parsed(monkeypatch, tmp_path):
    from disc_core.data.music import music_cache_state

    log = tmp_path / "parsed.log"
    monkeypatch.setenv("DISC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DISC_TEST_PARSE_LOG", str(log))
    monkeypatch.setattr(music, "score_to_pitches", _logged_fake_score)

    def stop_at_two(done, total):
        if done >= 2:
            raise _Stopped

    with pytest.raises(_Stopped):
        load_dataset("composers", max_works_per_composer=6, workers=2, progress=stop_at_two)
    first = log.read_text().splitlines()
    cached, total = music_cache_state(max_works_per_composer=6)
    assert total == 24 and 2 <= cached == len(first) < 24  # every file parsed is kept; queued ones never ran
    load_dataset("composers", max_works_per_composer=6, workers=2)
    assert sorted(log.read_text().splitlines()) == sorted(set(log.read_text().splitlines()))  # no file parsed twice
    assert len(log.read_text().splitlines()) == 24 and music_cache_state(max_works_per_composer=6) == (24, 24)
