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


@pytest.fixture(params=[0, 1, 2], ids=lambda s: f"seed{s}")
def seed(request) -> int:
    return request.param


@pytest.fixture
def spec() -> ColumnSpec:
    return ColumnSpec()


@pytest.fixture
def reviews():
    return make_reviews(600, seed=11)
