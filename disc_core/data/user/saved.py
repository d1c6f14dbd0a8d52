"""The saved user datasets: JSON files (never pickle) in ``cache_dir()/"user_datasets"``, one per name.

The first line of a file holds the metadata, then one record per line, so the registry can list the datasets
without reading every record. A file is written whole or not at all (:func:`disc_core.fileio.atomic_write_text`).
Saved datasets are registered (``origin="user"``) when :mod:`disc_core.data` is imported, after the built-in
and paper datasets, so a saved file can never shadow one of those.
"""

from __future__ import annotations

import json
import re
import time
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

from ...errors import ConfigError, DataError
from ...fileio import atomic_write_text
from ..base import DATASETS, Dataset, DatasetInfo, Record, cache_dir, make_dataset, register
from .readers import read_user_data

__all__ = ["UserDatasetInfo", "user_datasets_dir", "check_dataset_name", "import_user_dataset",
           "remove_user_dataset", "list_user_datasets", "saved_user_dataset_meta", "register_saved_user_datasets"]

Progress = Callable[[int, int], None] | None

_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")
_FORMAT = 1


@dataclass
class UserDatasetInfo(DatasetInfo):
    """A registry entry for a saved user dataset: available while its JSON file exists."""

    json_path: Path | None = None

    def locate(self) -> Path | None:
        return self.json_path.parent if self.json_path and self.json_path.is_file() else None

    def available(self) -> tuple[bool, str]:
        if self.locate() is not None:
            return True, str(self.json_path)
        return False, f"its file {self.json_path} is gone; import the data again"


def user_datasets_dir() -> Path:
    """Folder of the saved user datasets (``cache_dir()/"user_datasets"``)."""
    d = cache_dir() / "user_datasets"
    d.mkdir(parents=True, exist_ok=True)
    return d


def check_dataset_name(name: str, overwrite: bool = False) -> str:
    """Return ``name`` if it can name a new user dataset, else raise :class:`DataError`.

    Names are 1-32 characters of ``a-z 0-9 -`` (starting and ending with a letter or digit), must not
    be taken by a built-in or paper dataset, and not by another user dataset unless ``overwrite``.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise DataError(f"dataset name {name!r} is not allowed",
                        hint="use 1-32 characters of a-z, 0-9 and '-', e.g. 'my-peptides'")
    key = name.replace("-", "")
    for other, info in DATASETS.items():
        if other.replace("-", "").replace("_", "") != key:
            continue
        if info.origin != "user":
            raise DataError(f"the name {name!r} is taken by the {info.origin} dataset {other!r}",
                            hint="pick another name")
        if other != name or not overwrite:
            raise DataError(f"you already have a dataset named {other!r}",
                            hint="pick another name, overwrite it, or remove it first")
    return name


def import_user_dataset(path: str | Path, name: str, overwrite: bool = False, progress: Progress = None,
                        **options) -> Dataset:
    """Read the user's data (:func:`~disc_core.data.user.read_user_data` options), save it as JSON and
    register it as ``name`` so that ``load_dataset(name)`` works from then on, in this and later processes.

    A failure leaves nothing behind (and an overwritten dataset intact). The returned dataset's ``warnings``
    say what looks wrong; they are saved with it. Finished runs of an earlier dataset of the same name are not
    reused for this one (its :meth:`~disc_core.data.base.Dataset.fingerprint` differs when its content or
    split does).
    """
    check_dataset_name(name, overwrite)
    ds = read_user_data(path, name=name, progress=progress, **options)
    target = user_datasets_dir() / f"{name}.json"
    meta = _meta(ds)
    _write_json(ds, meta, target)
    _register_saved(name, target, meta)
    return ds


def remove_user_dataset(name: str) -> None:
    """Delete a saved user dataset and take it out of the registry."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise DataError(f"there is no user dataset named {name!r}")
    info = DATASETS.get(name)
    if info is not None and info.origin != "user":
        raise DataError(f"{name!r} is a {info.origin} dataset; only your own datasets can be removed")
    path = user_datasets_dir() / f"{name}.json"
    if not path.is_file() and info is None:
        raise DataError(f"there is no user dataset named {name!r}",
                        hint=f"yours: {', '.join(list_user_datasets()) or 'none'}")
    path.unlink(missing_ok=True)
    DATASETS.pop(name, None)


def list_user_datasets() -> list[str]:
    """Names of the saved user datasets."""
    return sorted(p.stem for p in user_datasets_dir().glob("*.json") if _NAME_RE.match(p.stem))


def saved_user_dataset_meta(name: str) -> dict:
    """What a saved user dataset's first line says (name, discipline, task, sizes, source, notes, warnings,
    fingerprint, when it was imported) without reading its records."""
    path = user_datasets_dir() / f"{name}.json"
    if not _NAME_RE.match(name) or not path.is_file():
        raise DataError(f"there is no user dataset named {name!r}",
                        hint=f"yours: {', '.join(list_user_datasets()) or 'none'}")
    return _read_meta(path)


def _meta(ds: Dataset) -> dict:
    return {"format": _FORMAT, "name": ds.name, "discipline": ds.discipline, "task": ds.task,
            "metric": ds.metric, "label_names": ds.label_names, "source": ds.source, "voting": ds.voting,
            "notes": ds.notes, "warnings": ds.warnings, "fingerprint": ds.fingerprint(),
            "imported": time.strftime("%Y-%m-%d %H:%M:%S"),
            "summary": {"sizes": ds.sizes(), "num_labels": ds.num_labels}}


def _record_json(r: Record) -> str:
    d = {"label": r.label, "split": r.split}
    if r.symbols is not None:
        d["symbols"] = " ".join(r.symbols)  # symbols never contain spaces
    else:
        d["text"] = r.text
        if r.text_pair is not None:
            d["text_pair"] = r.text_pair
    if r.group is not None:
        d["group"] = r.group
    return json.dumps(d, ensure_ascii=False)


def _write_json(ds: Dataset, meta: dict, target: Path) -> None:
    # Line 1 is the metadata alone, so listing datasets never reads the records.
    body = ",\n".join(_record_json(r) for r in ds.records)
    atomic_write_text(target, '{"meta": ' + json.dumps(meta, ensure_ascii=False) + ',\n"records": [\n'
                      + body + "\n]}\n")


def _read_meta(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        first = f.readline().strip()
    prefix = '{"meta": '
    if first.startswith(prefix) and first.endswith(","):
        try:
            return json.loads(first[len(prefix):-1])
        except json.JSONDecodeError:
            pass
    return _read_saved(path)["meta"]


def _read_saved(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["meta"]["format"] != _FORMAT:
            raise ValueError(f"format {data['meta']['format']} (expected {_FORMAT})")
        return data
    except FileNotFoundError:
        raise DataError("the saved dataset file is gone", path=path, hint="import the data again") from None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise DataError(f"the saved dataset file is damaged ({err})", path=path,
                        hint="import the data again, or remove it with remove_user_dataset") from None


def _load_saved(path: Path, progress: Progress = None, **kw) -> Dataset:
    if kw:
        raise ConfigError(f"a saved user dataset takes no options (got {', '.join(sorted(kw))})")
    data = _read_saved(path)
    meta = data["meta"]
    try:
        records = [Record(label=d["label"], split=d["split"],
                          symbols=tuple(d["symbols"].split()) if "symbols" in d else None,
                          text=d.get("text"), text_pair=d.get("text_pair"), group=d.get("group"))
                   for d in data["records"]]
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise DataError(f"the saved dataset file is damaged ({err})", path=path,
                        hint="import the data again, or remove it with remove_user_dataset") from None
    if progress:
        progress(len(records), len(records))
    return make_dataset(meta["name"], meta["discipline"], meta["task"], meta["metric"], records,
                        source=meta["source"], label_names=meta["label_names"], path=path,
                        voting=meta["voting"], notes=list(meta["notes"]), warnings=list(meta.get("warnings", [])))


def _register_saved(name: str, path: Path, meta: dict) -> None:
    if name in DATASETS and DATASETS[name].origin == "user":
        del DATASETS[name]
    sizes = meta.get("summary", {}).get("sizes", {})
    register(UserDatasetInfo(
        name=name, title=f"{name} (your data)", discipline=meta["discipline"], task=meta["task"],
        metric=meta["metric"], origin="user", loader=partial(_load_saved, path), json_path=path,
        description=f"imported from {meta['source']}; " + ", ".join(f"{k} {v}" for k, v in sizes.items())))


def register_saved_user_datasets() -> list[str]:
    """Register every saved user dataset (done when :mod:`disc_core.data` is imported); returns their names.

    A file whose metadata cannot be read, or whose name is taken by a built-in dataset, is skipped
    with a warning rather than breaking every other dataset.
    """
    names = []
    for path in sorted(user_datasets_dir().glob("*.json")):
        name = path.stem
        if not _NAME_RE.match(name):
            continue
        other = DATASETS.get(name)
        if other is not None and other.origin != "user":
            warnings.warn(f"{path}: the name {name!r} is taken by a built-in dataset; not registered")
            continue
        try:
            meta = _read_meta(path)
        except (DataError, OSError, ValueError) as err:
            warnings.warn(f"{path}: skipped, cannot read it ({err})")
            continue
        _register_saved(name, path, meta)
        names.append(name)
    return names
