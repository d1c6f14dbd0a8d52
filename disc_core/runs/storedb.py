"""The run store's database: a diskcache over SQLite whose values are JSON only, private to its user,
and what is done when it cannot be used.

- **No pickle.** :class:`SafeJSONDisk` stores keys and values as zlib-compressed JSON (diskcache's
  ``JSONDisk``) and *refuses* a row stored any other way (pickle, a file outside the store): such a row
  raises :class:`StoreDamaged` instead of being unpickled, so a value planted in ``cache.db`` runs nothing.
- **Private.** The runs root and the store folder are created ``0700``; the store's files are ``0600``.
- **Damage is recognised** (:func:`inspect_store`, :func:`classify`): an emptied (0-byte) ``cache.db``, one
  that is not SQLite any more, one made by an older version (pickled values), or a query that finds the
  file malformed. The store then is set aside and rebuilt from the run folders (:mod:`disc_core.runs.index`).
- **A store that cannot be written** (a full disk, a read-only mount) is opened read-only
  (:class:`ReadOnlyCache`), so every reader still answers; writers get :class:`StoreUnwritable`, which says
  why (``No space left on device``) and what to do.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sqlite3
import zlib
from pathlib import Path
from urllib.parse import quote

import diskcache
from diskcache.core import MODE_BINARY, MODE_RAW

from ..errors import DiscError

__all__ = ["StoreError", "StoreDamaged", "StoreUnwritable", "SafeJSONDisk", "open_cache", "inspect_store",
           "classify", "ReadOnlyCache", "MemoryCache", "store_lock", "private_dir", "tighten", "FORMAT",
           "DBNAME", "PRIVATE_DIR", "PRIVATE_FILE"]

DBNAME = "cache.db"
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
#: A setting every store of this version carries: a store without it was made by an older (pickle) version.
FORMAT = "json-1"
_MODES = {0: "none", 1: "raw", 2: "binary", 3: "text", 4: "pickle"}


class StoreError(DiscError):
    """The run store cannot be used as it is."""


class StoreDamaged(StoreError):
    """The store's file is damaged, emptied, or holds something this version never reads (pickle)."""


class StoreUnwritable(StoreError):
    """The store cannot be written now (a full disk, a read-only file system, no permission)."""


def _jsonable(x):
    """numpy scalars and arrays as plain numbers and lists; anything else as its text."""
    if hasattr(x, "tolist"):
        return x.tolist()
    return str(x)


class SafeJSONDisk(diskcache.JSONDisk):
    """JSON keys and values (diskcache's ``JSONDisk``); a pickled key or value raises instead of loading."""

    def get(self, key, raw):
        if not raw:
            raise StoreDamaged(f"the run store {self._directory} holds a key stored with pickle, which this version "
                               "never loads (an older version's store, or one tampered with)")
        try:
            return super().get(key, raw)
        except (zlib.error, ValueError, UnicodeDecodeError) as err:
            raise StoreDamaged(f"the run store {self._directory} holds a key that is not JSON ({err})") from err

    def store(self, value, read, key=diskcache.core.UNKNOWN):
        if not read:
            value = zlib.compress(json.dumps(value, default=_jsonable).encode("utf-8"), self.compress_level)
        return diskcache.Disk.store(self, value, read, key=key)

    def fetch(self, mode, filename, value, read):
        if mode not in (MODE_RAW, MODE_BINARY) or (filename and (os.path.isabs(filename) or ".." in filename)):
            raise StoreDamaged(f"the run store {self._directory} holds a value stored as {_MODES.get(mode, mode)!r} "
                               f"{'in ' + repr(filename) if filename else ''}, which this version never reads (it "
                               "writes JSON only: an older version's store, or one tampered with)")
        try:
            return super().fetch(mode, filename, value, read)
        except (zlib.error, ValueError, UnicodeDecodeError, TypeError) as err:
            raise StoreDamaged(f"the run store {self._directory} holds a value that is not JSON ({err})") from err


def open_cache(directory: Path) -> diskcache.Cache:
    """The store's diskcache (created if need be): JSON values, no eviction, no memory map (a file truncated
    under a memory map kills the reader with SIGBUS), a write-ahead log kept small (checkpointed every 100
    pages, cut back to 1 MB: on a nearly full disk the log must not take the space)."""
    private_dir(directory)
    db = diskcache.Cache(str(directory), disk=SafeJSONDisk, timeout=60, eviction_policy="none",
                         size_limit=2**62, cull_limit=0, statistics=0, sqlite_mmap_size=0,
                         sqlite_wal_autocheckpoint=100, sqlite_journal_size_limit=2**20, disc_format=FORMAT)
    tighten(directory)
    return db


def inspect_store(directory: Path) -> tuple[str, str] | None:
    """What is wrong with the store file before it is opened: ``(kind, message)`` or None (fine or absent).

    Kinds: ``empty`` (0 bytes), ``garbled`` (not an SQLite file), ``legacy`` (made by an older version that
    pickled its values), ``damaged`` (SQLite cannot read it). Reads only; never unpickles anything.
    """
    db = directory / DBNAME
    # never open the file itself: closing a descriptor of it drops every SQLite lock this process holds on it
    # (POSIX locks are per process), and another process would then delete the write-ahead log under us
    try:
        if db.stat().st_size == 0:
            return "empty", f"{db} is empty (0 bytes): whatever emptied it took every run's record with it"
    except FileNotFoundError:
        return None
    except OSError as err:
        return "damaged", f"{db} cannot be read ({err.strerror or err})"
    try:
        con = sqlite3.connect(f"file:{quote(str(db))}?mode=ro", uri=True, timeout=10)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "Cache" not in tables:
                return None
            marked = "Settings" in tables and con.execute(
                "SELECT 1 FROM Settings WHERE key = 'disc_format' AND value = ?", (FORMAT,)).fetchone()
            if not marked and con.execute("SELECT 1 FROM Cache LIMIT 1").fetchone():
                return "legacy", (f"{db} was made by an older version of disc_core, which stored its values with "
                                  "pickle; they are never loaded (a pickle can run code)")
        finally:
            con.close()
    except sqlite3.DatabaseError as err:
        if classify(err) == "unwritable":
            return None  # cannot look now (a full disk): opening read-only will tell
        if "not a database" in str(err):
            return "garbled", f"{db} is not an SQLite database any more (SQLite: {err}; overwritten?)"
        return "damaged", f"{db} cannot be read by SQLite ({err})"
    return None


def _disk_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path).free < 256 * 1024
    except OSError:
        return False


def classify(err: BaseException, where: Path | None = None) -> str | None:
    """``damaged`` (set the store aside and rebuild it), ``unwritable`` (read-only until fixed) or None."""
    if isinstance(err, StoreDamaged):
        return "damaged"
    if isinstance(err, StoreUnwritable):
        return "unwritable"
    if isinstance(err, sqlite3.DatabaseError):
        code = getattr(err, "sqlite_errorcode", None)
        base, msg = (code & 0xFF) if isinstance(code, int) else None, str(err).lower()
        if base in (11, 26) or code == 522 or "malformed" in msg or "not a database" in msg:
            return "damaged"  # SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_IOERR_SHORT_READ (a truncated file)
        if base in (3, 8, 13, 14) or "disk is full" in msg or "readonly" in msg or "unable to open" in msg:
            return "unwritable"  # SQLITE_PERM, SQLITE_READONLY, SQLITE_FULL, SQLITE_CANTOPEN
        if base == 10 or "disk i/o error" in msg:  # SQLITE_IOERR: a full disk, or a file cut short
            return "unwritable" if where is not None and _disk_full(where) else "damaged"
        return None
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
        return "unwritable"
    return None


def why_unwritable(err: BaseException, where: Path) -> str:
    """The cause in words, naming a full disk as the OS does (``No space left on device``)."""
    if isinstance(err, StoreUnwritable):
        return str(err)
    full = (isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)) or "disk is full" in str(err) \
        or _disk_full(where)
    cause = f"{os.strerror(errno.ENOSPC)} ({err})" if full else str(getattr(err, "strerror", None) or err)
    hint = "free some space on that disk" if full else "check that the folder is writable by you"
    return f"the run store {where} cannot be written: {cause}; {hint}, then try again"


class ReadOnlyCache:
    """The store read without writing anything (what a full disk or a read-only mount allows): ``get``
    and ``in`` like diskcache's, writes raise :class:`StoreUnwritable` with ``reason``."""

    def __init__(self, directory: Path, reason: str):
        self.reason, self._disk, self._con = reason, SafeJSONDisk(str(directory)), None
        db = directory / DBNAME
        if db.exists():
            for query in ("mode=ro", "mode=ro&immutable=1"):  # immutable: when even the -shm cannot be made
                try:
                    con = sqlite3.connect(f"file:{quote(str(db))}?{query}", uri=True, timeout=10)
                    con.execute("SELECT 1 FROM Cache LIMIT 1").fetchall()
                    self._con = con
                    break
                except sqlite3.DatabaseError as err:
                    if classify(err) == "damaged":
                        raise
                    continue

    def get(self, key, default=None):
        if self._con is None:
            return default
        db_key, raw = self._disk.put(key)
        row = self._con.execute("SELECT mode, filename, value FROM Cache WHERE key = ? AND raw = ?",
                                (db_key, raw)).fetchone()
        return default if row is None else self._disk.fetch(row[0], row[1], row[2], False)

    def __contains__(self, key) -> bool:
        return self.get(key, _MISSING) is not _MISSING

    def set(self, *_a, **_k):
        raise StoreUnwritable(self.reason)

    def transact(self, retry: bool = False):
        raise StoreUnwritable(self.reason)

    def close(self) -> None:
        if self._con is not None:
            self._con.close()


class MemoryCache(ReadOnlyCache):
    """A read-only store held in memory (rebuilt from the run folders when the store can be neither used
    nor rebuilt on disk)."""

    def __init__(self, items: dict, reason: str):
        self.reason, self._items = reason, items

    def get(self, key, default=None):
        return self._items.get(key, default)

    def close(self) -> None:
        pass


_MISSING = object()


@contextlib.contextmanager
def store_lock(root: Path):
    """An exclusive lock on ``root/.store.lock`` while the store is opened, set aside or rebuilt (so a
    process never opens a half-rebuilt store). Without a lock file (a full disk) it goes on unlocked."""
    import fcntl

    try:
        fd = os.open(root / ".store.lock", os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) ``0700``; tighten it if it exists, is ours and is open to others."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    try:
        st = path.stat()
        if st.st_uid == os.getuid() and st.st_mode & 0o077:
            os.chmod(path, PRIVATE_DIR)
    except OSError:
        pass
    return path


def tighten(directory: Path) -> None:
    """The store folder ``0700`` and its files ``0600`` (diskcache makes them 0755/0644)."""
    for p in (directory, *directory.iterdir()):
        with contextlib.suppress(OSError):
            if p.stat().st_uid == os.getuid():
                os.chmod(p, PRIVATE_DIR if p.is_dir() else PRIVATE_FILE)
