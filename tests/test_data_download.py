import functools
import http.server
import importlib
import os
import shutil
import threading
from pathlib import Path

import pytest

from eodrec.data import ChecksumError, DataError, download
from eodrec.data.files import ALL_FILES, sha256_file

# The package re-exports the function under the module's name; fetch the module itself.
download_module = importlib.import_module("eodrec.data.download")
REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_datasets() -> Path | None:
    for candidate in (os.environ.get("EODREC_DATA"), REPO_ROOT.parent / "shared" / "datasets"):
        if candidate and all((Path(candidate) / f.relpath).is_file() for f in ALL_FILES):
            return Path(candidate)
    return None


SHARED = _shared_datasets()
pytestmark = pytest.mark.skipif(SHARED is None, reason="real dataset files not available")


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()


@pytest.fixture(scope="module")
def mirror_root(tmp_path_factory):
    """A mirror laid out as <folder>/<file> with good copies, plus a corrupted tree."""
    root = tmp_path_factory.mktemp("mirror")
    for entry in ALL_FILES:
        for tree in ("good", "corrupt"):
            (root / tree / entry.folder).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SHARED / entry.relpath, root / tree / entry.relpath)
    # Corrupt one byte in the middle of one file of the second tree.
    bad = root / "corrupt" / "Tmall" / "test.txt"
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    return root


@pytest.fixture(scope="module")
def server(mirror_root):
    requests: list[str] = []
    handler = functools.partial(
        type("Handler", (_Handler,), {"requests": requests}), directory=str(mirror_root)
    )
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    httpd.shutdown()
    httpd.server_close()


def _leftovers(dest: Path) -> list[Path]:
    return [p for p in dest.rglob("*") if p.name.endswith(".part") or p.name.startswith(".")]


def test_download_fetches_verifies_and_skips(server, tmp_path):
    url, requests = server
    dest = tmp_path / "data"
    paths = download(dest, mirror=f"{url}/good", progress=False)
    assert paths == [dest / f.relpath for f in ALL_FILES]
    for entry, path in zip(ALL_FILES, paths, strict=True):
        assert sha256_file(path) == entry.sha256
        assert path.read_bytes() == (SHARED / entry.relpath).read_bytes()
    assert _leftovers(dest) == []

    before = len(requests)
    assert download(dest, mirror=f"{url}/good/", progress=True) == paths
    assert len(requests) == before  # everything present and verified: nothing fetched


def test_existing_bad_file_is_replaced(server, tmp_path):
    url, requests = server
    dest = tmp_path / "data"
    target = dest / "Tmall" / "test.txt"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"stale")
    download(dest, mirror=f"{url}/good", progress=False)
    assert sha256_file(target) == sha256_file(SHARED / "Tmall" / "test.txt")


def test_checksum_mismatch_keeps_existing_file_and_leaves_no_temp(server, tmp_path):
    url, _ = server
    dest = tmp_path / "data"
    target = dest / "Tmall" / "test.txt"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"old content the user had")  # wrong checksum, so a fetch is attempted
    with pytest.raises(ChecksumError) as info:
        download(dest, mirror=f"{url}/corrupt", progress=False)
    assert "Tmall/test.txt" in str(info.value)
    assert target.read_bytes() == b"old content the user had"
    assert _leftovers(dest) == []


def test_checksum_mismatch_without_existing_file_creates_nothing(server, tmp_path):
    url, _ = server
    dest = tmp_path / "data"
    with pytest.raises(ChecksumError):
        download(dest, mirror=f"{url}/corrupt", progress=False)
    assert not (dest / "Tmall" / "test.txt").exists()
    # Files before the corrupt one in the manifest were completed and verified.
    assert sha256_file(dest / "Tmall" / "all_train_seq.txt") == ALL_FILES[0].sha256
    assert _leftovers(dest) == []


def test_http_error_names_url_and_leaves_no_temp(server, tmp_path):
    url, _ = server
    dest = tmp_path / "data"
    with pytest.raises(DataError, match=f"{url}/missing/Tmall/all_train_seq.txt"):
        download(dest, mirror=f"{url}/missing", progress=False)
    assert _leftovers(dest) == []
    assert not (dest / "Tmall" / "all_train_seq.txt").exists()


def test_interrupt_mid_stream_leaves_no_partial_file(server, tmp_path, monkeypatch):
    url, _ = server

    class InterruptingBar:
        def __init__(self, **kwargs):
            self.seen = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            self.seen += n
            if self.seen > 100_000:
                raise KeyboardInterrupt

    monkeypatch.setattr(download_module, "tqdm", InterruptingBar)
    dest = tmp_path / "data"
    with pytest.raises(KeyboardInterrupt):
        download(dest, mirror=f"{url}/good", progress=True)
    assert not (dest / "Tmall" / "all_train_seq.txt").exists()
    assert _leftovers(dest) == []
