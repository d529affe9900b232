"""A client of the OCI distribution (registry v2) HTTP API.

One :class:`RegistryClient` talks to one registry: it decides the scheme once (``GET /v2/``:
HTTPS with the system's CAs, or with the caller's ``ca_file``; plain HTTP only with
``tls_verify=False``, as podman's ``--tls-verify=false``), answers the registry's
``WWW-Authenticate`` challenge (a bearer token per repository scope, or basic auth), and
keeps one kept-alive connection per thread and host, so that blobs can be fetched from a
pool of threads.  It knows requests and responses only; what to fetch and where to keep it
is :mod:`pycontain.images.transfer`'s.

Redirects (blob storage behind a registry) are followed for blob reads, and the
``Authorization`` header goes only to the registry's own host: credentials are never
handed to a storage service another host runs.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import ssl
import threading
from collections.abc import Callable
from typing import Protocol, Self
from urllib.parse import urlencode, urljoin, urlsplit

from pycontain.errors import ManifestUnknown, RegistryAuthError, RegistryError
from pycontain.images.auth import Challenge, Credentials, parse_challenges
from pycontain.images.manifest import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST

__all__ = ["MANIFEST_ACCEPT", "RegistryClient", "api_host"]

#: what a manifest request accepts: an index first-class, so platform selection is ours
MANIFEST_ACCEPT = f"{OCI_INDEX}, {OCI_MANIFEST}, {DOCKER_LIST}, {DOCKER_MANIFEST}"
USER_AGENT = "pycontain"
_API_HOSTS = {"docker.io": "registry-1.docker.io"}
_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 5
_BLOCK = 1 << 20
_MAX_ERROR_BODY = 64 << 10


class Readable(Protocol):
    """A request body http.client reads in blocks (a blob file, a slice of one)."""

    def read(self, n: int = -1, /) -> bytes:
        """At most *n* bytes (all that is left for -1); empty at the end."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the stream."""
        raise NotImplementedError


#: a request body: bytes, or a callable that opens a fresh stream (to send it again)
Body = bytes | Callable[[], Readable] | None


def api_host(domain: str) -> str:
    """The host that serves the API of the registry *domain* (Docker Hub's is not its
    name)."""
    return _API_HOSTS.get(domain, domain)


def _registry_errors(body: bytes) -> str:
    """The ``errors`` a registry's JSON error body holds, as one line."""
    try:
        errors = json.loads(body).get("errors") or []
        parts = []
        for e in errors:
            code, msg = e.get("code", ""), e.get("message", "")
            detail = e.get("detail")
            text = f"{code}: {msg}" if code and msg else code or msg
            if detail and isinstance(detail, (str, int)):
                text += f" ({detail})"
            parts.append(text)
        return "; ".join(p for p in parts if p)
    except (ValueError, AttributeError, TypeError):
        return body[:200].decode("utf-8", "replace").strip()


class RegistryClient:
    """Requests to the registry *domain* (``host[:port]``, as in a reference).

    *credentials*: for a registry that asks (basic auth, or the bearer token service);
    *tls_verify*: False allows plain HTTP and certificates that do not verify;
    *ca_file*: a PEM file of CAs to trust instead of the system's; *timeout*: seconds a
    connect or a read may wait.  Close it (or use it as a context manager) to close its
    connections, those of every thread."""

    def __init__(self, domain: str, *, credentials: Credentials | None = None,
                 tls_verify: bool = True, ca_file: str | None = None,
                 timeout: float = 60.0) -> None:
        self.domain = domain
        self.host = api_host(domain)
        self.credentials = credentials
        self.tls_verify = tls_verify
        self.timeout = timeout
        if tls_verify:
            self._ctx = ssl.create_default_context(cafile=ca_file)
        else:
            self._ctx = ssl.create_default_context()
            self._ctx.check_hostname = False
            self._ctx.verify_mode = ssl.CERT_NONE
        self.scheme: str | None = None
        self._challenge: Challenge | None = None
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        self._token_lock = threading.Lock()
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection, whichever thread opened it."""
        with self._lock:
            conns, self._all = self._all, []
        for c in conns:
            c.close()

    # -- connections ------------------------------------------------------------------------

    @property
    def base(self) -> str:
        if self.scheme is None:
            self.ping()
        return f"{self.scheme}://{self.host}"

    def _conn(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        conns: dict[tuple[str, str], http.client.HTTPConnection] = \
            self._local.__dict__.setdefault("conns", {})
        c = conns.get((scheme, netloc))
        if c is None:
            if scheme == "https":
                c = http.client.HTTPSConnection(netloc, timeout=self.timeout,
                                                context=self._ctx, blocksize=_BLOCK)
            elif scheme == "http":
                c = http.client.HTTPConnection(netloc, timeout=self.timeout, blocksize=_BLOCK)
            else:
                raise RegistryError(f"registry {self.domain}: cannot follow a {scheme}: URL")
            conns[(scheme, netloc)] = c
            with self._lock:
                self._all.append(c)
        return c

    def drop_connections(self) -> None:
        """Close this thread's connections (after one broke mid-response)."""
        conns = self._local.__dict__.pop("conns", {})
        for c in conns.values():
            c.close()
            with self._lock, contextlib.suppress(ValueError):
                self._all.remove(c)

    def _send(self, method: str, url: str, headers: dict[str, str],
              body: Body = None) -> http.client.HTTPResponse:
        """One request on this thread's connection to the URL's host; a kept-alive
        connection the server had closed is retried once on a fresh one."""
        u = urlsplit(url)
        target = u.path + (f"?{u.query}" if u.query else "")
        for attempt in range(2):
            conn = self._conn(u.scheme, u.netloc)
            data = body() if callable(body) else body
            headers = {"User-Agent": USER_AGENT, **headers}
            try:
                conn.request(method, target, body=data, headers=headers)
                return conn.getresponse()
            except ssl.SSLCertVerificationError as err:
                self.drop_connections()
                raise RegistryError(
                    f"registry {self.domain}: TLS certificate of {u.netloc} not trusted: "
                    f"{err.verify_message}",
                    hint="pass ca_file= with the CA that signed it, or tls_verify=False "
                         "for a registry you trust without TLS") from None
            except ssl.SSLError as err:
                self.drop_connections()
                raise RegistryError(f"registry {self.domain}: TLS with {u.netloc} failed: "
                                    f"{err.reason or err}",
                                    hint="a registry that speaks plain HTTP needs "
                                         "tls_verify=False" if self.tls_verify else None,
                                    ) from None
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.drop_connections()
                if attempt or (body is not None and not callable(body)
                               and not isinstance(body, bytes)):
                    raise
            except OSError as err:
                self.drop_connections()
                raise RegistryError(f"registry {self.domain} unreachable ({u.netloc}): "
                                    f"{err.strerror or err}") from None
            finally:
                if callable(body) and data is not None and hasattr(data, "close"):
                    data.close()
        raise AssertionError("unreachable")

    # -- ping and auth ----------------------------------------------------------------------

    def ping(self) -> None:
        """``GET /v2/``: which scheme the registry speaks, and what auth it asks for."""
        schemes = ["https"] if self.tls_verify else ["https", "http"]
        for scheme in schemes:
            try:
                resp = self._send("GET", f"{scheme}://{self.host}/v2/", {})
            except RegistryError as err:
                if scheme == "https" and len(schemes) > 1 and "TLS" in str(err):
                    continue  # a plain-HTTP registry, allowed by tls_verify=False
                raise
            body = resp.read(_MAX_ERROR_BODY)
            if resp.status == 401:
                self._challenge = self._pick(resp)
            elif resp.status != 200:
                raise RegistryError(
                    f"{scheme}://{self.host}/v2/ answered {resp.status} {resp.reason}: not a "
                    f"registry of the distribution API ({_registry_errors(body)})",
                    status=resp.status)
            self.scheme = scheme
            return

    def _pick(self, resp: http.client.HTTPResponse) -> Challenge:
        challenges = parse_challenges(", ".join(resp.headers.get_all("WWW-Authenticate")
                                                or []))
        for want in ("bearer", "basic"):
            for c in challenges:
                if c.scheme == want:
                    return c
        raise RegistryAuthError(f"registry {self.domain} asks for authentication it does not "
                                "name (no Bearer or Basic WWW-Authenticate challenge)",
                                status=401)

    def _authorization(self, scope: str) -> str | None:
        ch = self._challenge
        if ch is None:
            return None
        if ch.scheme == "basic":
            return self.credentials.basic() if self.credentials else None
        with self._token_lock:
            if scope not in self._tokens:
                self._tokens[scope] = self._fetch_token(ch, scope)
            return self._tokens[scope]

    def _fetch_token(self, ch: Challenge, scope: str) -> str:
        """A bearer token for *scope* from the challenge's realm (the token service)."""
        realm = ch.params.get("realm")
        if not realm:
            raise RegistryAuthError(f"registry {self.domain}: Bearer challenge without a realm")
        query = [("scope", s) for s in scope.split(" ") if s]
        if ch.params.get("service"):
            query.insert(0, ("service", ch.params["service"]))
        url = realm + ("&" if "?" in realm else "?") + urlencode(query)
        headers = {"Authorization": self.credentials.basic()} if self.credentials else {}
        resp = self._send("GET", url, headers)
        body = resp.read(_MAX_ERROR_BODY)
        if resp.status != 200:
            cls = RegistryAuthError if resp.status in (401, 403) else RegistryError
            raise cls(f"registry {self.domain}: the token service {realm} refused "
                      f"{scope!r}: {resp.status} {resp.reason} {_registry_errors(body)}".rstrip(),
                      status=resp.status,
                      hint=None if self.credentials else "the registry wants credentials")
        try:
            data = json.loads(body)
            token = data.get("token") or data.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryAuthError(f"registry {self.domain}: the token service {realm} "
                                    "answered without a token")
        return f"Bearer {token}"

    # -- requests ---------------------------------------------------------------------------

    def request(self, method: str, path: str, *, scope: str,
                headers: dict[str, str] | None = None,
                body: Body = None) -> http.client.HTTPResponse:
        """*method* on *path* (``/v2/...``, or a URL the registry gave, such as an upload's
        ``Location``), authorised for *scope* (``repository:NAME:pull``); a 401 is answered
        once (a fresh token, or the basic credentials) and sent again."""
        url = urljoin(self.base + "/", path)
        for attempt in range(2):
            hdrs = dict(headers or {})
            if urlsplit(url).netloc == self.host:
                auth = self._authorization(scope)
                if auth:
                    hdrs["Authorization"] = auth
            resp = self._send(method, url, hdrs, body)
            if resp.status != 401:
                return resp
            had_auth = "Authorization" in hdrs
            resp.read(_MAX_ERROR_BODY)
            challenge = self._pick(resp)
            with self._token_lock:
                self._tokens.pop(scope, None)
            self._challenge = challenge
            if attempt or (had_auth and challenge.scheme == "basic") or (
                    challenge.scheme == "basic" and self.credentials is None):
                break
        who = f"as {self.credentials.username!r}" if self.credentials else "without credentials"
        raise RegistryAuthError(f"registry {self.domain} refused {method} {urlsplit(url).path} "
                                f"{who}: 401 unauthorized", status=401,
                                hint=None if self.credentials else
                                "pass auth=(user, password) or log in with podman/docker login")

    def fail(self, resp: http.client.HTTPResponse, what: str) -> RegistryError:
        """The error for an unexpected answer to *what*, with the registry's message."""
        body = resp.read(_MAX_ERROR_BODY)
        detail = _registry_errors(body)
        msg = f"{what}: {resp.status} {resp.reason}" + (f": {detail}" if detail else "")
        msg = f"registry {self.domain}: {msg}"
        if resp.status in (401, 403):
            return RegistryAuthError(msg, status=resp.status)
        if resp.status == 404 and "manifest" in what:
            return ManifestUnknown(msg, status=404)
        return RegistryError(msg, status=resp.status)

    def get(self, path: str, *, scope: str, headers: dict[str, str] | None = None,
            offset: int = 0) -> http.client.HTTPResponse:
        """GET *path*, following redirects (``Authorization`` to the registry's host only);
        *offset*: ask for the bytes from there on (``Range``)."""
        hdrs = dict(headers or {})
        if offset:
            hdrs["Range"] = f"bytes={offset}-"
        resp = self.request("GET", path, scope=scope, headers=hdrs)
        url = urljoin(self.base + "/", path)
        for _ in range(_MAX_REDIRECTS):
            if resp.status not in _REDIRECTS:
                return resp
            location = resp.getheader("Location")
            resp.read(_MAX_ERROR_BODY)
            if not location:
                raise RegistryError(f"registry {self.domain}: redirect without a Location for "
                                    f"{path}", status=resp.status)
            url = urljoin(url, location)
            if urlsplit(url).netloc == self.host:
                resp = self.request("GET", url, scope=scope, headers=hdrs)
            else:
                resp = self._send("GET", url, dict(hdrs))
        raise RegistryError(f"registry {self.domain}: more than {_MAX_REDIRECTS} redirects "
                            f"for {path}")
