#!/usr/bin/env bash
# Installs what svcc's tests need on a fresh Debian 12 machine (idempotent; run as root):
# the lab's packages (test/lab/install-deps.sh, which never lets a package start a daemon on
# the machine), plus systemd (systemd-analyze verify) and podman (verify checks that the
# executables the generated units name exist, and the fixtures cover podman units).
set -euo pipefail
exec bash "$(dirname "$0")/../test/lab/install-deps.sh" systemd podman
