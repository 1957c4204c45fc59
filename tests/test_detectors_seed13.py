"""Detector behaviour that the fresh seed-13 mutation sample of tasks/detectors.py (issue 13, seventh
session) found untested: Hotelling's test on classes of equal size and after an untestable class,
flip posteriors that stay probabilities when the reference never shows a class, no suspect when
the expected flips are fewer than half a row, the reference's own out-of-fold predictions with the
same five folds in both public functions, the paired gate's share p-value worked out in full, and
the flip posterior's one-call EM helper.

Values are recomputed here from the formulas the docstrings state, not read back from the code.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from labelguard.tasks import detectors
from labelguard.tasks.features import feature_matrix
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.synthetic import make_reviews

SPEC = ColumnSpec()


def test_a_candidate_identical_to_its_reference_shows_no_shift_in_any_class():
    """Equal class sizes on both sides (n_a = n_b) are testable: T² = 0, so p = 1 and no shift."""
    frame = make_reviews(120, seed=130)
    out = detectors.class_conditional_shift(frame, SPEC, frame)
    counts = frame["label"].value_counts()
    assert sorted(out) == ["0", "1"]
    for c in ("0", "1"):
        assert (out[c]["p_value"], out[c]["shift"], out[c]["shift_sd"], out[c]["rows"]) == (1.0, 0.0, 0.0, int(counts[int(c)]))


def test_a_class_too_small_to_test_does_not_stop_the_classes_after_it():
    frame, reference = make_reviews(40, seed=131), make_reviews(40, seed=132)
    out = detectors.class_conditional_shift(frame.assign(label=[0] * 2 + [1] * 38), SPEC, reference)
    assert list(out) == ["1"] and out["1"]["rows"] == 38


def test_flip_posteriors_stay_probabilities_when_the_reference_never_shows_a_class():
    """A reference of class 0 only: its model gives class 1 probability 0, smoothed to 1e-9 (never
    below 0); rows labelled 1 are then almost surely flipped, and every score lies in [0, 1]."""
    frame = make_reviews(200, seed=133)
    reference = make_reviews(200, seed=134)
    res = detectors.reference_anchored(frame, SPEC, reference[reference["label"] == 0])
    ones = frame["label"].to_numpy() == 1
    assert ((res.score >= 0) & (res.score <= 1)).all()
    assert res.score[ones].min() > 0.999 and res.suspect[ones].all()


def test_no_suspect_when_the_expected_flips_are_fewer_than_half_a_row():
    """Clean, well-separated data scored by a reference of the same kind: the flip posteriors sum to
    under 0.5, so the expected-F1 rule names nobody (it would otherwise name at least one row)."""
    frame, reference = make_reviews(300, separation=8.0, seed=135), make_reviews(300, separation=8.0, seed=136)
    res = detectors.reference_anchored(frame, SPEC, reference)
    assert res.score.sum() < 0.5 and not res.suspect.any()


def test_the_references_own_predictions_use_five_folds_by_default_in_both_functions():
    """The reference_model guard takes its counts from ``reference_predictions`` and the
    disagreement rate from the same defaults: five folds (six would move some predictions here)."""
    frame, reference = make_reviews(150, separation=1.0, seed=137), make_reviews(150, separation=1.0, seed=138)
    pred, codes, pred_r, codes_r = detectors.reference_predictions(frame, SPEC, reference)
    assert detectors.reference_disagreement(frame, SPEC, reference) == (int((pred != codes).sum()), 150, int((pred_r != codes_r).sum()), 150)
    np.testing.assert_array_equal(pred_r, detectors.reference_predictions(frame, SPEC, reference, folds=5)[2])
    assert not np.array_equal(pred_r, detectors.reference_predictions(frame, SPEC, reference, folds=6)[2])


def _predict(train, new):
    X, codes = feature_matrix(train, SPEC), train["label"].to_numpy()
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, codes).predict(feature_matrix(new, SPEC))


def test_the_paired_gates_share_p_value_is_the_one_sided_normal_test_of_the_docstring():
    """Per class: excess = |FP - FN| / n - |reference share - true share|, its sd = sqrt((FP + FN) / n²
    + both models' bootstrap share sd²), p = the normal tail of excess / sd, times K (Bonferroni),
    and the gate reports the smallest. Class 1 under-labelled by a third in the candidate."""
    rng = np.random.default_rng(139)
    candidate = make_reviews(500, separation=1.5, seed=140)
    ones = np.flatnonzero(candidate["label"].to_numpy() == 1)
    candidate.loc[rng.choice(ones, len(ones) // 3, replace=False), "label"] = 0
    reference = make_reviews(500, separation=1.5, seed=141)
    holdout = make_reviews(400, separation=1.5, seed=142).assign(review_id=lambda f: "h-" + f["review_id"].astype(str))
    g = detectors.paired_gate(candidate, reference, holdout, SPEC)
    cand, ref, truth = _predict(candidate, holdout), _predict(reference, holdout), holdout["label"].to_numpy()
    n, k = len(truth), 2
    sd_cand = detectors._bootstrap_share_sd(feature_matrix(candidate, SPEC), candidate["label"].to_numpy(), feature_matrix(holdout, SPEC), k)
    sd_ref = detectors._bootstrap_share_sd(feature_matrix(reference, SPEC), reference["label"].to_numpy(), feature_matrix(holdout, SPEC), k)
    expected = []
    for c in range(k):
        fp, fn = int(((cand == c) & (truth != c)).sum()), int(((cand != c) & (truth == c)).sum())
        excess = abs(fp - fn) / n - abs((ref == c).mean() - (truth == c).mean())
        sd = np.sqrt((fp + fn) / n**2 + sd_cand[c] ** 2 + sd_ref[c] ** 2)
        p = stats.norm.sf(excess / sd) if excess > 0 else 1.0
        expected.append((min(1.0, p * k), -excess, float((truth == c).mean()), c))
    # ties (two classes of a binary problem are mirror images: equal but for float noise): the larger excess, then the
    # class with the smaller true share, then the first class
    p, neg_excess, _, c = min(expected, key=lambda t: (round(t[0], 12), round(t[1], 12), t[2], t[3]))
    assert g["share_class"] == str(c) and g["share_gap"] == pytest.approx(-neg_excess, rel=1e-12)
    assert 0 < g["share_p"] < 1 and g["share_p"] == pytest.approx(p, rel=1e-9)


def test_the_one_call_em_flip_posterior_is_the_fitted_transition_applied_to_the_rows():
    """One EM step from the documented start (98 % kept), then each row's posterior of another true label."""
    rng = np.random.default_rng(143)
    prior = rng.dirichlet([2.0, 2.0], size=40)
    codes = rng.integers(0, 2, size=40)
    T = np.array([[0.98, 0.02], [0.02, 0.98]])
    post = prior * T[:, codes].T
    post /= post.sum(axis=1, keepdims=True)
    T = post.T @ np.eye(2)[codes] / post.sum(axis=0)[:, None]
    joint = prior * T[:, codes].T
    expected = 1.0 - (joint / joint.sum(axis=1, keepdims=True))[np.arange(40), codes]
    np.testing.assert_allclose(detectors._em_flip_posterior(prior, codes, 2, 1), expected, rtol=1e-12)
