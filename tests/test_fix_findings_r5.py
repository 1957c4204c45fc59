"""Break-it round 5 findings, each pinned with its exact exit code and one-line message (small data of our own)."""

from __future__ import annotations

from pathlib import Path

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


def test_the_scheduled_verify_run_says_cannot_tell_not_that_inconclusive_guards_fired(tmp_path, keys, prefect_harness):
    """The served verify flow failed clean data with 'class_balance, class_conditional, reference_model fired, cannot
    tell (...)' (fix: 'accept a higher tolerated flip rate', which watch does not take); verify said no guard fired."""
    from labelguard.errors import GuardFired
    from labelguard.flows.ingest import ingest_flow
    from labelguard.flows.verify import verify_flow

    ds = str(tmp_path / "ds")
    ingest_flow(source="synthetic", dest=ds, signing_key=keys[0], rows=300, seed=3)  # a 60-row holdout: the gate cannot bound 2 points
    with pytest.raises(GuardFired) as info:
        verify_flow(ds, keys[1])
    assert info.value.failed == []
    assert not any(g.fired for g in info.value.results)
    assert str(info.value).startswith("cannot tell: model gate cannot rule out an accuracy drop of 2% (95 % upper bound ")
    assert " fired" not in str(info.value)
    # every reason is named (break-it r5 finding 12): the gate's bound and the classes whose flips no guard would see
    assert "holdout rows); flips of 20% of a class would go unseen (smallest detectable flip rate: " in str(info.value)
    assert str(info.value).endswith("(fix: pass a larger trusted --holdout (the gate's bound on the damage shrinks with its rows); "
                                    "for the flips no guard would see, add trusted reference rows, accept more unseen flips with --tolerate 0.26; "
                                    "or --allow-inconclusive on `labelguard watch`)")


@pytest.mark.parametrize("command", ["ingest"])
def test_a_signing_key_of_another_pair_than_the_verify_key_is_refused_before_anything_is_written(own_key_env, tmp_path, csv, command):
    """`--signing-key` of another pair was used silently; every verify then fired `manifest` (unknown-key), exit 1."""
    from labelguard.tasks.manifest import generate_keypair, key_id, load_signing_key, load_verify_key

    other, _ = generate_keypair(tmp_path / "other")
    before = sorted(p.name for p in tmp_path.iterdir())
    args = {"ingest": ["ingest", "--source", csv, "--id-col", "id", "--dest", tmp_path / "d"],
            "baseline": ["baseline", tmp_path / "nowhere", "--out", tmp_path / "b"]}[command]
    result = invoke(*args, "--signing-key", other, env=own_key_env)
    assert result.exit_code == 2, result.output
    own = key_id(load_signing_key(other).public_key())
    trusted = key_id(load_verify_key(Path(own_key_env["LABELGUARD_VERIFY_KEY"])))
    assert result.output.strip() == (
        f"error: the signing key {other} (key {own}) is not the pair of the verify key {own_key_env['LABELGUARD_VERIFY_KEY']} "
        f"(key {trusted}): every verify would report the data as signed by an unknown key "
        "(fix: point the signing key and LABELGUARD_VERIFY_KEY / --verify-key at one `labelguard keygen` folder)")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
