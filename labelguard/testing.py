"""A throwaway PostgreSQL cluster on loopback, for the tests and benchmarks (never for production data)."""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

SUPERUSER = "labelguard"
RUN_AS = "postgres"  # initdb refuses root: as root, the cluster runs as this unprivileged user


def postgres_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: Debian's versioned dir, else ``pg_config``, else PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if out.returncode == 0 and (Path(out.stdout.strip()) / "initdb").exists():
            return Path(out.stdout.strip())
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



def missing_service(reason: str, what: str) -> None:
    """A test's real service is missing: skip saying why, except in CI (``CI=true``), where it fails."""
    import pytest

    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI needs {what}: {reason}")
    pytest.skip(reason)


@dataclass
class Cluster:
    """A running cluster: loopback port, a password-protected superuser, its data directory."""

    root: Path
    port: int
    password: str
    bindir: Path
    user: str = SUPERUSER
    host: str = "127.0.0.1"

    def url(self, db: str = "postgres", *, table: str | None = "reviews", password: bool = True) -> str:
        """A ``postgresql://`` URL for this cluster (with the password unless ``password=False``)."""
        auth = f"{self.user}:{quote(self.password, safe='')}" if password else self.user
        return f"postgresql://{auth}@{self.host}:{self.port}/{db}" + (f"?table={table}" if table else "")

    def create_database(self, name: str) -> str:
        """Create a fresh database; returns its name."""
        self._psql("postgres", f'CREATE DATABASE "{name}"')
        return name

    def _psql(self, db: str, sql: str) -> None:
        env = {**os.environ, "PGPASSWORD": self.password}
        subprocess.run(
            [str(self.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", db, "-c", sql],
            check=True, env=env, capture_output=True,
        )


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", RUN_AS, "--", *cmd] if os.geteuid() == 0 else cmd


def _ensure_run_user() -> None:
    try:
        pwd.getpwnam(RUN_AS)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", RUN_AS], check=True, capture_output=True)


def start_cluster(bindir: Path | None = None) -> Cluster:
    """initdb a fresh cluster under a temporary directory and start it on a free loopback port.

    As root, the directory belongs to the unprivileged ``postgres`` user (created when missing) and
    ``initdb``/``pg_ctl`` run through ``runuser``. Connections need the superuser's password
    (scram-sha-256 over TCP), so tests see the real authentication path.

    Raises
    ------
    RuntimeError
        PostgreSQL is not installed, or the cluster did not start (with its log).
    """
    bindir = bindir or postgres_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (no initdb found)")
    root = Path(tempfile.mkdtemp(prefix="labelguard-pg-"))
    if os.geteuid() == 0:
        _ensure_run_user()
        ids = pwd.getpwnam(RUN_AS)
        os.chown(root, ids.pw_uid, ids.pw_gid)
    password = secrets.token_urlsafe(12)
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        os.chown(pwfile, pwd.getpwnam(RUN_AS).pw_uid, -1)
    data = root / "data"
    init = subprocess.run(
        _as_owner([str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, f"--pwfile={pwfile}", "--auth-host=scram-sha-256",
                   "--auth-local=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]),
        capture_output=True, text=True,
    )
    pwfile.unlink()
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed: {init.stderr.strip()[-500:]}")
    port = _free_port()
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
    start = subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", opts, "-w", "-t", "60", "start"]), capture_output=True, text=True)
    if start.returncode != 0:
        log = (root / "log").read_text()[-800:] if (root / "log").exists() else start.stderr
        raise RuntimeError(f"pg_ctl start failed: {log.strip()}")
    return Cluster(root=root, port=port, password=password, bindir=bindir)


def stop_cluster(cluster: Cluster) -> None:
    """Stop the server (fast shutdown) and remove its directory."""
    subprocess.run(_as_owner([str(cluster.bindir / "pg_ctl"), "-D", str(cluster.root / "data"), "-m", "fast", "-w", "stop"]), capture_output=True)
    shutil.rmtree(cluster.root, ignore_errors=True)
