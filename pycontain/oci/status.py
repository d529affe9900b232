"""A container's status and the document ``runc state`` prints: shared by the runtime's
light record (:mod:`pycontain.oci.state`) and the typed models
(:mod:`pycontain.oci.state_models`)."""

from __future__ import annotations

from pycontain._lazy import loader
from pycontain.oci.rfc3339 import format_rfc3339

from ..lowlevel import jsontext

TYPE_CHECKING = False
if TYPE_CHECKING:
    import datetime
    from collections.abc import Mapping
    from typing import Any

    from .status_enum import Status

__all__ = ["Status", "oci_document", "runc_document", "runc_json_text"]


# Status, an enum.StrEnum, is defined on first use (.status_enum): a command line's create,
# exec or run compares the plain texts, which equal its members, and never imports enum
__getattr__ = loader(__name__, {"Status": "pycontain.oci.status_enum"})


def oci_document(*, oci_version: str, id: str, status: str, pid: int | None, bundle: str,
                 annotations: Mapping[str, str]) -> dict[str, Any]:
    """The runtime-spec state (what hooks read on stdin), in the spec's order: ``pid`` only
    while there is one (runc leaves out 0), ``annotations`` only when there are some."""
    out: dict[str, Any] = {"ociVersion": oci_version, "id": id, "status": str(status)}
    if pid:
        out["pid"] = pid
    out["bundle"] = bundle
    if annotations:
        out["annotations"] = dict(annotations)
    return out


def runc_document(*, oci_version: str, id: str, pid: int, status: Status | str, bundle: str,
                  rootfs: str, created: datetime.datetime | str, annotations: Mapping[str, str],
                  owner: str) -> dict[str, Any]:
    """The JSON object ``runc state`` prints, in runc's order (``annotations`` only when there
    are some): the one writer of that document."""
    out: dict[str, Any] = {
        "ociVersion": oci_version, "id": id, "pid": pid, "status": str(status),
        "bundle": bundle, "rootfs": rootfs, "created": created if isinstance(created, str) else format_rfc3339(created),
    }
    if annotations:
        out["annotations"] = dict(annotations)
    out["owner"] = owner
    return out


def runc_json_text(doc: Mapping[str, Any]) -> str:
    """The text ``runc state`` prints for *doc*: two-space indents, no final newline, and
    ``<``, ``>``, ``&`` escaped as Go's encoder does."""
    text = jsontext.dumps(doc, indent=2, ensure_ascii=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text
