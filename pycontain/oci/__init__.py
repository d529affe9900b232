"""OCI runtime-spec support: ``config.json`` models, the state document, runc's defaults.

The models live in :mod:`pycontain.oci.spec`, the state in :mod:`pycontain.oci.state`,
``runc spec``'s template in :mod:`pycontain.oci.defaults`.
"""

from __future__ import annotations

from pycontain.oci.spec import (
    OCI_VERSION,
    Spec,
    SpecWarning,
    dump_process,
    dump_spec,
    load_process,
    load_spec,
    validate_for_create,
)

__all__ = [
    "OCI_VERSION",
    "Spec",
    "SpecWarning",
    "dump_process",
    "dump_spec",
    "load_process",
    "load_spec",
    "validate_for_create",
]
