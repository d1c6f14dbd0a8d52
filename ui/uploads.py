"""Uploaded files, written safely: a fresh private folder, the user's own file name made safe."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

UPLOAD_TYPES = ("fa", "fasta", "faa", "fna", "fas", "ffn", "csv", "tsv", "tab", "zip")


def upload_name(name: str) -> str:
    """An uploaded file's own name reduced to a safe file name: its last path part, letters, digits, ``. - _``
    (others become ``_``), at most 80 characters, and a suffix of :data:`UPLOAD_TYPES` (else ``.txt``)."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", name.replace("\\", "/").rsplit("/", 1)[-1]).lstrip(".") or "upload"
    stem, dot, suffix = base.rpartition(".")
    if not dot or suffix.lower() not in UPLOAD_TYPES:
        stem, suffix = base, "txt"
    return f"{stem[:75] or 'upload'}.{suffix.lower()}"


def save_upload(uploaded) -> Path:
    """Write an uploaded file into a fresh private temporary folder and return its path.

    The file keeps its own name made safe by :func:`upload_name` (no folders, no odd characters, a known
    suffix: the loaders pick the format from it), so the loaders' messages and notes name the user's file.
    Remove it with :func:`discard_upload`.
    """
    folder = Path(tempfile.mkdtemp(prefix="disc-upload-"))
    path = folder / upload_name(uploaded.name)
    path.write_bytes(uploaded.getvalue())
    return path


def discard_upload(path: Path | None) -> None:
    """Delete a file written by :func:`save_upload`, and its folder."""
    if path is not None:
        shutil.rmtree(path.parent, ignore_errors=True)
