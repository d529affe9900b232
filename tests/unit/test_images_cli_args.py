"""The image verbs' own parsing: ``import --change`` instructions, ``--platform``, sizes."""

from __future__ import annotations

import pytest

from pycontain.cli.images import human_size, parse_platform
from pycontain.cli.images.import_ import parse_changes
from pycontain.errors import ConfigError
from pycontain.images import Platform


def test_changes_become_the_config_section() -> None:
    cfg = parse_changes(['CMD ["/bin/app", "-v"]', "ENTRYPOINT /bin/sh -x",
                         "ENV A=1 B='two words'", "ENV C=3", "WORKDIR /srv", "USER app:staff",
                         "LABEL x=y", "EXPOSE 80 53/udp", "stopsignal SIGQUIT"])
    assert cfg == {"Cmd": ["/bin/app", "-v"], "Entrypoint": ["/bin/sh", "-c", "/bin/sh -x"],
                   "Env": ["A=1", "B=two words", "C=3"], "WorkingDir": "/srv",
                   "User": "app:staff", "Labels": {"x": "y"},
                   "ExposedPorts": {"80/tcp": {}, "53/udp": {}}, "StopSignal": "SIGQUIT"}


@pytest.mark.parametrize(("change", "message"), [
    ("FROM busybox", "--change: expected one of CMD"),
    ("CMD", "--change: expected one of CMD"),
    ('CMD ["a", 1]', "--change: CMD: not a JSON list of strings"),
    ("CMD [oops", "--change: CMD: not a JSON list of strings"),
    ("ENV NOVALUE", "--change: ENV: expected NAME=VALUE"),
])
def test_bad_changes_name_the_option(change: str, message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace("[", r"\[")):
        parse_changes([change])


def test_platform_and_sizes() -> None:
    assert parse_platform(None) is None
    assert parse_platform("linux/arm64/v8") == Platform(architecture="arm64", os="linux",
                                                        variant="v8")
    assert parse_platform("linux/amd64") == Platform(architecture="amd64", os="linux")
    for bad in ("linux", "linux/", "a/b/c/d"):
        with pytest.raises(ConfigError, match="^--platform: expected OS/ARCH"):
            parse_platform(bad)
    assert [human_size(n) for n in (0, 999, 1000, 1_234_567, 5 * 10**9)] == [
        "0B", "999B", "1kB", "1.23MB", "5GB"]
