"""Context managers written as generators, for the modules on the command lines' path.

:func:`contextlib.contextmanager` would do, but importing :mod:`contextlib` loads
:mod:`collections` and :mod:`functools`: with :mod:`enum`, about 3 ms of a ``pycontain-runc
create`` that needs none of them (docs/bench.md).  :func:`contextmanager` here keeps the same
contract for the generators our modules write:

- the generator yields exactly once; the value it yields is what ``with ... as`` binds;
- an exception raised in the block is raised in the generator at its ``yield``: re-raising it
  (or letting it through a ``finally``) propagates it unchanged, raising another replaces it,
  and returning normally suppresses it;
- a generator that does not yield, or yields twice, is a :class:`RuntimeError`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator
    from contextlib import AbstractContextManager
    from types import TracebackType
    from typing import Any, ParamSpec, TypeVar

    P = ParamSpec("P")
    T = TypeVar("T")

__all__ = ["contextmanager"]


class _GeneratorContext:
    """One use of a generator as a context manager."""

    __slots__ = ("_gen",)

    def __init__(self, gen: Generator[Any, None, None]) -> None:
        self._gen = gen

    def __enter__(self) -> Any:
        try:
            return next(self._gen)
        except StopIteration:
            raise RuntimeError("the context manager's generator did not yield") from None

    def __exit__(self, typ: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> bool:
        if typ is None:
            try:
                next(self._gen)
            except StopIteration:
                return False
            raise RuntimeError("the context manager's generator yielded twice")
        if value is None:  # an exception given by its type only
            value = typ()
        try:
            self._gen.throw(value)
        except StopIteration as done:
            # the generator returned: the block's exception is suppressed (unless it was a
            # StopIteration of its own, which ends up here as itself)
            return done is not value
        except BaseException as err:
            if err is value:
                return False  # the same exception goes on, with its own traceback
            if isinstance(value, StopIteration) and err.__cause__ is value:
                return False  # PEP 479 turned the block's StopIteration into RuntimeError
            raise
        raise RuntimeError("the context manager's generator yielded again after an exception")


def contextmanager(fn: Callable[P, Iterator[T]]) -> Callable[P, AbstractContextManager[T]]:
    """Make the generator function *fn* a context manager factory (as
    :func:`contextlib.contextmanager` does)."""

    def make(*args: P.args, **kwargs: P.kwargs) -> AbstractContextManager[T]:
        return _GeneratorContext(fn(*args, **kwargs))  # type: ignore[arg-type]

    make.__name__ = fn.__name__
    make.__qualname__ = fn.__qualname__
    make.__doc__ = fn.__doc__
    make.__module__ = fn.__module__
    make.__wrapped__ = fn  # type: ignore[attr-defined]
    return make
