"""OCI runtime-spec support: ``config.json`` models, the state document, runc's defaults.

The models live in :mod:`pycontain.oci.spec`, the state in :mod:`pycontain.oci.state`,
``runc spec``'s template in :mod:`pycontain.oci.defaults`, capability numbers in
:mod:`pycontain.oci.capabilities`.
"""

from __future__ import annotations

from pycontain.oci.defaults import default_spec
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
from pycontain.oci.state import (
    RuncState,
    State,
    Status,
    dump_runc_state,
    dump_state,
    load_runc_state,
    load_state,
    runc_state_json,
)

__all__ = [
    "OCI_VERSION",
    "RuncState",
    "Spec",
    "SpecWarning",
    "State",
    "Status",
    "default_spec",
    "dump_process",
    "dump_runc_state",
    "dump_spec",
    "dump_state",
    "load_process",
    "load_runc_state",
    "load_spec",
    "load_state",
    "runc_state_json",
    "validate_for_create",
]
