"""Break-it round 4 findings left open (ingest, readers, seal, snapshot, partitions), each pinned with its exit code
and exact one-line message, on small data of our own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from labelguard.cli import app

runner = CliRunner()


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


@pytest.fixture
def env(own_key_env):
    return own_key_env


def pos_neg(n: int, seed: int, prefix: str = "c") -> pd.DataFrame:
    """``n`` rows of two well separated classes spelt pos/neg, text ids ``{prefix}-0000``..."""
    rng = np.random.default_rng(seed)
    y = rng.choice(2, n)
    frame = pd.DataFrame(rng.normal(0, 1, (n, 3)) + 3 * y[:, None], columns=["f0", "f1", "f2"])
    frame.insert(0, "id", [f"{prefix}-{i:04d}" for i in range(n)])
    frame["label"] = np.where(y == 1, "pos", "neg")
    return frame


def files_under(path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_a_later_partition_takes_the_positive_class_its_dataset_signed(env, tmp_path):
    """Finding 11: day 2 was refused with 'cannot tell which class is positive' although the dataset's signed
    manifest says 'pos'; naming another class is refused in one line that says whose class it is."""
    from labelguard.tasks.dataset import MANIFEST_KEY
    from labelguard.tasks.manifest import SignedManifest

    for day in (1, 2):
        pos_neg(80, day, prefix=f"d{day}").to_csv(tmp_path / f"day{day}.csv", index=False)
    lake = tmp_path / "lake"
    common = ["--dest", lake, "--id-col", "id", "--label-col", "label"]
    result = invoke("ingest", *common, "--source", tmp_path / "day1.csv", "--positive-class", "pos", "--partition", "date=2026-03-01", env=env)
    assert result.exit_code == 0, result.output
    before = files_under(tmp_path)
    result = invoke("ingest", *common, "--source", tmp_path / "day2.csv", "--positive-class", "neg", "--partition", "date=2026-03-02", env=env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (f"error: --positive-class 'neg' differs from the positive class 'pos' that dataset {lake} signed (in holdout) "
                                     f"(fix: leave --positive-class out: every day of {lake} takes the dataset's)")
    assert files_under(tmp_path) == before  # nothing written, the ledger included
    result = invoke("ingest", *common, "--source", tmp_path / "day2.csv", "--partition", "date=2026-03-02", env=env)
    assert result.exit_code == 0, result.output
    signed = SignedManifest.from_bytes((lake / "date=2026-03-02" / MANIFEST_KEY).read_bytes())
    assert signed.spec.positive_class == "pos" and signed.payload["rows"] == 80
