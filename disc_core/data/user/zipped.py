"""A zip of a MIDI folder (one sub-folder per class), unpacked into a temporary folder and read there.

Entry names must stay inside the zip's folder: an entry named with ``..`` or an absolute path (``/x``,
``C:\\x``) is refused, naming it (stripping those parts would move files into other class folders). Only MIDI
files are unpacked (at most :data:`MAX_ZIP_BYTES`); other files become empty stand-ins so that messages can
name them. A zip that holds the folder itself (``midi/<class>/...``) is read from that folder, and macOS
metadata (``__MACOSX``, ``._`` files) is skipped and said so.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Callable

from ...errors import DataError
from ..base import Dataset
from ..music import METADATA_FOLDERS, MIDI_SUFFIXES, read_midi_folder

__all__ = ["MAX_ZIP_BYTES", "read_zip", "unsafe_entry"]

#: The largest unpacked size of a zip of MIDI files (a zip bomb stops here, not the disk).
MAX_ZIP_BYTES = 2 * 1024 ** 3
_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_entry(name: str) -> str | None:
    """Why a zip entry name would land outside the folder it is unpacked into (None: it is safe)."""
    posix = name.replace("\\", "/")
    if posix.startswith("/") or _DRIVE.match(posix):
        return "an absolute path"
    if ".." in PurePosixPath(posix).parts:
        return "a '..' part (a parent folder)"
    return None


def read_zip(path: Path, name: str, progress: Callable[[int, int], None] | None = None, seed: int = 42,
             fractions=(0.8, 0.1, 0.1), workers: int | None = None, source: str | None = None) -> Dataset:
    """The dataset of the MIDI folder in the zip at ``path`` (see the module docstring)."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"cannot be read as a zip file ({err})", path=path,
                        hint="give a .zip of a folder of MIDI files with one sub-folder per class") from None
    with zf, tempfile.TemporaryDirectory(prefix="disc-zip-") as tmp:
        base = Path(tmp)
        members = [i for i in zf.infolist() if not i.is_dir()]
        for info in zf.infolist():
            why = unsafe_entry(info.filename)
            if why:
                raise DataError(f"the zip entry {info.filename!r} has {why}; it would be unpacked outside the "
                                f"zip's folder", path=path,
                                hint="zip the folder again so that every entry is a relative path inside it "
                                     "(<class>/<file>.mid)")
        midi = [i for i in members if Path(i.filename).suffix.lower() in MIDI_SUFFIXES]
        size = sum(i.file_size for i in midi)
        if size > MAX_ZIP_BYTES:
            raise DataError(f"its MIDI files would unpack to {size / 1e9:.1f} GB (the limit is "
                            f"{MAX_ZIP_BYTES / 1e9:.0f} GB)", path=path, hint="import the unpacked folder instead")
        real_midi = [i for i in midi if not Path(i.filename).name.startswith("._")]
        if not real_midi:
            raise DataError(f"the zip holds no .mid/.midi file ({len(members)} other files)", path=path,
                            hint="zip a folder with one sub-folder per class, each holding that class's MIDI files")
        is_midi = {id(i) for i in midi}
        for info in members:
            parts = [q for q in info.filename.replace("\\", "/").split("/") if q not in ("", ".")]
            if not parts:
                continue
            target = base.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                data = zf.read(info) if id(info) in is_midi else b""
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError):
                data = b""  # a damaged member stays, empty: the folder reader names it as unreadable
            target.write_bytes(data)
        root, skipped = base, []
        while True:  # a zip of the folder itself: read from inside it
            entries = list(root.iterdir())
            meta = [e for e in entries if e.name in METADATA_FOLDERS or e.name.startswith(".")]
            visible = [e for e in entries if e not in meta]
            if len(visible) == 1 and visible[0].is_dir() and any(q.is_dir() for q in visible[0].iterdir()):
                skipped += [e.name for e in meta]
                root = visible[0]
            else:
                break
        try:
            ds = read_midi_folder(root, name=name, progress=progress, source=source or str(path), seed=seed,
                                  fractions=fractions, workers=workers)
        except DataError as err:  # name the zip, not the temporary folder
            raise DataError(err.message.replace(str(root), source or str(path)), path=path, line=err.line,
                            record=err.record, hint=err.hint) from None
    if skipped:
        ds.warnings.insert(0, f"ignored metadata that is not music (left by macOS or an editor): {', '.join(skipped)}")
    ds.notes.insert(0, f"read from the zip file {Path(source or path).name}: {len(real_midi)} MIDI files"
                       + (f" under {root.relative_to(base).as_posix()}/" if root != base else ""))
    return ds
