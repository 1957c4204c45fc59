"""Shared fixtures: one Prefect test harness per session, one moto S3 server per session, keys, seeds."""

from __future__ import annotations

import os

# Prefect reads its settings at import time: quiet and offline before anything imports it.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")

import itertools  # noqa: E402
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


@pytest.fixture(scope="session")
def labelguard_server(tmp_path_factory):
    """A real `labelguard server --no-ui` on a free port, one per session (its start costs 30-80 s here);
    yields (api_url, env for commands that use it). For tests that need a served deployment."""
    import signal
    import subprocess
    import sys
    import time

    from labelguard.server import free_port, healthy

    labelguard = str(Path(sys.executable).parent / "labelguard")
    home = tmp_path_factory.mktemp("lg-home")
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
