"""Registry credentials and the ``WWW-Authenticate`` challenges that ask for them.

Credentials come from the caller, or from the files the other tools write on ``login``:
``$REGISTRY_AUTH_FILE`` or ``$XDG_RUNTIME_DIR/containers/auth.json`` (podman, skopeo,
buildah) first, then ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json`` (Docker).
Both keep an ``auths`` object of registry names to ``{"auth": base64("user:password")}``.
Credential helpers (``credsStore``) are not run: a library should not start programs the
caller did not name.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re

from attrs import define, field

from pycontain.errors import ConfigError

__all__ = ["Challenge", "Credentials", "auth_files", "find_credentials", "parse_challenges"]


@define(frozen=True)
class Credentials:
    """A user name and password (or token) for one registry."""

    username: str
    password: str = field(repr=False)

    def basic(self) -> str:
        """The ``Authorization`` header's value for HTTP basic auth."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


@define(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: its scheme (``bearer``, ``basic``) and its
    parameters (``realm``, ``service``, ``scope``)."""

    scheme: str
    params: dict[str, str]


# auth-param: token "=" ( token / quoted-string ), quoted-string with backslash escapes
_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*,?')
_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9_.-]*)(?:\s+|$)")


def parse_challenges(header: str) -> list[Challenge]:
    """The challenges of a ``WWW-Authenticate`` header (``Bearer realm="...",service=...``);
    what cannot be read is skipped, so an odd header gives no challenge rather than an
    exception in the middle of a pull."""
    out: list[Challenge] = []
    pos = 0
    while pos < len(header):
        m = _SCHEME.match(header, pos)
        if not m:
            break
        scheme, pos = m.group(1).lower(), m.end()
        params: dict[str, str] = {}
        while pos < len(header):
            p = _PARAM.match(header, pos)
            if not p:
                break
            value = p.group(2)
            value = re.sub(r"\\(.)", r"\1", value) if value is not None else p.group(3)
            params[p.group(1).lower()] = value
            pos = p.end()
        out.append(Challenge(scheme, params))
        if pos < len(header) and header[pos] == ",":
            pos += 1
    return out


def auth_files() -> list[str]:
    """The credential files, in the order they are searched."""
    out = []
    if os.environ.get("REGISTRY_AUTH_FILE"):
        out.append(os.environ["REGISTRY_AUTH_FILE"])
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    out.append(os.path.join(runtime, "containers", "auth.json"))
    docker = os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker")
    out.append(os.path.join(docker, "config.json"))
    return out


def _keys(domain: str) -> list[str]:
    """The names a login to *domain* may be kept under."""
    keys = [domain, f"https://{domain}", f"http://{domain}", f"https://{domain}/v1/",
            f"https://{domain}/v2/"]
    if domain == "docker.io":
        keys += ["https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io"]
    return keys


def _decode(path: str, key: str, entry: object) -> Credentials | None:
    where = f"{path}: auths.{key}"
    if not isinstance(entry, dict):
        raise ConfigError(where, "expected an object")
    auth = entry.get("auth")
    if not auth:
        user, pw = entry.get("username"), entry.get("password")
        if isinstance(user, str) and isinstance(pw, str) and user:
            return Credentials(user, pw)
        return None  # an entry a credential helper fills: nothing to use here
    if not isinstance(auth, str):
        raise ConfigError(f"{where}.auth", "expected a base64 string")
    try:
        raw = base64.b64decode(auth, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ConfigError(f"{where}.auth", "not base64 of 'user:password'") from None
    user, sep, pw = raw.partition(":")
    if not sep or not user:
        raise ConfigError(f"{where}.auth", "not base64 of 'user:password'")
    return Credentials(user, pw)


def find_credentials(domain: str, files: list[str] | None = None) -> Credentials | None:
    """The stored login for the registry *domain* (``host[:port]``), or None."""
    for path in files if files is not None else auth_files():
        try:
            with open(path, "rb") as f:
                data = json.load(f)
        except FileNotFoundError:
            continue
        except PermissionError:
            continue  # another user's file (a rootless caller's $XDG_RUNTIME_DIR/..)
        except ValueError as err:
            raise ConfigError(path, f"not valid JSON: {err}") from None
        auths = data.get("auths") if isinstance(data, dict) else None
        if not isinstance(auths, dict):
            continue
        for key in _keys(domain):
            if key in auths:
                creds = _decode(path, key, auths[key])
                if creds is not None:
                    return creds
    return None
