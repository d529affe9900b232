"""``features``: what this runtime supports, as runc's features JSON document."""

from __future__ import annotations

import json

from ._args import parse
from ._common import Log, Options, spec_version, version

HOOKS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart",
         "poststop")


def main(opts: Options, args: list[str], log: Log) -> int:
    parse("features", args, lambda p: None)
    from pycontain.lowlevel.kernel import CAPABILITIES, MOUNT_OPTIONS
    from pycontain.oci.spec.values import (
        NAMESPACE_TYPES,
        SECCOMP_ACTIONS,
        SECCOMP_ARCHITECTURES,
        SECCOMP_OPERATORS,
    )

    doc = {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": spec_version(),
        "hooks": list(HOOKS),
        "mountOptions": sorted(MOUNT_OPTIONS),
        "linux": {
            "namespaces": sorted(NAMESPACE_TYPES),
            "capabilities": sorted(CAPABILITIES),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": {"enabled": True, "actions": sorted(SECCOMP_ACTIONS),
                        "operators": sorted(SECCOMP_OPERATORS),
                        "archs": sorted(SECCOMP_ARCHITECTURES)},
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
        },
        "annotations": {"org.opencontainers.runc.version": version(),
                        "io.github.pycontain.version": version()},
    }
    print(json.dumps(doc, indent=4))
    return 0
