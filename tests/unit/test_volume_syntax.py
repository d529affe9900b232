"""Docker's -v and --mount syntax, read into VolumeSpec; each bad value is one error naming
the flag and the value."""

from __future__ import annotations

import pytest

from pycontain.errors import ConfigError
from pycontain.storage.volumes import VolumeSpec, parse_mount, parse_volume


@pytest.mark.parametrize(("value", "spec"), [
    ("data:/var/lib/db", VolumeSpec("volume", "/var/lib/db", "data")),
    ("data:/db:ro", VolumeSpec("volume", "/db", "data", readonly=True)),
    ("data:/db:rw,nocopy", VolumeSpec("volume", "/db", "data", nocopy=True)),
    ("/srv/www:/www:ro,Z", VolumeSpec("bind", "/www", "/srv/www", readonly=True)),
    ("/srv/www/:/www/:rshared", VolumeSpec("bind", "/www", "/srv/www", propagation="rshared")),
    ("/scratch", VolumeSpec("volume", "/scratch")),
])
def test_dash_v(value: str, spec: VolumeSpec) -> None:
    assert parse_volume(value) == spec


@pytest.mark.parametrize(("value", "message"), [
    ("", r"^-v: expected SOURCE:TARGET"),
    ("a:b:c:d", r"^-v: expected SOURCE:TARGET"),
    ("data:relative", r"^-v: the container path must be absolute"),
    ("data:/x/../y", r"^-v: the container path may not contain"),
    ("data:/x:rx", r"^-v: unknown option 'rx'"),
    ("bad name:/x", r"^-v: 'bad name' is neither"),
    ("/host:/x:nocopy", r"^-v: nocopy is for named volumes"),
    ("data:/x:rshared", r"^-v: a propagation is for binds"),
])
def test_dash_v_errors(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_volume(value)


@pytest.mark.parametrize(("value", "spec"), [
    ("type=volume,source=data,target=/db", VolumeSpec("volume", "/db", "data")),
    ("src=data,dst=/db,readonly", VolumeSpec("volume", "/db", "data", readonly=True)),
    ("type=volume,destination=/anon", VolumeSpec("volume", "/anon")),
    ("type=bind,source=/srv,target=/srv,bind-propagation=rslave,ro=true",
     VolumeSpec("bind", "/srv", "/srv", readonly=True, propagation="rslave")),
    ("type=tmpfs,target=/run,tmpfs-size=64m,tmpfs-mode=1770",
     VolumeSpec("tmpfs", "/run", tmpfs_size=64 << 20, tmpfs_mode=0o1770)),
    ("type=volume,src=v,target=/v,volume-nocopy=true", VolumeSpec("volume", "/v", "v", nocopy=True)),
])
def test_dash_mount(value: str, spec: VolumeSpec) -> None:
    assert parse_mount(value) == spec


@pytest.mark.parametrize(("value", "message"), [
    ("type=nfs,target=/x", r"^--mount type: expected volume, bind or tmpfs"),
    ("type=volume,source=v", r"^--mount target: a target is required"),
    ("type=bind,source=rel,target=/x", r"^--mount source: a bind needs an absolute host path"),
    ("type=tmpfs,source=x,target=/x", r"^--mount source: a tmpfs has no source"),
    ("type=tmpfs,target=/x,tmpfs-mode=99", r"^--mount tmpfs-mode: expected an octal mode"),
    ("type=tmpfs,target=/x,tmpfs-size=lots", r"^--mount tmpfs-size: expected a size"),
    ("target=/x,readonly=maybe", r"^--mount readonly: expected true or false"),
    ("target=/x,colour=blue", r"^--mount: unknown key 'colour'"),
    ("target=/x,target=/y", r"^--mount: target given twice"),
    ("target", r"^--mount: expected key=value"),
])
def test_dash_mount_errors(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_mount(value)
