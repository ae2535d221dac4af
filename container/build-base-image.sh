#!/usr/bin/env bash
# Build the local base image localhost/bookworm-py:base (Debian bookworm with python3,
# python3-venv and ca-certificates) for machines that reach no image registry, e.g. CI.
# The Dockerfile's base is an ARG: production builds use the public python:3.11-slim-bookworm,
# CI and tests/test_container.py pass --build-arg BASE_IMAGE=localhost/bookworm-py:base.
#
#   container/build-base-image.sh [--force]
#
# Idempotent: does nothing when the image exists (--force rebuilds it). Needs root, podman and
# debootstrap (scripts/setup installs both). The Debian mirror is the machine's own (the first
# `URIs:` of /etc/apt/sources.list.d/debian.sources, else /etc/apt/sources.list), so it works
# wherever apt-get does. Environment: BASE_IMAGE_NAME (default localhost/bookworm-py:base),
# DEBIAN_MIRROR (overrides the mirror), SUITE (default bookworm).
set -euo pipefail

IMAGE=${BASE_IMAGE_NAME:-localhost/bookworm-py:base}
SUITE=${SUITE:-bookworm}
PACKAGES=python3,python3-venv,ca-certificates

FORCE=0
case "${1:-}" in
  --force) FORCE=1 ;;
  "") ;;
  -h | --help)
    sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "build-base-image: unknown argument '$1' (usage: $0 [--force])" >&2
    exit 2
    ;;
esac

say() { echo "build-base-image: $*" >&2; }
fail() {
  say "error: $*"
  exit 1
}

command -v podman >/dev/null || fail "podman is not installed (scripts/setup installs it, as root)"
if [ "$FORCE" = 0 ] && podman image exists "$IMAGE"; then
  say "$IMAGE exists; nothing to do (--force rebuilds it)"
  exit 0
fi
[ "$(id -u)" = 0 ] || fail "debootstrap needs root"
command -v debootstrap >/dev/null ||
  fail "debootstrap is not installed (scripts/setup installs it; or apt-get install debootstrap)"

# The machine's Debian mirror: the first URIs line of the deb822 file whose suites are not
# the security ones, else the first deb line of sources.list.
debian_mirror() {
  local sources=/etc/apt/sources.list.d/debian.sources
  if [ -r "$sources" ]; then
    awk '
      /^URIs:/ { uri = $2 }
      /^Suites:/ { if ($0 !~ /-security/ && uri != "" && !found) { print uri; found = 1 } }
      /^$/ { uri = "" }
    ' "$sources"
    return
  fi
  if [ -r /etc/apt/sources.list ]; then
    awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' \
      /etc/apt/sources.list
  fi
}
MIRROR=${DEBIAN_MIRROR:-$(debian_mirror)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

ROOTFS=$(mktemp -d /var/tmp/bookworm-rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT

started=$SECONDS
say "debootstrap --variant=minbase $SUITE from $MIRROR (about a minute)"
if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" \
  >"$ROOTFS.log" 2>&1; then
  tail -n 30 "$ROOTFS.log" >&2
  rm -f "$ROOTFS.log"
  fail "debootstrap failed (log above)"
fi
rm -f "$ROOTFS.log"

# The same apt sources as the public Debian images (bookworm, -updates, -security): Chromium's
# fixes reach bookworm through -security. The machine's own sources file when it has one.
rm -f "$ROOTFS/etc/apt/sources.list"
if [ -z "${DEBIAN_MIRROR:-}" ] && [ -r /etc/apt/sources.list.d/debian.sources ]; then
  cp /etc/apt/sources.list.d/debian.sources "$ROOTFS/etc/apt/sources.list.d/debian.sources"
else
  cat >"$ROOTFS/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
fi

# Smaller: no package lists or caches in the base.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb

say "podman import as $IMAGE"
tar --numeric-owner -C "$ROOTFS" -c . |
  podman import --quiet --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$IMAGE" >/dev/null
say "built $IMAGE in $((SECONDS - started)) s ($(podman image inspect --format '{{.Size}}' "$IMAGE") bytes)"
