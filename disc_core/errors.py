"""Exceptions a user can cause and act on.

Every message says what was wrong, where (file, line or record) and what to do. The CLI prints
``str(err)`` without a traceback; the dashboard shows it in an error box.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DiscError", "DataError", "ModelError", "ConfigError", "DownloadError"]


class DiscError(Exception):
    """Base class for every error that is the user's to fix."""


class DataError(DiscError, ValueError):
    """Bad or missing input data.

    Parameters
    ----------
    message : what is wrong.
    path : the file (or folder) concerned, if any.
    line : 1-based line number, if known.
    record : the record's name or index, if known (used when there is no line number).
    hint : what the user should do about it.
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None,
                 record: str | int | None = None, hint: str | None = None):
        self.message, self.path, self.line, self.record, self.hint = message, path, line, record, hint
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f", line {line}"
            elif record is not None:
                where += f", record {record}"
        elif record is not None:
            where = f"record {record}"
        text = f"{where}: {message}" if where else message
        if hint:
            text += f" -> {hint}"
        super().__init__(text)


class ModelError(DiscError):
    """A model reference that cannot be resolved or loaded."""


class ConfigError(DiscError, ValueError):
    """An experiment configuration that makes no sense."""


class DownloadError(DiscError):
    """A download that failed (offline, wrong checksum, HTTP error)."""
