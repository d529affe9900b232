"""Docker's detach keys: how ``--detach-keys`` is read, and the sequence taken out of the
input however the reads split it."""

from __future__ import annotations

import pytest

from pycontain.cli.detachkeys import DEFAULT, EscapeFilter, parse
from pycontain.errors import ConfigError


def test_parse_docker_spellings() -> None:
    assert parse(DEFAULT) == b"\x10\x11"
    assert parse("ctrl-a,x") == b"\x01x"
    assert parse("CTRL-Z,ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_") == \
        b"\x1a\x00\x1b\x1c\x1d\x1e\x1f"
    assert parse("a,b,c") == b"abc"


@pytest.mark.parametrize("bad", ["", "ctrl-1", "ctrl-", "ab", "a,,b", "alt-x", "é"])
def test_parse_refuses_with_the_option_named(bad: str) -> None:
    with pytest.raises(ConfigError, match="^--detach-keys: "):
        parse(bad)


def test_filter_passes_input_and_catches_the_sequence() -> None:
    f = EscapeFilter(b"\x10\x11")
    assert f.feed(b"ls\r") == (b"ls\r", False)
    assert f.feed(b"a\x10\x11rest") == (b"a", True)


def test_filter_holds_a_partial_match_across_reads() -> None:
    f = EscapeFilter(b"\x10\x11")
    assert f.feed(b"x\x10") == (b"x", False)     # held back: maybe the start of it
    assert f.feed(b"\x11") == (b"", True)
    f = EscapeFilter(b"\x10\x11")
    assert f.feed(b"\x10") == (b"", False)
    assert f.feed(b"y") == (b"\x10y", False)     # not it after all: passed on in order
    assert f.feed(b"\x10\x10") == (b"\x10", False)
    assert f.feed(b"\x11") == (b"", True)


def test_filter_of_one_key() -> None:
    f = EscapeFilter(b"q")
    assert f.feed(b"abc") == (b"abc", False)
    assert f.feed(b"q") == (b"", True)
