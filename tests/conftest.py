"""Shared fixtures: one Prefect test harness per session, one moto S3 server per session, keys, seeds."""

from __future__ import annotations

import os

# Prefect reads its settings at import time: quiet and offline before anything imports it.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
# pytest-xdist's workers set COLUMNS=80 and LINES=24; the commands under test would then draw their tables 80 wide
# instead of the 120 a pipe gets (labelguard.cli reads COLUMNS at import): every worker sees what `make test` on CI sees
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)

import itertools  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from labelguard.tasks.manifest import ColumnSpec, generate_keypair  # noqa: E402
from labelguard.tasks.synthetic import make_reviews  # noqa: E402

_counter = itertools.count()


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real moto *server* on 127.0.0.1; boto3 in the product code talks HTTP to it."""
    from labelguard.tasks.storage import embedded_s3

    with embedded_s3() as endpoint:
        yield endpoint


@pytest.fixture
def s3_uri(s3_endpoint) -> str:
    """A fresh, unused dataset prefix on the moto server."""
    return f"s3://labelguard-test/ds-{next(_counter):04d}"


@pytest.fixture(scope="session")
def prefect_harness():
    """One ephemeral Prefect API (temporary database) for every flow test in the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=240):
        yield


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> tuple[Path, Path]:
    return generate_keypair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def other_keys(tmp_path_factory) -> tuple[Path, Path]:
    return generate_keypair(tmp_path_factory.mktemp("other-keys"))


@pytest.fixture
def key_env(keys, monkeypatch):
    """The session's key pair in LABELGUARD_SIGNING_KEY / LABELGUARD_VERIFY_KEY, and no ledger (LABELGUARD_LEDGER=none)."""
    monkeypatch.setenv("LABELGUARD_SIGNING_KEY", str(keys[0]))
    monkeypatch.setenv("LABELGUARD_VERIFY_KEY", str(keys[1]))
    monkeypatch.setenv("LABELGUARD_LEDGER", "none")
    return keys


@pytest.fixture
def own_key_env(tmp_path) -> dict[str, str]:
    """LABELGUARD_SIGNING_KEY/VERIFY_KEY of a key pair (and so a ledger) of this test's own: data signed
    by other tests can never read as rollback or a known dataset here."""
    signing, verify = generate_keypair(tmp_path / "keys")
    return {"LABELGUARD_VERIFY_KEY": str(verify), "LABELGUARD_SIGNING_KEY": str(signing)}


@pytest.fixture(params=[0, 1, 2], ids=lambda s: f"seed{s}")
def seed(request) -> int:
    return request.param


@pytest.fixture
def spec() -> ColumnSpec:
    return ColumnSpec()


@pytest.fixture
def reviews():
    return make_reviews(600, seed=11)


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL cluster on loopback for the session (as user postgres when run as root).

    No silent skips: outside CI a missing server skips with the reason; in CI (CI=true) it fails.
    """
    from labelguard.testing import postgres_bindir, start_cluster, stop_cluster

    if postgres_bindir() is None:
        reason = "PostgreSQL is not installed (fix: run `make test` as root to install it, or apt-get install postgresql)"
        from labelguard.testing import missing_service

        missing_service(reason, "the real server")
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


@pytest.fixture
def pg_url(pg_cluster) -> str:
    """A fresh database on the session cluster; the URL names table `reviews` and carries the password."""
    return pg_cluster.url(pg_cluster.create_database(f"db{next(_counter):04d}"))


@pytest.fixture(scope="module")
def faulty(s3_endpoint):
    """A second moto server (same in-process backend) whose requests can be made to fail: (server, endpoint)."""
    from tests.faults import FaultyS3

    server = FaultyS3()
    endpoint = server.start()
    yield server, endpoint
    server.stop()


@pytest.fixture
def faulty_store(faulty, monkeypatch):
    """An empty S3 store behind the faulty server, no fault armed, two attempts per call: (server, endpoint, store)."""
    from labelguard.tasks.storage import S3Store

    server, endpoint = faulty
    server.clear()
    monkeypatch.setenv("LABELGUARD_S3_MAX_ATTEMPTS", "2")
    store = S3Store("labelguard-words", f"ds-{next(_counter):04d}", endpoint_url=endpoint)
    store.ensure_writable()
    return server, endpoint, store


QUIET = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL"}


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory) -> Path:
    """Prefect's SQLite database migrated once per session: each server copies it (10-13 s to healthy instead of ~30 s)."""
    home = tmp_path_factory.mktemp("prefect-template")
    env = {**os.environ, **QUIET, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    subprocess.run([sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"], env=env, check=True, capture_output=True, timeout=300)
    assert (home / "prefect.db").is_file()
    return home / "prefect.db"


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group ``proc`` leads, SIGKILL after 15 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def prefect_server(tmp_path, migrated_db):
    """A fresh `prefect server start` of this test's own (a copy of the migrated database); yields its API URL."""
    from labelguard.server import free_port, healthy

    home = tmp_path / "prefect-home"
    home.mkdir()
    shutil.copy(migrated_db, home / "prefect.db")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, **QUIET, "PREFECT_HOME": str(home), "PREFECT_API_URL": api}
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"],
                            env=env, stdout=open(tmp_path / "server.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not healthy(api, timeout=1.0):
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "prefect server did not become healthy in 120 s"
            time.sleep(0.5)
        yield api
    finally:
        stop_group(proc)


@pytest.fixture(scope="session")
def labelguard_server(tmp_path_factory, migrated_db):
    """A real `labelguard server --no-ui` on a free port, one per session, started on a copy of the
    session's migrated database (a first migration costs 30-80 s here);
    yields (api_url, env for commands that use it). For tests that need a served deployment."""
    from labelguard.server import free_port, healthy

    labelguard = str(Path(sys.executable).parent / "labelguard")
    home = tmp_path_factory.mktemp("lg-home")
    (home / "prefect").mkdir()
    shutil.copy(migrated_db, home / "prefect" / "prefect.db")  # the session's migrated database: no second migration
    port = free_port()
    env = {**os.environ, "LABELGUARD_HOME": str(home), "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL"}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen([labelguard, "server", "--port", str(port), "--no-ui"], cwd=home, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 240
        while not healthy(api, timeout=1.0):
            assert proc.poll() is None, f"labelguard server exited with {proc.returncode}: {(home / 'server.log').read_text()[-2000:]}"
            assert time.monotonic() < deadline, "the Prefect server did not answer within 240 s"
            time.sleep(1)
        yield api, {**env, "PREFECT_API_URL": api}
    finally:
        if proc.poll() is None:  # SIGTERM to the group we started (the command and its Prefect child), SIGKILL on a timeout
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def wait_for_sigterm_handler(pid: int, timeout: float = 120.0) -> None:
    """Wait until process ``pid`` catches SIGTERM (a handler installed), read from ``/proc/PID/status``.

    Python leaves SIGTERM at its default action (killed, exit -15), so the bit in ``SigCgt`` appears
    exactly when ``watch`` has installed its handler: a readiness signal, not a guessed sleep.
    """
    import signal
    import time

    deadline = time.monotonic() + timeout
    bit = 1 << (signal.SIGTERM - 1)
    while True:
        with open(f"/proc/{pid}/status") as fh:
            caught = int(next(line for line in fh if line.startswith("SigCgt:")).split()[1], 16)
        if caught & bit:
            return
        assert time.monotonic() < deadline, f"process {pid} installed no SIGTERM handler in {timeout:.0f} s"
        time.sleep(0.2)
