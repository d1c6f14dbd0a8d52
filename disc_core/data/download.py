"""Fetch the paper's published data files into the per-user cache, every byte checked against a pinned sha256.

``DOWNLOADS`` maps a dataset name to the files it needs: path in the data-dir layout (see
``shared/data/MANIFEST.md``), the raw GitHub URL at the exact commit the bytes were checked at, sha256
and size. :func:`download` writes them under ``cache_dir()/"downloads"`` (a data dir the loaders
search) through a temporary file that is renamed into place only once size and checksum match, so a
failed or corrupted download leaves nothing behind.

A mirror (``base_url=`` or ``$DISC_DOWNLOAD_MIRROR``, e.g. a lab server holding a copy of the data dir, or
``file:///path/to/data``) replaces every origin: the URL becomes ``<mirror>/<relpath>``. Checksums still apply.

MAESTRO (``maestro``): the metadata files, then the 150-file MIDI subset of the manifest (10 composers x
15 performances, chosen by a fixed rule from the metadata). The subset's index ``subset_index.csv`` is
not published anywhere; with a mirror that has it, each MIDI file is checked against the index. From
the origin, the index is rebuilt from the downloaded metadata and the downloaded MIDI files and must
hash to the pinned sha256 of the manifest's index, which checks every file at once; only then are
the files moved into place. (The official full MIDI release,
https://storage.googleapis.com/magentadata/datasets/maestro/v2.0.0/maestro-v2.0.0-midi.zip, is not
fetched here: no checksum is pinned for it. Unzip it into ``<data dir>/music_maestro`` yourself if you
want all 1,282 performances.)

Offline, :func:`download` fails within a few seconds with a :class:`~disc_core.errors.DownloadError`
saying which files to copy where.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import socket
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import DownloadError
from ..fileio import atomic_write_bytes
from .base import cache_dir

#: The Hugging Face hub (models, and GLUE through `datasets`).
HUB_HOST = "huggingface.co"

__all__ = ["RemoteFile", "DOWNLOADS", "NO_PUBLIC_COPY", "download", "download_names", "normalise_name",
           "total_size", "is_downloaded", "maestro_subset", "hub_reachable", "HUB_HOST"]

CONNECT_TIMEOUT = 4.0  # seconds to reach a host: offline must fail fast
READ_TIMEOUT = 60.0
_CHUNK = 1 << 16
_RAW = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RemoteFile:
    """One published file: where it goes (``relpath`` under a data dir), where it comes from, its checksum."""

    relpath: str
    url: str | None  # None: not published anywhere (only a mirror has it)
    sha256: str
    size: int

    def url_for(self, mirror: str | None) -> str | None:
        if mirror:
            return mirror.rstrip("/") + "/" + urllib.parse.quote(self.relpath)
        return self.url


# Source repositories at the commits the manifest checked (several later changed or deleted the files).
_SRC = {
    "hilbert": ("Doulrs/Hilbert-CNN", "5754b8ba45452acae1829c96533c5b3612bf32b7"),
    "gue": ("wds-seu/DeepGene", "486343e5212361d6cd7ed03c624f430ed3d5f02e"),
    "la": ("HannesStark/protein-localization", "7b0be1e64a91db8ad1a8feae994a4d09aa9d7b1b"),
    "stsb": ("mieseung/Cutoff_with_Attribution", "0ef7460ee83f01034891e92b4f405d2c14944daf"),
    "nstats": ("Nstats/my_bert", "c4dc29457f224d7097338f68ff8f3ed4dcde87ff"),
    "rte": ("marcwww/nlu_eval", "ccd55c37de74ebd86c70ae58f67dceb0aa444f43"),
    "sst": ("eyalbd2/Reproducing-AutoPrompt", "6288fb5bec9c572f2492875ae0111df5b6daed11"),
    "maestro": ("EthanHeuer/mscs335-project", "83cbec21b7f538b861270134da4df9bd0ed1557b"),
    "prothyena": ("ZHymLumine/ProtHyena", "73de287623064ce9e0021eb80389e94a033930f9"),
    "gfp": ("aequorea238/Orthologous_GFP_Fitness_Peaks", "799bd76889918bf1551c60016fb23278024cac73"),
}


def _gh(src: str, path: str) -> str:
    repo, commit = _SRC[src]
    return _RAW.format(repo=repo, commit=commit, path=urllib.parse.quote(path))


def _f(relpath: str, src: str | None, path: str | None, sha256: str, size: int) -> RemoteFile:
    return RemoteFile(relpath, _gh(src, path) if src else None, sha256, size)


_SPLICE = _f("dna_splice/splice.txt", "hilbert", "data/splice.txt",
             "ebbae10c85d3c285e2a2489a37e42bc2ee8d91d15005e391a9962fa3389a114f", 319000)
_GUE = {
    ("H3", "dev"): ("e6d6f827ff9258dde3fcbc575d6585de819c056d6d747950de53b2e793a1dde6", 753006),
    ("H3", "test"): ("6c0997293f32ceff9084ef956b6389cad42e89072d6a0ce5f48c6b67589799c4", 753006),
    ("H4", "dev"): ("e1edbbc785cfea4c89bd5e552656b3a1ee48f15dea0fb2319f552a18a27db184", 734898),
    ("H4", "test"): ("b6fa46b374df05db4572c08d584d8bb15c006d8626bc2d27e6f95042298fb2b8", 734898),
    ("H3K9ac", "dev"): ("bad5a32fdad51031553ee9a8eea9fae957724e906b07bfe146e2a5f12a942ec6", 1397852),
    ("H3K9ac", "test"): ("512cbe47a008c23369ac0f5582b5e27f7ea21ea338d74daa1111ce0f38577501", 1397852),
}


def _gue(mark: str) -> tuple[RemoteFile, ...]:
    return tuple(_f(f"dna_gue_emp/{mark}/{s}.csv", "gue", f"data/GUE/EMP/{mark}/{s}.csv", *_GUE[mark, s])
                 for s in ("dev", "test"))


_DL = "protein_deeploc/"
_DL_VAL = _f(_DL + "deeploc_our_val_set.fasta", "la", "data_files/deeploc_our_val_set.fasta",
             "5fddf9a7c076c7a0c34e46bdf8a530fddb8cd17a54b28d8e7ebcf3d4fbbf77d6", 935779)
_DL_TEST = _f(_DL + "deeploc_test_set.fasta", "la", "data_files/deeploc_test_set.fasta",
              "b4d4fb4dbf53e87fb1bff9cbad41919c7c1f2615299a0dd50ecb5a4d002b4b6a", 1594743)
_DL_HARD = _f(_DL + "setHARD.fasta", "la", "data_files/setHARD.fasta",
              "a6522e6bd9a36acfd1932851b4d7ed855981586bddd835441886a40413eeb908", 276477)
_DL_LICENSE = _f(_DL + "LICENSE_repo_MIT.txt", "la", "LICENSE",
                 "4f36471eb176a6443b1c9d8d713168d92ccb563b520d3d5be3f2151010bd51f9", 1070)

_M = "music_maestro/"
_MAESTRO_META = (
    _f(_M + "maestro-v2.0.0.csv", "maestro", "data/maestro/maestro-v2.0.0.csv",
       "b29131ce89a49df044c54974d11d9977dc7bc53d35aeb39b4d3747f59a34092d", 300212),
    _f(_M + "maestro-v2.0.0.json", "maestro", "data/maestro/maestro-v2.0.0.json",
       "c75d1c78282dc033de00714e5aeadde0628ce5002560b3550b38cb0913fbe55f", 443866),
    _f(_M + "LICENSE", "maestro", "data/maestro/LICENSE",
       "7d41f85a2d305eff78241dd95a41262ee0c62ccc5e7627fa220abe91265587ae", 20844),
    _f(_M + "README", "maestro", "data/maestro/README",
       "d5748e92425883d72497098e0c0661e55a77bf06592ed5710996d2ad711ed6ea", 49),
)
#: The manifest's index of the MIDI subset (made for this project; only a mirror serves it).
MAESTRO_INDEX = _f(_M + "subset_index.csv", None, None,
                   "896274ed95ed75a880fb968f6bc74ec3c9d34b84b6b54f6343846a33d6b9bb44", 34454)
MAESTRO_SUBSET_BYTES = 11_553_693
#: Composers of the subset, in index order (the ten with most pieces in MAESTRO v1 years).
MAESTRO_COMPOSERS = ("Frédéric Chopin", "Franz Schubert", "Johann Sebastian Bach", "Ludwig van Beethoven",
                     "Franz Liszt", "Sergei Rachmaninoff", "Robert Schumann", "Claude Debussy", "Joseph Haydn",
                     "Wolfgang Amadeus Mozart")

DOWNLOADS: dict[str, tuple[RemoteFile, ...]] = {
    "splice": (_SPLICE,),
    "h3": _gue("H3"),
    "h4": _gue("H4"),
    "h3k9ac": _gue("H3K9ac"),
    "deeploc": (_DL_VAL, _DL_TEST, _DL_LICENSE),
    "deeploc-hard": (_DL_VAL, _DL_HARD, _DL_LICENSE),
    "stsb": (
        _f("glue/STS-B/train.tsv", "stsb", "glue_data/STS-B/train.tsv",
           "41c4d978b6162abdcada7e49a982211954cca5459c228db478af333124b257a2", 984099),
        _f("glue/STS-B/dev.tsv", "stsb", "glue_data/STS-B/dev.tsv",
           "fe7dc0632a5033562f3cadff991f6e8d9b9b6311861660e78c3c82eb7db67f59", 276928),
        _f("glue/STS-B/LICENSE.txt", "stsb", "glue_data/STS-B/LICENSE.txt",
           "3dfc3217395f8c5dd05c5f8995f25fe2f8fd258e6dd770b3de480749caee8c70", 6641),
        _f("glue/STS-B/readme.txt", "stsb", "glue_data/STS-B/readme.txt",
           "e9488363d211c32ca5e912954f16eb9233cfed1b5b4b0475d0d812d35d7c8ef1", 5994),
    ),
    "mrpc": (
        _f("glue/MRPC/train.tsv", "nstats", "data/MRPC/train.tsv",
           "122becc469405bc16f9defcb8715d2a4b7ce600e9d9381e6dc42bfdd1494c51d", 919457),
        _f("glue/MRPC/dev.tsv", "nstats", "data/MRPC/dev.tsv",
           "81c8a1a9e1dfe461dd2c1a4f98f43fe18bece44d2bf9e3d0b245b88e5aa5eaf7", 103255),
        _f("glue/MRPC/MSR_Shared_Source_License.htm", "nstats", "data/MRPC/Microsoft Shared Source License.htm",
           "2d84356e4c1d0db09fa338ad7100ac56843c4ddd3d152c34130a6069f9f914c0", 9703),
        _f("glue/MRPC/msr_paraphrase_README.htm", "nstats", "data/MRPC/msr_paraphrase_README.htm",
           "bddc62e1901175007144e7741edcdda5769fe337d85b063b30377636bfd07970", 69875),
    ),
    "cola": (
        _f("glue/CoLA/train.tsv", "nstats", "data/CoLA/train.tsv",
           "cb368ebeb9f27d7ad03720d27ddc95687a311bdb100781a2fe59a5f5b1bc0624", 428590),
        _f("glue/CoLA/dev.tsv", "nstats", "data/CoLA/dev.tsv",
           "8c013e21dc39957cac37378d87bebe225b694a0d5fe13eded66c2856628833fd", 53717),
    ),
    "rte": (
        _f("glue/RTE/train.tsv", "rte", "data/RTE/train.tsv",
           "81d25e323e1ab5b2ad7cd445f1a69db89f2b1c104f3e26915a9421aa4a5f4735", 846227),
        _f("glue/RTE/dev.tsv", "rte", "data/RTE/dev.tsv",
           "80230dfa1347282e7b532b06a1004a76a710087541189bf874223ddf0e3819fb", 90343),
    ),
    "sst2": (  # the source repo's train.tsv is a 1000-row sample; train_full.tsv is the official train set
        _f("glue/SST-2/train.tsv", "sst", "glue_data/SST-2/train_full.tsv",
           "48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1", 3806081),
        _f("glue/SST-2/dev.tsv", "sst", "glue_data/SST-2/dev.tsv",
           "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0", 94931),
    ),
    "maestro": _MAESTRO_META,  # + the MIDI subset, see maestro_subset()
    "stability": (  # TAPE's splits, identified by their exact sizes (MANIFEST section 6)
        _f("protein_tape_stability/train.csv", "prothyena", "data/stability/train.csv",
           "62cdebd9d680a0114326b4fba709e9753fdf2fb2238c8ec61ae388a55c3d1052", 3438868),
        _f("protein_tape_stability/valid.csv", "prothyena", "data/stability/valid.csv",
           "b569b6f997aedf167b99a4900e3ac30754d0c6d80ff7f803d6f3e1398261e450", 173127),
        _f("protein_tape_stability/test.csv", "prothyena", "data/stability/test.csv",
           "b79e72cdb00e524f7804d6437b80eb3be573aee3733a8e7d0b4c72917701f65b", 794974),
    ),
    "fluorescence": (  # the genotype table TAPE's train and test are rebuilt from, and TAPE's valid (section 7)
        _f("protein_gfp_fluorescence/avGFP__rf_aminoacid_genotypes_to_brightness.csv", "gfp",
           "data/final_datasets/avGFP__rf_aminoacid_genotypes_to_brightness.csv",
           "d1dff2f960eea251d3d21e4c04a7704622ae3ac7f77f8e7e04eaa09c597ef1e8", 3205125),
        _f("protein_gfp_fluorescence/tape_fluorescence_valid.csv", "prothyena", "data/fluorescence/valid.csv",
           "0c70e8ba9a9faaf8de3443edee56406f6eec414747067490296e589cf3d6af4b", 1372356),
    ),
}

#: Datasets of the paper without a pinned public copy, and what to do instead.
NO_PUBLIC_COPY = {
    "mnli": "no pinned copy; when online, `load_dataset('mnli')` reads the Hugging Face copy nyu-mll/glue, or put "
            "GLUE's MNLI/train.tsv, dev_matched.tsv and dev_mismatched.tsv (the paper averages the two dev sets) "
            "under <data dir>/glue/MNLI/",
    "qqp": "no pinned copy; when online, `load_dataset('qqp')` reads the Hugging Face copy nyu-mll/glue, or put "
           "GLUE's QQP/train.tsv and dev.tsv under <data dir>/glue/QQP/",
    "qnli": "no pinned copy; when online, `load_dataset('qnli')` reads the Hugging Face copy nyu-mll/glue, or put "
            "GLUE's QNLI/train.tsv and dev.tsv under <data dir>/glue/QNLI/",
}


def download_names() -> list[str]:
    """Datasets :func:`download` can fetch."""
    return list(DOWNLOADS)


def normalise_name(name: str) -> str:
    """``SST-2`` -> ``sst2``, ``deeploc_hard`` -> ``deeploc-hard``: the registry spelling, or DownloadError."""
    key = name.strip().lower().replace("-", "").replace("_", "")
    for k in (*DOWNLOADS, *NO_PUBLIC_COPY):
        if k.replace("-", "") == key:
            return k
    raise DownloadError(f"no download for {name!r}; downloadable: {', '.join(DOWNLOADS)}")


def total_size(name: str) -> int:
    """Bytes :func:`download` fetches for ``name`` (MAESTRO: metadata, index and MIDI subset)."""
    files = DOWNLOADS[normalise_name(name)]
    extra = MAESTRO_INDEX.size + MAESTRO_SUBSET_BYTES if normalise_name(name) == "maestro" else 0
    return sum(f.size for f in files) + extra


def is_downloaded(name: str, dest: str | Path | None = None) -> bool:
    """True when every file of ``name`` is already in ``dest`` (default: the download cache)."""
    dest = _dest(dest)
    files = DOWNLOADS[normalise_name(name)]
    if normalise_name(name) == "maestro":
        files = files + (MAESTRO_INDEX,)
    return all((dest / f.relpath).exists() for f in files)


def _dest(dest) -> Path:
    return Path(dest) if dest is not None else cache_dir() / "downloads"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


class _NotFound(DownloadError):
    """The server answered, but has no such file (HTTP 404, or a missing file under a file:// mirror)."""


class _Fetcher:
    """Streams URLs to files with a shared progress count; checks each host once with a short connect timeout."""

    def __init__(self, total: int, progress: Progress | None, how_to: Callable[[], str]):
        self.done, self.total, self.progress, self.how_to = 0, total, progress, how_to
        self._hosts_ok: set[tuple[str, int]] = set()

    def tick(self, n: int) -> None:
        self.done += n
        if self.progress:
            self.progress(self.done, self.total)

    def _check_host(self, url: str) -> None:
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https"):
            return
        host = (u.hostname or "", u.port or (443 if u.scheme == "https" else 80))
        if host in self._hosts_ok:
            return
        try:
            socket.create_connection(host, timeout=CONNECT_TIMEOUT).close()
        except OSError as err:
            raise DownloadError(f"cannot reach {host[0]} ({err.__class__.__name__}: {err}); are you offline? "
                                f"{self.how_to()}") from None
        self._hosts_ok.add(host)

    def fetch(self, url: str, target: Path, sha256: str | None = None, size: int | None = None) -> str:
        """Download ``url`` to ``target`` atomically; verify ``size``/``sha256`` when given. Returns the sha256."""
        self._check_host(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        start, h, n = self.done, hashlib.sha256(), 0
        try:
            req = urllib.request.Request(url, headers={"User-Agent": "disc_core-download"})
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(req, timeout=READ_TIMEOUT) as resp:
                for block in iter(lambda: resp.read(_CHUNK), b""):
                    out.write(block)
                    h.update(block)
                    n += len(block)
                    self.tick(len(block))
            got = h.hexdigest()
            if size is not None and n != size:
                raise DownloadError(f"{url}: got {n:,} bytes, expected {size:,}; the download was discarded")
            if sha256 is not None and got != sha256:
                raise DownloadError(f"{url}: sha256 {got} does not match the pinned {sha256}; the file is corrupted "
                                    f"or was changed, and was discarded")
            os.replace(tmp, target)  # checked (size, sha256) before it takes the file's place
            return got
        except urllib.error.HTTPError as err:
            kind = _NotFound if err.code == 404 else DownloadError
            raise kind(f"{url}: HTTP {err.code} {err.reason}. {self.how_to()}") from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            kind = _NotFound if isinstance(reason, FileNotFoundError) else DownloadError
            raise kind(f"{url}: {reason}. {self.how_to()}") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
                self.done = start  # the bytes of a discarded file do not count
                if self.progress:
                    self.progress(self.done, self.total)


def _how_to(files: list[RemoteFile], dest: Path) -> Callable[[], str]:
    def text() -> str:
        names = ", ".join(f.relpath for f in files[:4]) + (" ..." if len(files) > 4 else "")
        return (f"To use the data without downloading, copy {names} (laid out as in shared/data/MANIFEST.md) into "
                f"{dest}, or into any folder and set DISC_DATA_DIR to it; or set DISC_DOWNLOAD_MIRROR to a mirror URL.")

    return text


def _fetch_pinned(fetcher: _Fetcher, f: RemoteFile, dest: Path, mirror: str | None) -> Path:
    target = dest / f.relpath
    if target.exists() and target.stat().st_size == f.size and _sha256(target) == f.sha256:
        fetcher.tick(f.size)
        return target
    url = f.url_for(mirror)
    if url is None:
        raise DownloadError(f"{f.relpath} is not published anywhere; only a mirror of a prepared data dir has it. "
                            f"{fetcher.how_to()}")
    fetcher.fetch(url, target, f.sha256, f.size)
    return target


def download(name: str, dest: str | Path | None = None, progress: Progress | None = None,
             base_url: str | None = None) -> list[Path]:
    """Download the published files of dataset ``name`` and return their paths.

    Parameters
    ----------
    name : a key of ``DOWNLOADS`` (``splice``, ``h3``, ``deeploc``, ``sst2``, ``maestro`` ...).
    dest : data dir to fill (default ``cache_dir()/"downloads"``, which the loaders search).
    progress : ``progress(done_bytes, total_bytes)`` after every block.
    base_url : a mirror laid out like a data dir (default ``$DISC_DOWNLOAD_MIRROR``); replaces the origins.

    Files already present with the right checksum are kept. Each file is written to a temporary file
    and renamed into place only when its size and sha256 match, so a failure leaves no partial file.

    Raises
    ------
    DownloadError
        Unknown name or no public copy, host unreachable (within a few seconds), HTTP error, or a
        size / checksum mismatch. The message says how to get the files another way.
    """
    key = normalise_name(name)
    if key in NO_PUBLIC_COPY:
        raise DownloadError(f"{key}: {NO_PUBLIC_COPY[key]}")
    dest = _dest(dest)
    mirror = base_url or os.environ.get("DISC_DOWNLOAD_MIRROR") or None
    files = list(DOWNLOADS[key])
    fetcher = _Fetcher(total_size(key), progress, _how_to(files, dest))
    paths = [_fetch_pinned(fetcher, f, dest, mirror) for f in files]
    if key == "maestro":
        paths += _download_maestro_subset(fetcher, dest, mirror)
    return paths


# --------------------------------------------------------------------------------------------
# MAESTRO MIDI subset
# --------------------------------------------------------------------------------------------

_INDEX_COLUMNS = ["canonical_composer", "canonical_title", "split", "year", "midi_filename", "duration", "size",
                  "sha256"]


def maestro_subset(metadata_csv: str | Path) -> list[dict]:
    """The manifest's 150 MIDI files, chosen from the MAESTRO v2.0.0 metadata by its fixed rule.

    For each of ``MAESTRO_COMPOSERS``, among rows with ``year != 2018`` (≈ MAESTRO v1, the paper's
    version) sorted by ``midi_filename``: the first 11 train, 2 validation and 2 test rows, topped up
    with further train rows to 15 (Debussy has no validation rows outside 2018). Rows in index order.
    """
    with open(metadata_csv, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    chosen = []
    for composer in MAESTRO_COMPOSERS:
        mine = sorted((r for r in rows if r["canonical_composer"] == composer and r["year"] != "2018"),
                      key=lambda r: r["midi_filename"])
        by = {s: [r for r in mine if r["split"] == s] for s in ("train", "validation", "test")}
        pick = by["train"][:11] + by["validation"][:2] + by["test"][:2]
        chosen += pick + by["train"][11:11 + 15 - len(pick)]
    return chosen


def _index_bytes(rows: list[dict]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(_INDEX_COLUMNS)
    for r in rows:
        w.writerow([r[c] for c in _INDEX_COLUMNS])
    return out.getvalue().encode("utf-8")


def _download_maestro_subset(fetcher: _Fetcher, dest: Path, mirror: str | None) -> list[Path]:
    index = dest / MAESTRO_INDEX.relpath
    have_index = (index.exists() and index.stat().st_size == MAESTRO_INDEX.size
                  and _sha256(index) == MAESTRO_INDEX.sha256)
    if have_index:
        fetcher.tick(MAESTRO_INDEX.size)
    elif mirror:
        try:
            fetcher.fetch(MAESTRO_INDEX.url_for(mirror), index, MAESTRO_INDEX.sha256, MAESTRO_INDEX.size)
            have_index = True
        except _NotFound:
            pass  # a mirror of the published files only: rebuild the index below
    if not have_index:
        return _download_maestro_unindexed(fetcher, dest, mirror)
    with open(index, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    paths = [index]
    for r in rows:
        f = RemoteFile(_M + r["midi_filename"], _gh("maestro", "data/maestro/" + r["midi_filename"]),
                       r["sha256"], int(r["size"]))
        paths.append(_fetch_pinned(fetcher, f, dest, mirror))
    return paths


def _download_maestro_unindexed(fetcher: _Fetcher, dest: Path, mirror: str | None) -> list[Path]:
    """Fetch the subset into a staging folder and keep it only if the rebuilt index hashes to the pinned one."""
    rows = maestro_subset(dest / _MAESTRO_META[0].relpath)
    staging = Path(tempfile.mkdtemp(dir=dest, prefix=".maestro-staging-"))
    try:
        staged: list[tuple[Path, Path]] = []
        for r in rows:
            rel = _M + r["midi_filename"]
            target = dest / rel
            if target.exists():  # kept from an earlier run; it takes part in the check below
                data = target.read_bytes()
                r["size"], r["sha256"] = len(data), hashlib.sha256(data).hexdigest()
                fetcher.tick(len(data))
                continue
            tmp = staging / rel
            url = RemoteFile(rel, _gh("maestro", "data/maestro/" + r["midi_filename"]), "", 0).url_for(mirror)
            r["sha256"] = fetcher.fetch(url, tmp)
            r["size"] = tmp.stat().st_size
            staged.append((tmp, target))
        index = _index_bytes(rows)
        if hashlib.sha256(index).hexdigest() != MAESTRO_INDEX.sha256:
            raise DownloadError("the downloaded MAESTRO MIDI files do not match the manifest's subset index "
                                f"(sha256 {MAESTRO_INDEX.sha256[:12]}...): at least one file differs, so none was "
                                f"kept. {fetcher.how_to()}")
        for tmp, target in staged:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        atomic_write_bytes(dest / MAESTRO_INDEX.relpath, index)
        fetcher.tick(len(index))
        return [dest / MAESTRO_INDEX.relpath] + [dest / _M / r["midi_filename"] for r in rows]
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def hub_reachable(timeout: float = 3.0) -> bool:
    """True when the Hugging Face hub answers a TCP connection within ``timeout`` seconds."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False
