"""Ids and names of the engine's containers.

An id is 64 hex digits (256 random bits, Docker's length), so that any 12-digit prefix is
unique in practice and prefixes can be typed; a name is either given or made from an
adjective and a noun (``brave_turing``), which people remember more easily than an id.
"""

from __future__ import annotations

import os
import re

from ..errors import ConfigError

__all__ = ["check_name", "new_id", "random_name"]

_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*\Z")

_ADJECTIVES = (
    "agile", "bold", "brave", "bright", "calm", "clever", "cosy", "crisp", "eager", "fair",
    "fond", "gentle", "happy", "humble", "jolly", "keen", "kind", "lucid", "merry", "mellow",
    "nimble", "patient", "plucky", "proud", "quiet", "quick", "serene", "sharp", "sleepy",
    "steady", "sunny", "swift", "tender", "tidy", "upbeat", "vivid", "warm", "wise", "witty",
    "zesty",
)
_NOUNS = (
    "babbage", "bohr", "curie", "darwin", "dijkstra", "euler", "faraday", "fermi", "gauss",
    "hamming", "hopper", "hypatia", "kepler", "knuth", "lamport", "leibniz", "liskov",
    "lovelace", "maxwell", "meitner", "newton", "noether", "pascal", "planck", "ritchie",
    "shannon", "thompson", "torvalds", "turing", "wirth",
)


def new_id() -> str:
    """A fresh container id: 64 lowercase hex digits (os.urandom, as secrets.token_hex,
    whose import, hashlib's and hmac's, a ``run -d`` would wait for)."""
    return os.urandom(32).hex()


def random_name() -> str:
    """``adjective_noun``; the caller retries with a number appended when it is taken."""
    return f"{_choice(_ADJECTIVES)}_{_choice(_NOUNS)}"


def _choice(words: tuple[str, ...]) -> str:
    # a name needs no more than an even draw: 8 random bytes make the modulo's bias nil
    return words[int.from_bytes(os.urandom(8), "little") % len(words)]


def check_name(name: str, field: str = "name") -> str:
    """Docker's rule for names: a letter or digit, then letters, digits, ``_``, ``.`` and
    ``-``; at most 128 characters.  A 64-hex name would read as an id: refused."""
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 128:
        raise ConfigError(field, f"invalid container name {name!r}: use a letter or digit, "
                          "then letters, digits, '_', '.' and '-'")
    if re.fullmatch(r"[0-9a-f]{64}", name):
        raise ConfigError(field, f"{name!r} looks like a container id; choose another name")
    return name
