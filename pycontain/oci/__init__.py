"""OCI runtime-spec support: ``config.json`` models, the state document, runc's defaults.

The models live in :mod:`pycontain.oci.spec`, the state in :mod:`pycontain.oci.state`,
``runc spec``'s template in :mod:`pycontain.oci.defaults` (capability numbers and the other
kernel tables are :mod:`pycontain.lowlevel.kernel`'s).  The names below are imported on first use, so that
``pycontain-runc state`` and friends do not pay for the config models they never read.
"""

from __future__ import annotations

from pycontain._lazy import loader

_EXPORTS = {
    "default_spec": "defaults",
    "OCI_VERSION": "spec",
    "Spec": "spec",
    "SpecWarning": "spec",
    "dump_process": "spec",
    "dump_spec": "spec",
    "load_process": "spec",
    "load_spec": "spec",
    "validate_for_create": "spec",
    "RuncState": "state",
    "State": "state",
    "Status": "state",
    "dump_runc_state": "state",
    "dump_state": "state",
    "load_runc_state": "state",
    "load_state": "state",
    "runc_state_json": "state",
}

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

TYPE_CHECKING = False
if TYPE_CHECKING:
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


__getattr__ = loader(__name__, _EXPORTS)
