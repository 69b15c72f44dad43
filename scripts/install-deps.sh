#!/usr/bin/env bash
# Installs what svcc's tests need on a fresh Debian 12 machine (idempotent; run as root):
# the lab's packages (test/lab/install-deps.sh, which never lets a package start a daemon on
# the machine), plus systemd (systemd-analyze verify), podman (verify checks that the
# executables the generated units name exist, and the fixtures cover podman units) and python3
# when no python3 is on the PATH (the INI reader is tested against Python's configparser).
set -euo pipefail
extra=(systemd podman)
command -v python3 >/dev/null 2>&1 || extra+=(python3)
exec bash "$(dirname "$0")/../test/lab/install-deps.sh" "${extra[@]}"
