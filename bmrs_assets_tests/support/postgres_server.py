"""A real, throwaway PostgreSQL server for the tests (Debian's ``postgresql`` package; ``.ci/run`` installs it).

A cluster is created with ``initdb`` in a temporary folder and its ``postgres`` process runs as a child of
the test process, stopped by its PID. It listens only on 127.0.0.1 (TCP, password authentication, as a
production client connects) and on a unix socket inside the temporary folder (no password, used only
here to create roles and databases). PostgreSQL refuses to run as root: when the tests run as root the
folder is handed to the ``postgres`` system user and the server programs run as that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import psycopg2
from psycopg2 import sql

from bmrs_assets.core.processes import free_port

SYSTEM_USER = "postgres"
SUPERUSER = "postgres"
START_TIMEOUT_S = 60.0
PROGRAMS = ("initdb", "postgres", "pg_ctl")


def find_bindir() -> Path | None:
    """The folder holding initdb/postgres/pg_ctl: on PATH, else Debian's newest /usr/lib/postgresql/<ver>/bin."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).parent] if on_path else []

    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", p.parent.name)) or (0,)

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    for d in candidates:
        if all((d / p).is_file() and os.access(d / p, os.X_OK) for p in PROGRAMS):
            return d
    return None


class PostgresServer:
    """``initdb`` + ``postgres`` in a temp folder, on 127.0.0.1:<free port>; ``stop()`` ends it by PID."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.host = "127.0.0.1"
        self.port = 0
        self.root: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.as_root = os.geteuid() == 0

    # -- paths ---------------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self._root / "data"

    @property
    def socket_dir(self) -> Path:
        return self._root / "socket"

    @property
    def log_path(self) -> Path:
        return self._root / "postgres.log"

    @property
    def _root(self) -> Path:
        assert self.root is not None, "server not started"
        return self.root

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"

    # -- processes -----------------------------------------------------------------------------
    def _as_owner(self) -> dict:
        """Popen arguments that run a server program as the cluster's owner."""
        if not self.as_root:
            return {}
        return {"user": SYSTEM_USER, "group": pwd.getpwnam(SYSTEM_USER).pw_gid, "extra_groups": []}

    def _run(self, *args: str, timeout: float = 120) -> None:
        done = subprocess.run([str(self.bindir / args[0]), *args[1:]], cwd=self._root, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout, env={**os.environ, "LC_ALL": "C"},
                              **self._as_owner())
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def start(self) -> PostgresServer:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> PostgresServer:
        self.root = Path(tempfile.mkdtemp(prefix="bmrs-pg-"))
        self.socket_dir.mkdir()
        if self.as_root:
            owner = pwd.getpwnam(SYSTEM_USER)
            for p in (self.root, self.socket_dir):
                os.chown(p, owner.pw_uid, owner.pw_gid)
        os.chmod(self.root, 0o700)
        os.chmod(self.socket_dir, 0o700)
        # Unix socket: trust (the folder is private to the owner); TCP: passwords (SCRAM), as in production.
        self._run("initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--auth-local=trust",
                  "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync")
        self.port = free_port()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(self.bindir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                 "-c", f"listen_addresses={self.host}", "-c", f"unix_socket_directories={self.socket_dir}",
                 "-c", "fsync=off",  # a throwaway cluster: durability is not what is tested
                 "-c", "max_connections=100"],
                cwd=self.root, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, env={**os.environ, "LC_ALL": "C"}, **self._as_owner())
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with code {self.proc.returncode}; log:\n{self.log_tail()}")
            try:
                self.admin_connection().close()
                return self
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"postgres did not accept connections within {START_TIMEOUT_S} s") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """``pg_ctl stop -m fast``; if the server is still there, SIGQUIT then SIGKILL by its PID. Removes the folder."""
        try:
            if self.proc is not None and self.proc.poll() is None:
                with contextlib.suppress(Exception):
                    self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", timeout=40)
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.kill(self.proc.pid, signal.SIGQUIT)  # immediate shutdown
                    try:
                        self.proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        os.kill(self.proc.pid, signal.SIGKILL)
                        self.proc.wait(timeout=10)
        finally:
            if self.root is not None:
                shutil.rmtree(self.root, ignore_errors=True)

    # -- roles and databases -------------------------------------------------------------------
    def admin_connection(self, dbname: str = "postgres"):
        """A superuser connection over the private unix socket."""
        conn = psycopg2.connect(host=str(self.socket_dir), port=self.port, user=SUPERUSER, dbname=dbname,
                                connect_timeout=5)
        conn.autocommit = True
        return conn

    def create_database(self, name: str, user: str, password: str | None = None) -> Mapping[str, str]:
        """A login role (if new) with a password and a database it owns; the ``DAGSTER_PG_*`` environment for it."""
        password = password or secrets.token_urlsafe(16)
        conn = self.admin_connection()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,))
                verb = "ALTER" if cur.fetchone() else "CREATE"
                cur.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(user)), (password,))
                cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(user)))
        finally:
            conn.close()
        return {"DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USER": user,
                "DAGSTER_PG_PASSWORD": password, "DAGSTER_PG_DB": name}
