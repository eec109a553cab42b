# The bmrs_assets image: one image for the code-location server, the webserver, the daemon and
# every run container the DockerRunLauncher starts (deploy/compose.yaml). Build it with
# deploy/image/build.sh, which passes pip's index and CA certificates as BuildKit secrets (never
# stored in a layer) and uses the host's network (no bridge network needed).
#
# BASE_IMAGE: any Debian-like image with Python 3.11 and its venv module. The default is the local
# image deploy/image/build-base.sh makes from Debian's packages (no container registry needed);
# with a normal registry use the official one instead (build.sh then skips the debootstrap base):
#   BASE_IMAGE=python:3.11-slim deploy/image/build.sh
ARG BASE_IMAGE=bmrs-base:bookworm
FROM ${BASE_IMAGE}

# The interpreter the venv is made from (Debian's python3.11, or the official image's python3.11).
ARG PYTHON=python3.11
ENV VIRTUAL_ENV=/opt/bmrs/venv \
    PATH=/opt/bmrs/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Dependencies first (their own layer, rebuilt only when the lock changes), exactly the versions in
# deploy/image/requirements.lock (deploy/image/lock.sh). The secrets are optional: without them pip
# uses its default index and the image's CA certificates.
COPY deploy/image/requirements.lock /opt/bmrs/requirements.lock
RUN --mount=type=secret,id=pipconf,required=false \
    --mount=type=secret,id=pipcert,required=false \
    set -eu; \
    if [ -s /run/secrets/pipconf ]; then export PIP_CONFIG_FILE=/run/secrets/pipconf; fi; \
    if [ -s /run/secrets/pipcert ]; then export PIP_CERT=/run/secrets/pipcert; fi; \
    "$PYTHON" -m venv "$VIRTUAL_ENV"; \
    pip install --quiet --no-deps --require-virtualenv -r /opt/bmrs/requirements.lock; \
    pip check

# The project itself, non-editable (a wheel built from the source, then the source is not kept).
COPY pyproject.toml README.md setup.cfg /tmp/src/
COPY bmrs_assets /tmp/src/bmrs_assets
RUN --mount=type=secret,id=pipconf,required=false \
    --mount=type=secret,id=pipcert,required=false \
    set -eu; \
    if [ -s /run/secrets/pipconf ]; then export PIP_CONFIG_FILE=/run/secrets/pipconf; fi; \
    if [ -s /run/secrets/pipcert ]; then export PIP_CERT=/run/secrets/pipcert; fi; \
    pip install --quiet --no-deps /tmp/src; \
    rm -rf /tmp/src; \
    pip check; \
    python -c "import bmrs_assets.definitions, bmrs_assets.simulator.server, dagster_docker, dagster_postgres"

# Instance and workspace files: the compose stack's instance (PostgreSQL, queued runs, the
# elexon_api pool, DockerRunLauncher) is the image's default DAGSTER_HOME; deploy/instance/ holds
# the single-host ones for reference.
COPY deploy/instance /opt/bmrs/deploy/instance
COPY deploy/compose/dagster.yaml /opt/dagster/home/dagster.yaml
COPY deploy/compose/workspace.yaml /opt/bmrs/workspace.yaml

# A non-root user owns /data, where the shared volume (warehouse, rate-limit file, compute logs,
# IRIS landing store) is mounted; a fresh named volume takes this ownership from the image.
RUN useradd --uid 10001 --user-group --home-dir /opt/dagster/home --no-create-home --shell /usr/sbin/nologin bmrs \
    && mkdir -p /data/warehouse /data/dagster /opt/dagster/home \
    && chown -R bmrs:bmrs /data /opt/dagster/home

# Every path the platform writes, under /data (its defaults are relative to the source tree).
ENV DAGSTER_HOME=/opt/dagster/home \
    BMRS_DAGSTER_HOME=/opt/dagster/home \
    BMRS_DUCKDB_PATH=/data/warehouse/bmrs.duckdb \
    BMRS_RATE_LIMIT_FILE=/data/elexon_rate_limit \
    BMRS_DASHBOARD_PATH=/data/dashboard/index.html \
    BMRS_IRIS_LANDING_PATH=/data/iris_landing.sqlite

USER bmrs
WORKDIR /opt/bmrs
CMD ["dagster", "code-server", "start", "-h", "127.0.0.1", "-p", "4000", "-m", "bmrs_assets.definitions"]
