"""Text features on real review text (data/drug_reviews: UCI Drug Review subset, CC BY 4.0)."""

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.errors import BadInput
from labelguard.tasks.attacks import flip_labels
from labelguard.tasks.dataset import HOLDOUT, write_dataset
from labelguard.tasks.features import choose_columns, describe_columns, feature_matrix, with_featurizer
from labelguard.tasks.manifest import ColumnSpec, DatasetRef, load_signing_key
from labelguard.tasks.sources import infer_spec, load_source, split_holdout
from labelguard.tasks.storage import open_store

DRUGS = Path(str(resources.files("labelguard.data").joinpath("drug_reviews", "drug_reviews.csv")))
runner = CliRunner()


@pytest.fixture(scope="module")
def drugs():
    frame, spec, _ = load_source(str(DRUGS), id_col="uniqueID", label_col="rating", timestamp_col=None)
    return frame, spec


def test_columns_chosen_and_said(drugs):
    frame, spec = drugs
    assert len(frame) == 979 and spec.classes == ("negative", "neutral", "positive")
    assert (spec.feature_cols, spec.text_cols, spec.positive_class) == (("usefulCount",), ("review",), "positive")
    assert spec.featurizer["method"] == "tfidf-svd" and spec.featurizer["params"]["n_components"] == 50
    assert describe_columns(frame, spec) == (
        "features: usefulCount; text (TF-IDF + SVD to 50 dimensions, fitted on the text of the dataset and its "
        "trusted rows (labels never used)): review; ignored: drugName, condition, date"
    )
    assert ColumnSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    # named columns: text only where asked, ignored where asked
    numeric, text, ignored = choose_columns(frame, reserved=("uniqueID", "rating"), text_cols=["review", "condition"], ignore_cols=["usefulCount"])
    assert (numeric, text, ignored) == ((), ("condition", "review"), ("drugName", "date", "usefulCount"))  # frame order


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"text_cols": ["note"]}, "text column 'note' is empty in every row (fix: leave 'note' out of --text-cols, or fill it)"),
        ({"text_cols": ["nope"]}, "--text-cols names column 'nope', which is not in the data"),
        ({"text_cols": ["usefulCount"]}, "text column 'usefulCount' holds float64 values, not text (fix: leave 'usefulCount' out of --text-cols)"),
        ({"ignore_cols": ["rating"]}, "--ignore-cols names 'rating', the id, label or timestamp column (fix: leave 'rating' out of --ignore-cols)"),
    ],
)
def test_bad_column_choices_are_one_line_errors(drugs, kwargs, message):
    frame = drugs[0].assign(note=pd.Series([None, "  "] * (len(drugs[0]) // 2) + [""], dtype="object"))
    with pytest.raises(BadInput) as err:
        infer_spec(frame, id_col="uniqueID", label_col="rating", timestamp_col=None, **kwargs)
    assert err.value.one_line().startswith(message)


def test_feature_matrix_is_dense_deterministic_and_order_free(drugs):
    frame, spec = drugs
    train, holdout = split_holdout(frame, spec, 0.2, 0)
    a = with_featurizer(spec, train, holdout)
    b = with_featurizer(spec, holdout.iloc[::-1], train.sample(frac=1.0, random_state=3), holdout)  # other order, overlap
    Xa, Xb = feature_matrix(train, a), feature_matrix(train, b)
    assert Xa.shape == (783, 51) and Xa.dtype == np.float64 and np.isfinite(Xa).all()
    np.testing.assert_allclose(Xa, Xb, atol=1e-10)
    np.testing.assert_array_equal(Xa[:, 0], train["usefulCount"].to_numpy(dtype=float))


def test_tamper_localized_and_source_poisoning_fires_on_real_text(drugs, tmp_path, keys):
    """The issue's measurement, on real review text: tamper 5 % at rest, verify names exactly the
    flipped rows; poison the source with targeted 20 %, verify fires."""
    frame, spec = drugs
    sign = load_signing_key(keys[0])
    train, holdout = split_holdout(frame, spec, 0.2, 0)
    ds = open_store(str(tmp_path / "drugs"))
    ds.ensure_writable()
    write_dataset(ds, train, spec, sign, source={"kind": "file"}, dataset=DatasetRef("drugs", "data"))
    write_dataset(ds.child(HOLDOUT), holdout, spec, sign, source={"kind": "file"}, dataset=DatasetRef("drugs", "holdout", HOLDOUT))
    holdout_uri = str(tmp_path / "drugs" / HOLDOUT)
    # clean: every guard passes, the model gate comparing out of fold (a reference equal to the holdout)
    out = tmp_path / "clean.json"
    res = runner.invoke(app, ["verify", str(tmp_path / "drugs"), "--reference", holdout_uri, "--holdout", holdout_uri, "--verify-key", str(keys[1]), "--json", str(out), "--allow-inconclusive"])
    assert res.exit_code == 0, res.output
    # small, hard data (clean accuracy 0.74): no guard fires; the suite says it cannot see 20 % flips
    assert not [g["name"] for g in json.loads(out.read_text())["guards"] if g["verdict"] == "fired"]
    res = runner.invoke(app, ["tamper", str(tmp_path / "drugs"), "--attack", "targeted", "--rate", "0.05", "--truth-out", str(tmp_path / "t.json")])
    assert res.exit_code == 0, res.output
    flipped = json.loads((tmp_path / "t.json").read_text())["flipped"]
    assert len(flipped) == 39 and {(f["old"], f["new"]) for f in flipped} == {("positive", "negative")}
    out = tmp_path / "v.json"
    res = runner.invoke(app, ["verify", str(tmp_path / "drugs"), "--guards", "manifest,schema,class_balance", "--json", str(out), "--verify-key", str(keys[1])])
    assert res.exit_code == 1, res.output
    doc = json.loads(out.read_text())
    assert doc["suspect_ids"] == sorted(f["id"] for f in flipped) and doc["suspects_from"] == ["manifest"]

    # at the source: a new batch (every row but the trusted holdout) poisoned before ingest
    poisoned = flip_labels(train, spec, attack="targeted", rate=0.2, seed=0)
    assert len(poisoned.flipped) == 157
    batch = open_store(str(tmp_path / "batch"))
    batch.ensure_writable()
    write_dataset(batch, poisoned.frame, spec, sign, source={"kind": "file"})
    out = tmp_path / "p.json"
    res = runner.invoke(app, ["verify", str(tmp_path / "batch"), "--reference", holdout_uri, "--holdout", holdout_uri, "--json", str(out), "--verify-key", str(keys[1])])
    assert res.exit_code == 1, res.output
    verdicts = {g["name"]: g for g in json.loads(out.read_text())["guards"]}
    fired = {name for name, g in verdicts.items() if g["verdict"] == "fired"}
    assert {"class_balance", "reference_model"} <= fired and "manifest" not in fired
    # the gate cannot rule out the move of class negative's predicted share (21 points on 196 holdout rows): its share
    # test sits at its level (p=0.001 with the detectors' fenced features, 0.00042 before, when it fired)
    gate = verdicts["model_gate"]
    assert gate["verdict"] in ("fired", "inconclusive") and gate["metrics"]["share_move_upper"] > 0.2


def test_report_draws_a_labelled_projection_for_text(drugs, tmp_path):
    from labelguard.tasks import train, transforms
    from labelguard.tasks.report import RunResult, write_report

    frame, spec = drugs
    tr, ho = split_holdout(frame, spec, 0.2, 0)
    spec = with_featurizer(spec, tr, ho)
    runs = {}
    for label, name, rate in (("clean", "honest", 0.0), ("compromised", "targeted", 0.2)):
        out = transforms.run_transform(tr, spec, name, rate=rate, seed=0)
        model = train.train_model(out.frame, spec)
        runs[label] = RunResult("drugs", name, rate, 0, True, spec, truth=out.truth, frame=out.frame, model=model, metrics=train.evaluate(model, ho, spec))
    paths = write_report(runs, tmp_path)
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = paths["markdown"].read_text()
    assert "## Data and model predictions (2-D projection)" in md and "A projection, not the data's own axes" in md
    assert "predicted share of class 'positive'" in md and "| neutral |" in md
    assert runs["compromised"].metrics["largest_shift"]["class"] in ("negative", "positive")
    plane = train.data_plane(feature_matrix(tr, spec), spec)
    assert plane.projected and plane.dims == 51 and plane.axes[0].startswith("PC1 (")


def test_fitted_featurizer_memo_is_exact_and_pickles(drugs):
    import pickle

    frame, spec = drugs
    fitted = with_featurizer(spec, frame)
    first = feature_matrix(frame, fitted)
    first[:] = 0.0  # a caller writing into its matrix must not change the next caller's
    edited = frame.assign(review=frame["review"].str.replace("e", ""))  # same frame shape, other text
    again, other = feature_matrix(frame, fitted), feature_matrix(edited, fitted)
    assert np.abs(again).sum() > 0 and not np.allclose(again[:, 1:], other[:, 1:])
    clone = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(feature_matrix(frame, clone), again, atol=1e-12)
