"""Debian's ``docker-registry`` (the distribution project's registry) started for a test or a
bench on 127.0.0.1 and a free port, with its storage and config in a directory of the
caller's; optionally with basic auth (an htpasswd file made with ``htpasswd -B``), TLS (a
CA and a server certificate for 127.0.0.1 made with the openssl CLI), or bearer tokens from
a small token service of the test's own (JWTs signed ES256 with the openssl CLI, the
signing certificate in the ``x5c`` header, as the registry's ``auth.token`` checks them)."""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import os
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

REGISTRY = "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(*args: str) -> None:
    r = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"{args}: {r.stderr}")


def make_tls(dest: Path) -> tuple[Path, Path, Path]:
    """A CA (``ca.pem``) and a certificate for 127.0.0.1 it signed (``cert.pem``,
    ``key.pem``) under *dest*."""
    dest.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (dest / n for n in
                                  ("ca-key.pem", "ca.pem", "key.pem", "req.csr", "cert.pem"))
    _run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
         "-subj", "/CN=pycontain test CA")
    _run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    ext = dest / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
         "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return ca, cert, key


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _der_ecdsa_to_jose(der: bytes) -> bytes:
    """An ECDSA signature as openssl writes it (DER: SEQUENCE of r, s) in JOSE's form (r
    and s as 32 bytes each)."""
    assert der[0] == 0x30
    pos = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[pos] == 0x02
        n = der[pos + 1]
        out += der[pos + 2:pos + 2 + n].lstrip(b"\0").rjust(32, b"\0")
        pos += 2 + n
    return out


class TokenServer:
    """A bearer token service on 127.0.0.1: anyone gets ``pull`` on every repository;
    *users* (basic auth on the token request) get every action they ask for."""

    service = "pycontain-test-registry"
    issuer = "pycontain-test-tokens"

    def __init__(self, workdir: Path, users: dict[str, str] | None = None) -> None:
        self.ca, _, _ = make_tls(workdir / "token-tls")
        self.key = workdir / "token-tls" / "ca-key.pem"
        pem = self.ca.read_text().split("-----")[2]
        self.x5c = "".join(pem.split())
        self.users = users or {}
        self.requests: list[tuple[str | None, list[str]]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer._answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def _answer(self, h: http.server.BaseHTTPRequestHandler) -> None:
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(h.path).query)
        user = None
        auth = h.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            name, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            if self.users.get(name) != pw:
                h.send_response(401)
                h.end_headers()
                return
            user = name
        scopes = q.get("scope", [])
        self.requests.append((user, scopes))
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")
            granted = actions.split(",") if user else ["pull"]
            access.append({"type": kind, "name": name,
                           "actions": [a for a in actions.split(",") if a in granted]})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "x5c": [self.x5c]}
        claims = {"iss": self.issuer, "sub": user or "", "aud": self.service,
                  "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": os.urandom(8).hex(), "access": access}
        signing_input = (_b64url(json.dumps(header).encode()) + "."
                         + _b64url(json.dumps(claims).encode())).encode()
        der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                             input=signing_input, capture_output=True, check=True).stdout
        token = signing_input.decode() + "." + _b64url(_der_ecdsa_to_jose(der))
        body = json.dumps({"token": token, "expires_in": 300}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class Registry:
    """One registry process; :meth:`stop` kills it (by its pid) and waits for it."""

    def __init__(self, workdir: Path, *, users: dict[str, str] | None = None,
                 tls: bool = False, token: TokenServer | None = None) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.ca: Path | None = None
        lines = ["version: 0.1", "log:", "  level: error", "  accesslog:", "    disabled: true",
                 "storage:", "  filesystem:", f"    rootdirectory: {workdir / 'data'}",
                 "  delete:", "    enabled: true",
                 "http:", f"  addr: {self.address}"]
        if tls:
            self.ca, cert, key = make_tls(workdir / "tls")
            lines += ["  tls:", f"    certificate: {cert}", f"    key: {key}"]
        if users:
            htpasswd = workdir / "htpasswd"
            for i, (user, password) in enumerate(users.items()):
                flags = "-bBc" if i == 0 else "-bB"
                _run("htpasswd", flags, str(htpasswd), user, password)
            lines += ["auth:", "  htpasswd:", "    realm: pycontain-test",
                      f"    path: {htpasswd}"]
        if token:
            lines += ["auth:", "  token:", f"    realm: {token.realm}",
                      f"    service: {token.service}", f"    issuer: {token.issuer}",
                      f"    rootcertbundle: {token.ca}"]
        config = workdir / "config.yml"
        config.write_text("\n".join(lines) + "\n")
        self._log = open(workdir / "registry.log", "wb")  # noqa: SIM115 (closed by stop)
        self.proc = subprocess.Popen([REGISTRY, "serve", str(config)], stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            self._wait(tls)
        except BaseException:
            self.stop()
            raise

    def _wait(self, tls: bool) -> None:
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("docker-registry exited: "
                                   + (self.workdir / "registry.log").read_text())
            try:
                if tls:
                    ctx = ssl.create_default_context(cafile=str(self.ca))
                    c: http.client.HTTPConnection = http.client.HTTPSConnection(
                        self.address, timeout=2, context=ctx)
                else:
                    c = http.client.HTTPConnection(self.address, timeout=2)
                c.request("GET", "/v2/")
                c.getresponse().read()
                c.close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self._log.close()

    def blob_count(self) -> int:
        """How many blobs the registry's storage holds."""
        root = self.workdir / "data" / "docker" / "registry" / "v2" / "blobs"
        return sum(1 for _dirpath, _dirs, files in os.walk(root) for f in files if f == "data")
