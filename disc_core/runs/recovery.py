"""Opening the run store safely: the part of :class:`~disc_core.runs.store.RunStore` that deals with its files.

The store is an index of the run folders (:mod:`disc_core.runs.index`). :class:`StoreFiles` opens it
(:func:`~disc_core.runs.storedb.inspect_store` first), sets a damaged, emptied or older-version store aside and
rebuilds it from the folders, reopens a store another process rebuilt, falls back to reading a store that
cannot be written, and indexes run folders the store lost. :func:`guarded` wraps each store method: a store
found damaged in the middle of a call is rebuilt and the call run again, once.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from pathlib import Path

from . import index
from .records import RunNotFound
from .storedb import (DBNAME, MemoryCache, ReadOnlyCache, StoreDamaged, StoreUnwritable, classify, inspect_store,
                      open_cache, private_dir, store_lock, why_unwritable)

__all__ = ["StoreFiles", "guarded"]

_MISSING = object()


def guarded(method):
    """Run a store method; if the store turns out damaged, set it aside, rebuild it and run the method again
    (once). A store that cannot be written raises :class:`StoreUnwritable` with the cause."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        if getattr(self._local, "depth", 0):  # inside another store method: the outermost one recovers
            return method(self, *args, **kwargs)
        self._local.depth = 1
        try:
            for attempt in (1, 2):
                self._check_current()
                try:
                    return method(self, *args, **kwargs)
                except Exception as err:
                    kind = classify(err, self.store_dir)
                    if kind == "unwritable" and not isinstance(err, StoreUnwritable):
                        raise StoreUnwritable(why_unwritable(err, self.store_dir)) from err
                    if kind != "damaged":
                        raise
                    if attempt == 2 or self.read_only:
                        raise StoreDamaged(f"the run store {self.store_dir} is damaged ({err}) and could not be "
                                           "rebuilt; run `python -m disc_core runs rebuild`") from err
                    self._recover(f"{self.db_path} failed while in use: {err}")
        finally:
            self._local.depth = 0

    return call


class StoreFiles:
    """What :class:`~disc_core.runs.store.RunStore` does with its files (see the module's docstring)."""

    def __init__(self, root: Path, echo: bool = False):
        self.root = Path(root)
        private_dir(self.root)
        self.store_dir, self.echo = self.root / "store", echo
        self.db_path = self.store_dir / DBNAME
        self.notices: list[str] = []
        self.problems: list[index.FolderProblem] = []
        self.read_only: str | None = None
        self._overlay: dict = {}
        self._local = threading.local()
        self._db, self._ino = None, None
        self._open()

    # ------------------------------------------------------------------------ opening, damage, rebuild
    def _notice(self, text: str) -> None:
        if text not in self.notices:
            self.notices.append(text)
            if self.echo:
                try:
                    print(text, file=sys.stderr, flush=True)
                except OSError:
                    pass

    def _problem(self, p: index.FolderProblem) -> None:
        if all(str(q) != str(p) for q in self.problems):
            self.problems.append(p)

    def _open(self) -> None:
        with store_lock(self.root):
            self._open_locked()

    def _open_locked(self) -> None:
        self.read_only, self._overlay = None, {}
        problem = inspect_store(self.store_dir)
        if problem is None and not self.db_path.exists() and index.run_folders(self.root):
            problem = ("missing", f"{self.db_path} is missing while run folders are there")
        if problem and not self._rebuild_locked(*problem):
            return
        try:
            self._db = open_cache(self.store_dir)
            self._ino = os.stat(self.db_path).st_ino
        except Exception as err:
            kind = classify(err, self.store_dir)
            if kind == "damaged" and not problem and self._rebuild_locked("damaged", f"{self.db_path}: {err}"):
                self._db, self._ino = open_cache(self.store_dir), os.stat(self.db_path).st_ino
            elif kind == "unwritable":
                self._read_only(why_unwritable(err, self.store_dir))
            elif kind != "damaged":
                raise

    def _rebuild_locked(self, kind: str, why: str) -> bool:
        """Set the store aside and rebuild it; False when that was impossible (then a read-only view of
        the run folders is served from memory)."""
        try:
            done = index.rebuild(self.root, why=why, kind=kind)
        except Exception as err:
            if classify(err, self.root) is None and not isinstance(err, OSError):
                raise
            self._memory_view(f"{why}; it cannot be rebuilt now ({why_unwritable(err, self.root)}), so the runs "
                              "are read from their folders and nothing can be launched, cancelled or resumed")
            return False
        for p in done.problems:
            self._problem(p)
        self._notice(f"warning: {done.describe()}")
        return True

    def _memory_view(self, reason: str) -> None:
        items: dict = {"index": []}
        for d in index.run_folders(self.root, legacy=True):
            try:
                rec, events = index.read_folder(d)
            except index.FolderProblem as p:
                self._problem(p)
                continue
            items[f"run/{rec['id']}"] = rec
            items.update({f"ev/{rec['id']}/{e['seq']}": e for e in events})
            items["index"].append(rec["id"])
        self._db, self.read_only = MemoryCache(items, reason), reason
        self._notice(f"warning: {reason}")

    def _read_only(self, reason: str) -> None:
        try:
            self._db = ReadOnlyCache(self.store_dir, reason)
        except Exception:  # damaged as well: what the folders say
            self._memory_view(reason)
            return
        self.read_only = reason
        self._notice(f"warning: {reason}; the store is read read-only meanwhile")

    def _check_current(self) -> None:
        """Reopen the store if another process set it aside and rebuilt it (a new file at the same path)."""
        if self.read_only:
            return
        try:
            ino = os.stat(self.db_path).st_ino
        except OSError:
            ino = None
        if ino != self._ino:
            self._close_db()
            self._open()

    def _recover(self, why: str) -> None:
        with store_lock(self.root):
            try:
                ino = os.stat(self.db_path).st_ino
            except OSError:
                ino = None
            self._close_db()
            if ino == self._ino:  # nobody rebuilt it meanwhile: this process does
                self._rebuild_locked("damaged", why)
            self._open_locked()

    def _close_db(self) -> None:
        try:
            if self._db is not None:
                self._db.close()
        except Exception:
            pass

    def rebuild(self) -> index.Rebuilt:
        """Set the store aside and rebuild it from the run folders (``python -m disc_core runs rebuild``)."""
        with store_lock(self.root):
            self._close_db()
            try:
                done = index.rebuild(self.root, why="rebuilt on request (`runs rebuild`)")
            except OSError as err:
                self._open_locked()
                raise StoreUnwritable(why_unwritable(err, self.root)) from err
            self.problems = list(done.problems)
            self._open_locked()
        return done

    # ------------------------------------------------------------------------------------- reading
    def _get(self, key: str, default=None):
        got = self._overlay.get(key, _MISSING)
        return self._db.get(key, default) if got is _MISSING else got

    def _put(self, rec: dict) -> None:
        """Write a record (inside a transaction) and its copy in the run folder."""
        self._db.set(f"run/{rec['id']}", rec)
        try:
            index.write_record(rec, self.root / rec["id"])
        except OSError as err:
            self._notice(f"warning: could not update {self.root / rec['id'] / index.RUN_JSON} ({err}); the store "
                         "has the change, a rebuild from the folders would miss it")

    def _rec(self, run_id: str) -> dict:
        rec = self._get(f"run/{run_id}")
        if rec is None:
            d = self.root / str(run_id)
            if (d / index.RUN_JSON).exists() and d.parent == self.root:
                self._adopt()
                rec = self._get(f"run/{run_id}")
                bad = [p for p in self.problems if Path(p.path).parent == d]
                if rec is None and bad:
                    raise RunNotFound(f"run {run_id}'s folder cannot be read: {bad[0]}")
        if rec is None:
            raise RunNotFound(f"no run {run_id!r} in the store {self.store_dir}; "
                              f"`python -m disc_core runs list` shows the runs there")
        return rec

    def _adopt(self) -> None:
        """Index run folders that have a ``run.json`` but no record in the store (an emptied store)."""
        known = set(self._get("index", []))
        found = []
        for d in index.run_folders(self.root):
            if d.name in known:
                continue
            try:
                found.append(index.read_folder(d))
            except index.FolderProblem as p:
                self._problem(p)
        if not found:
            return
        if self.read_only:
            for rec, events in found:
                self._overlay.update({f"ev/{rec['id']}/{e['seq']}": e for e in events}, **{f"run/{rec['id']}": rec})
            self._overlay["index"] = [*self._get("index", []), *(r["id"] for r, _ in found)]
        else:
            with self._db.transact(retry=True):
                ids = list(self._db.get("index", []))
                for rec, events in found:
                    if f"run/{rec['id']}" in self._db:
                        continue  # created just now by another process
                    for ev in events:
                        self._db.set(f"ev/{rec['id']}/{ev['seq']}", ev)
                    self._db.set(f"run/{rec['id']}", rec)
                    ids = [*(i for i in ids if i != rec["id"]), rec["id"]]
                self._db.set("index", ids)
        self._notice(f"warning: {len(found)} run(s) had a folder but no record in the store {self.store_dir} "
                     f"(emptied?); indexed again from their folders: {', '.join(r['id'] for r, _ in found)}")

