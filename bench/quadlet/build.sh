#!/usr/bin/env bash
# Builds Podman Quadlet's systemd generator (podman's cmd/quadlet, v4.9.5 by default) so that
# `npm run bench` runs it in the same run as svcc's generator (the per-unit ratio of issue 11).
# For the bench only: CI, the tests and the packages never need it.
#
# Output: bench/quadlet/bin/quadlet (git-ignored), and bench/quadlet/bin/quadlet.built naming
# the tag and the Go that built it. bench/run.mjs looks there, or at $QUADLET_BIN.
#
# Needs:
# - Go >= 1.18 (podman v4.4-v4.9's go.mod says `go 1.18`). Debian 12's own golang-1.19-go
#   builds it (`apt-get install golang-1.19-go`, then /usr/lib/go-1.19/bin/go is found here);
#   or $GO, or a `go` on PATH, or any /usr/lib/go-1.*/bin/go (newest first).
# - podman's source at the tag, from the first of:
#     PODMAN_SRC=/path/to/podman       a checkout or unpacked tree of the tag, used as it is;
#     PODMAN_GIT_DIR=/path/to/git-dir  a clone (bare or not) holding the tag: extracted from it;
#     neither: `git clone --depth 1 --branch $PODMAN_TAG https://github.com/containers/podman`
#     (the only step that needs the network).
# - Nothing else: podman vendors its Go dependencies (built with -mod=vendor, GOPROXY=off, so
#   Go never reaches the network), quadlet needs no C (CGO_ENABLED=0: no C compiler, no
#   libgpgme/libseccomp/btrfs headers, no build tags).
# PODMAN_TAG: default v4.9.5 (the last 4.x; v4.4.4 builds the same way). FORCE=1 rebuilds.
# Idempotent: when bin/quadlet.built already names this tag, it does nothing.
# Work files (the unpacked source, Go's build cache) go under $QUADLET_WORK (default
# bench/quadlet/.work, git-ignored); the unpacked source is removed after the build.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tag=${PODMAN_TAG:-v4.9.5}
bindir="$here/bin"
work=${QUADLET_WORK:-$here/.work}
say() { echo "quadlet build: $*" >&2; }
die() { say "$*"; exit 1; }

if [ -z "${FORCE:-}" ] && [ -x "$bindir/quadlet" ] && [ -f "$bindir/quadlet.built" ] &&
  [ "$(sed -n 's/^tag=//p' "$bindir/quadlet.built")" = "$tag" ]; then
  say "$bindir/quadlet is already podman $tag's quadlet (FORCE=1 rebuilds)"
  exit 0
fi

# A Go >= 1.18 that never downloads a toolchain (GOTOOLCHAIN=local, Go >= 1.21).
go_ok() { "$1" env GOVERSION 2>/dev/null | grep -Eq '^go1\.(1[89]|[2-9][0-9])(\.|$|rc|beta)'; }
go_bin=""
for candidate in ${GO:-} $(command -v go || true) $(ls -d /usr/lib/go-1.*/bin/go 2>/dev/null | sort -t. -k2,2nr); do
  if go_ok "$candidate"; then go_bin=$candidate; break; fi
done
[ -n "$go_bin" ] || die "no Go >= 1.18 found (\$GO, PATH, /usr/lib/go-1.*/bin/go); on Debian 12: apt-get install golang-1.19-go"
say "using $go_bin ($("$go_bin" env GOVERSION))"

mkdir -p "$work" "$bindir"
src=""
cleanup=""
trap '[ -z "$cleanup" ] || rm -rf "$cleanup"' EXIT
if [ -n "${PODMAN_SRC:-}" ]; then
  src=$PODMAN_SRC
elif [ -n "${PODMAN_GIT_DIR:-}" ]; then
  git --git-dir="$PODMAN_GIT_DIR" rev-parse -q --verify "refs/tags/$tag^{commit}" >/dev/null ||
    die "$PODMAN_GIT_DIR has no tag $tag"
  cleanup=$(mktemp -d "$work/podman-$tag.XXXXXX")
  src=$cleanup
  # A partial mirror can lack some blobs (seen: vendor/github.com/mattn/go-sqlite3's 8 MB C
  # file, which quadlet does not build): they are left out, and named; if quadlet needed one,
  # go build below fails and says which package. (git archive still prints "invalid object"
  # for each one it leaves out: harmless.)
  blobs="$src.blobs"
  git --git-dir="$PODMAN_GIT_DIR" ls-tree -r "$tag" |
    awk -F '\t' '{ split($1, a, " "); if (a[2] == "blob") print a[3] " " $2 }' >"$blobs"
  excludes=()
  while read -r path; do
    excludes+=(":(exclude)$path")
    say "not in $PODMAN_GIT_DIR, left out: $path"
  done < <(cut -d' ' -f1 "$blobs" | git --git-dir="$PODMAN_GIT_DIR" cat-file --batch-check |
    awk 'NR == FNR { if ($2 == "missing") gone[$1] = 1; next } ($1 in gone) { print substr($0, index($0, " ") + 1) }' - "$blobs")
  rm -f "$blobs"
  git --git-dir="$PODMAN_GIT_DIR" archive "$tag" -- . "${excludes[@]}" | tar -x -C "$src"
else
  cleanup=$(mktemp -d "$work/podman-$tag.XXXXXX")
  src=$cleanup/podman
  say "cloning https://github.com/containers/podman at $tag (set PODMAN_SRC or PODMAN_GIT_DIR to build offline)"
  git clone -q --depth 1 --branch "$tag" https://github.com/containers/podman "$src"
fi
[ -f "$src/cmd/quadlet/main.go" ] && [ -f "$src/vendor/modules.txt" ] ||
  die "$src is not podman's source with cmd/quadlet and vendor/ (podman >= v4.4)"

say "building $src/cmd/quadlet (CGO_ENABLED=0, -mod=vendor, GOPROXY=off)"
(
  cd "$src"
  env CGO_ENABLED=0 GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local GOWORK=off \
    GOCACHE="$work/gocache" GOPATH="$work/gopath" \
    "$go_bin" build -trimpath -o "$bindir/quadlet.new" ./cmd/quadlet
)

# It must turn a .container file into a unit, as the bench will ask it to.
check=$(mktemp -d "$work/check.XXXXXX")
cleanup_check() { rm -rf "$check"; }
mkdir "$check/in" "$check/out"
printf '[Container]\nImage=docker.io/library/postgres\nExec=postgres\n' >"$check/in/check.container"
QUADLET_UNIT_DIRS="$check/in" "$bindir/quadlet.new" -no-kmsg-log "$check/out" "$check/out" "$check/out" ||
  { cleanup_check; die "the built quadlet failed on a one-line .container"; }
grep -q '^ExecStart=.*podman run .*docker.io/library/postgres postgres$' "$check/out/check.service" ||
  { cleanup_check; die "the built quadlet wrote no check.service with the expected ExecStart"; }
cleanup_check

mv -f "$bindir/quadlet.new" "$bindir/quadlet"
printf 'tag=%s\ngo=%s\nsource=%s\n' "$tag" "$("$go_bin" env GOVERSION)" "${PODMAN_SRC:-${PODMAN_GIT_DIR:-https://github.com/containers/podman}}" >"$bindir/quadlet.built"
say "built $bindir/quadlet (podman $tag)"
