"""Data commands: ``download`` (the paper's published files, with a progress bar) and ``data`` (your own
datasets: ``data import PATH --name NAME``, ``data list``, ``data show NAME``, ``data remove NAME``; and
``data warm [NAME ...]``, which parses the built-in music sets once so that every later load reads the cache).

:func:`require_dataset` is the check ``run`` and ``compare`` make before they write anything.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ..errors import DataError, DiscError
from .base import print_table, command

__all__ = ["print_dataset", "require_dataset"]


@command("download", "fetch the paper's published data files into the per-user cache (sha256 checked)")
def _download(p: argparse.ArgumentParser):
    p.add_argument("names", nargs="*", metavar="NAME", help="datasets to fetch (see --list)")
    p.add_argument("--all", action="store_true", help="fetch every dataset that has a published copy")
    p.add_argument("--list", action="store_true", help="list what can be fetched, its size and whether it is here")
    p.add_argument("--dest", metavar="DIR", help="data dir to fill (default: the download cache the loaders search)")
    p.add_argument("--mirror", metavar="URL",
                   help="a copy laid out like a data dir (http://..., file:///...) used instead of the origins "
                        "(default: $DISC_DOWNLOAD_MIRROR)")

    def run(args) -> int:
        from tqdm import tqdm

        from ..data.base import cache_dir
        from ..data.download import DOWNLOADS, NO_PUBLIC_COPY, download, is_downloaded, normalise_name, total_size

        dest = args.dest or str(cache_dir() / "downloads")
        if args.list:
            rows = [{"name": n, "files": len(fs) + (150 + 1 if n == "maestro" else 0),
                     "MB": f"{total_size(n) / 1e6:.1f}", "here": "yes" if is_downloaded(n, dest) else "-",
                     "source": fs[0].url.split("/")[3] + "/" + fs[0].url.split("/")[4]}
                    for n, fs in DOWNLOADS.items()]
            rows += [{"name": n, "files": "-", "MB": "-", "here": "-", "source": why.split(";")[0]}
                     for n, why in NO_PUBLIC_COPY.items()]
            print_table(rows)
            print(f"\ndestination: {dest}")
            return 0
        names = list(DOWNLOADS) if args.all else args.names
        if not names:
            print("name a dataset to download, or use --all / --list")
            return 1
        for name in names:
            key = normalise_name(name)
            if key in NO_PUBLIC_COPY:
                download(key)  # raises the explanation of where to get it instead
            with tqdm(total=total_size(key), unit="B", unit_scale=True, unit_divisor=1024, desc=name) as bar:
                def progress(done: int, total: int, bar=bar) -> None:
                    bar.total = total
                    bar.update(done - bar.n)

                paths = download(key, dest=args.dest, progress=progress, base_url=args.mirror)
            print(f"{key}: {len(paths)} file(s) checked and in {dest}")
        return 0

    return run


# ------------------------------------------------------------------------------------------ data
_IMPORT_OPTIONS = ("sequence_column", "label_column", "split_column", "sep", "labels", "fasta_label",
                   "discipline", "task", "seed", "merge_labels", "workers")


@command("data", "your own datasets: import a file or MIDI folder, list, show, remove; warm the music cache")
def _data(p: argparse.ArgumentParser):
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    imp = sub.add_parser("import", help="read a FASTA, CSV/TSV file, a MIDI folder (one sub-folder per class) or a "
                                        "zip of one, and save it as a dataset NAME",
                         description="Read your data and save it as a dataset that `run`, `compare` and the "
                                     "dashboard know by NAME. Prints what was read and warns about what looks wrong.")
    imp.add_argument("path", metavar="PATH", help="a .fasta/.fa/.faa/.fna file, a .csv/.tsv file, a folder of MIDI "
                                                  "files with one sub-folder per class, or a .zip of such a folder")
    imp.add_argument("--name", required=True, help="the dataset's name: 1-32 characters of a-z, 0-9 and '-'")
    imp.add_argument("--sequence-column", metavar="COL", help="CSV/TSV: the column of sequences (default: sequence, "
                                                              "seq, primary, text or sentence)")
    imp.add_argument("--label-column", metavar="COL", help="CSV/TSV, or the --labels CSV: the column of labels "
                                                           "(default: label, class, target or y)")
    imp.add_argument("--split-column", metavar="COL", help="CSV/TSV: a column of train/validation/test (default: "
                                                           "split, if there is one; else a seeded 80/10/10 split)")
    imp.add_argument("--sep", metavar="CHAR", help="CSV/TSV: the delimiter (default: tab for .tsv, else comma)")
    imp.add_argument("--labels", metavar="CSV", help="FASTA: a CSV of id,label (id = the first word of a header)")
    imp.add_argument("--fasta-label", choices=("auto", "key", "last", "pipe"),
                     help="FASTA: where a header holds the label: key (label=X), last (the last word), pipe (after "
                          "the last '|'); auto tries them in that order (default)")
    imp.add_argument("--discipline", choices=("dna", "protein", "music", "text"),
                     help="default: guessed from the sequences (text must be asked for)")
    imp.add_argument("--task", choices=("classification", "regression"), help="default: inferred from the labels")
    imp.add_argument("--seed", type=int, help="seed of the automatic split (default 42)")
    imp.add_argument("--merge-labels", action=argparse.BooleanOptionalAction, default=None,
                     help="labels that differ only in case or surrounding spaces: one class, with a warning "
                          "(default), or refuse the file (--no-merge-labels)")
    imp.add_argument("--workers", type=int, help="MIDI: parser processes (default: one per CPU core)")
    imp.add_argument("--overwrite", action="store_true", help="replace your dataset of the same name")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.add_parser("list", help="your datasets: size, classes, warnings, where they came from")
    show = sub.add_parser("show", help="a dataset: sizes, classes per split, every note and warning")
    show.add_argument("name", metavar="NAME")
    rm = sub.add_parser("remove", help="delete one of your datasets (its run folders stay)")
    rm.add_argument("name", metavar="NAME")
    warm = sub.add_parser("warm", help="parse the built-in music sets now (minutes, once per machine) so that "
                                       "every later load, dashboard tabs included, reads the cache",
                          description="Parse music datasets into the per-user cache ahead of time. Without NAME: "
                                      "the built-in sets (composers). A set already parsed is only read.")
    warm.add_argument("names", nargs="*", metavar="NAME", help="music datasets to parse (default: composers)")
    warm.add_argument("--workers", type=int, help="parser processes (default: one per CPU core)")
    warm.add_argument("--quiet", action="store_true", help="no progress bar")

    def run(args) -> int:
        if args.data_command is None:
            p.print_help()
            return 1
        return {"import": _import, "list": _list, "show": _show, "remove": _remove,
                "warm": _warm}[args.data_command](args)

    return run


def _import(args) -> int:
    from tqdm import tqdm

    from ..data.user import import_user_dataset

    options = {k: getattr(args, k) for k in _IMPORT_OPTIONS if getattr(args, k) is not None}
    with tqdm(total=0, desc=f"reading {Path(args.path).name}", unit="item", disable=args.quiet) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        ds = import_user_dataset(args.path, args.name, overwrite=args.overwrite, progress=progress, **options)
    print(f"imported {args.path} as {ds.name!r}")
    print_dataset(ds)
    print(f"\nuse it: python -m disc_core compare {ds.name} ...   (or pick it on the dashboard)")
    return 0


def _list(args) -> int:
    from ..data.user import list_user_datasets, saved_user_dataset_meta

    rows = []
    for name in list_user_datasets():
        try:
            m = saved_user_dataset_meta(name)
        except DiscError as err:
            rows.append({"name": name, "source": f"ERROR: {err}"})
            continue
        s = m.get("summary", {}).get("sizes", {})
        rows.append({"name": name, "discipline": m["discipline"], "task": m["task"],
                     "train/val/test": "/".join(str(s.get(k, 0)) for k in ("train", "validation", "test")),
                     "classes": len(m["label_names"] or []) or "-", "warnings": len(m.get("warnings", [])),
                     "imported": m.get("imported", "?"), "source": m["source"]})
    print_table(rows)
    if rows:
        print("\n`data show NAME` for one's notes and warnings")
    return 0


def _show(args) -> int:
    from ..data import get_info, load_dataset

    info = get_info(args.name)
    ds = load_dataset(info.name)
    print(f"{ds.name}: {info.title} ({info.origin})")
    print_dataset(ds)
    if info.origin == "user":
        from ..data.user import saved_user_dataset_meta

        print(f"imported: {saved_user_dataset_meta(ds.name).get('imported', '?')}")
    return 0


def _warm(args) -> int:
    import time

    from tqdm import tqdm

    from ..data.music import BUILTIN_MUSIC, warm

    for name in args.names or BUILTIN_MUSIC:
        start = time.monotonic()
        with tqdm(total=0, desc=f"parsing {name}", unit="piece", disable=args.quiet) as bar:
            def progress(done: int, total: int, bar=bar) -> None:
                bar.total = total
                bar.update(done - bar.n)

            ds = warm(name, progress=progress, workers=args.workers)
        pieces = len({r.group for r in ds.records})
        print(f"{ds.name}: ready in {time.monotonic() - start:.0f} s; {pieces} pieces, {len(ds.records)} segments "
              f"({', '.join(f'{k} {v}' for k, v in ds.sizes().items())}); later loads read the cache")
    return 0


def _remove(args) -> int:
    from ..data.user import remove_user_dataset

    remove_user_dataset(args.name)
    print(f"removed {args.name} (run folders of it stay where they are)")
    return 0


def print_dataset(ds) -> None:
    """What a dataset is: discipline, task, classes with counts per split, truncation, notes; warnings last,
    to stderr, one ``warning:`` line each."""
    from ..data.base import MAX_SYMBOLS
    from ..data.checks import class_table, example_rows

    sizes = ds.sizes()
    unit = "pieces" if ds.voting else "examples"
    print(f"discipline {ds.discipline}, task {ds.task}, metric {ds.metric}; fingerprint {ds.fingerprint()}")
    print(f"source: {ds.source}")
    print(f"{len(ds.records)} {'segments' if ds.voting else 'examples'}: " +
          ", ".join(f"{k} {v}" for k, v in sizes.items()))
    rows = class_table(ds)
    if rows:
        print(f"\n{len(rows)} classes ({unit} per split):")
        print_table(rows, ["class", "train", "validation", "test"])
    lengths = [r.length for r in ds.records]
    cut = [n for n in ds.notes if "truncated" in n]
    print(f"\nlength: mean {sum(lengths) / max(len(lengths), 1):.1f}, max {max(lengths, default=0)} "
          f"{'words' if ds.is_text else 'symbols'}; truncation: "
          + (cut[0] if cut else f"none (sequences longer than {MAX_SYMBOLS} symbols would be cut)"))
    if ds.notes:
        print("notes:")
        for n in ds.notes:
            print(f"  - {n}")
    examples = example_rows(ds, n=5, width=100)
    if examples:
        print(f"\nfirst {len(examples)} training examples:")
        print_table(examples, ["label", "length", "sequence"])
    for w in ds.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if ds.warnings:
        print(f"{len(ds.warnings)} warning(s), above", file=sys.stderr)


def require_dataset(name: str) -> str:
    """The registered name of dataset ``name`` whose data is here, checked before a run writes anything.

    A file or folder given instead of a name is told to be imported first; an unknown name lists the
    known ones; a paper dataset whose files are missing says how to get them. All as :class:`DataError`.
    """
    from ..data import get_info
    from ..data.user import DATA_SUFFIXES

    try:
        info = get_info(name)
    except DataError:
        p = Path(name).expanduser()
        if p.exists() or "/" in name or "\\" in name or p.suffix.lower() in DATA_SUFFIXES:
            kind = "folder" if p.is_dir() else "file" if p.exists() else "path"
            raise DataError(f"{name!r} is a {kind}, not a dataset name",
                            hint=f"import it first: `python -m disc_core data import {shlex.quote(name)} --name NAME`, "
                                 f"then use NAME (`python -m disc_core data list` shows yours)") from None
        raise
    ok, where = info.available()
    if not ok:
        raise DataError(f"dataset {info.name} is not available: {where}")
    return info.name
