"""Docker's detach keys: the sequence typed on an attached terminal that leaves the
container running (``ctrl-p,ctrl-q`` unless ``--detach-keys`` says otherwise).

The sequence is caught on our side of the attach socket: the monitor only passes bytes on,
and a sequence split over two reads must still be seen whole, so the bytes of a partial
match are held back until the next key says whether they were the start of it.
"""

from __future__ import annotations

from attrs import define

from pycontain.errors import ConfigError

__all__ = ["DEFAULT", "EscapeFilter", "parse"]

DEFAULT = "ctrl-p,ctrl-q"
#: the keys that ``ctrl-`` goes with besides letters, and their control codes
_CTRL_EXTRA = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse(value: str, option: str = "--detach-keys") -> bytes:
    """The bytes of a sequence written as Docker writes it: keys separated by commas, each
    one character (``a``) or ``ctrl-X`` (X a letter or one of ``@[\\]^_``)."""
    if not isinstance(value, str) or not value:
        raise ConfigError(option, "expected keys such as ctrl-p,ctrl-q")
    out = bytearray()
    for key in value.split(","):
        low = key.lower()
        if len(key) == 1 and key.isascii():
            out.append(ord(key))
        elif low.startswith("ctrl-") and len(key) == 6:
            c = low[5]
            if "a" <= c <= "z":
                out.append(ord(c) - ord("a") + 1)
            elif c in _CTRL_EXTRA:
                out.append(_CTRL_EXTRA[c])
            else:
                raise ConfigError(option, f"{key!r}: ctrl- goes with a letter or one of "
                                  "@[\\]^_")
        else:
            raise ConfigError(option, f"{key!r} is not a key (one character, or ctrl-X)")
    return bytes(out)


@define
class EscapeFilter:
    """Input with the detach sequence taken out: :meth:`feed` returns what goes to the
    container and whether the sequence was typed (what followed it is dropped)."""

    keys: bytes
    held: int = 0   # how many of the keys have been typed in a row, not yet passed on

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        out = bytearray()
        for b in data:
            if b == self.keys[self.held]:
                self.held += 1
                if self.held == len(self.keys):
                    self.held = 0
                    return bytes(out), True
                continue
            if self.held:
                # not the sequence after all: what was held back was typed for the container
                out += self.keys[:self.held]
                self.held = 0
                if b == self.keys[0]:
                    self.held = 1
                    continue
            out.append(b)
        return bytes(out), False
