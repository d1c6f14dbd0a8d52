"""Run folders are the source of truth; the run store is an index of them that can be rebuilt.

Every change of a run's record (created, started, resumed, ended ...) is also written, atomically, to
``<run folder>/run.json``; each step and evaluation is already in the folder's ``metrics.jsonl`` and a
finished run's results in ``results.json``. From these :func:`rebuild` makes a new store when the old one is
lost, emptied or damaged: the old one is set aside (``store.<kind>-<time>``, renamed, never deleted) and
every run folder is read back. A folder that cannot be read is skipped and named (:class:`FolderProblem`:
the file, what is wrong, what to do); the rest carries on. Folders of an older version (no ``run.json``)
are read from ``config.json``/``results.json``.

A worker that is about to die without being able to write to the store (a full disk) leaves its *last
words* in a file it reserved when it started (:func:`reserve_last_words`): overwriting reserved bytes needs
no free space, so the run can later be marked failed with its true cause instead of "killed".
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ..fileio import atomic_write_json, atomic_write_text
from .records import FAILED, FINISHED
from .storedb import PRIVATE_FILE, open_cache, private_dir, tighten

__all__ = ["RUN_JSON", "LAST_WORDS", "FolderProblem", "Rebuilt", "SetAside", "set_asides", "write_record", "read_folder", "run_folders",
           "rebuild", "reserve_last_words", "write_last_words", "read_last_words"]

RUN_JSON = "run.json"
LAST_WORDS = "last_words.txt"
_RESERVE = 64 * 1024
_PERMS = "check the file's owner and permissions (ls -l), then `python -m disc_core runs rebuild`"


@dataclass
class FolderProblem(Exception):
    """A run folder that cannot be read back: the file, what is wrong with it, what to do."""

    path: Path
    what: str
    hint: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what} -> {self.hint}"


@dataclass
class Rebuilt:
    """What :func:`rebuild` did."""

    set_aside: Path | None
    runs: int
    events: int
    problems: list[FolderProblem]
    why: str

    def describe(self) -> str:
        text = f"{self.why}. " if self.why else ""
        if self.set_aside:
            text += f"The old store was set aside as {self.set_aside} (kept, not deleted); "
        text += f"the store was rebuilt from the run folders: {self.runs} run(s), {self.events} event(s)"
        if self.problems:
            text += f"; {len(self.problems)} folder(s) skipped:\n" + "\n".join(f"  {p}" for p in self.problems)
        return text


def write_record(rec: dict, run_dir: Path) -> None:
    """Mirror the run's record into its folder (``run.json``, 0600); the caller decides what a failure means."""
    d = private_dir(Path(run_dir))
    atomic_write_json(d / RUN_JSON, {"format": 1, "record": rec}, mode=PRIVATE_FILE, default=str)


def run_folders(root: Path, legacy: bool = False) -> list[Path]:
    """Folders under ``root`` that hold a background run: a ``run.json``, or with ``legacy`` an older
    version's (``worker.log`` and ``config.json``, no ``run.json``)."""
    out = []
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return out
    for e in entries:
        if e.name.startswith((".", "store")) or not e.is_dir(follow_symlinks=False):
            continue
        d = Path(e.path)
        if (d / RUN_JSON).exists() or (legacy and (d / "worker.log").exists() and (d / "config.json").exists()):
            out.append(d)
    return out


def _json(path: Path, hint: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise FolderProblem(path, f"cannot be read ({err.strerror or err})", _PERMS) from err
    except (ValueError, UnicodeDecodeError) as err:
        raise FolderProblem(path, f"is not valid JSON ({err})", hint) from err


def _legacy_record(d: Path) -> dict:
    """A record for an older version's run folder (no run.json): from its config and results."""
    from .records import new_record

    cfg = _json(d / "config.json", "the folder cannot be indexed; move it out of the runs folder if unneeded")
    rec = new_record(d.name, cfg.get("config") or {}, str(d))
    started = (cfg.get("resolved") or {}).get("started") or (d / "config.json").stat().st_mtime
    rec.update(created=started, queued_at=started, started=started, finished=(d / "worker.log").stat().st_mtime,
               status=FINISHED if (d / "results.json").exists() else FAILED,
               note="rebuilt from its folder (made by an older version: no run.json)")
    if rec["status"] == FAILED:
        rec["error"] = (f"rebuilt from its folder {d}: it has no results.json, so it never finished; its worker.log "
                        "may say why. Resume it with `python -m disc_core runs resume ID`")
    return rec


def read_folder(d: Path) -> tuple[dict, list[dict]]:
    """The record and the events of run folder ``d`` (raises :class:`FolderProblem`).

    Events: a ``start``, each line of ``metrics.jsonl`` (a line cut short by a crash is left out and
    counted in the record's note), and the ``end`` of a finished run with its ``results.json``.
    """
    hint = ("restore it from a backup, or move the folder out of the runs folder if the run is not needed; "
            "then `python -m disc_core runs rebuild`")
    if (d / RUN_JSON).exists():
        data = _json(d / RUN_JSON, hint)
        rec = data.get("record") if isinstance(data, dict) else None
        if not isinstance(rec, dict) or rec.get("id") != d.name or not isinstance(rec.get("config"), dict):
            raise FolderProblem(d / RUN_JSON, f"is not the record of run {d.name} (no 'record' with this id)", hint)
    else:
        rec = _legacy_record(d)
    if rec.get("own_dir") and rec.get("run_dir"):  # its launcher keeps it elsewhere (a reproduction's cell)
        d = Path(rec["run_dir"])
    rec = {**rec, "run_dir": str(d)}
    attempt = rec.get("attempt", 1)
    events: list[dict] = [{"kind": "start", "total_steps": rec.get("total_steps"), "start_step": 0,
                           "rebuilt_from": "metrics.jsonl"}]
    bad = 0
    metrics = d / "metrics.jsonl"
    try:
        lines = metrics.read_text(encoding="utf-8", errors="replace").splitlines() if metrics.exists() else []
    except OSError as err:
        raise FolderProblem(metrics, f"cannot be read ({err.strerror or err})", _PERMS) from err
    for line in lines:
        try:
            ev = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(ev, dict) and ev.get("kind") in ("step", "eval"):
            events.append(ev)
    if (d / "results.json").exists():
        results = _json(d / "results.json", hint)
        events.append({"kind": "end", "results": results})
        if rec.get("status") == FINISHED or rec.get("results") is None:
            rec["results"] = results
    events = [{**ev, "seq": k, "attempt": ev.get("attempt", attempt)} for k, ev in enumerate(events, 1)]
    steps = [e for e in events if e["kind"] == "step"]
    rec.update(n_events=len(events), eta_s=None, step=steps[-1]["step"] if steps else rec.get("step", 0),
               last_loss=steps[-1].get("loss") if steps else rec.get("last_loss"))
    if bad:
        rec["note"] = (rec.get("note") or "") + f" ({bad} unreadable line(s) of metrics.jsonl left out)"
    return rec, events


def missing_events(run_dir: Path, stored: list[dict]) -> list[dict]:
    """Steps and evaluations of ``metrics.jsonl`` that the store's events (``stored``) lack, in order: what a
    worker wrote to its folder just before it was killed, or before the store could not be written."""
    from ..engine.experiment import read_metrics

    have = {(e.get("kind"), e.get("step"), e.get("split"), e.get("time")) for e in stored}
    try:
        logged = read_metrics(run_dir)
    except OSError:
        return []
    return [e for e in logged if e.get("kind") in ("step", "eval")
            and (e.get("kind"), e.get("step"), e.get("split"), e.get("time")) not in have]


@dataclass(frozen=True)
class SetAside:
    """A store that :func:`rebuild` set aside: its folder (kept, never deleted), why, and when."""

    path: Path
    kind: str
    when: float
    why: str

    def __str__(self) -> str:
        at = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.when))
        return (f"The run store was set aside and rebuilt from the run folders at {at}"
                + (f" ({self.why})" if self.why else f" ({self.kind})")
                + f"; the old store is kept in {self.path}. Every run folder that could be read is back.")


def set_asides(root: str | Path, within_s: float | None = None) -> list[SetAside]:
    """The stores set aside under ``root``, newest first; ``within_s``: only those of the last so many seconds.
    Whoever rebuilt the store (a page, a command, a worker), this is how the others can tell afterwards."""
    out = []
    for d in Path(root).glob("store.*-*"):
        try:
            when = d.stat().st_mtime
            why = (d / "WHY.txt").read_text(encoding="utf-8", errors="replace").strip() \
                if (d / "WHY.txt").exists() else ""
        except OSError:
            continue
        if within_s is not None and time.time() - when > within_s:
            continue
        out.append(SetAside(d, d.name.split(".", 1)[1].split("-", 1)[0], when, why))
    return sorted(out, key=lambda a: a.when, reverse=True)


def rebuild(root: Path, why: str = "", kind: str = "rebuilt") -> Rebuilt:
    """Set ``root/store`` aside (if there is one) and make a new store from the run folders.

    The caller holds :func:`~disc_core.runs.storedb.store_lock`. The old store is renamed first, so a worker
    still writing finds no store until the new one is in place (it waits on the lock) and its events land in
    ``metrics.jsonl``, which is read after the rename.
    """
    store = root / "store"
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    aside = None
    if store.exists():
        aside = root / f"store.{kind}-{stamp}"
        store.rename(aside)
        if why:
            try:
                atomic_write_text(aside / "WHY.txt", why + "\n", mode=PRIVATE_FILE)
            except OSError:
                pass
    tmp = root / f".store.rebuilding-{stamp}"
    problems: list[FolderProblem] = []
    recs: list[dict] = []
    n_events, db = 0, None
    try:
        db = open_cache(tmp)
        for d in run_folders(root, legacy=True):
            try:
                rec, events = read_folder(d)
            except FolderProblem as p:
                problems.append(p)
                continue
            with db.transact(retry=True):
                for ev in events:
                    db.set(f"ev/{rec['id']}/{ev['seq']}", ev)
                db.set(f"run/{rec['id']}", rec)
                if rec.get("group"):
                    db.set(f"grp/{rec['group']}", rec.get("created") or 0.0)
            recs.append(rec)
            n_events += len(events)
        recs.sort(key=lambda r: (r.get("created") or 0.0, r["id"]))
        db.set("index", [r["id"] for r in recs])
        db.close()
        tmp.rename(store)
    except BaseException:  # (a full disk) the half-built store is ours to remove; the old one stays set aside
        if db is not None:
            db.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    tighten(store)
    return Rebuilt(aside, len(recs), n_events, problems, why)


# ------------------------------------------------------------------------------ a worker's last words
def reserve_last_words(run_dir: Path) -> None:
    """Reserve space for the worker's last words (64 KB of blanks, written and synced now)."""
    path = Path(run_dir) / LAST_WORDS
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
        try:
            os.write(fd, b" " * _RESERVE)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass  # no room even for this: the run is reaped as killed, as before


def write_last_words(run_dir: Path, text: str) -> bool:
    """Write ``text`` over the reserved blanks (no new space needed); True if it is on disk."""
    path = Path(run_dir) / LAST_WORDS
    data = text.encode("utf-8", errors="replace")[-(_RESERVE - 1):]
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.pwrite(fd, data + b"\n" + b" " * max(0, _RESERVE - len(data) - 1), 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        return True
    except OSError:
        return False


def read_last_words(run_dir: str | Path) -> str | None:
    """The worker's last words, if it left any."""
    try:
        text = (Path(run_dir) / LAST_WORDS).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    return text or None
