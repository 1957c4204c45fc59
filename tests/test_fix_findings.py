"""Break-it round 2 findings, each pinned with its exact exit code and one-line message (small data of our own)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.tasks.synthetic import make_reviews

runner = CliRunner()


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


@pytest.fixture
def env(keys):
    return {"LABELGUARD_VERIFY_KEY": str(keys[1]), "LABELGUARD_SIGNING_KEY": str(keys[0])}


@pytest.fixture
def day_csvs(tmp_path):
    """Two clean days and three that do not fit: a new class, a feature gone, labels re-spelt."""
    rows = make_reviews(400, seed=3)
    paths = {}
    for name, frame in {
        "day1": rows.iloc[:200],
        "day2": rows.iloc[200:],
        "newclass": rows.iloc[200:].assign(label=[2, 2, 2] + rows["label"].iloc[203:].tolist()),
        "nocol": rows.iloc[200:].drop(columns=["intensity"]),
        "str": rows.iloc[200:].assign(label=rows["label"].iloc[200:].map({0: "neg", 1: "pos"})),
    }.items():
        paths[name] = tmp_path / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths


def test_partition_that_does_not_fit_the_signed_dataset_is_refused(tmp_path, env, day_csvs):
    lake = tmp_path / "lake"
    first = invoke("ingest", "--dest", lake, "--source", day_csvs["day1"], "--partition", "date=2026-03-01", env=env)
    assert first.exit_code == 0, first.output
    fix = ("(fix: export the day with the dataset's columns and labels (features: polarity, intensity; text: none; classes: 0, 1), "
           "or ingest it into a new --dest)")
    cases = {
        "newclass": "label 2 not in the class set [0, 1]",
        "nocol": "column 'intensity' missing",
        "str": "labels are str ('neg', 'pos'), the dataset's are int (0, 1)",
    }
    for i, (name, why) in enumerate(cases.items(), start=2):
        extra = ("--positive-class", "pos") if name == "str" else ()
        result = invoke("ingest", "--dest", lake, "--source", day_csvs[name], "--partition", f"date=2026-03-0{i}", *extra, env=env)
        assert result.exit_code == 2, result.output
        assert result.output.strip() == f"error: the day does not fit dataset {lake} (signed in holdout): {why} {fix}"
        assert not (lake / f"date=2026-03-0{i}").exists()
    ok = invoke("ingest", "--dest", lake, "--source", day_csvs["day2"], "--partition", "date=2026-03-09", env=env)
    assert ok.exit_code == 0, ok.output
    assert (lake / "date=2026-03-09" / "manifest.json").exists()
