"""The container deployment end to end: build the images without a registry, bring up
deploy/compose.yaml on a private Docker daemon (no bridge network, every container on the host's
network, every service on 127.0.0.1), point it at the bundled simulator, backfill COSTS and FREQ for
3 days through the webserver's GraphQL API, crash the daemon's container mid-backfill, and check that
each run ran in its own container, the backfill completed with every row once, the checks passed
and the instance is PostgreSQL. Run by ``.ci/run`` after ``make test`` (``pytest -m docker``)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from datetime import date, timedelta

import httpx
import pytest

from bmrs_assets.core.processes import free_port
from bmrs_assets_tests.conftest import REPO
from bmrs_assets_tests.support.dagster_ui import backfill_status, launch_backfill
from bmrs_assets_tests.support.docker_stack import ComposeStack, DockerDaemon, DockerUnavailable

DAYS = ["2025-12-10", "2025-12-11", "2025-12-12"]
ASSETS = [["bmrs", "costs"], ["bmrs", "freq"]]
IMAGE = "bmrs-assets:test"
PG_IMAGE = "bmrs-postgres:test"
# Rows a day in December (no clock change): COSTS one per half-hour settlement period, 24 * 2 = 48;
# FREQ one per 15-second reading, 24 * 3600 / 15 = 5760.
EXPECTED_ROWS = {"COSTS": 48, "FREQ": 5760}
# Run in a container of the image against the stopped stack's volume: rows per day and rows that
# share a natural key with another, per dataset, from the DuckDB warehouse (a JSON object on stdout).
WAREHOUSE_REPORT = """
import json, sys
from datetime import date
import duckdb
from bmrs_assets.definitions import warehouse_resource
from bmrs_assets.elexon.datasets import COSTS, FREQ
from bmrs_assets.settings import value
first, last = date.fromisoformat(sys.argv[1]), date.fromisoformat(sys.argv[2])
wh = warehouse_resource(resolved=True).get()
con = duckdb.connect(str(value("BMRS_DUCKDB_PATH")), read_only=True)
out = {}
for ds in (COSTS, FREQ):
    key = ", ".join(f'"{k}"' for k in ds.key)
    total, distinct = con.execute(f'SELECT count(*), count(DISTINCT ({key})) FROM "{ds.table}"').fetchone()
    per_day = {str(d): n for d, n in sorted(wh.count_by_day(ds, first, last).items())}
    out[ds.code] = {"per_day": per_day, "total": total, "doubled": total - distinct}
print(json.dumps(out))
"""


def _stage(report: dict, name: str, start: float) -> float:
    report[name] = round(time.monotonic() - start, 1)
    return time.monotonic()


@pytest.mark.slow
@pytest.mark.docker
def test_compose_stack_backfill_survives_a_daemon_crash(simulator, tmp_path, capsys):
    figures: dict = {}
    daemon = DockerDaemon()
    t = time.monotonic()
    try:
        daemon.start()
    except DockerUnavailable as exc:
        pytest.skip(f"the Docker daemon cannot start here: {exc}")
    stack: ComposeStack | None = None
    try:
        t = _stage(figures, "dockerd_start_s", t)
        # 1. The images: base from Debian's packages (skipped when cached), the project, PostgreSQL.
        built = subprocess.run([str(REPO / "deploy" / "image" / "build.sh")], cwd=REPO, capture_output=True, text=True,
                               timeout=1200, env={**daemon.env, "BMRS_IMAGE": IMAGE, "BMRS_POSTGRES_IMAGE": PG_IMAGE})
        assert built.returncode == 0, built.stdout + built.stderr
        figures["build_output"] = built.stdout.strip().splitlines()
        t = _stage(figures, "images_build_s", t)
        size = int(daemon.docker("image", "inspect", "-f", "{{.Size}}", IMAGE).stdout)
        figures["image_size_mib"] = round(size / 2**20)
        user = daemon.docker("image", "inspect", "-f", "{{.Config.User}}", IMAGE).stdout.strip()
        assert user and user not in ("root", "0"), f"the image runs as {user!r}, not a non-root user"

        # 2. The stack on free loopback ports; secrets only in the environment file.
        password = secrets.token_hex(16)
        env_file = tmp_path / "stack.env"
        env_file.write_text(f"DAGSTER_PG_PASSWORD={password}\nBMRS_BQ_CREDENTIALS=\nBMRS_ALERT_WEBHOOK_URL=\n")
        env_file.chmod(0o600)
        web_port = free_port()
        variables = {
            "BMRS_ENV_FILE": str(env_file), "BMRS_IMAGE": IMAGE, "BMRS_POSTGRES_IMAGE": PG_IMAGE,
            "BMRS_PG_PORT": str(free_port()), "BMRS_GRPC_PORT": str(free_port()), "BMRS_WEB_PORT": str(web_port),
            "DAGSTER_PG_USER": "dagster", "DAGSTER_PG_DB": "dagster",
            "BMRS_DOCKER_SOCKET": str(daemon.socket), "BMRS_DOCKER_GID": str(os.stat(daemon.socket).st_gid),
            "BMRS_API_BASE_URL": simulator.url, "BMRS_RATE_LIMIT_PER_S": "50", "BMRS_START_DATE": "2024-01-01",
            # one run per day: three runs, so three containers, and a backfill the crash can interrupt
            "BMRS_BACKFILL_MAX_DAYS_PER_RUN": "1", "BMRS_AUTOMATION": "off",
        }
        stack = ComposeStack(daemon, f"bmrstest{os.getpid()}", variables, password)
        # what an earlier, interrupted run of this test may have left in the persistent image store
        stale = daemon.docker("ps", "-aq", "--filter", "label=dagster/run_id").stdout.split()
        if stale:
            daemon.docker("rm", "-f", *stale)
        daemon.docker("volume", "rm", "-f", "bmrs-data")
        stack.compose("up", "-d")
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{web_port}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "webserver did not come up:\n" + stack.logs("webserver")
            time.sleep(0.5)
        t = _stage(figures, "stack_start_s", t)
        for service in ("postgres", "code-server", "webserver", "daemon"):
            mode = daemon.docker("inspect", "-f", "{{.HostConfig.NetworkMode}}", stack.container(service)).stdout.strip()
            assert mode == "host", f"{service} runs on network {mode!r}, not the host's"

        # 3. The backfill, as the UI's dialog sends it; crash the daemon once its first run exists.
        backfill_id = launch_backfill(web_port, DAYS, ASSETS, "compose stack end-to-end")
        t_backfill = time.monotonic()
        tagged = ("SELECT r.run_id, r.status FROM runs r JOIN run_tags t ON t.run_id = r.run_id "
                  f"WHERE t.key = 'dagster/backfill' AND t.value = '{backfill_id}'")
        deadline = time.monotonic() + 180
        while not stack.psql(tagged):
            assert time.monotonic() < deadline, "no run of the backfill within 180 s:\n" + stack.logs("daemon")
            time.sleep(0.3)
        daemon_id = stack.container("daemon")
        assert backfill_status(web_port, backfill_id)["status"] == "REQUESTED", "backfill finished before the crash"
        pid = int(daemon.docker("inspect", "-f", "{{.State.Pid}}", daemon_id).stdout)
        os.kill(pid, signal.SIGKILL)  # the daemon's process, as an OOM kill would: a crash, not a stop
        figures["runs_at_crash"] = dict(stack.psql(tagged))
        # the restart policy (unless-stopped) brings it back by itself
        deadline = time.monotonic() + 60
        while True:
            state = daemon.docker("inspect", "-f", "{{.RestartCount}} {{.State.Running}}", daemon_id).stdout.split()
            if int(state[0]) >= 1 and state[1] == "true":
                break
            assert time.monotonic() < deadline, f"daemon container not restarted: {state}"
            time.sleep(0.5)
        figures["daemon_restarts"] = int(state[0])
        deadline = time.monotonic() + 600
        while True:
            status = backfill_status(web_port, backfill_id)
            if status.get("status") != "REQUESTED":
                break
            assert time.monotonic() < deadline, "backfill not done in 600 s:\n" + stack.logs("daemon")
            time.sleep(2)
        figures["backfill_s"] = round(time.monotonic() - t_backfill, 1)
        assert status["status"] == "COMPLETED_SUCCESS", (status, stack.logs("daemon"))
        assert status["numPartitions"] == len(DAYS)

        # 4. Each run in its own container, recorded in PostgreSQL's runs table.
        runs = dict(stack.psql(tagged))
        figures["runs"] = runs
        assert runs and set(runs.values()) <= {"SUCCESS", "FAILURE"}, runs
        tags: dict[str, dict[str, str]] = {run_id: {} for run_id in runs}
        for run_id, key, value in stack.psql(
                "SELECT run_id, key, value FROM run_tags WHERE run_id IN (" + ", ".join(f"'{r}'" for r in runs) + ")"):
            tags[run_id][key] = value
        containers = {run_id: t["docker/container_id"] for run_id, t in tags.items()}
        assert len(set(containers.values())) == len(runs), f"runs share containers: {containers}"
        for run_id, container in containers.items():
            info = json.loads(daemon.docker("inspect", container).stdout)[0]
            assert info["Config"]["Labels"]["dagster/run_id"] == run_id
            assert info["Config"]["Image"] == IMAGE
            assert info["HostConfig"]["NetworkMode"] == "host"
            if runs[run_id] == "SUCCESS":
                assert info["State"]["ExitCode"] == 0, (run_id, info["State"])
        launched = daemon.docker("ps", "-aq", "--filter", "label=dagster/run_id").stdout.split()
        figures["containers_launched"] = len(launched)
        assert sorted(launched) == sorted(c[:12] for c in containers.values()), "a container ran no run of the backfill"
        # every day in exactly one successful run (a run failed by the crash may have been retried)
        days_run = sorted(tags[r]["dagster/asset_partition_range_start"] for r, s in runs.items() if s == "SUCCESS")
        assert days_run == DAYS, f"days of the successful runs: {days_run}"
        for run_id in runs:
            assert tags[run_id]["dagster/asset_partition_range_start"] == tags[run_id]["dagster/asset_partition_range_end"]

        # 5. The blocking checks passed once per dataset and day.
        ok = [r for r, s in runs.items() if s == "SUCCESS"]
        checks = stack.psql(
            "SELECT asset_key, check_name, partition, execution_status FROM asset_check_executions "
            "WHERE check_name IN ('unique_natural_key', 'complete_partition') AND run_id IN ("
            + ", ".join(f"'{r}'" for r in ok) + ") ORDER BY 1, 2, 3")
        expected_checks = sorted([json.dumps(a), c, d, "SUCCEEDED"] for a in ASSETS
                                 for c in ("unique_natural_key", "complete_partition") for d in DAYS)
        assert sorted(checks) == expected_checks, checks

        # 6. Every row once: stop the stack (the warehouse file is free), read it from a container.
        stack.compose("stop")
        report = daemon.docker("run", "--rm", "--network", "host", "-v", "bmrs-data:/data", IMAGE,
                               "python", "-c", WAREHOUSE_REPORT, DAYS[0], DAYS[-1], timeout=180).stdout
        rows = json.loads(report.strip().splitlines()[-1])
        day_list = [str(date.fromisoformat(DAYS[0]) + timedelta(days=i)) for i in range(len(DAYS))]
        for code, expected in EXPECTED_ROWS.items():
            assert rows[code]["per_day"] == dict.fromkeys(day_list, expected), (code, rows[code])
            assert rows[code]["doubled"] == 0, (code, rows[code])
            assert rows[code]["total"] == expected * len(DAYS), (code, rows[code])  # nothing outside the 3 days
        figures["rows"] = {code: sum(r["per_day"].values()) for code, r in rows.items()}
    finally:
        if stack is not None:
            stack.compose("down", "-v", "--remove-orphans", check=False)
            leftover = daemon.docker("ps", "-aq", "--filter", "label=dagster/run_id", check=False).stdout.split()
            if leftover:
                daemon.docker("rm", "-f", *leftover, check=False)
            daemon.docker("volume", "rm", "-f", "bmrs-data", check=False)
        # the image store persists between runs: keep the tagged images, drop the ones they replaced
        daemon.docker("image", "prune", "-f", check=False)
        daemon.stop()
        with capsys.disabled():
            print("\ncompose stack figures: " + json.dumps(figures, default=str))
