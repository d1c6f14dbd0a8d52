"""``python -m disc_core download``: fetch the paper's published data files, with a progress bar."""

from __future__ import annotations

import argparse

from .main import print_table, command


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
