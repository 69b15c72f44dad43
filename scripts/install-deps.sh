#!/usr/bin/env bash
# Installs what svcc's tests need on a fresh Debian 12 machine (idempotent; run as root):
# the lab's packages (test/lab/install-deps.sh, which never lets a package start a daemon on
# the machine), plus systemd (systemd-analyze verify), podman (verify checks that the
# executables the generated units name exist, and the fixtures cover podman units), lintian
# (the .deb's check), zsh (the completion script is loaded by a real zsh) and python3 when no
# python3 is on the PATH (the INI reader is tested
# against Python's configparser); then Debian 12's own nodejs 18, downloaded but not installed
# (test/packaging/deb.test.ts installs it with the .deb in a throwaway chroot).
set -euo pipefail
here="$(dirname "$0")/.."
extra=(systemd podman lintian zsh)
command -v python3 >/dev/null 2>&1 || extra+=(python3)
bash "$here/test/lab/install-deps.sh" "${extra[@]}"
bash "$here/test/packaging/fetch-bookworm-node.sh"
