#!/usr/bin/env bash
# Build the stack's images in one command, from the repository root:
#   1. the local base image (deploy/image/build-base.sh; skipped when it exists, or when
#      BASE_IMAGE names another base such as python:3.11-slim),
#   2. the project image (the Dockerfile), tag BMRS_IMAGE (default bmrs-assets:local),
#   3. the PostgreSQL image (deploy/image/Dockerfile.postgres), tag BMRS_POSTGRES_IMAGE
#      (default bmrs-postgres:15).
# Extra arguments go to the project image's `docker build` (e.g. --no-cache).
#
# pip inside the build uses this machine's pip configuration, passed as BuildKit secrets (mounted for
# the one RUN step, never written to a layer or the image's history): the index URLs (index-url,
# extra-index-url; local file:// ones are left out, the build cannot see them) and the CA bundle
# pip trusts (cert). Builds use the host's network (`--network host`): no bridge network needed.
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE="${BMRS_IMAGE:-bmrs-assets:local}"
PG_IMAGE="${BMRS_POSTGRES_IMAGE:-bmrs-postgres:15}"
BASE="${BASE_IMAGE:-${BMRS_BASE_IMAGE:-bmrs-base:bookworm}}"

# A docker CLI that builds with BuildKit (needed for secrets): one with the buildx plugin, or Debian's
# docker.io 20.10 CLI, whose BuildKit is built in.
DOCKER="${DOCKER:-}"
if [ -z "$DOCKER" ]; then
  for cli in docker /usr/bin/docker; do
    command -v "$cli" >/dev/null 2>&1 || continue
    if "$cli" buildx version >/dev/null 2>&1; then DOCKER="$cli"; break; fi
    major="$("$cli" version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1 || true)"
    if [ -n "$major" ] && [ "$major" -lt 23 ] 2>/dev/null; then DOCKER="$cli"; break; fi
  done
fi
[ -n "$DOCKER" ] || { echo "build: no docker CLI with BuildKit (install the buildx plugin, or Debian's docker.io)" >&2; exit 2; }
export DOCKER_BUILDKIT=1

# The debootstrap base, unless BASE_IMAGE names another image (python:3.11-slim from a registry).
if [ "$BASE" = "${BMRS_BASE_IMAGE:-bmrs-base:bookworm}" ]; then
  BMRS_BASE_IMAGE="$BASE" deploy/image/build-base.sh
fi

secrets="$(mktemp -d)"
trap 'rm -rf "$secrets"' EXIT
pip_get() {  # pip's configured value of $1 (global.index-url, ...), empty when unset or no pip
  local py
  for py in .venv/bin/python python3; do
    if "$py" -m pip --version >/dev/null 2>&1; then
      "$py" -m pip config get "$1" 2>/dev/null || true
      return
    fi
  done
}
index="${PIP_INDEX_URL:-$(pip_get global.index-url)}"
extra="${PIP_EXTRA_INDEX_URL:-$(pip_get global.extra-index-url)}"
cert="${PIP_CERT:-$(pip_get global.cert)}"
cert="${cert:-${REQUESTS_CA_BUNDLE:-${SSL_CERT_FILE:-}}}"
remote() { tr ' \n' '\n\n' | { grep -E '^https?://' || true; } | tr '\n' ' ' | sed 's/ $//'; }
{
  echo "[global]"
  idx="$(printf '%s' "$index" | remote)"; [ -n "$idx" ] && echo "index-url = $idx"
  ext="$(printf '%s' "$extra" | remote)"; [ -n "$ext" ] && echo "extra-index-url = $ext"
  true
} >"$secrets/pip.conf"
args=(--secret "id=pipconf,src=$secrets/pip.conf")
if [ -n "$cert" ] && [ -f "$cert" ]; then args+=(--secret "id=pipcert,src=$cert"); fi

start=$(date +%s)
"$DOCKER" build --network host --progress plain "${args[@]}" --build-arg "BASE_IMAGE=$BASE" \
  -t "$IMAGE" "$@" . >"$secrets/build.log" 2>&1 || { tail -n 40 "$secrets/build.log" >&2; exit 1; }
echo "build: $IMAGE built in $(( $(date +%s) - start )) s, $("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MiB", $1 / 1048576 }')"
start=$(date +%s)
"$DOCKER" build --network host --progress plain --build-arg "BASE_IMAGE=$BASE" \
  -f deploy/image/Dockerfile.postgres -t "$PG_IMAGE" deploy/image >"$secrets/build.log" 2>&1 \
  || { tail -n 40 "$secrets/build.log" >&2; exit 1; }
echo "build: $PG_IMAGE built in $(( $(date +%s) - start )) s, $("$DOCKER" image inspect -f '{{.Size}}' "$PG_IMAGE" | awk '{ printf "%.0f MiB", $1 / 1048576 }')"
