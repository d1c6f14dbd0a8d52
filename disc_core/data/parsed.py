"""Music files parsed once per machine: in parallel worker processes, each file's pitches kept in a cache.

The cache is a diskcache store under ``cache_dir()/"parsed_music_json"`` whose keys and values are JSON
(:class:`diskcache.JSONDisk`; nothing in it is pickled or unpickled). A value is ``{"pitches": hex of the pitch
bytes, "error": None}`` or ``{"pitches": None, "error": why}`` for a file that cannot be parsed (so it is not
tried again); a key names the parser and its version, the file's path, size and modification time, so a
changed file or another parser version is parsed again. ``progress(done, total)`` is called before anything
else (``done`` = 0), after the cache is read (what it already held) and after each parsed file. A load stopped
part-way (``progress`` raising, as a dashboard rerun does, or Ctrl-C) keeps every file parsed so far.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable

from .base import cache_dir

__all__ = ["CACHE_FOLDER", "open_cache", "cache_key", "count_cached", "parse_files"]

#: The cache's folder under ``cache_dir()`` (the pickling ``parsed_music`` of earlier versions is not read).
CACHE_FOLDER = "parsed_music_json"
_CACHE_FORMAT = 2  # bump when the pitch extraction changes

Parsed = tuple[bytes | None, str | None]
Progress = Callable[[int, int], None] | None


def open_cache():
    """The parsed-music cache (a :class:`diskcache.Cache` on a :class:`diskcache.JSONDisk`); use it in ``with``."""
    import diskcache

    return diskcache.Cache(str(cache_dir() / CACHE_FOLDER), disk=diskcache.JSONDisk)


def cache_key(kind: str, version: str, path: Path) -> str:
    st = path.stat()
    return f"{_CACHE_FORMAT}|{kind}|{version}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def _encode(res: Parsed) -> dict:
    return {"pitches": res[0].hex() if res[0] is not None else None, "error": res[1]}


def _decode(value) -> Parsed | None:
    if not isinstance(value, dict):
        return None
    pitches = value.get("pitches")
    return (bytes.fromhex(pitches) if pitches is not None else None), value.get("error")


def count_cached(paths: list[Path], kind: str, version: str) -> int:
    """How many of ``paths`` the cache holds (parsed or known to fail) for this parser version."""
    with open_cache() as cache:
        return sum(cache_key(kind, version, p) in cache for p in paths)


def _parse_safely(fn, path: str) -> Parsed:
    try:
        return fn(path), None
    except Exception as err:  # any parser failure means "this file cannot be read"
        msg = str(err).strip().splitlines()[0] if str(err).strip() else ""
        return None, f"{type(err).__name__}: {msg}"[:200]


def parse_files(paths: list[Path], fn: Callable[[str], bytes], kind: str, version: str, progress: Progress = None,
                workers: int | None = None) -> dict[Path, Parsed]:
    """Pitch bytes (or an error message) for every path: from the cache, or ``fn(path)`` in worker processes
    (``workers``, default one per CPU core; in this process when one), each result cached as it comes."""
    total = len(paths)
    if progress:
        progress(0, total)
    results: dict[Path, Parsed] = {}
    with open_cache() as cache:
        keys = {p: cache_key(kind, version, p) for p in paths}
        for p in paths:
            hit = _decode(cache.get(keys[p]))
            if hit is not None:
                results[p] = hit
        missing = [p for p in paths if p not in results]
        done = total - len(missing)
        if progress and done:
            progress(done, total)

        def store(p, res):
            nonlocal done
            results[p] = res
            cache.set(keys[p], _encode(res))
            done += 1
            if progress:
                progress(done, total)

        n_workers = min(workers or os.cpu_count() or 1, len(missing))
        if n_workers > 1:
            try:
                with ProcessPoolExecutor(max_workers=n_workers) as pool:
                    futures = {pool.submit(_parse_safely, fn, str(p)): p for p in missing}
                    try:
                        for fut in as_completed(futures):
                            store(futures[fut], fut.result())
                    except BaseException:
                        # The load is stopped (a dashboard rerun raised from progress, Ctrl-C): start nothing
                        # new, but keep every file that was parsed, so the next load goes on from here.
                        pool.shutdown(wait=True, cancel_futures=True)
                        for fut, p in futures.items():
                            if p not in results and fut.done() and not fut.cancelled() and not fut.exception():
                                results[p] = fut.result()
                                cache.set(keys[p], _encode(results[p]))
                        raise
            except BrokenProcessPool:  # a worker died (out of memory, crash): finish in this process
                pass
        for p in missing:
            if p not in results:
                store(p, _parse_safely(fn, str(p)))
    return results
