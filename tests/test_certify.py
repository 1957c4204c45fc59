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


def _wine(rows: int = 178):
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame.rename(columns={"target": "label"})
    frame.insert(0, "row_id", [f"row-{i:04d}" for i in range(len(frame))])
    spec = ColumnSpec(id_col="row_id", feature_cols=tuple(c for c in frame.columns if c not in ("row_id", "label")), timestamp_col=None, classes=(0, 1, 2))
    # shuffled by a fixed seed: the file is sorted by class
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True).iloc[:rows], spec


def _dpa_votes(train, spec, x, k):
    """The k partitions' votes for one holdout row, every base model retrained on ``train``."""
    X, y = feature_matrix(train, spec), train[spec.label_col].to_numpy()
    return certify.partition_votes(X, y, certify.partition_of(train[spec.id_col].to_numpy(), k), x, list(spec.classes), "logreg", 0, k)[0]


def _runner_up(votes, top):
    """The class the certificate's radius is about: the minimum of the DPA gap (class order breaks ties)."""
    gaps = [(votes[top] - votes[c] - (c < top), c) for c in range(len(votes)) if c != top]
    return min(gaps)[1]


def _swinging_flips(train, spec, x, top, target, k, wanted):
    """Flips chosen against the prediction: in partitions that vote ``top`` for row ``x``, one flip
    (one row relabelled ``target``) that turns that partition's vote to ``target``; one per partition."""
    X, y = feature_matrix(train, spec), train[spec.label_col].to_numpy()
    parts = certify.partition_of(train[spec.id_col].to_numpy(), k)
    classes = list(spec.classes)
    vote = lambda members, labels: int(np.argmax(certify.partition_votes(X[members], labels, np.zeros(len(members), int), x, classes, "logreg", 0, 1)[0]))  # noqa: E731
    flips = []
    for p in range(k):
        if len(flips) == wanted:
            break
        members = np.flatnonzero(parts == p)
        if len(members) == 0 or vote(members, y[members]) != top:
            continue  # this partition does not vote for the prediction
        for j, row in enumerate(members):
            if y[row] == classes[target]:
                continue
            y_try = y[members].copy()
            y_try[j] = classes[target]
            if vote(members, y_try) == target:
                flips.append(row)
                break
    return flips


def _flipped(train, spec, rows, target_label):
    out = train.copy()
    labels = out[spec.label_col].to_numpy(copy=True)
    labels[rows] = target_label
    out[spec.label_col] = labels
    return out


@pytest.mark.parametrize("data", ["reviews", "wine"])
def test_dpa_certificate_holds_by_attack_and_is_tight(data):
    """For sampled holdout rows, flips chosen against the prediction (each turns one partition that
    votes for it to the runner-up) never change it after retraining, up to the certified radius; one
    flip more always changes it: the radius is neither too large nor too small. Binary reviews and
    three-class wine (where class order breaks ties)."""
    if data == "reviews":  # overlapping classes and tiny partitions: single flips can turn partition votes
        frame, spec, n_train, k = make_reviews(250, seed=5, separation=2.0), SPEC, 150, 40
    else:
        (frame, spec), n_train, k = _wine(), 140, 14
    train, holdout = frame.iloc[:n_train].reset_index(drop=True), frame.iloc[n_train:].reset_index(drop=True)
    cert = certify.certify(train, holdout, spec, model="logreg", partitions=k)
    X_ho = feature_matrix(holdout, spec)
    classes = list(spec.classes)
    candidates = np.flatnonzero((cert.radius >= 0) & (cert.radius <= 4))
    sampled = np.random.default_rng(0).choice(candidates, size=min(6, len(candidates)), replace=False)
    assert len(sampled) == 6
    within, beyond = 0, 0
    for i in sampled:
        x = X_ho[i : i + 1]
        votes = _dpa_votes(train, spec, x, k)
        top, r = int(np.argmax(votes)), int(cert.radius[i])
        assert classes[top] == cert.prediction[i] and certify.vote_radius(votes[None, :])[1][0] == r
        target = _runner_up(votes, top)
        flips = _swinging_flips(train, spec, x, top, target, k, r + 1)
        if len(flips) < r:
            continue  # too few partitions can be swung by one flip: no full-strength attack on this row
        after = _dpa_votes(_flipped(train, spec, flips[:r], classes[target]), spec, x, k)
        # the attack did what it was chosen to do: r votes moved from the prediction to the runner-up
        assert (after[top], after[target]) == (votes[top] - r, votes[target] + r), f"row {i}"
        assert int(np.argmax(after)) == top, f"row {i}: {r} flips within radius {r} changed the prediction"
        within += 1
        if len(flips) == r + 1:
            after = _dpa_votes(_flipped(train, spec, flips, classes[target]), spec, x, k)
            assert int(np.argmax(after)) != top, f"row {i}: {r + 1} flips, one beyond radius {r}, left the prediction standing"
            beyond += 1
    # every sampled row could be attacked at full strength (else the check is too weak to mean anything)
    assert (within, beyond) == (6, 6)


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
            poisoned = _flipped(train, SPEC, voting[:flips], 1 - top)
            pred = train_model(poisoned, SPEC, model="knn").predict(X_ho[i : i + 1])[0]
            assert bool(pred != top) is changes, f"row {i}, radius {r}, {flips} flips"
        checked += 1
    assert checked == 25
