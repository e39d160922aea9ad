"""Weight files: resolving a local file, and downloading over real HTTP from 127.0.0.1."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import Result

from mebench.errors import MebenchError
from mebench.hookspecs import RegisterWeights, hookimpl
from mebench.plugin_manager import MebenchPluginManager
from mebench.weights import WeightFile, download, resolve, sha256_of, weights_dir

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB, more than one read chunk
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    """``/ok.bin`` the payload; ``/cut.bin`` announces it all but sends half and hangs up;
    anything else 404."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path not in ("/ok.bin", "/cut.bin"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        body = PAYLOAD if self.path == "/ok.bin" else PAYLOAD[: len(PAYLOAD) // 2]
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _weight(url: str, sha256: str | None = PAYLOAD_SHA) -> WeightFile:
    return WeightFile(name="toy", url=url, filename="toy-1234.pth", sha256=sha256,
                      description="a toy file")


def test_weights_dir_is_under_mebench_home(isolated_home: Path) -> None:
    assert weights_dir() == isolated_home / "weights"


def test_weight_record_checks() -> None:
    with pytest.raises(ValueError, match="64 lower-case hex"):
        _weight("http://x", sha256="abc")
    with pytest.raises(ValueError, match="bad weight record"):
        WeightFile(name="x", url="u", filename="a/b.pth", sha256=None, description="")


def test_resolve_explicit_then_cached_then_error(tmp_path: Path) -> None:
    weight = _weight("http://x/toy.pth")
    explicit = tmp_path / "mine.pth"
    explicit.write_bytes(b"x")
    assert resolve(weight, str(explicit)) == explicit
    with pytest.raises(MebenchError, match="checkpoint file .*nope.pth' does not exist"):
        resolve(weight, tmp_path / "nope.pth")
    with pytest.raises(MebenchError) as err:
        resolve(weight, owner="flow 'toy'")
    assert str(err.value) == (
        f"flow 'toy': weights 'toy' (a toy file) not found (run `mebench download toy` where the "
        f"internet is reachable, or put toy-1234.pth at {weights_dir() / 'toy-1234.pth'}, or pass "
        "--flow-args checkpoint=PATH)")
    cached = weights_dir() / "toy-1234.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"y")
    assert resolve(weight) == cached


def test_download_saves_and_checks(server: str, tmp_path: Path) -> None:
    path = download(_weight(f"{server}/ok.bin"), tmp_path, progress=False)
    assert path == tmp_path / "toy-1234.pth"
    assert path.read_bytes() == PAYLOAD
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_download_without_a_known_digest(server: str, tmp_path: Path) -> None:
    path = download(_weight(f"{server}/ok.bin", sha256=None), tmp_path, progress=False)
    assert sha256_of(path) == PAYLOAD_SHA


def test_sha_mismatch_leaves_nothing(server: str, tmp_path: Path) -> None:
    wrong = replace(_weight(f"{server}/ok.bin"), sha256="0" * 64)
    with pytest.raises(MebenchError, match=f"sha256 of the downloaded toy-1234.pth is "
                                           f"{PAYLOAD_SHA}, expected 0000"):
        download(wrong, tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_download_leaves_nothing(server: str, tmp_path: Path) -> None:
    with pytest.raises(MebenchError, match="interrupted: got 524288 of 1048576 bytes"):
        download(_weight(f"{server}/cut.bin", sha256=None), tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_http_error_and_unreachable_host(server: str, tmp_path: Path) -> None:
    with pytest.raises(MebenchError, match="HTTP Error 404") as err:
        download(_weight(f"{server}/missing.bin"), tmp_path, progress=False)
    assert f"put it at {tmp_path / 'toy-1234.pth'}" in str(err.value)
    with pytest.raises(MebenchError, match="failed"):
        download(_weight("http://127.0.0.1:9/none.bin"), tmp_path, progress=False)  # discard port
    assert list(tmp_path.iterdir()) == []


# -- the hook and the command ------------------------------------------------------------------


class _ToyPlugin:
    def __init__(self, url: str) -> None:
        self.url = url

    @hookimpl
    def mebench_register_weights(self, register: RegisterWeights) -> None:
        register(_weight(self.url))


class _Clash:
    @hookimpl
    def mebench_register_weights(self, register: RegisterWeights) -> None:
        register(_weight("http://elsewhere/toy.bin"))


def test_hook_collects_weights_and_reports_clashes(pm: MebenchPluginManager, server: str) -> None:
    pm.add_plugin(_ToyPlugin(f"{server}/ok.bin"), name="toy-plugin")
    pm.add_plugin(_Clash(), name="clash-plugin")
    weights = pm.weight_files()
    assert weights["toy"].url == f"{server}/ok.bin"  # the first registration is kept
    assert "unimatch" in weights
    pm.weight_files()  # a second listing reports the clash once, not twice
    clashes = [f for f in pm.failures if f.plugin == "clash-plugin"]
    assert len(clashes) == 1 and "'toy' is already registered" in clashes[0].error


def test_download_command(pm: MebenchPluginManager, invoke,  # type: ignore[no-untyped-def]
                          server: str, tmp_path: Path) -> None:
    pm.add_plugin(_ToyPlugin(f"{server}/ok.bin"), name="toy-plugin")
    listing: Result = invoke("download", "--list")
    assert listing.exit_code == 0
    assert f"weights folder: {weights_dir()}" in listing.output
    assert any(line.split()[:1] == ["toy"] and " no " in line
               for line in listing.output.splitlines())
    got = invoke("download", "toy", "--dest", str(tmp_path))
    assert got.exit_code == 0, got.output
    assert f"toy: saved {tmp_path / 'toy-1234.pth'} (sha256 {PAYLOAD_SHA})" in got.output
    again = invoke("download", "toy", "--dest", str(tmp_path))
    assert f"toy: already present at {tmp_path / 'toy-1234.pth'}" in again.output
    assert '"present": true' in invoke("download", "--list", "--json", "--dest",
                                       str(tmp_path)).output


def test_download_command_mistakes(invoke) -> None:  # type: ignore[no-untyped-def]
    unknown = invoke("download", "unimatchh")
    assert unknown.exit_code == 2
    assert "unknown weights 'unimatchh' (did you mean 'unimatch'?" in unknown.output
    assert invoke("download").exit_code == 2
    both = invoke("download", "unimatch", "--all")
    assert both.exit_code == 2 and "not both" in both.output


def test_download_all(pm: MebenchPluginManager, invoke, server: str,  # type: ignore[no-untyped-def]
                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toys = {"toy": _weight(f"{server}/ok.bin"),
            "toy2": replace(_weight(f"{server}/ok.bin"), name="toy2", filename="toy2.pth")}
    monkeypatch.setattr(pm, "weight_files", lambda: toys)  # no real downloads in tests
    got = invoke("download", "--all", "--dest", str(tmp_path))
    assert got.exit_code == 0, got.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy-1234.pth", "toy2.pth"]
