"""A managed container's health check as configured: Docker's ``HEALTHCHECK`` of an image
config and ``--health-*`` options of ``run``, as plain data kept in the container's spec.

Durations are in nanoseconds and 0 means "the default" (interval and timeout 30 s, start
period 0, retries 3), as in Docker's image config: that is what lets the command line's
options and an image's ``HEALTHCHECK`` be merged field by field (:func:`merge`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from ..lowlevel.record import Record, fields

__all__ = ["Healthcheck", "from_flags", "from_image", "merge", "parse_duration"]

DEFAULT_INTERVAL = 30_000_000_000
DEFAULT_TIMEOUT = 30_000_000_000
DEFAULT_START_PERIOD = 0
DEFAULT_RETRIES = 3
_MS = 1_000_000
_KINDS = ("CMD", "CMD-SHELL", "NONE")


def _strs(v: Any) -> tuple[str, ...]:
    if isinstance(v, (str, bytes)) or not all(isinstance(a, str) for a in v):
        raise ConfigError("healthcheck.test", f"expected a list of strings, not {v!r}")
    return tuple(v)


class Healthcheck(Record):
    """Docker's ``Healthcheck``: *test* is ``("CMD", prog, args...)`` (run as it is),
    ``("CMD-SHELL", "command line")`` (run by ``/bin/sh -c``), ``("NONE",)`` (checks
    disabled, an image's included), or empty (take the image's); *interval*, *timeout* and
    *start_period* in ns and *retries*, each 0 for the default."""

    test: tuple[str, ...] = ()
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    retries: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", _strs(self.test))
        t = self.test
        if t and t[0] not in _KINDS:
            raise ConfigError("healthcheck.test", f"{t[0]!r}: expected CMD, CMD-SHELL or NONE "
                              "first")
        if t[:1] == ("CMD",) and (len(t) < 2 or not t[1]):
            raise ConfigError("healthcheck.test", "CMD needs a program")
        if t[:1] == ("CMD-SHELL",) and (len(t) != 2 or not t[1].strip()):
            raise ConfigError("healthcheck.test", "CMD-SHELL takes one command line")
        if t[:1] == ("NONE",) and len(t) != 1:
            raise ConfigError("healthcheck.test", "NONE takes nothing after it")
        if any("\0" in a for a in t):
            raise ConfigError("healthcheck.test", "a NUL byte in the command")
        for name in ("interval", "timeout", "start_period"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"healthcheck.{name}", f"expected ns >= 0, not {v!r}")
            # Docker's lower bound: anything shorter would keep a machine busy checking
            if 0 < v < _MS:
                raise ConfigError(f"healthcheck.{name}", "at least 1 ms (or 0: the default)")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) \
                or self.retries < 0:
            raise ConfigError("healthcheck.retries", f"expected a count >= 0, not "
                              f"{self.retries!r}")

    @property
    def active(self) -> bool:
        """Whether there is a check to run (a test that is not NONE)."""
        return bool(self.test) and self.test[0] != "NONE"

    @property
    def argv(self) -> list[str]:
        """The command the check runs in the container."""
        if not self.active:
            raise ConfigError("healthcheck", "no health check is configured")
        if self.test[0] == "CMD-SHELL":
            return ["/bin/sh", "-c", self.test[1]]
        return list(self.test[1:])

    @property
    def interval_ns(self) -> int:
        return self.interval or DEFAULT_INTERVAL

    @property
    def timeout_ns(self) -> int:
        return self.timeout or DEFAULT_TIMEOUT

    @property
    def start_period_ns(self) -> int:
        return self.start_period or DEFAULT_START_PERIOD

    @property
    def retries_count(self) -> int:
        return self.retries or DEFAULT_RETRIES

    def to_json(self) -> dict[str, Any]:
        """Its fields as a container's record keeps them (read back by :func:`coerce`)."""
        d = {f.name: getattr(self, f.name) for f in fields(Healthcheck)}
        d["test"] = list(self.test)
        return d

    def to_docker(self) -> dict[str, Any]:
        """Docker's shape (``Config.Healthcheck`` of ``inspect``): zero fields left out."""
        out: dict[str, Any] = {"Test": list(self.test)}
        for key, v in (("Interval", self.interval), ("Timeout", self.timeout),
                       ("StartPeriod", self.start_period), ("Retries", self.retries)):
            if v:
                out[key] = v
        return out


def coerce(value: Any) -> Healthcheck | None:
    """A spec's field: a Healthcheck, its JSON (a record), or None."""
    if value is None or isinstance(value, Healthcheck):
        return value
    if isinstance(value, Mapping):
        names = {a.name for a in fields(Healthcheck)}
        unknown = set(value) - names
        if unknown:
            raise ConfigError("healthcheck", f"unknown fields {sorted(unknown)}")
        return Healthcheck(**value)
    raise ConfigError("healthcheck", f"expected a Healthcheck, not {value!r}")


def from_image(cfg: Mapping[str, Any]) -> Healthcheck | None:
    """The ``Healthcheck`` of an image's config (its ``config`` object), None without one."""
    raw = cfg.get("Healthcheck")
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigError("image config Healthcheck", f"expected an object, not {raw!r}")
    kw: dict[str, Any] = {}
    for key, name in (("Test", "test"), ("Interval", "interval"), ("Timeout", "timeout"),
                      ("StartPeriod", "start_period"), ("Retries", "retries")):
        v = raw.get(key)
        if v is not None:
            kw[name] = v
    try:
        return Healthcheck(**kw)
    except ConfigError as err:
        raise ConfigError("image config Healthcheck", str(err)) from None


def merge(user: Healthcheck | None, image: Healthcheck | None) -> Healthcheck | None:
    """Docker's rule: the user's settings where given (not empty, not 0), else the
    image's."""
    if user is None:
        return image
    if image is None:
        return user
    return Healthcheck(
        test=user.test or image.test, interval=user.interval or image.interval,
        timeout=user.timeout or image.timeout,
        start_period=user.start_period or image.start_period,
        retries=user.retries or image.retries)


def parse_duration(value: str | None, field: str) -> int:
    """A Go duration (``30s``, ``1m30s``, ``200ms``, ``0``) in ns; ConfigError naming
    *field* for anything else, negative durations included."""
    from .logformat import _duration_ns

    if value is None:
        return 0
    v = value.strip()
    ns = 0 if v in ("0", "+0", "-0") else _duration_ns(v) if v else None
    if ns is None:
        raise ConfigError(field, f"not a duration: {value!r}", hint="e.g. 30s, 1m30s, 500ms")
    if ns < 0:
        raise ConfigError(field, f"cannot be negative: {value!r}")
    if 0 < ns < _MS:
        raise ConfigError(field, f"at least 1ms (or 0: the default), not {value!r}")
    return ns


def from_flags(cmd: str | None = None, interval: str | None = None,
               timeout: str | None = None, start_period: str | None = None,
               retries: int | None = None, disabled: bool = False) -> Healthcheck | None:
    """``docker run``'s ``--health-cmd`` (a shell command line), ``--health-interval``,
    ``--health-timeout``, ``--health-start-period``, ``--health-retries`` and
    ``--no-healthcheck``; None when none is given (the image's check applies)."""
    given = cmd is not None or interval is not None or timeout is not None \
        or start_period is not None or retries is not None
    if disabled:
        if given:
            raise ConfigError("--no-healthcheck", "conflicts with the --health-* options")
        return Healthcheck(test=("NONE",))
    if not given:
        return None
    if cmd is not None and not cmd.strip():
        raise ConfigError("--health-cmd", "an empty command")
    if retries is not None and retries < 0:
        raise ConfigError("--health-retries", f"cannot be negative: {retries}")
    return Healthcheck(
        test=("CMD-SHELL", cmd) if cmd is not None else (),
        interval=parse_duration(interval, "--health-interval"),
        timeout=parse_duration(timeout, "--health-timeout"),
        start_period=parse_duration(start_period, "--health-start-period"),
        retries=retries or 0)
