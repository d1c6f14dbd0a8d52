"""Downloads through the real code path, served from a loopback HTTP mirror of the real data dir."""

import functools
import hashlib
import http.server
import os
import shutil
import socket
import threading
from pathlib import Path

import pytest

from disc_core.cli.main import main
from disc_core.data import load_dataset
from disc_core.data.download import DOWNLOADS, MAESTRO_INDEX, download, is_downloaded, total_size
from disc_core.errors import DownloadError


class _Quiet(http.server.SimpleHTTPRequestHandler):
    requests: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        super().do_GET()


@pytest.fixture
def serve():
    """serve(folder) -> base URL of a loopback HTTP server for that folder (port chosen by the OS)."""
    servers = []

    def start(folder):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A cache of this test's own, so downloads never leak into other tests' data dirs."""
    d = tmp_path / "cache"
    monkeypatch.setenv("DISC_CACHE_DIR", str(d))
    monkeypatch.delenv("DISC_DOWNLOAD_MIRROR", raising=False)
    return d / "downloads"


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _mirror_with(tmp_path, real_data_dir, relpaths, change=None, drop=()):
    """A mirror folder of ``relpaths`` copied from the real data; ``change`` relpath gets one byte flipped."""
    m = tmp_path / "mirror"
    for rel in relpaths:
        if rel in drop:
            continue
        (m / rel).parent.mkdir(parents=True, exist_ok=True)
        if rel == change:
            data = bytearray((real_data_dir / rel).read_bytes())
            data[len(data) // 2] ^= 0x01
            (m / rel).write_bytes(bytes(data))
        else:
            os.symlink(real_data_dir / rel, m / rel)
    return m


# ------------------------------------------------------------------------------------------ real mirror
@pytest.mark.realdata
def test_download_checks_sha256_reports_progress_and_loader_uses_the_cache(real_data_dir, serve, cache, monkeypatch):
    url = serve(real_data_dir)
    calls = []
    paths = download("splice", progress=lambda done, total: calls.append((done, total)), base_url=url)
    target = cache / "dna_splice" / "splice.txt"
    assert paths == [target]
    assert hashlib.sha256(target.read_bytes()).hexdigest() == DOWNLOADS["splice"][0].sha256
    assert calls[-1] == (319000, 319000) and len(calls) > 1
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    assert _files(cache) == [target]  # no temporary files left behind
    monkeypatch.delenv("DISC_DATA_DIR", raising=False)
    ds = load_dataset("splice")
    assert sum(ds.sizes().values()) == 3190 and ds.source == str(target)

    _Quiet.requests.clear()
    download("splice", base_url=url)  # present with the right checksum: nothing fetched
    assert _Quiet.requests == []


@pytest.mark.realdata
def test_mirror_from_environment_and_several_files(real_data_dir, serve, cache, monkeypatch):
    monkeypatch.setenv("DISC_DOWNLOAD_MIRROR", serve(real_data_dir) + "/")
    paths = download("h3")
    assert [p.relative_to(cache).as_posix() for p in paths] == ["dna_gue_emp/H3/dev.csv", "dna_gue_emp/H3/test.csv"]
    assert is_downloaded("h3") and not is_downloaded("h4")
    monkeypatch.delenv("DISC_DATA_DIR", raising=False)
    assert sum(load_dataset("h3").sizes().values()) == 2 * 1497  # both downloaded files, pooled and split


@pytest.mark.realdata
def test_corrupted_file_is_refused_and_nothing_is_left(tmp_path, real_data_dir, serve, cache):
    rel = "dna_splice/splice.txt"
    url = serve(_mirror_with(tmp_path, real_data_dir, [rel], change=rel))
    calls = []
    with pytest.raises(DownloadError, match="sha256 .* does not match the pinned ebbae10c"):
        download("splice", base_url=url, progress=lambda d, t: calls.append(d))
    assert _files(cache) == []
    assert calls[-1] == 0  # the discarded bytes are taken back from the progress count


@pytest.mark.realdata
def test_missing_file_on_mirror_keeps_verified_files_only(tmp_path, real_data_dir, serve, cache):
    rels = [f.relpath for f in DOWNLOADS["deeploc"]]
    url = serve(_mirror_with(tmp_path, real_data_dir, rels, drop={rels[1]}))
    with pytest.raises(DownloadError, match=r"deeploc_test_set\.fasta: HTTP 404"):
        download("deeploc", base_url=url)
    assert [p.name for p in _files(cache)] == ["deeploc_our_val_set.fasta"]


@pytest.mark.realdata
def test_maestro_subset_with_index_from_mirror(real_data_dir, serve, cache):
    paths = download("maestro", base_url=serve(real_data_dir))
    assert len(paths) == 4 + 1 + 150
    index = cache / MAESTRO_INDEX.relpath
    assert index.read_bytes() == (real_data_dir / MAESTRO_INDEX.relpath).read_bytes()
    midi = [p for p in paths if p.suffix == ".midi"]
    assert sum(p.stat().st_size for p in midi) == 11_553_693
    assert is_downloaded("maestro")


@pytest.mark.realdata
def test_maestro_subset_without_index_is_rebuilt_and_checked(tmp_path, real_data_dir, serve, cache):
    meta = [f.relpath for f in DOWNLOADS["maestro"]]
    midis = [f"music_maestro/{p.relative_to(real_data_dir / 'music_maestro').as_posix()}"
             for p in (real_data_dir / "music_maestro").glob("20*/*.midi")]
    bad = sorted(midis)[7]
    url = serve(_mirror_with(tmp_path, real_data_dir, meta + midis, change=bad))  # a mirror has no index
    with pytest.raises(DownloadError, match="do not match the manifest's subset index"):
        download("maestro", base_url=url)
    assert not [p for p in _files(cache) if p.suffix == ".midi"] and not (cache / MAESTRO_INDEX.relpath).exists()
    shutil.copyfile(real_data_dir / bad, tmp_path / "mirror" / bad)  # mirror repaired
    calls = []
    download("maestro", base_url=url, progress=lambda d, t: calls.append((d, t)))
    assert (cache / MAESTRO_INDEX.relpath).read_bytes() == (real_data_dir / MAESTRO_INDEX.relpath).read_bytes()
    assert calls[-1] == (total_size("maestro"),) * 2


@pytest.mark.realdata
def test_cli_download_list_and_errors(real_data_dir, serve, cache, capsys):
    assert main(["download", "--mirror", serve(real_data_dir), "cola"]) == 0
    assert (cache / "glue/CoLA/train.tsv").exists()
    assert main(["download", "--list"]) == 0
    out = capsys.readouterr().out
    assert "cola" in out and "maestro" in out and "stability" in out and "no public copy of the TAPE" not in out
    # TAPE's stability splits and fluorescence's genotype table are pinned copies now: checked, then loadable
    assert main(["download", "--mirror", serve(real_data_dir), "stability", "fluorescence"]) == 0
    assert (cache / "protein_tape_stability/train.csv").stat().st_size == 3438868
    assert main(["download", "mnli"]) == 2
    assert "nyu-mll/glue" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ offline
def test_offline_fails_fast_and_says_what_to_do(cache):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match=r"cannot reach 127\.0\.0\.1 .* DISC_DATA_DIR") as err:
        download("splice", base_url=f"http://127.0.0.1:{port}")
    assert "dna_splice/splice.txt" in str(err.value) and str(cache) in str(err.value)
    assert _files(cache) == []


def test_unknown_and_unpublished_names(cache):
    with pytest.raises(DownloadError, match="no download for 'nope'; downloadable: splice"):
        download("nope")
    with pytest.raises(DownloadError, match="Hugging Face copy nyu-mll/glue"):
        download("MNLI")
    assert total_size("SST-2") == 3806081 + 94931  # names are spelled as in the registry or as GLUE does


def test_every_paper_dataset_can_be_downloaded_or_says_why_not():
    from disc_core.data import DATASETS, ensure_registered
    from disc_core.data.download import NO_PUBLIC_COPY

    ensure_registered()
    paper = {n for n, i in DATASETS.items() if i.origin == "paper"}
    assert paper == set(DOWNLOADS) | set(NO_PUBLIC_COPY)
    for name, files in DOWNLOADS.items():
        # what the loader needs is what download fetches, at the same relative paths
        assert set(DATASETS[name].files) <= {f.relpath for f in files}, name
