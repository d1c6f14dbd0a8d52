"""Careful file reading shared by the loaders: every failure names the file and the line."""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .base import MAX_SYMBOLS

__all__ = ["read_text", "read_lines", "check_symbols", "truncate"]

_BINARY_HINT = "is this the right file? it looks binary; give a plain-text (UTF-8) file"


def read_text(path: str | Path, what: str = "file") -> str:
    """Read a whole UTF-8 text file.

    Raises :class:`DataError` for a missing or empty file, NUL bytes (binary junk) or bytes that are
    not UTF-8; the message gives the line of the first bad byte. A UTF-8 BOM is dropped.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{what} not found", path=path, hint="check the path")
    if path.is_dir():
        raise DataError(f"expected a {what}, got a folder", path=path)
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"the {what} is empty", path=path, hint="give a file with data in it")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError("contains NUL bytes (binary data)", path=path, line=raw.count(b"\n", 0, nul) + 1,
                        hint=_BINARY_HINT)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise DataError(f"byte 0x{raw[err.start]:02x} at offset {err.start} is not valid UTF-8", path=path,
                        line=line, hint="save the file as UTF-8") from None
    return text.lstrip("\ufeff")


def read_lines(path: str | Path, what: str = "file") -> list[str]:
    """Lines of a UTF-8 text file without line endings (CRLF tolerated)."""
    return read_text(path, what).splitlines()


def check_symbols(seq: str, allowed: set[str], path, line: int | None = None, record=None,
                  kind: str = "sequence") -> None:
    """Raise :class:`DataError` naming the first symbol of ``seq`` that is not in ``allowed``."""
    for i, ch in enumerate(seq):
        if ch not in allowed:
            raise DataError(f"invalid letter {ch!r} at position {i + 1} of the {kind} "
                            f"(allowed: {''.join(sorted(allowed))})", path=path, line=line, record=record,
                            hint="fix or remove that record")


def truncate(symbols: tuple[str, ...], limit: int = MAX_SYMBOLS) -> tuple[tuple[str, ...], bool]:
    """Cut ``symbols`` to ``limit``; returns (symbols, was_truncated)."""
    if len(symbols) > limit:
        return symbols[:limit], True
    return symbols, False
