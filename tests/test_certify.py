"""The label-flip certificate, checked by attack: flips within the radius never change a prediction."""

import numpy as np
import pytest

from labelguard.errors import BadInput
from labelguard.tasks import certify
from labelguard.tasks.features import feature_matrix
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.synthetic import make_reviews

SPEC = ColumnSpec()


def test_vote_radius_follows_the_dpa_formula_with_class_order_ties():
    votes = np.array([[7, 3], [3, 7], [5, 5], [6, 4], [4, 6], [10, 0], [0, 10]])
    top, radius = certify.vote_radius(votes)
    assert top.tolist() == [0, 1, 0, 0, 1, 0, 1]
    # floor((n_top - n_c - [c < top]) / 2): a tie of 5:5 holds for class 0 (first) with 0 flips
    assert radius.tolist() == [2, 1, 0, 1, 0, 5, 4]
    top3, radius3 = certify.vote_radius(np.array([[4, 3, 3], [2, 5, 3], [5, 1, 3], [1, 3, 6]]))
    assert top3.tolist() == [0, 1, 0, 2] and radius3.tolist() == [0, 1, 1, 1]
    _, with_truth = certify.vote_radius(votes[:3], truth=np.array([0, 0, 1]))
    assert with_truth.tolist() == [2, -1, -1]


def test_partition_ignores_labels_and_is_stable():
    ids = np.arange(1000)
    parts = certify.partition_of(ids, 10)
    assert parts.tolist() == certify.partition_of([str(i) for i in ids], 10).tolist()
    counts = np.bincount(parts, minlength=10)
    assert counts.min() > 60 and counts.max() < 140  # a hash spreads rows evenly
    assert certify.partition_of(ids[::-1], 10).tolist() == parts[::-1].tolist()


def test_certified_accuracy_curve_is_monotone_and_starts_at_accuracy():
    data = make_reviews(900, seed=3)
    cert = certify.certify(data.iloc[:700], data.iloc[700:], SPEC, model="logreg", partitions=20)
    curve = [p["certified_accuracy"] for p in cert.curve()]
    assert len(curve) == 11 and curve[0] == cert.accuracy >= 0.97
    assert all(a >= b for a, b in zip(curve, curve[1:]))
    assert cert.radius.max() <= 10 and cert.method == "dpa"


def test_too_few_rows_for_the_partitions_is_bad_input():
    data = make_reviews(60, seed=0)
    with pytest.raises(BadInput, match="too few for 40 partitions"):
        certify.certify(data.iloc[:50], data.iloc[50:], SPEC, partitions=40)


def _retrained_prediction(train, X_test_row, k, model="logreg"):
    """The aggregate DPA prediction for one holdout row after retraining every base model."""
    X, y = feature_matrix(train, SPEC), train[SPEC.label_col].to_numpy()
    votes = certify.partition_votes(X, y, certify.partition_of(train[SPEC.id_col].to_numpy(), k), X_test_row, list(SPEC.classes), model, 0, k)
    return certify.vote_radius(votes)[0][0], votes[0]


def _swinging_flips(train, x, top, target, k, wanted):
    """Flips chosen against the prediction: in partitions that vote ``top`` for row ``x``, a single
    flip (one row to ``target``) that turns that partition's vote; one flip per partition."""
    X, y = feature_matrix(train, SPEC), train[SPEC.label_col].to_numpy()
    parts = certify.partition_of(train[SPEC.id_col].to_numpy(), k)
    classes = list(SPEC.classes)
    flips = []
    for p in range(k):
        if len(flips) == wanted:
            break
        members = np.flatnonzero(parts == p)
        if len(members) == 0:
            continue
        if certify.vote_radius(certify.partition_votes(X[members], y[members], np.zeros(len(members), int), x, classes, "logreg", 0, 1))[0][0] != top:
            continue  # this partition does not vote for the prediction
        for row in members:
            if y[row] == classes[target]:
                continue
            y_try = y[members].copy()
            y_try[members == row] = classes[target]
            vote = certify.vote_radius(certify.partition_votes(X[members], y_try, np.zeros(len(members), int), x, classes, "logreg", 0, 1))[0][0]
            if vote == target:
                flips.append(row)
                break
    return flips


def _flipped(train, rows, target_label):
    out = train.copy()
    labels = out[SPEC.label_col].to_numpy(copy=True)
    labels[rows] = target_label
    out[SPEC.label_col] = labels
    return out


def test_dpa_certificate_holds_by_attack_and_is_tight_for_some_rows():
    """For sampled holdout rows: ``radius`` flips against the prediction, each turning one
    partition's vote, never change it after retraining; one more changes it for some rows."""
    # overlapping classes and tiny partitions: single flips can turn partition votes
    data = make_reviews(250, seed=5, separation=2.0)
    train, holdout = data.iloc[:150].reset_index(drop=True), data.iloc[150:].reset_index(drop=True)
    k = 40
    cert = certify.certify(train, holdout, SPEC, model="logreg", partitions=k)
    X_ho = feature_matrix(holdout, SPEC)
    candidates = np.flatnonzero((cert.radius >= 0) & (cert.radius <= 4))
    rng = np.random.default_rng(0)
    sampled = rng.choice(candidates, size=min(6, len(candidates)), replace=False)
    assert len(sampled) == 6
    held, broken = 0, 0
    for i in sampled:
        x = X_ho[i : i + 1]
        top, votes = _retrained_prediction(train, x, k)
        assert top == list(SPEC.classes).index(cert.prediction[i])
        r = int(cert.radius[i])
        target = 1 - top  # binary: the runner-up
        flips = _swinging_flips(train, x, top, target, k, r + 1)
        within = _flipped(train, flips[:r], SPEC.classes[target])
        assert _retrained_prediction(within, x, k)[0] == top, f"row {i}: {min(r, len(flips))} flips within radius {r} changed it"
        held += 1
        if len(flips) == r + 1:
            beyond = _flipped(train, flips, SPEC.classes[target])
            broken += _retrained_prediction(beyond, x, k)[0] != top
    assert held == len(sampled)
    assert broken >= 2, "one flip beyond the radius should change some predictions (else the attack is too weak to test anything)"


def test_knn_certificate_is_exact_by_attack():
    """kNN: flipping ``radius`` neighbours voting for the prediction keeps it; ``radius + 1`` changes it."""
    from labelguard.tasks.train import train_model

    data = make_reviews(600, seed=8, separation=2.5)
    train, holdout = data.iloc[:500].reset_index(drop=True), data.iloc[500:].reset_index(drop=True)
    cert = certify.certify(train, holdout, SPEC, model="knn")
    assert cert.method == "knn" and cert.voters == 15
    fitted = train_model(train, SPEC, model="knn")
    X_ho = feature_matrix(holdout, SPEC)
    neighbours = fitted[-1].kneighbors(fitted[:-1].transform(X_ho), return_distance=False)
    y = train[SPEC.label_col].to_numpy()
    checked = 0
    for i in np.flatnonzero(cert.radius >= 0)[:25]:
        top = cert.prediction[i]
        voting = [n for n in neighbours[i] if y[n] == top]
        r = int(cert.radius[i])
        for flips, changes in ((r, False), (r + 1, True)):
            poisoned = _flipped(train, voting[:flips], 1 - top)
            pred = train_model(poisoned, SPEC, model="knn").predict(X_ho[i : i + 1])[0]
            assert bool(pred != top) is changes, f"row {i}, radius {r}, {flips} flips"
        checked += 1
    assert checked == 25
