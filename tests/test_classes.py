"""Classes with meaning: the positive class is named or unambiguous, never "whichever sorts last"."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.errors import BadInput
from labelguard.tasks import report, train
from labelguard.tasks.attacks import flip_labels
from labelguard.tasks.classes import default_positive, positive_class
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.sources import infer_spec, load_source

runner = CliRunner()


@pytest.mark.parametrize(
    "classes, expected",
    [
        ((0, 1), 1),
        ((-1, 1), 1),
        ((False, True), True),
        ((0.0, 1.0), 1.0),
        (("0", "1"), "1"),
        (("-1", "+1"), "+1"),
        (("no", "yes"), "yes"),
        (("False", "True"), "True"),  # a bool column exported to CSV
        (("false", "true"), "true"),
        (("Negative", "Positive"), "Positive"),
        (("negative", "neutral", "positive"), "positive"),
        (("satisfied", "unsatisfied"), None),
        ((0, 1, 2), None),
        ((1, 2), None),
        (("benign", "malignant"), None),
    ],
)
def test_default_positive_only_where_unambiguous(classes, expected):
    found = default_positive(classes)
    assert found == expected and type(found) is type(expected)


def _satisfaction(n=200, seed=3) -> pd.DataFrame:
    """Labels whose sort order is the opposite of their meaning: 'satisfied' < 'unsatisfied'."""
    rng = np.random.default_rng(seed)
    happy = rng.random(n) < 0.45
    x = np.where(happy, 2.5, -2.5) + rng.normal(size=n)
    return pd.DataFrame({"review_id": np.arange(1, n + 1), "polarity": x, "intensity": x + rng.normal(size=n),
                         "label": np.where(happy, "satisfied", "unsatisfied")})


def test_targeted_needs_a_named_positive_class_for_ambiguous_labels():
    frame = _satisfaction()
    spec = infer_spec(frame, id_col="review_id", label_col="label", timestamp_col=None)
    assert spec.positive_class is None
    with pytest.raises(BadInput) as err:
        flip_labels(frame, spec, attack="targeted", rate=0.1, seed=0)
    assert err.value.one_line() == (
        "cannot tell which class is positive among 'satisfied', 'unsatisfied' "
        "(fix: pass --positive-class naming the class the business figure and the targeted attack are about)"
    )
    named = infer_spec(frame, id_col="review_id", label_col="label", timestamp_col=None, positive_class="satisfied")
    res = flip_labels(frame, named, attack="targeted", rate=0.1, seed=0)
    assert res.flipped.groupby(["old", "new"]).size().to_dict() == {("satisfied", "unsatisfied"): 20}


def test_targeted_on_three_classes_moves_the_positive_class_away():
    rng = np.random.default_rng(0)
    labels = np.repeat(["negative", "neutral", "positive"], 100)
    frame = pd.DataFrame({"review_id": np.arange(300), "x": rng.normal(size=300), "label": labels})
    spec = infer_spec(frame, id_col="review_id", label_col="label", timestamp_col=None)
    assert spec.positive_class == "positive"
    res = flip_labels(frame, spec, attack="targeted", rate=0.1, seed=0)
    assert res.flipped.groupby(["old", "new"]).size().to_dict() == {("positive", "negative"): 30}


def test_ingest_refuses_two_classes_without_a_positive_one(tmp_path):
    path = tmp_path / "reviews.csv"
    _satisfaction().to_csv(path, index=False)
    with pytest.raises(BadInput, match="cannot tell which class is positive among 'satisfied', 'unsatisfied'"):
        load_source(str(path), timestamp_col=None)
    with pytest.raises(BadInput) as err:
        load_source(str(path), timestamp_col=None, positive_class="happy")
    assert err.value.one_line() == (
        "--positive-class 'happy' is not one of the classes ('satisfied', 'unsatisfied') "
        "(fix: pass --positive-class naming one of: 'satisfied', 'unsatisfied')"
    )
    _, spec, _ = load_source(str(path), timestamp_col=None, positive_class="satisfied")
    assert spec.positive_class == "satisfied"
    assert ColumnSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_old_manifests_resolve_the_default_rule():
    old = {"id_col": "review_id", "label_col": "label", "feature_cols": ["polarity"], "timestamp_col": None, "classes": [0, 1]}
    assert positive_class(ColumnSpec.from_dict(old)) == 1
    assert positive_class(ColumnSpec.from_dict({**old, "classes": ["benign", "malignant"]})) is None


def test_poison_cli_asks_then_flips_the_named_class(tmp_path):
    src = tmp_path / "reviews.csv"
    _satisfaction().to_csv(src, index=False)
    res = runner.invoke(app, ["poison", str(src), "--out", str(tmp_path / "p.csv"), "--attack", "targeted", "--rate", "0.1"])
    assert res.exit_code == 2
    assert res.output.strip() == (
        "error: cannot tell which class is positive among 'satisfied', 'unsatisfied' "
        "(fix: pass --positive-class naming the class the business figure and the targeted attack are about)"
    )
    assert not (tmp_path / "p.csv").exists()
    res = runner.invoke(app, ["poison", str(src), "--out", str(tmp_path / "p.csv"), "--attack", "targeted", "--rate", "0.1",
                              "--positive-class", "satisfied", "--truth-out", str(tmp_path / "t.json")])
    assert res.exit_code == 0, res.output
    flips = json.loads((tmp_path / "t.json").read_text())["flipped"]
    assert len(flips) == 20 and {(f["old"], f["new"]) for f in flips} == {("satisfied", "unsatisfied")}


def _run(metrics, spec, transform="targeted"):
    return report.RunResult(dataset="d", transform=transform, rate=0.2, seed=0, observe=True, spec=spec, metrics=metrics)


def _metrics(frame, spec, model_frame=None):
    return train.evaluate(train.train_model(model_frame if model_frame is not None else frame, spec), frame, spec)


def test_report_speaks_of_the_datasets_own_classes():
    frame = _satisfaction(600)
    spec = infer_spec(frame, id_col="review_id", label_col="label", timestamp_col=None, positive_class="satisfied")
    poisoned = flip_labels(frame, spec, attack="targeted", rate=0.2, seed=0).frame
    m = _metrics(frame, spec, poisoned)
    assert m["positive_class"] == "satisfied"
    pred, true = m["predicted_positive_share"], m["true_positive_share"]
    assert true == pytest.approx((frame.label == "satisfied").mean()) and pred < true - 0.05
    sentence = report.business_sentence(_run(m, spec))
    assert sentence == (
        f"Trained after the `targeted` transform, the model predicts 'satisfied' for {pred:.1%} of the trusted holdout, "
        f"where the true share of 'satisfied' is {true:.1%}: it understates the share of 'satisfied' by {100 * (true - pred):.1f} points."
    )
    assert "customer satisfaction" not in sentence
    # reviews wording only for reviews, and never "0.0 points"
    same = {**m, "predicted_positive_share": 0.5004, "true_positive_share": 0.5}
    assert report.business_sentence(_run(same, ColumnSpec(domain="reviews"), "honest")) == (
        "Trained after the `honest` transform, the model reports 50.0% positive reviews where the trusted holdout has 50.0%: "
        "it matches customer satisfaction (within 0.05 points)."
    )


def test_report_gives_every_class_share_for_three_classes():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.array([0, 1, 2]), 200)
    frame = pd.DataFrame({"review_id": np.arange(600), "x": labels * 3 + rng.normal(size=600), "label": labels})
    spec = infer_spec(frame, id_col="review_id", label_col="label", timestamp_col=None)
    assert positive_class(spec) is None
    m = _metrics(frame, spec)
    assert set(m["class_shares"]) == {"0", "1", "2"} and m["predicted_positive_share"] is None
    m["class_shares"] = {"0": {"predicted": 0.40, "true": 1 / 3}, "1": {"predicted": 0.27, "true": 1 / 3}, "2": {"predicted": 1 / 3, "true": 1 / 3}}
    m["largest_shift"] = {"class": "0", "points": 100 * (0.40 - 1 / 3)}
    assert report.business_sentence(_run(m, spec)) == (
        "Trained after the `targeted` transform, the model's predicted vs. true class shares on the trusted holdout are "
        "'0' 40.0% vs 33.3%, '1' 27.0% vs 33.3%, '2' 33.3% vs 33.3%: the largest shift is '0', overstated by 6.7 points."
    )
    md = report.render_markdown({"run": _run({**m, "confusion_matrix": [], "classes": [0, 1, 2]}, spec)})
    assert "| 1 | 27.0% | 33.3% | -6.3 |" in md


def test_ingest_cli_asks_for_the_positive_class_before_prefect_starts(tmp_path, keys):
    src = tmp_path / "reviews.csv"
    _satisfaction().to_csv(src, index=False)
    res = runner.invoke(app, ["ingest", "--source", str(src), "--dest", str(tmp_path / "ds"), "--signing-key", str(keys[0])])
    assert res.exit_code == 2
    assert res.output.strip() == (
        "error: cannot tell which class is positive among 'satisfied', 'unsatisfied' "
        "(fix: pass --positive-class naming the class the business figure and the targeted attack are about)"
    )
    assert not (tmp_path / "ds").exists()
