#!/usr/bin/env bash
# Build the local base image the project's Dockerfile starts FROM, with no container registry:
# debootstrap a minimal Debian bookworm root filesystem (Python 3.11, venv, CA certificates,
# time zones) from the Debian mirror this machine's apt already uses, then `docker import` it.
#
#   deploy/image/build-base.sh            # builds bmrs-base:bookworm unless it exists
#   BMRS_BASE_IMAGE=my/base:tag deploy/image/build-base.sh
#   deploy/image/build-base.sh --force    # rebuild even if the image exists
#
# Needs root (debootstrap), `debootstrap` and a running Docker daemon (DOCKER_HOST is honoured).
# The mirror comes from BMRS_DEBIAN_MIRROR, else from the first Debian `URIs:` / `deb` line in
# /etc/apt/sources.list{,.d/*}; nothing else is fetched. With a normal registry none of this is
# needed: build the Dockerfile with --build-arg BASE_IMAGE=python:3.11-slim (docs/production.md).
set -euo pipefail

IMAGE="${BMRS_BASE_IMAGE:-bmrs-base:bookworm}"
SUITE="${BMRS_DEBIAN_SUITE:-bookworm}"
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

if [ "$FORCE" = 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "build-base: $IMAGE exists, nothing to do (--force rebuilds it)"
  exit 0
fi

apt_mirror() {
  # First Debian archive URI in apt's configuration (deb822 .sources or one-line .list), without
  # the security archive, e.g. http://<mirror>/debian.
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/ && $i ~ /\/debian\/?$/) { print $i; exit } }' "$f"
  done | head -n 1
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { u = ($2 ~ /^\[/) ? $3 : $2; if (u !~ /security/ && u ~ /\/debian\/?$/) { print u; exit } }' "$f"
  done | head -n 1
}

MIRROR="${BMRS_DEBIAN_MIRROR:-$(apt_mirror | head -n 1)}"
if [ -z "$MIRROR" ]; then
  echo "build-base: no Debian mirror found in /etc/apt/sources.list*; set BMRS_DEBIAN_MIRROR" >&2
  exit 2
fi
command -v debootstrap >/dev/null || { echo "build-base: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 2; }

ROOT="$(mktemp -d "${TMPDIR:-/tmp}/bmrs-base.XXXXXX")"
trap 'rm -rf "$ROOT"' EXIT
start=$(date +%s)
echo "build-base: debootstrap $SUITE from $MIRROR into $ROOT"
# minbase: essential packages + apt only. python3-venv brings ensurepip's pip wheel, so the
# Dockerfile's venv has a pip without python3-pip's Debian patches.
debootstrap --variant=minbase \
  --include=python3.11,python3.11-venv,python3-venv,ca-certificates,tzdata \
  "$SUITE" "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 || { tail -n 30 "$ROOT.log" >&2; rm -f "$ROOT.log"; exit 1; }
rm -f "$ROOT.log"

# apt inside the image (the PostgreSQL image installs from it) uses the same mirror and suites.
cat >"$ROOT/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
SOURCES
# What an image does not need: package lists, caches, docs, man pages.
chroot "$ROOT" apt-get clean
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/usr/share/doc/* \
  "$ROOT"/usr/share/man/* "$ROOT"/usr/share/locale/* "$ROOT"/var/log/*.log "$ROOT"/tmp/* 2>/dev/null || true

tar -C "$ROOT" --numeric-owner -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' \
  --message "debootstrap $SUITE minbase + python3.11 (deploy/image/build-base.sh)" \
  - "$IMAGE" >/dev/null
echo "build-base: $IMAGE built in $(( $(date +%s) - start )) s, $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MiB", $1 / 1048576 }')"
