"""Small helpers shared by test modules (``from helpers import poll``; pytest puts tests/ on sys.path)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest


def poll(fn, what: str, timeout: float = 120.0, every: float = 0.2):
    """``fn()`` until it returns something truthy (returned); fail the test after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = fn()
        if got:
            return got
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def write_midi(path: Path, pitches) -> None:
    """A one-instrument MIDI file of ``pitches``, 0.2 s each (pretty_midi), with its folders."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=0)
    inst.notes = [pretty_midi.Note(80, p, i * 0.2, i * 0.2 + 0.2) for i, p in enumerate(pitches)]
    pm.instruments.append(inst)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))

