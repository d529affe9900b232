"""Pull and push against Debian's docker-registry, started by the tests on 127.0.0.1: plain
HTTP, basic auth, TLS with a CA the test makes, a multi-platform index, a connection cut
mid-blob (resumed), a corrupted blob (refused), and skopeo reading what we push and writing
what we pull."""

from __future__ import annotations

import base64
import http.server
import json
import os
import select
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import make_busybox_rootfs
from imagehelpers import (
    compress,
    diff_snapshots,
    entry,
    make_config,
    make_tar,
    sha,
    snapshot,
    tar_dir,
    write_layout,
)
from registryhelpers import Registry, TokenServer

from pycontain.errors import (
    ConfigError,
    DigestMismatch,
    InvalidImage,
    ManifestUnknown,
    RegistryAuthError,
    RegistryError,
)
from pycontain.images import Image, ImageStore, Platform, host_platform


@pytest.fixture
def work() -> Iterator[Path]:
    """A scratch directory removed after the test (registries' storage, stores, layouts)."""
    d = Path(tempfile.mkdtemp(prefix="pycontain-registry-"))
    yield d
    shutil.rmtree(d)
    assert not d.exists()


@pytest.fixture
def registries(work: Path) -> Iterator[Callable[..., Registry]]:
    """Start registries (stopped by pid, and checked gone, after the test)."""
    started: list[Registry] = []

    def start(**kw: object) -> Registry:
        r = Registry(work / f"registry{len(started)}", **kw)  # type: ignore[arg-type]
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()
        assert r.proc.returncode is not None  # killed and reaped


class Recorder:
    """A progress receiver that keeps what it was told."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started: dict[str, tuple[int, str]] = {}
        self.moved: dict[str, int] = {}
        self.ended: dict[str, str] = {}

    def start(self, digest: str, size: int, what: str) -> None:
        with self.lock:
            self.started[digest] = (size, what)

    def advance(self, digest: str, nbytes: int) -> None:
        with self.lock:
            self.moved[digest] = self.moved.get(digest, 0) + nbytes

    def done(self, digest: str, how: str) -> None:
        with self.lock:
            self.ended[digest] = how


@pytest.fixture
def image(work: Path) -> tuple[ImageStore, Image]:
    """A store holding a busybox-static image of three layers (the rootfs, a file and a
    large random one, a whiteout), imported from an OCI layout."""
    rootfs = make_busybox_rootfs(work / "busybox", applets=["sh", "ls", "cat"])
    layers = [tar_dir(rootfs),
              make_tar([entry("etc/motd", data=b"hello\n"),
                        entry("big", data=os.urandom(3 << 20), mode=0o600, uid=7)]),
              make_tar([entry("bin/.wh.cat")])]
    write_layout(work / "layout", layers, tag="v1")
    store = ImageStore(str(work / "src"), durable=False)
    [img] = store.import_archive(str(work / "layout"), tag="localhost/busybox:v1")
    return store, img


def _merged(store: ImageStore, img: Image, dest: Path) -> dict[str, tuple[object, ...]]:
    dest.mkdir()
    store.merge(img, str(dest))
    return snapshot(dest)


def _nothing_half_done(store: ImageStore) -> None:
    assert store.tags() == {}
    ingest = Path(store.root) / "ingest"
    assert not ingest.exists() or not os.listdir(ingest)


def test_push_then_pull_plain_http(work: Path, registries: Callable[..., Registry],
                                   image: tuple[ImageStore, Image]) -> None:
    src, img = image
    reg = registries()
    ref = f"{reg.address}/test/busybox:v1"
    pushed = Recorder()
    assert src.push("localhost/busybox:v1", ref, tls_verify=False, progress=pushed) \
        == img.digest
    assert set(pushed.ended.values()) == {"done"} and len(pushed.ended) == 4
    assert reg.blob_count() == 5  # three layers, the config, the manifest

    dst = ImageStore(str(work / "dst"), durable=False)
    got = Recorder()
    pulled = dst.pull(ref, tls_verify=False, progress=got)
    assert pulled.digest == img.digest and pulled.layers == img.layers
    assert dst.tags() == {ref: img.digest}
    assert all(dst.layers.has(c) for c in pulled.layers)
    assert got.moved == {d: n for d, (n, _) in got.started.items()}
    assert not diff_snapshots(_merged(src, img, work / "a"), _merged(dst, pulled, work / "b"))

    again = Recorder()  # what the store has is not fetched again, nor pushed again
    dst.pull(ref, tls_verify=False, progress=again)
    assert set(again.ended.values()) == {"exists"} and not again.moved
    src.push(img, ref, tls_verify=False, progress=again)
    assert set(again.ended.values()) == {"exists"} and not again.moved

    by_digest = ImageStore(str(work / "dst2"), durable=False)
    assert by_digest.pull(f"{reg.address}/test/busybox@{img.digest}", tls_verify=False,
                          unpack=False).digest == img.digest
    assert by_digest.tags() == {}  # a digest names no tag


def test_chunked_upload_and_cross_repository_mount(
        work: Path, registries: Callable[..., Registry],
        image: tuple[ImageStore, Image]) -> None:
    src, img = image
    reg = registries()
    src.push(img, f"{reg.address}/a/busybox:v1", tls_verify=False, chunk_size=256 << 10)
    seen = Recorder()
    src.push(img, f"{reg.address}/b/busybox:v2", tls_verify=False, mount_from="a/busybox",
             progress=seen)
    assert set(seen.ended.values()) == {"mounted"} and not seen.moved
    dst = ImageStore(str(work / "dst"), durable=False)
    assert dst.pull(f"{reg.address}/b/busybox:v2", tls_verify=False).digest == img.digest


def test_errors_name_what_failed(work: Path, registries: Callable[..., Registry],
                                 image: tuple[ImageStore, Image]) -> None:
    src, img = image
    reg = registries()
    dst = ImageStore(str(work / "dst"), durable=False)
    with pytest.raises(ManifestUnknown, match="test/none:v1: 404.*manifest unknown"):
        dst.pull(f"{reg.address}/test/none:v1", tls_verify=False)
    with pytest.raises(RegistryError, match="TLS .* failed.*hint: .*tls_verify=False"):
        dst.pull(f"{reg.address}/test/none:v1")  # plain HTTP only when asked for
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # a port nothing listens on
        closed = s.getsockname()[1]
    with pytest.raises(RegistryError, match=f"127.0.0.1:{closed} unreachable.*refused"):
        dst.pull(f"127.0.0.1:{closed}/test/none:v1", tls_verify=False)
    with pytest.raises(ConfigError, match="auth"):
        dst.pull(f"{reg.address}/test/none:v1", auth=("", "x"), tls_verify=False)
    with pytest.raises(ConfigError, match="ca_file"):
        dst.pull(f"{reg.address}/test/none:v1", ca_file=str(work / "none.pem"))
    with pytest.raises(ConfigError, match="dest"):
        src.push(img, "Not/Valid", tls_verify=False)
    _nothing_half_done(dst)
    assert not list(dst.content.digests())


def test_basic_auth_and_tls(work: Path, registries: Callable[..., Registry],
                            image: tuple[ImageStore, Image],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    src, img = image
    reg = registries(users={"alice": "s3cret"}, tls=True)
    ref = f"{reg.address}/test/busybox:v1"
    ca = str(reg.ca)
    with pytest.raises(RegistryError, match="certificate .* not trusted.*hint: pass ca_file"):
        src.push(img, ref, auth=("alice", "s3cret"))  # a CA the system does not know
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(work / "none.json"))
    monkeypatch.setenv("DOCKER_CONFIG", str(work / "no-docker"))
    with pytest.raises(RegistryAuthError, match="without credentials: 401"):
        src.push(img, ref, ca_file=ca)
    with pytest.raises(RegistryAuthError, match="as 'alice': 401"):
        src.push(img, ref, ca_file=ca, auth=("alice", "wrong"))
    assert src.push(img, ref, ca_file=ca, auth=("alice", "s3cret")) == img.digest

    dst = ImageStore(str(work / "dst"), durable=False)
    with pytest.raises(RegistryAuthError):
        dst.pull(ref, ca_file=ca)
    _nothing_half_done(dst)
    # a login stored the way podman and docker keep it
    auth = base64.b64encode(b"alice:s3cret").decode()
    (work / "auth.json").write_text(json.dumps({"auths": {reg.address: {"auth": auth}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(work / "auth.json"))
    assert dst.pull(ref, ca_file=ca).digest == img.digest
    # TLS without verification, as --tls-verify=false
    other = ImageStore(str(work / "other"), durable=False)
    assert other.pull(ref, tls_verify=False, unpack=False).digest == img.digest


@pytest.fixture
def token_server(work: Path) -> Iterator[TokenServer]:
    t = TokenServer(work / "tokens", users={"bob": "hunter2"})
    yield t
    t.stop()
    assert not t.thread.is_alive()


def test_bearer_token_auth(work: Path, registries: Callable[..., Registry],
                           image: tuple[ImageStore, Image], token_server: TokenServer,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    src, img = image
    reg = registries(token=token_server)
    ref = f"{reg.address}/tok/busybox:v1"
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(work / "none.json"))
    monkeypatch.setenv("DOCKER_CONFIG", str(work / "no-docker"))
    with pytest.raises(RegistryAuthError, match="without credentials: 401"):
        src.push(img, ref, tls_verify=False)  # an anonymous token allows pull only
    with pytest.raises(RegistryAuthError, match="token service .* refused.*401"):
        src.push(img, ref, tls_verify=False, auth=("bob", "wrong"))
    assert src.push(img, ref, tls_verify=False, auth=("bob", "hunter2")) == img.digest
    assert ("bob", ["repository:tok/busybox:pull,push"]) in token_server.requests

    dst = ImageStore(str(work / "dst"), durable=False)
    pulled = dst.pull(ref, tls_verify=False)  # anonymous: a token for pull
    assert pulled.digest == img.digest
    assert (None, ["repository:tok/busybox:pull"]) in token_server.requests


def _index_image(store: ImageStore, arch: str, variant: str | None, payload: bytes) -> dict:
    """A one-layer image for *arch* written straight into *store*'s content; its index
    descriptor."""
    raw = make_tar([entry("arch", data=payload)])
    layer = compress(raw, "gzip")
    cfg = make_config([sha(raw)], {"architecture": arch,
                                   **({"variant": variant} if variant else {})})
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": store.content.write_blob(cfg), "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": store.content.write_blob(layer), "size": len(layer)}]}).encode()
    platform = {"architecture": arch, "os": "linux", **({"variant": variant} if variant else {})}
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": store.content.write_blob(manifest), "size": len(manifest),
            "platform": platform}


def test_multi_platform_index(work: Path, registries: Callable[..., Registry]) -> None:
    reg = registries()
    src = ImageStore(str(work / "src"), durable=False)
    host = host_platform()
    other = ("arm64", "v8") if host.architecture != "arm64" else ("amd64", None)
    descs = [_index_image(src, host.architecture, host.variant, b"host"),
             _index_image(src, other[0], other[1], b"other")]
    index = json.dumps({"schemaVersion": 2,
                        "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": descs}).encode()
    index_digest = src.content.write_blob(index)
    ref = f"{reg.address}/multi/img:v1"
    assert src.push(index_digest, ref, tls_verify=False) == index_digest

    dst = ImageStore(str(work / "dst"), durable=False)
    mine = dst.pull(ref, tls_verify=False)
    assert mine.digest == descs[0]["digest"] and mine.platform.architecture == host.architecture
    theirs = dst.pull(ref, tls_verify=False, platform=Platform(other[0], "linux", other[1]))
    assert theirs.digest == descs[1]["digest"]
    (work / "t").mkdir()
    dst.merge(theirs, str(work / "t"))
    assert (work / "t" / "arch").read_bytes() == b"other"
    assert dst.tags() == {ref: theirs.digest}  # the last pull's image
    with pytest.raises(ConfigError, match="no image for platform linux/s390x.*it has"):
        ImageStore(str(work / "none"), durable=False).pull(
            ref, tls_verify=False, platform=Platform("s390x", "linux"))


class Proxy:
    """A TCP proxy on 127.0.0.1 to the registry that breaks responses on purpose: it cuts
    *cut* connections, each once it has carried *after* bytes from the registry, or flips
    the byte at that offset (*corrupt*).  Keeps what clients sent, to see their Range
    requests."""

    def __init__(self, target: str, *, after: int, cut: int = 0, corrupt: bool = False) -> None:
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.after, self.cut, self.corrupt = after, cut, corrupt
        self.requests = bytearray()
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.threads: list[threading.Thread] = []
        self.stopping = False
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            t = threading.Thread(target=self._pump, args=(client,), daemon=True)
            self.threads.append(t)
            t.start()

    def _pump(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.target)
        sent = 0
        try:
            while not self.stopping:
                ready, _, _ = select.select([client, upstream], [], [], 0.2)
                for s in ready:
                    data = s.recv(1 << 16)
                    if not data:
                        return
                    if s is client:
                        with self.lock:
                            self.requests += data
                        upstream.sendall(data)
                        continue
                    if sent + len(data) > self.after and (self.cut > 0 or self.corrupt):
                        k = self.after - sent
                        if not self.corrupt:
                            with self.lock:
                                self.cut -= 1
                            client.sendall(data[:k])
                            return
                        data = data[:k] + bytes([data[k] ^ 0xFF]) + data[k + 1:]
                        self.after = 1 << 62  # once
                    sent += len(data)
                    client.sendall(data)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        self.stopping = True
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept(); close() alone does not
        self.listener.close()
        self.accepter.join(5)
        for t in self.threads:
            t.join(5)
        assert not self.accepter.is_alive() and not any(t.is_alive() for t in self.threads)


@pytest.fixture
def proxies() -> Iterator[list[Proxy]]:
    made: list[Proxy] = []
    yield made
    for p in made:
        p.close()


def test_dropped_connection_is_resumed(work: Path, registries: Callable[..., Registry],
                                       image: tuple[ImageStore, Image],
                                       proxies: list[Proxy]) -> None:
    src, img = image
    reg = registries()
    src.push(img, f"{reg.address}/test/busybox:v1", tls_verify=False)
    proxy = Proxy(reg.address, after=1 << 20, cut=1)
    proxies.append(proxy)
    dst = ImageStore(str(work / "dst"), durable=False)
    pulled = dst.pull(f"{proxy.address}/test/busybox:v1", tls_verify=False, jobs=1)
    assert pulled.digest == img.digest
    assert b"\r\nRange: bytes=" in bytes(proxy.requests)  # resumed, not started over
    assert not diff_snapshots(_merged(src, img, work / "a"), _merged(dst, pulled, work / "b"))


def test_connection_that_keeps_dropping_fails_cleanly(
        work: Path, registries: Callable[..., Registry], image: tuple[ImageStore, Image],
        proxies: list[Proxy]) -> None:
    src, img = image
    reg = registries()
    src.push(img, f"{reg.address}/test/busybox:v1", tls_verify=False)
    proxy = Proxy(reg.address, after=64 << 10, cut=1000)
    proxies.append(proxy)
    dst = ImageStore(str(work / "dst"), durable=False)
    with pytest.raises(RegistryError, match="gave up after 6 tries, the last at byte"):
        dst.pull(f"{proxy.address}/test/busybox:v1", tls_verify=False)
    _nothing_half_done(dst)
    assert not dst.content.has(img.digest)


def test_corrupted_blob_is_refused(work: Path, registries: Callable[..., Registry],
                                   image: tuple[ImageStore, Image],
                                   proxies: list[Proxy]) -> None:
    src, img = image
    reg = registries()
    src.push(img, f"{reg.address}/test/busybox:v1", tls_verify=False)
    proxy = Proxy(reg.address, after=2 << 20, corrupt=True)
    proxies.append(proxy)
    dst = ImageStore(str(work / "dst"), durable=False)
    with pytest.raises(DigestMismatch, match="digest"):
        dst.pull(f"{proxy.address}/test/busybox:v1", tls_verify=False, jobs=1)
    _nothing_half_done(dst)
    big = max(img.manifest.layers, key=lambda d: d.size)
    assert not dst.content.has(big.digest) and not dst.content.has(img.digest)


def _skopeo(*args: str) -> None:
    r = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 0, f"skopeo {args}: {r.stderr}"


def test_skopeo_reads_what_we_push_and_we_pull_what_it_pushes(
        work: Path, registries: Callable[..., Registry],
        image: tuple[ImageStore, Image]) -> None:
    src, img = image
    reg = registries()
    src.push(img, f"{reg.address}/ours/busybox:v1", tls_verify=False)
    _skopeo("copy", "--src-tls-verify=false", f"docker://{reg.address}/ours/busybox:v1",
            f"oci:{work / 'from-ours'}:v1")
    index = json.loads((work / "from-ours" / "index.json").read_text())
    assert [m["digest"] for m in index["manifests"]] == [img.digest]

    _skopeo("copy", "--dest-tls-verify=false", f"oci:{work / 'layout'}:v1",
            f"docker://{reg.address}/theirs/busybox:v2")
    dst = ImageStore(str(work / "dst"), durable=False)
    pulled = dst.pull(f"{reg.address}/theirs/busybox:v2", tls_verify=False)
    assert pulled.digest == img.digest
    assert not diff_snapshots(_merged(src, img, work / "a"), _merged(dst, pulled, work / "b"))


class _Server:
    """A small HTTP server on 127.0.0.1 in a thread; *handle* answers every GET."""

    def __init__(self, handle: Callable[[http.server.BaseHTTPRequestHandler], None]) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
        assert not self.thread.is_alive()


def _reply(h: http.server.BaseHTTPRequestHandler, status: int, body: bytes = b"",
           **headers: str) -> None:
    h.send_response(status)
    for k, v in headers.items():
        h.send_header(k.replace("_", "-"), v)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def test_redirect_to_blob_storage_gets_no_credentials(
        work: Path, image: tuple[ImageStore, Image]) -> None:
    """A registry that sends blob reads to a storage service on another host (as S3-backed
    ones do): the redirect is followed, and the registry's credentials stay with it."""
    src, img = image
    storage_auth: list[str | None] = []
    blobs = {d: src.content.read(d, limit=64 << 20)
             for d in [img.manifest.config.digest, *(x.digest for x in img.manifest.layers)]}
    manifest = src.content.read(img.digest)
    expected = "Basic " + base64.b64encode(b"carol:pw").decode()

    def storage(h: http.server.BaseHTTPRequestHandler) -> None:
        storage_auth.append(h.headers.get("Authorization"))
        _reply(h, 200, blobs[h.path.split("/")[2].split("?")[0]])

    store_srv = _Server(storage)

    def front(h: http.server.BaseHTTPRequestHandler) -> None:
        if h.headers.get("Authorization") != expected:
            _reply(h, 401, WWW_Authenticate='Basic realm="front"')
        elif h.path == "/v2/":
            _reply(h, 200, b"{}")
        elif h.path == "/v2/app/manifests/v1":
            _reply(h, 200, manifest, Content_Type=img.manifest.media_type)
        else:  # the storage host by another name: another origin for the client
            digest = h.path.rsplit("/", 1)[1]
            _reply(h, 307, Location=f"http://localhost:{store_srv.port}/blob/{digest}?sig=x")

    front_srv = _Server(front)
    try:
        dst = ImageStore(str(work / "dst"), durable=False)
        pulled = dst.pull(f"127.0.0.1:{front_srv.port}/app:v1", tls_verify=False,
                          auth=("carol", "pw"))
    finally:
        front_srv.close()
        store_srv.close()
    assert pulled.digest == img.digest
    assert len(storage_auth) == len(blobs) and storage_auth == [None] * len(blobs)


def test_manifests_we_refuse(work: Path, image: tuple[ImageStore, Image]) -> None:
    """A registry's answers that pycontain does not take: a manifest that is not the digest
    asked for, a schema1 manifest, a manifest that does not match the registry's own
    Docker-Content-Digest; each is one clear error and the store keeps nothing."""
    src, img = image
    manifest = src.content.read(img.digest)
    other = manifest.replace(b'"schemaVersion": 2', b'"schemaVersion":2')
    schema1 = json.dumps({"schemaVersion": 1, "name": "app", "tag": "v1",
                          "fsLayers": [], "signatures": []}).encode()

    def front(h: http.server.BaseHTTPRequestHandler) -> None:
        if h.path == "/v2/":
            _reply(h, 200, b"{}")
        elif h.path == f"/v2/app/manifests/{img.digest}":
            _reply(h, 200, other, Content_Type=img.manifest.media_type)
        elif h.path == "/v2/app/manifests/old":
            _reply(h, 200, schema1,
                   Content_Type="application/vnd.docker.distribution.manifest.v1+prettyjws")
        elif h.path == "/v2/app/manifests/lies":
            _reply(h, 200, manifest, Content_Type=img.manifest.media_type,
                   Docker_Content_Digest="sha256:" + "0" * 64)
        else:
            _reply(h, 500, b'{"errors":[{"code":"UNKNOWN","message":"storage is down"}]}')

    srv = _Server(front)
    dst = ImageStore(str(work / "dst"), durable=False)
    base = f"127.0.0.1:{srv.port}/app"
    try:
        assert other != manifest
        with pytest.raises(DigestMismatch, match="the registry sent content with digest"):
            dst.pull(f"{base}@{img.digest}", tls_verify=False)
        with pytest.raises(InvalidImage, match="mediaType: unsupported media type .*v1"):
            dst.pull(f"{base}:old", tls_verify=False)
        with pytest.raises(DigestMismatch, match="the registry says sha256:0000"):
            dst.pull(f"{base}:lies", tls_verify=False)
        with pytest.raises(RegistryError, match="500 .*UNKNOWN: storage is down") as err:
            dst.pull(f"{base}:v1", tls_verify=False)
        assert err.value.status == 500
    finally:
        srv.close()
    _nothing_half_done(dst)
    assert not list(dst.content.digests())
