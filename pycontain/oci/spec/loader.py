"""``config.json`` and ``process.json`` in and out: structuring (:mod:`.structure`) into the
models (:mod:`.models`), then the value checks (:mod:`.checks`)."""

from __future__ import annotations

from .checks import check_process, check_spec
from .models import OciProcess, Spec
from .structure import read_json, structure, unstructure

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from collections.abc import Mapping
    from typing import IO, Any

__all__ = ["dump_process", "dump_spec", "load_process", "load_spec"]


def load_spec(source: str | os.PathLike[str] | IO[str] | Mapping[str, Any]) -> Spec:
    """Read a ``config.json`` (path, open text file or parsed dict) into a checked :class:`Spec`.

    Raises :class:`~pycontain.errors.ConfigError` naming the JSON path of the first problem,
    :class:`OSError` if the file can't be read.
    """
    spec: Spec = structure(read_json(source), Spec)
    check_spec(spec)
    return spec


def load_process(source: str | os.PathLike[str] | IO[str] | Mapping[str, Any]) -> OciProcess:
    """Read a ``process.json`` (as ``runc exec --process`` takes) into a checked :class:`OciProcess`.

    Error paths start at the process object itself (``args``, ``capabilities.bounding[0]``).
    """
    process: OciProcess = structure(read_json(source), OciProcess)
    check_process(process, "")
    return process


def dump_spec(spec: Spec) -> dict[str, Any]:
    """The JSON-ready ``dict`` of *spec*, in the spec's field names and order."""
    return unstructure(spec)


def dump_process(process: OciProcess) -> dict[str, Any]:
    """The JSON-ready ``dict`` of *process*."""
    return unstructure(process)
