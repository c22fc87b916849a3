"""The embedded PostgreSQL 16 server: warehouse and Airflow metadata on one private cluster.

Why not `pgserver.get_server()`: it listens on a unix socket only (Cosmos then builds Asset URIs the
postgres provider rejects), trusts every local user and stops the server when the Python process
exits. We reuse the PostgreSQL binaries that the `pgserver` wheel ships and run them ourselves:
TCP on 127.0.0.1, a generated password (scram), a server that outlives the command that started it.

Safety rules for a developer's machine:
- the cluster is initialised in a temporary folder and renamed into place, so an interrupted first
  start leaves only a `*.partial` folder that we made and may delete, never a half-made cluster;
- a stale `postmaster.pid` (its process gone) is reported and removed; a live one is reused;
- a port held by another program is a one-line error naming the port and the variable to change.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from liftoff.devstack.errors import LocalStackError
from liftoff.private_files import write_private

SUPERUSER = "postgres"
# A dedicated system account for the server when started by root (postgres refuses to run as root).
ROOT_RUN_AS = "pgserver"


def _pg_bin_dir() -> Path:
    """The PostgreSQL binaries inside the installed `pgserver` wheel, found without importing it."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise LocalStackError(
            "the 'pgserver' package is not installed in this environment; run `make install` first"
        )
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "pg_ctl").exists():
        raise LocalStackError(f"no PostgreSQL binaries at {bin_dir}; reinstall with `make install`")
    return bin_dir


def server_group_id() -> int | None:
    """The group of the account the server runs as when started by root (None otherwise): the
    folders above the cluster give that group, and nobody else, the right to pass through."""
    if os.geteuid() != 0:
        return None
    import grp

    try:
        return grp.getgrnam(ROOT_RUN_AS).gr_gid
    except KeyError:
        return None


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def pid_alive(pid: int) -> bool:
    """Whether a process `pid` exists (one of another user's counts: signalling it is refused)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class EmbeddedPostgres:
    """One private cluster under `root` (data, log, password), served on host:port."""

    root: Path
    port: int
    host: str = "127.0.0.1"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def password_file(self) -> Path:
        return self.root / "superuser.password"

    # -- identity -------------------------------------------------------------------------
    def password(self) -> str:
        try:
            return self.password_file.read_text().strip()
        except FileNotFoundError:
            raise LocalStackError(
                f"the embedded Postgres at {self.root} has no password file; "
                "it was not created by this project. Move it away or set LIFTOFF_STATE_DIR"
            ) from None

    def url(self, database: str) -> str:
        """A libpq URL for `database` on this server."""
        return (
            f"postgresql://{SUPERUSER}:{quote(self.password(), safe='')}@{self.host}:{self.port}/{database}"
        )

    # -- lifecycle ------------------------------------------------------------------------
    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def running_pid(self) -> int | None:
        """The postmaster's PID when it runs; clears a stale PID file left by a crash or reboot."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            first_line = pid_file.read_text().splitlines()[0]
        except (FileNotFoundError, IndexError):
            return None
        pid = int(first_line.strip())
        if pid_alive(pid) and self._is_postgres(pid):
            return pid
        print(f"liftoff: removing stale {pid_file} (process {pid} is gone)")
        pid_file.unlink(missing_ok=True)
        return None

    @staticmethod
    def _is_postgres(pid: int) -> bool:
        cmdline = Path(f"/proc/{pid}/cmdline")
        if not cmdline.exists():  # macOS: trust the PID
            return True
        return b"postgres" in cmdline.read_bytes()

    def ensure_running(self) -> None:
        """Initialise (first time) and start the server; a no-op when it already runs."""
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.is_initialised():
            self._initialise()
        if self.running_pid() is not None:
            return
        if not port_is_free(self.host, self.port):
            raise LocalStackError(
                f"port {self.port} on {self.host} is in use by another program; "
                f"set LIFTOFF_PG_PORT to a free port (e.g. LIFTOFF_PG_PORT={self.port + 1}) and retry"
            )
        self._run(
            "pg_ctl",
            "-D", str(self.data_dir),
            "-l", str(self.log_file),
            "-o", f"-h {self.host} -p {self.port}",
            "-w", "-t", "60",
            "start",
        )  # fmt: skip

    def stop(self) -> bool:
        """Stop the server if it runs; True when it was running."""
        if not self.is_initialised() or self.running_pid() is None:
            return False
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        return True

    def ensure_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(psycopg.sql.SQL("create database {}").format(psycopg.sql.Identifier(name)))

    # -- internals ------------------------------------------------------------------------
    def _initialise(self) -> None:
        partial = self.root / "data.partial"
        if partial.exists():
            print(f"liftoff: removing {partial} left by an interrupted first start")
            shutil.rmtree(partial)
        if self.data_dir.exists():
            raise LocalStackError(
                f"{self.data_dir} exists but is not a PostgreSQL cluster; "
                "it was not made by this project, so it is left alone. "
                "Move it away or set LIFTOFF_STATE_DIR to another folder"
            )
        password = secrets.token_urlsafe(24)
        partial.mkdir()
        pwfile = self.root / "initdb.pw"
        write_private(pwfile, password + "\n")
        try:
            self._hand_to_server_user(self.root, partial, pwfile)
            self._run(
                "initdb",
                "-D", str(partial),
                "-U", SUPERUSER,
                "--pwfile", str(pwfile),
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)
        with (partial / "postgresql.conf").open("a") as conf:
            # A development server: durable enough (no fsync games), tuned for bulk loads.
            conf.write(
                "\n# liftoff embedded defaults\n"
                "unix_socket_directories = ''\n"
                "synchronous_commit = off\n"
                "shared_buffers = 256MB\n"
                "max_wal_size = 2GB\n"
                "max_connections = 200\n"
            )
        write_private(self.password_file, password + "\n")
        partial.rename(self.data_dir)

    def _hand_to_server_user(self, *paths: Path) -> None:
        """As root, let the dedicated server account own the cluster and reach the binaries."""
        if os.geteuid() != 0:
            return
        import pwd

        try:
            account = pwd.getpwnam(ROOT_RUN_AS)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", ROOT_RUN_AS], check=True)
            account = pwd.getpwnam(ROOT_RUN_AS)
        for path in paths:
            os.chown(path, account.pw_uid, account.pw_gid)
        self._let_server_through(_pg_bin_dir(), *paths)

    def _let_server_through(self, *paths: Path) -> None:
        """As root: the server account may pass through every folder above `paths`. A private
        folder (the state folder: nothing for group or others) gives that right to the server's
        group only (group = its group, g+x); any other folder (installed files are world-readable
        already) gets the execute bit for others, as `chmod o+x` would."""
        group = server_group_id()
        for folder in paths:
            for parent in folder.parents:
                info = parent.stat()
                if info.st_mode & stat.S_IXOTH:
                    continue
                if group is not None and info.st_gid == group:
                    parent.chmod(stat.S_IMODE(info.st_mode) | stat.S_IXGRP)
                elif group is not None and not stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == 0:
                    os.chown(parent, -1, group)
                    parent.chmod(stat.S_IMODE(info.st_mode) | stat.S_IXGRP)
                else:
                    parent.chmod(stat.S_IMODE(info.st_mode) | stat.S_IXOTH)

    def _run(self, program: str, *args: str) -> None:
        command = [str(_pg_bin_dir() / program), *args]
        # As root: the server account's own uid, gid and groups (root's groups would make
        # group permission bits, not "other" bits, decide what the server may read).
        run_as = {"user": ROOT_RUN_AS, "group": ROOT_RUN_AS, "extra_groups": []} if os.geteuid() == 0 else {}
        if run_as:
            # The cluster's folder is the server account's (root passes anyway), its log too.
            shutil.chown(self.root, ROOT_RUN_AS, ROOT_RUN_AS)
            self.root.chmod(0o700)
            self._let_server_through(self.root)
            self.log_file.touch(mode=0o600)
            self.log_file.chmod(0o600)
            shutil.chown(self.log_file, ROOT_RUN_AS)
        result = subprocess.run(command, capture_output=True, text=True, **run_as)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            tail = detail[-1] if detail else f"exit code {result.returncode}"
            raise LocalStackError(f"{program} failed: {tail} (server log: {self.log_file})")


def wait_until_accepting(pg: EmbeddedPostgres, timeout_s: float = 30.0) -> None:
    """Block until the server accepts a login (pg_ctl -w already waits; this covers restarts)."""
    import psycopg

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(pg.url("postgres"), connect_timeout=2):
                return
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline:
                raise LocalStackError(f"the embedded Postgres did not accept logins: {error}") from None
            time.sleep(0.2)
