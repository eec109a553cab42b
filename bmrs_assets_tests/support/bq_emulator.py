"""A real local BigQuery emulator (the ``bqemulator`` package) for the tests, driven by the official client.

The emulator runs as a child process (``python -m bqemulator start``) on 127.0.0.1, ephemeral
(in-memory DuckDB), and is stopped by its PID. What it needs on an offline machine:

* DuckDB's ``spatial`` extension, which it loads at start-up: installed from the
  ``duckdb-extension-spatial`` wheel with ``duckdb_extensions.import_extension`` (no download);
* ``BQEMU_ENABLE_FORMAT_EXTENSIONS=false``, else it tries to download the avro extension;
* its pytest plugin imports ``testcontainers``; the plugin is disabled in setup.cfg (``-p no:bqemulator``)
  since these tests start the emulator themselves;
* google-cloud-bigquery uploads load-job files as ``*/*``, which the emulator refuses: the client's
  generic upload content type is set to ``application/octet-stream`` here, in the tests only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from bmrs_assets.core.processes import free_port

PROJECT = "bmrs-test"
START_TIMEOUT_S = 90.0


def prepare_client_library() -> None:
    """Test-only: the emulator refuses the client's ``*/*`` upload content type."""
    import google.cloud.bigquery.client as bq_client_module

    assert hasattr(bq_client_module, "_GENERIC_CONTENT_TYPE"), "google-cloud-bigquery changed its upload internals"
    bq_client_module._GENERIC_CONTENT_TYPE = "application/octet-stream"


def install_spatial_extension() -> None:
    """Install DuckDB's spatial extension from its wheel into the user's DuckDB extension folder."""
    from duckdb_extensions import import_extension

    import_extension("spatial")


class BigQueryEmulator:
    """``bqemulator start`` as a child process on loopback; ``client()`` gives an official client for it."""

    def __init__(self, log_path: Path, project: str = PROJECT) -> None:
        self.project = project
        self.log_path = log_path
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> BigQueryEmulator:
        install_spatial_extension()
        prepare_client_library()
        self.port = free_port()
        env = {**os.environ, "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false"}
        env.pop("BIGQUERY_EMULATOR_HOST", None)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bqemulator", "start", "--ephemeral", "--project", self.project,
                 "--rest-host", "127.0.0.1", "--rest-port", str(self.port),
                 "--grpc-host", "127.0.0.1", "--grpc-port", "0", "--log-level", "warning"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bqemulator exited with code {self.proc.returncode}; "
                                   f"log:\n{self.log_path.read_text()[-3000:]}")
            try:
                reply = httpx.get(f"{self.url}/bigquery/v2/projects/{self.project}/datasets", timeout=1.0)
                if reply.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"bqemulator did not answer within {START_TIMEOUT_S:.0f} s; "
                           f"log:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        """SIGTERM by PID (the emulator shuts down cleanly on it), SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def client(self) -> bigquery.Client:
        return bigquery.Client(project=self.project, credentials=AnonymousCredentials(),
                               client_options=ClientOptions(api_endpoint=self.url))
