"""Small helpers shared by test modules (``from helpers import poll``; pytest puts tests/ on sys.path)."""

from __future__ import annotations

import time

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
