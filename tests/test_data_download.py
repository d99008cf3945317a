"""``data``'s online path: a missing MNIST is downloaded by torchvision, here from a loopback HTTP server
serving the real files gzipped in the mirror's layout, then read like a local copy."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import threading

import pytest
import torch
import torchvision.datasets as tvd

from prunekit import data as D
from tests.data_fixtures import MNIST_FILES, isolated_env, mnist_root  # noqa: F401


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):  # torchvision's redirect probe hangs up mid-body
            pass


@pytest.fixture(scope="module")
def mirror(tmp_path_factory, request):
    """A folder of the four gzipped MNIST IDX files and their MD5s, as the MNIST mirror serves them."""
    from tests.data_fixtures import real_mnist_root

    root = real_mnist_root()
    if root is None:
        pytest.skip("real MNIST not found")
    folder = tmp_path_factory.mktemp("mirror")
    resources = []
    for name in MNIST_FILES:
        raw = root / "MNIST" / "raw" / name
        blob = raw.read_bytes() if raw.is_file() else gzip.decompress((raw.parent / f"{name}.gz").read_bytes())
        packed = gzip.compress(blob, compresslevel=1, mtime=0)
        (folder / f"{name}.gz").write_bytes(packed)
        resources.append((f"{name}.gz", hashlib.md5(packed).hexdigest()))
    return folder, resources


@pytest.fixture
def server(mirror, monkeypatch):
    """Serve the mirror folder on 127.0.0.1 and point torchvision's MNIST at it; yields the requested paths."""
    folder, resources = mirror
    requested: list[str] = []

    class Handler(_QuietHandler):
        def do_GET(self):
            requested.append(self.path)
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setattr(tvd.MNIST, "mirrors", [f"http://127.0.0.1:{httpd.server_address[1]}/"])
    monkeypatch.setattr(tvd.MNIST, "resources", resources)
    try:
        yield requested
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_missing_mnist_is_downloaded_once_and_reads_like_the_local_copy(server, isolated_env, mnist_root, tmp_path,
                                                                          monkeypatch):
    monkeypatch.delenv("PRUNEKIT_OFFLINE")  # isolated_env forbids downloads; this test is the online path
    empty = tmp_path / "fresh"
    images, labels = D.load_split("mnist", train=False, root=empty, limit=500)
    assert set(server) == {f"/{name}.gz" for name in MNIST_FILES}  # every file, from the loopback mirror
    fetched = len(server)  # (torchvision opens each URL twice: once to follow redirects)
    assert all((empty / "MNIST" / "raw" / name).is_file() for name in MNIST_FILES)
    local_images, local_labels = D.load_split("mnist", train=False, root=mnist_root, limit=500)
    assert torch.equal(images, local_images) and torch.equal(labels, local_labels)
    D.load_split("mnist", train=True, root=empty, limit=10)
    assert len(server) == fetched  # already on disk: nothing fetched again


def test_offline_nothing_is_requested_and_the_error_names_the_files(server, isolated_env, tmp_path):
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        D.load_split("mnist", train=False, root=tmp_path / "fresh")
    assert server == []
