"""Writing files so that a crash at any moment leaves either the old file or the new one, never half of one.

Every file the tool reads back (``results.json``, ``config.json``, indexes, exports, checkpoints' side
files) goes through these: the data is written to a temporary file in the same folder, flushed to disk and
renamed over the target (``os.replace`` is atomic on POSIX within one file system).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json"]


def atomic_write_bytes(path: str | Path, data: bytes, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` atomically (a temp file beside it, fsynced, renamed over it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8", mode: int | None = None) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode(encoding), mode=mode)


def atomic_write_json(path: str | Path, obj, indent: int | None = 2, mode: int | None = None, **dumps) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (``dumps`` go to :func:`json.dumps`, e.g. ``default=str``)."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, **dumps), mode=mode)
