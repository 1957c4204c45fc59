"""Break-it round 5 findings, each pinned with its exact exit code and one-line message (small data of our own)."""

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
def csv(tmp_path):
    """60 rows, two classes 0/1, text ids."""
    rng = np.random.default_rng(5)
    y = rng.choice(2, 60)
    frame = pd.DataFrame(rng.normal(0, 1, (60, 2)) + 3 * y[:, None], columns=["f0", "f1"])
    frame.insert(0, "id", [f"r-{i:03d}" for i in range(60)])
    frame["label"] = y
    path = tmp_path / "batch.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("args", "flag", "uri"), [
    (["keygen", "--out", "s3://bkt5/keys"], "--out", "s3://bkt5/keys"),
    (["sample", "--out", "s3://bkt5/s.csv"], "--out", "s3://bkt5/s.csv"),
    (["tamper", "batch.csv", "--id-col", "id", "--attack", "random", "--rate", "0.1", "--truth-out", "s3://bkt5/t.json"], "--truth-out", "s3://bkt5/t.json"),
    (["verify", "batch.csv", "--json", "s3://bkt5/v.json"], "--json", "s3://bkt5/v.json"),
    (["pipeline", "s3://bkt5/p1", "--out", "s3://bkt5/rep"], "--out", "s3://bkt5/rep"),
])
def test_a_uri_given_to_a_local_path_option_is_refused_not_written_below_a_folder_named_s3(own_key_env, tmp_path, monkeypatch, csv, args, flag, uri):
    """`--truth-out s3://bkt5/t.json` was folded to `s3:/bkt5/t.json` and written locally (keys, truth files, reports), exit 0."""
    monkeypatch.chdir(tmp_path)
    before, listed = csv.read_bytes(), sorted(p.name for p in tmp_path.iterdir())
    result = invoke(*args, env=own_key_env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (f"error: {flag} {uri} is a URI, but {flag} takes a local path "
                                     "(fix: write it to a local file or folder (copy it to the store afterwards if you must))")
    assert sorted(p.name for p in tmp_path.iterdir()) == listed
    assert not (tmp_path / "s3:").exists()
    assert csv.read_bytes() == before


class _Fixed:
    """A fitted model whose holdout predictions are given (evaluate only calls predict)."""

    def __init__(self, predictions):
        self.predictions = np.array(predictions, dtype=object)

    def predict(self, X):
        assert len(X) == len(self.predictions)
        return self.predictions


def test_a_named_class_among_three_gets_its_own_precision_and_recall_not_the_macro_average():
    """4 classes, `--positive-class platinum`: the table's "+ = platinum" row showed recall 0.755 (macro) while
    the model found 4 of 20 platinum rows; with two classes the columns were already the positive class's."""
    from labelguard.tasks import train
    from labelguard.tasks.manifest import ColumnSpec

    holdout = pd.DataFrame({"review_id": [f"h{i}" for i in range(10)], "f0": np.arange(10.0),
                            "label": ["a", "a", "a", "a", "b", "b", "b", "c", "c", "c"]})
    predicted = ["a", "a", "a", "c", "b", "b", "b", "c", "a", "a"]
    named = ColumnSpec(feature_cols=("f0",), classes=("a", "b", "c"), positive_class="c")
    m = train.evaluate(_Fixed(predicted), holdout, named)
    assert (m["precision"], m["recall"], m["f1"]) == (0.5, pytest.approx(1 / 3), pytest.approx(0.4))
    assert (m["predicted_positive_share"], m["true_positive_share"]) == (0.2, 0.3)
    unnamed = ColumnSpec(feature_cols=("f0",), classes=("a", "b", "c"), positive_class=None)
    m = train.evaluate(_Fixed(predicted), holdout, unnamed)  # no class named: macro, as before
    assert (m["precision"], m["recall"]) == (pytest.approx((3 / 5 + 1 + 1 / 2) / 3), pytest.approx((3 / 4 + 1 + 1 / 3) / 3))


@pytest.mark.parametrize("command", ["verify", "pipeline"])
def test_tolerate_help_says_what_it_tolerates(command):
    """`--tolerate 0.5` left the model gate at its fixed 2 points, while the help said it covered the accuracy drop."""
    text = " ".join(invoke(command, "--help").output.replace("│", " ").split())
    assert "(and holdout accuracy drop)" not in text
    assert "(the model gate's 2-point accuracy bound is fixed)" in text


def test_verify_holdout_help_names_the_datasets_own_holdout_first():
    text = " ".join(invoke("verify", "--help").output.replace("│", " ").split())
    assert "(default: the dataset's own URI/holdout; without one, for default synthetic data, the golden holdout shipped in data/)" in text
