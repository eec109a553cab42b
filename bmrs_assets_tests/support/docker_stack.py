"""A private Docker daemon and the compose stack on it, for the end-to-end deployment test.

The daemon runs with ``--bridge=none --iptables=false``: it creates no bridge network and touches no
firewall rule, so containers can only use the host's network stack (every container of the stack
uses ``network_mode: host``) and every service binds 127.0.0.1. Its socket and run state live in a
fresh temporary folder; its image store (``data_root``) may persist between test runs so the base
and project images are built once. It is stopped by its PID, never by name.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bmrs_assets_tests.conftest import REPO

DEFAULT_DATA_ROOT = Path(os.environ.get("BMRS_TEST_DOCKER_ROOT", "/var/tmp/bmrs-test-docker"))


class DockerUnavailable(RuntimeError):
    """The Docker daemon cannot start here (not installed, not root, no kernel support)."""


@dataclass
class DockerDaemon:
    """``dockerd`` started by the test; ``env`` points the docker CLI and docker-compose at it."""

    data_root: Path = DEFAULT_DATA_ROOT
    run_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bmrs-dockerd-")))
    proc: subprocess.Popen | None = None

    @property
    def socket(self) -> Path:
        return self.run_dir / "docker.sock"

    @property
    def log(self) -> Path:
        return self.run_dir / "dockerd.log"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": f"unix://{self.socket}"}

    def start(self, timeout: float = 60) -> None:
        """Start ``dockerd`` and wait until it answers; :class:`DockerUnavailable` when it cannot."""
        dockerd = shutil.which("dockerd")
        if dockerd is None:
            raise DockerUnavailable("dockerd is not installed (Debian: apt-get install docker.io docker-compose debootstrap)")
        if os.geteuid() != 0:
            raise DockerUnavailable("dockerd needs root here (rootless Docker is not set up)")
        self.data_root.mkdir(parents=True, exist_ok=True)
        args = [dockerd, "--bridge=none", "--iptables=false", "--ip-masq=false",
                "--data-root", str(self.data_root), "--exec-root", str(self.run_dir / "exec"),
                "--pidfile", str(self.run_dir / "dockerd.pid"), "-H", f"unix://{self.socket}",
                "--containerd-namespace", "bmrs-test", "--containerd-plugins-namespace", "bmrs-test-plugins"]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DockerUnavailable(f"dockerd exited with status {self.proc.returncode}:\n{self.tail()}")
            if self.socket.exists() and self.docker("version", check=False).returncode == 0:
                return
            time.sleep(0.5)
        self.stop()
        raise DockerUnavailable(f"dockerd did not answer within {timeout:.0f} s:\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def docker(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        """One docker CLI command against this daemon; its output as text."""
        result = subprocess.run(["docker", *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        return result

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM to the daemon by its PID (it stops its containers and its containerd), SIGKILL if it lingers."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # dockerd leaves its network namespace bind-mounted under the exec root (exec/netns/default)
        inside = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
                  if line.split()[1].startswith(str(self.run_dir) + "/")]
        for mount_point in sorted(inside, reverse=True):
            subprocess.run(["umount", mount_point], capture_output=True, check=False)
        shutil.rmtree(self.run_dir, ignore_errors=True)


@dataclass
class ComposeStack:
    """``docker-compose -f deploy/compose.yaml -p <project>`` with the stack's variables."""

    daemon: DockerDaemon
    project: str
    variables: dict[str, str]
    pg_password: str

    @property
    def env(self) -> dict[str, str]:
        return {**self.daemon.env, **self.variables}

    def compose(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        result = subprocess.run(["docker-compose", "--no-ansi", "-f", str(REPO / "deploy" / "compose.yaml"),
                                 "-p", self.project, *args], env=self.env, capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}{result.stderr}")
        return result

    def container(self, service: str) -> str:
        """The id of the service's (one) container."""
        ids = self.compose("ps", "-q", service).stdout.split()
        assert len(ids) == 1, f"{service}: expected one container, got {ids}"
        return ids[0]

    def logs(self, service: str, chars: int = 4000) -> str:
        return self.compose("logs", "--no-color", "--tail", "200", service, check=False).stdout[-chars:]

    def psql(self, sql: str) -> list[list[str]]:
        """Rows of one query run by ``psql`` in the postgres container, as lists of text fields."""
        out = self.daemon.docker(
            "exec", "-e", f"PGPASSWORD={self.pg_password}", self.container("postgres"),
            "psql", "-h", "127.0.0.1", "-p", self.variables["BMRS_PG_PORT"], "-U", self.variables["DAGSTER_PG_USER"],
            "-d", self.variables["DAGSTER_PG_DB"], "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql).stdout
        return [line.split("\t") for line in out.splitlines() if line]
