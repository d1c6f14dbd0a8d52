"""Runs on a Ray cluster: the same worker, placed by Ray, reporting into the head's run store.

``--executor ray`` (CLI) or ``DISC_EXECUTOR=ray`` (dashboard) sends background runs here instead of to local
processes. Nothing about training changes: each run is a Ray task that calls
:func:`disc_core.runs.worker.run_worker`, and everything that reads runs (the dashboard, ``runs list/show/
export``) keeps reading the run store on the machine it runs on (the head node), live curves included.

How the pieces talk::

    dashboard / CLI  --submit-->  StoreService (named, detached actor on the store's node)
          |                          | owns each run's Ray task (so a dashboard restart kills nothing),
          | reads                    | writes every report into the run store, watches the tasks
          v                          v
    run store (diskcache)  <--   RemoteStore proxy in the Ray task on any node: attach, beat, events,
                                 finish; the run folder is copied to the head at each checkpoint and at the end

Why a service and not the store on shared storage: the store is SQLite, whose locks are unreliable over
NFS; one writer process on the store's own disk is safe, and the workers need no shared file system.

- Placement: a task asks for one GPU when the cluster has GPUs, else ``num_threads`` CPUs, and is spread
  over the nodes (``SPREAD``); ``resources`` (e.g. ``{"a100": 1}``) narrows where it may go.
- Cancel: the store's cancel flag reaches the worker's heartbeat within a second and it ends itself as
  ``cancelled``; if it has not within :data:`RAY_CANCEL_GRACE_S`, the service force-cancels the task.
- A lost node or a killed task: the service sees the task fail and marks the run ``failed`` with Ray's
  reason (the store's own heartbeat timeout is the second line); every metric it logged is kept, and
  ``runs resume`` continues it on any node from the last checkpoint that reached the head.
- Artifacts: the run folder reaches the head's run folder when the run ends (and at each checkpoint), or
  ``storage`` (a pyarrow URI: ``s3://bucket/runs``, ``file:///shared/runs``); ``artifacts`` then says where.

:mod:`disc_core.study.reproduce` queues a plan's cells through the same executor (``--executor ray``); a
run whose folder is a plan's cell folder (``own_dir``) is written there on the head's node, or copied there.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import shutil
import tarfile
import tempfile
import threading
import time
from pathlib import Path

from ..engine.events import Listener
from ..errors import ConfigError
from .executor import Executor
from .store import FAILED, HOST, RunInfo, RunStore

__all__ = ["RayExecutor", "StoreService", "RemoteStore", "connect", "service_name",
           "NAMESPACE", "RAY_CANCEL_GRACE_S"]

#: The Ray namespace of the store services (a detached actor is found again by name in its namespace).
NAMESPACE = "disc_core"
#: Seconds a cancelled Ray run gets to end itself (a heartbeat, plus the round trips) before a force-cancel.
RAY_CANCEL_GRACE_S = 5.0
#: Environment variables a driver passes on to its Ray workers (data folder, caches, offline mode).
ENV_PREFIXES = ("DISC_", "HF_", "TRANSFORMERS_", "TOKENIZERS_")
#: Store methods a Ray worker may call through the service.
PROXIED = frozenset({"attach", "update", "append_event", "beat", "finish", "mark_running"})


def _ray():
    try:
        import ray
    except ImportError as err:
        raise ConfigError("the Ray executor needs Ray on this machine and on every node: "
                          "pip install 'ray>=2.9' (the test install, requirements-dev.txt, has it)") from err
    return ray


def connect(address: str | None = None):
    """Join the Ray cluster at ``address`` (default ``$DISC_RAY_ADDRESS`` or ``auto``); returns the ray module.

    This very ``disc_core`` is shipped to the workers (``py_modules``), with the ``DISC_*``/``HF_*`` settings,
    so the nodes need the dependencies (requirements.txt and ray) but not this checkout.
    """
    ray = _ray()
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("DISC_RAY_ADDRESS") or "auto"
    _check_reachable(address)
    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)}
    pkg = Path(__file__).resolve().parents[1]
    try:
        ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, logging_level="ERROR",
                 runtime_env={"py_modules": [str(pkg)], "env_vars": env})
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise ConfigError(f"no Ray cluster reachable at {address!r} ({str(err).splitlines()[0]}). Start one "
                          "with token authentication: `ray get-auth-token --generate; RAY_AUTH_MODE=token ray start "
                          "--head` (a plain `ray start --head` lets anyone who reaches its ports run code; README: "
                          "'Running on a Ray cluster'), or give its address with --ray-address / DISC_RAY_ADDRESS "
                          "(with RAY_AUTH_MODE=token set here too)") from err
    return ray


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a ``host:port`` nothing listens on (``ray.init`` would retry for minutes)."""
    import socket

    if address == "auto":  # what ray.init does: $RAY_ADDRESS, else the cluster last started on this machine
        address = os.environ.get("RAY_ADDRESS") or ""
        current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
        if not address and current.exists():
            address = current.read_text(encoding="utf-8").strip()
        if not address:
            raise ConfigError("no Ray cluster runs on this machine (address 'auto'): start one with token "
                              "authentication, `ray get-auth-token --generate; RAY_AUTH_MODE=token ray start --head`, "
                              "or give a cluster's address with --ray-address / DISC_RAY_ADDRESS (README: 'Running "
                              "on a Ray cluster')")
    if address == "local" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return
    except (OSError, ValueError) as err:
        raise ConfigError(f"no Ray cluster reachable at {address!r} ({err}). Is its head node up (`ray status` "
                          "there)? Give the head's address with --ray-address / DISC_RAY_ADDRESS (README: "
                          "'Running on a Ray cluster')") from err


def _code_version() -> str:
    """A digest of the code a store service runs (this module and the store): a detached service outlives the
    process that made it, so a newer disc_core gets a service of its own instead of calling an old one."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha1()
    for name in ("ray_executor.py", "store.py", "recovery.py", "storedb.py", "index.py", "records.py", "worker.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()[:6]


def service_name(root: str | Path) -> str:
    """The store service's actor name: one per runs root and version of the code."""
    return f"disc-store-{hashlib.sha1(str(Path(root).resolve()).encode()).hexdigest()[:12]}-{_code_version()}"


# ------------------------------------------------------------------------------------ run folders as bytes
def _pack(folder: Path, skip: tuple[str, ...] = ()) -> bytes:
    """The files under ``folder`` as an uncompressed tar (checkpoints do not compress)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        if folder.is_dir():
            for p in sorted(folder.rglob("*")):
                rel = p.relative_to(folder)
                if p.is_file() and not p.name.endswith(".tmp") and rel.parts[0] not in skip:
                    tf.add(p, arcname=str(rel))
    return buf.getvalue()


def _unpack(blob: bytes, dest: Path) -> None:
    """Put the tar's files into ``dest``: each top-level entry replaced whole (a checkpoint folder is never
    half old, half new); files of ``dest`` the tar does not have are kept."""
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.incoming-{secrets.token_hex(3)}"
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r") as tf:
            tf.extractall(tmp, filter="data")
        for entry in sorted(tmp.iterdir()) if tmp.exists() else []:
            target = dest / entry.name
            if target.is_dir() and entry.is_dir():
                old = dest / f".{entry.name}.old-{secrets.token_hex(3)}"
                target.rename(old)
                entry.rename(target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(entry, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _copy_uri(src: str, dst: str) -> None:
    """Copy a folder between a local path and a storage URI (either way), with pyarrow's file systems."""
    import pyarrow.fs as pafs

    def fs_of(x):
        return pafs.FileSystem.from_uri(x) if "://" in x else (pafs.LocalFileSystem(), str(Path(x).resolve()))

    (sfs, spath), (dfs, dpath) = fs_of(src), fs_of(dst)
    dfs.create_dir(dpath, recursive=True)
    pafs.copy_files(spath, dpath, source_filesystem=sfs, destination_filesystem=dfs)


# ---------------------------------------------------------------------------------------- the service
class StoreService:
    """The run store's one writer for Ray workers: a named, detached actor on the node holding the store.

    It also submits (and so owns) each run's Ray task: a task owned by a dashboard would die with it. A
    watcher thread marks a run failed, with Ray's reason, when its task ends in an error (a lost node, a
    killed worker) before the run reported an ending itself.
    """

    def __init__(self, root: str, name: str, storage: str | None = None):
        import ray

        self.store = RunStore(root)
        self.name, self.storage = name, storage
        self.node = ray.get_runtime_context().get_node_id()
        self._refs: dict[str, object] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._watch, name="disc-ray-watch", daemon=True).start()

    def ping(self) -> dict:
        return {"node": self.node, "root": str(self.store.root), "host": HOST, "pid": os.getpid(), "name": self.name,
                "storage": self.storage}

    def call(self, method: str, *args, **kwargs):
        if method not in PROXIED:
            raise ValueError(f"the store service does not forward {method!r}")
        return getattr(self.store, method)(*args, **kwargs)

    def info(self, run_id: str) -> dict:
        return self.store.get(run_id).to_dict()

    def put_files(self, run_id: str, blob: bytes) -> None:
        _unpack(blob, self.store.run_dir(run_id))

    def get_files(self, run_id: str) -> bytes:
        return _pack(self.store.run_dir(run_id), skip=("worker.log",))

    def submit(self, run_id: str, resume: bool, options: dict) -> None:
        import ray

        ref = ray.remote(_run_on_node).options(**options).remote(self.name, run_id, resume)
        with self._lock:
            self._refs[run_id] = ref

    def cancel(self, run_id: str) -> bool:
        """Force-cancel the run's task (it did not end itself); False when there is none."""
        import ray

        with self._lock:
            ref = self._refs.get(run_id)
        if ref is None:
            return False
        ray.cancel(ref, force=True)
        return True

    def tasks(self) -> list[str]:  # the runs whose task this service is watching
        with self._lock:
            return list(self._refs)

    def _watch(self) -> None:
        import ray

        while True:
            with self._lock:
                items = list(self._refs.items())
            if not items:
                time.sleep(0.5)
                continue
            ready, _ = ray.wait([r for _, r in items], num_returns=len(items), timeout=0.5, fetch_local=False)
            ready = set(ready)
            for run_id, ref in items:
                if ref not in ready:
                    continue
                with self._lock:
                    if self._refs.get(run_id) is ref:
                        del self._refs[run_id]
                try:
                    ray.get(ref)
                except Exception as err:  # a lost node, a killed worker, a force-cancel
                    first = (str(err).strip().splitlines() or [""])[0][:300]
                    self.store.finish(run_id, FAILED, error=(
                        f"its Ray task ended with {type(err).__name__}: {first} (a lost node or a killed worker?); "
                        f"every metric it logged is kept. Resume it with `python -m disc_core runs resume {run_id}` "
                        "to continue from its last checkpoint on any node"))


# --------------------------------------------------------------------------------- the worker's side
class RemoteStore:
    """The run store as a Ray worker sees it: :class:`RunStore`'s worker-side methods, forwarded to the
    :class:`StoreService`. The run folder lives on this node (``<tmp>/disc-ray/...``) unless this is the
    store's own node, and is copied to the head (or ``storage``) at each checkpoint and at the end."""

    def __init__(self, service):
        import ray

        self._ray, self.svc = ray, service
        self.head = ray.get(service.ping.remote())
        self.node = ray.get_runtime_context().get_node_id()
        self.local = self.node == self.head["node"] and Path(self.head["root"]).is_dir()
        self.storage = self.head.get("storage")
        self.root = (Path(self.head["root"]) if self.local else
                     Path(tempfile.gettempdir()) / "disc-ray" / self.head["name"])
        self._dirs: dict[str, Path] = {}

    def _call(self, method: str, *args, **kwargs):
        return self._ray.get(self.svc.call.remote(method, *args, **kwargs))

    def attach(self, run_id, **kw):
        return self._call("attach", run_id, **kw)

    def update(self, run_id, only_if=None, **fields):
        return self._call("update", run_id, only_if=only_if, **fields)

    def append_event(self, run_id, event, **fields):
        return self._call("append_event", run_id, event, **fields)

    def beat(self, run_id):
        return self._call("beat", run_id)

    def finish(self, run_id, status, results=None, error=None, note=None):
        return self._call("finish", run_id, status, results=results, error=error, note=note)

    def mark_running(self, run_id, gpu=None):
        return self._call("mark_running", run_id, gpu)

    def get(self, run_id) -> RunInfo:
        return RunInfo(**self._ray.get(self.svc.info.remote(run_id)))

    def run_dir(self, run_id) -> Path:  # on the head's node, the head's folder for it (maybe a reproduction's cell)
        if self.local and run_id not in self._dirs:
            self._dirs[run_id] = Path(self.get(run_id).run_dir)
        return self._dirs.get(run_id) or self.root / run_id

    def fresh(self) -> "RemoteStore":  # actor calls are safe from any thread
        return self

    def listeners(self, run_id) -> list:
        return [] if self.local and not self.storage else [_CheckpointSync(self, run_id)]

    def push(self, run_id) -> None:
        d = self.run_dir(run_id)
        if self.storage:
            _copy_uri(str(d), f"{self.storage.rstrip('/')}/{run_id}")
            self.update(run_id, artifacts=f"{self.storage.rstrip('/')}/{run_id}")
        elif not self.local:
            self._ray.get(self.svc.put_files.remote(run_id, _pack(d)))

    def pull(self, run_id) -> None:
        d = self.run_dir(run_id)
        if self.storage:
            shutil.rmtree(d, ignore_errors=True)
            try:
                _copy_uri(f"{self.storage.rstrip('/')}/{run_id}", str(d))
            except (OSError, FileNotFoundError):
                d.mkdir(parents=True, exist_ok=True)  # nothing stored yet: start over
        elif not self.local:
            shutil.rmtree(d, ignore_errors=True)
            _unpack(self._ray.get(self.svc.get_files.remote(run_id)), d)


class _CheckpointSync(Listener):
    """Copies the run folder to the head each time a new checkpoint appears (a resume elsewhere needs it)."""

    def __init__(self, store: RemoteStore, run_id: str):
        self.store, self.run_id, self.seen = store, run_id, None
        self.path = store.run_dir(run_id) / "checkpoint" / "trainer_state.pt"

    def on_start(self, ev) -> None:  # the checkpoint a resume started from has reached the head already
        self.seen = self.path.stat().st_mtime if self.path.exists() else None

    def on_step(self, ev) -> None:
        if self.path.exists() and self.path.stat().st_mtime != self.seen:
            self.seen = self.path.stat().st_mtime
            self.store.push(self.run_id)
            self.store.update(self.run_id, synced_step=ev.step)



def _run_on_node(service: str, run_id: str, resume: bool) -> int:
    """The Ray task of one run: the worker, with the store behind the service."""
    import ray

    from .worker import run_worker

    store = RemoteStore(ray.get_actor(service, namespace=NAMESPACE))
    return run_worker(store, run_id, resume=resume, claim=False, executor="ray", node=store.node)


# ---------------------------------------------------------------------------------------- the executor
def _placement(ray, num_threads: int | None, resources: dict | None) -> dict:
    gpus = ray.cluster_resources().get("GPU", 0) > 0
    return {"num_cpus": 1 if gpus else max(1, int(num_threads or 1)), "num_gpus": 1 if gpus else 0,
            "scheduling_strategy": "SPREAD", **({"resources": dict(resources)} if resources else {})}


class RayExecutor(Executor):
    """Background runs as Ray tasks on the cluster at ``address`` (``auto``: the one this machine belongs to).

    ``resources``: custom Ray resources every run asks for (where it may run); ``storage``: a URI the run
    folders go to instead of the head's runs root.
    """

    name = "ray"

    def __init__(self, address: str | None = None, resources: dict | None = None, storage: str | None = None):
        self.address = address or os.environ.get("DISC_RAY_ADDRESS") or "auto"
        self.resources = resources
        self.storage = storage or os.environ.get("DISC_RAY_STORAGE") or None
        self._services: dict[str, object] = {}

    def service(self, store: RunStore):
        """The store service of ``store``'s runs root (created on this node the first time)."""
        ray = connect(self.address)
        name = service_name(store.root)
        if name not in self._services:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            here = ray.get_runtime_context().get_node_id()
            actor = ray.remote(StoreService).options(
                name=name, namespace=NAMESPACE, lifetime="detached", get_if_exists=True, num_cpus=0,
                max_concurrency=64, scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False))
            handle = actor.remote(str(store.root), name, self.storage)
            info = ray.get(handle.ping.remote())
            if info["root"] != str(store.root):
                raise ConfigError(f"the store service {name} serves {info['root']}, not {store.root}")
            self._services[name] = handle
        return self._services[name]

    def submit(self, store: RunStore, run_id: str, resume: bool = False) -> None:
        svc = self.service(store)
        ray = connect(self.address)
        info = store.get(run_id)
        opts = {**_placement(ray, info.config.get("num_threads"), self.resources), "max_retries": 0,
                "name": f"disc-run-{run_id}"}
        store.update(run_id, executor="ray", ray_service=service_name(store.root), ray_address=self.address)
        ray.get(svc.submit.remote(run_id, resume, opts))

    def cancel(self, store: RunStore, info: RunInfo) -> None:
        deadline = time.monotonic() + RAY_CANCEL_GRACE_S
        while time.monotonic() < deadline:  # the cancel flag is set: the worker ends itself within a beat
            if not store.get(info.id).active:
                return
            time.sleep(0.1)
        try:
            self._ray_cancel(store, info.id)
        except Exception:  # the cluster is gone (so is its task): the run is marked cancelled all the same
            pass

    def _ray_cancel(self, store: RunStore, run_id: str) -> None:
        """Force-cancel through the service that owns the run's task (named in its record: maybe an older one)."""
        ray = connect(self.address)
        name = store._rec(run_id).get("ray_service")
        svc = ray.get_actor(name, namespace=NAMESPACE) if name else self.service(store)
        ray.get(svc.cancel.remote(run_id))

    def alive(self, info: RunInfo) -> bool | None:
        return None  # the store judges Ray workers by pid (same host) or heartbeat, the service by its task


# ------------------------------------------------------------------------------ a plan's cells on Ray
def _materialise(model: dict | None) -> None:
    """Put a shipped model folder at its path on this node, unless it is there (shared storage, same node)."""
    if not model or (Path(model["path"]) / "config.json").exists():
        return
    import ray

    dest = Path(model["path"])
    tmp = dest.parent / f".{dest.name}.incoming-{secrets.token_hex(3)}"
    _unpack(ray.get(model["blob"][0]), tmp)
    try:
        tmp.rename(dest)
    except OSError:  # another task on this node put it there first
        shutil.rmtree(tmp, ignore_errors=True)
