#!/usr/bin/env bash
# Downloads (never installs) Debian 12's own nodejs 18 and what it needs beyond a Debian 12
# machine, for test/packaging/deb.test.ts: it installs them and svcc's .deb into a throwaway
# chroot, because the .deb depends on nodejs (>= 18.19) and that is how we know the bundles
# run on the Node that bookworm ships. Idempotent: a complete download is kept.
set -euo pipefail
dir=${1:-/var/cache/svcc-test/bookworm-node}
if [ -f "$dir/complete" ]; then
  echo "bookworm node: cached in $dir"
  exit 0
fi
mkdir -p "$dir"
rm -f "$dir"/*.deb

# The version from Debian's own archive (not NodeSource's, which may be installed).
debian_version() { apt-cache madison "$1" | awk -F'|' '$3 ~ /debian\.org/ { gsub(/ /, "", $2); print $2; exit }'; }
version=$(debian_version nodejs)
if [ -z "$version" ]; then
  apt-get update -qq
  version=$(debian_version nodejs)
fi
if [ -z "$version" ]; then
  echo "bookworm node: no nodejs from Debian's archive in the apt lists" >&2
  exit 1
fi
packages=("nodejs=$version" "libnode108=$version" node-acorn node-cjs-module-lexer node-undici node-xtend node-busboy libc-ares2 libuv1)
for lib in libbrotli1 libicu72 libnghttp2-14 libssl3; do
  dpkg-query -W -f='${Status}' "$lib" 2>/dev/null | grep -q "install ok installed" || packages+=("$lib")
done
chown _apt "$dir" 2>/dev/null || true
(cd "$dir" && apt-get download -qq "${packages[@]}")
touch "$dir/complete"
echo "bookworm node: downloaded nodejs $version and ${#packages[@]} packages into $dir"
