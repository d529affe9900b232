#!/usr/bin/env bash
# Install what the test suite needs on a fresh Debian 12 machine, then run the whole suite.
# Run as root: the tests use real namespaces, cgroups and mounts.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq gcc libc6-dev python3-dev python3-pip libseccomp2 busybox-static runc iproute2 podman conmon netavark aardvark-dns catatonit containerd docker.io tini containernetworking-plugins iptables uidmap util-linux passwd passt nftables libnftables1 bubblewrap firejail umoci skopeo docker-registry apache2-utils >/dev/null
PY="${PYTHON:-python3}"
export PIP_BREAK_SYSTEM_PACKAGES=1  # Debian's own Python (PEP 668); others ignore it
"$PY" -m pip install -q --root-user-action=ignore -e '.[test]'
exec "$PY" -m pytest -q -p no:cacheprovider --timeout=600 tests "$@"
