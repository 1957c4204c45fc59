"""README's `labelguard list` and `labelguard sample`, output checked line by line and value by value."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.tasks import attacks, guards, train, transforms
from labelguard.tasks.synthetic import make_reviews

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def listed(stdout: str) -> list[tuple[str, str, str]]:
    """(kind, name, description) per row of the `list` table; wrapped descriptions joined again."""
    rows: list[list[str]] = []
    for line in stdout.splitlines():
        if not line.startswith("│"):
            continue
        kind, name, what = (c.strip() for c in line.strip("│").split("│"))
        if kind:
            rows.append([kind, name, what])
        else:
            rows[-1][2] = f"{rows[-1][2]} {what}".strip()
    return [tuple(r) for r in rows]


def test_list_names_every_registered_plugin_once_with_its_description():
    res = invoke("list")
    assert res.exit_code == 0 and res.stderr == ""
    assert res.stdout.splitlines()[0] == "registered"
    rows = listed(res.stdout)
    by_kind: dict[str, list[str]] = {}
    for kind, name, _ in rows:
        by_kind.setdefault(kind, []).append(name)
    # the README's seven strategies and three models, by name
    assert by_kind["attack"] == ["random", "targeted", "nearest", "farthest", "greedy", "subset", "cluster"]
    assert by_kind["model"] == ["logreg", "knn", "gboost"]
    assert by_kind["transform"] == sorted(["honest", *by_kind["attack"]])
    assert by_kind["guard"] == list(guards.REGISTRY)
    assert list(by_kind) == ["attack", "transform", "guard", "model"] and len(rows) == sum(map(len, by_kind.values()))
    expected = {("attack", a.name): f"{a.description} options: {a.usage()}" for a in attacks.REGISTRY.values()}  # the options on a line of their own
    expected |= {("transform", t): transforms.get_transform(t).description for t in transforms.transform_names()}
    expected |= {("guard", g.name): g.description for g in guards.REGISTRY.values()}
    expected |= {("model", m): f.__doc__.strip().splitlines()[0] for m, f in train.REGISTRY.items()}
    assert all(expected[("model", m)] for m in train.REGISTRY)  # every model says what it is
    assert {(k, n): d for k, n, d in rows} == expected
    assert expected[("transform", "cluster")] == "compromised, poses as honest: " + attacks.REGISTRY["cluster"].description


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_sample_writes_the_documented_columns_and_values(tmp_path, suffix):
    out = tmp_path / f"reviews.{suffix}"
    res = invoke("sample", "--out", out, "--rows", 40, "--seed", 7)
    assert res.exit_code == 0 and res.stderr == ""
    assert res.stdout == f"wrote {out}: 40 synthetic reviews (sentiment 1 = positive, 0 = negative)\n"
    got = pd.read_csv(out, dtype={"id": str}) if suffix == "csv" else pd.read_parquet(out)
    assert list(got.columns) == ["id", "sentiment", "polarity", "intensity", "created_at"]
    want = make_reviews(40, seed=7)
    assert got["id"].tolist() == want["review_id"].tolist()
    assert got["sentiment"].tolist() == want["label"].tolist() and set(got["sentiment"]) == {0, 1}
    assert got["polarity"].round(12).tolist() == want["polarity"].round(12).tolist()
    assert got["intensity"].round(12).tolist() == want["intensity"].round(12).tolist()
    assert got["created_at"].tolist() == want["created_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").tolist()


def test_sample_defaults_to_3000_rows_and_seed_0(tmp_path):
    res = invoke("sample", "--out", tmp_path / "r.csv")
    assert res.exit_code == 0 and res.stdout == f"wrote {tmp_path / 'r.csv'}: 3000 synthetic reviews (sentiment 1 = positive, 0 = negative)\n"
    got = pd.read_csv(tmp_path / "r.csv", dtype={"id": str})
    assert len(got) == 3000 and got["id"].tolist() == make_reviews(3000, seed=0)["review_id"].tolist()


@pytest.mark.parametrize(
    "name, message",
    [
        ("taken.csv", "error: {out} already exists (fix: choose a new --out path)"),
        ("reviews.json", "error: --out reviews.json is neither .csv nor .parquet (fix: name the file e.g. reviews.csv)"),
        ("nodir/reviews.csv", "error: no directory {parent} (fix: create it first)"),
    ],
)
def test_sample_refusals_are_one_line_exit_2_nothing_written(tmp_path, name, message):
    (tmp_path / "taken.csv").write_text("mine")
    out = tmp_path / name
    res = invoke("sample", "--out", out, "--rows", 10)
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr == message.format(out=out, parent=out.parent) + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.csv"] and (tmp_path / "taken.csv").read_text() == "mine"
