"""Detector behaviour that the fresh seed-11 mutation sample of tasks/detectors.py (issue 13, fourth
session) found untested, through the module's public functions only: one EM step of the flip
posterior worked out by hand for three classes, a reference holding one class, a holdout of one row.

Values are recomputed here from the formulas the docstrings state, not read back from the code.
"""

from __future__ import annotations

import numpy as np
import pytest

from labelguard.tasks import detectors
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.synthetic import make_reviews

SPEC = ColumnSpec()


def _one_em_step(prior: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """Flip posterior after one EM step from the documented start: 98 % on the diagonal, the other
    2 % spread evenly over the k - 1 other classes."""
    T = np.full((k, k), 0.02 / (k - 1))
    np.fill_diagonal(T, 0.98)
    onehot = np.eye(k)[codes]
    joint = prior * T[:, codes].T
    post = joint / joint.sum(axis=1, keepdims=True)
    T = post.T @ onehot / post.sum(axis=0)[:, None]
    joint = prior * T[:, codes].T
    post = joint / joint.sum(axis=1, keepdims=True)
    return 1.0 - post[np.arange(len(codes)), codes]


def test_one_em_step_of_the_flip_posterior_starts_from_two_percent_spread_over_the_other_classes():
    rng = np.random.default_rng(110)
    prior = rng.dirichlet([2.0, 2.0, 2.0], size=60)
    codes = rng.integers(0, 3, size=60)
    flip = detectors.binned_flip_posterior(prior, codes, 3, bins=1, iters=1)
    np.testing.assert_allclose(flip, _one_em_step(prior, codes, 3), rtol=1e-12)
    # two classes: the whole 2 % goes to the one other class
    p2 = rng.dirichlet([2.0, 2.0], size=40)
    c2 = rng.integers(0, 2, size=40)
    np.testing.assert_allclose(detectors.binned_flip_posterior(p2, c2, 2, bins=1, iters=1), _one_em_step(p2, c2, 2), rtol=1e-12)


def test_a_reference_of_one_class_predicts_that_class_with_certainty():
    """Fitted on rows of class 1 only, the reference 'model' names class 1 for every candidate row."""
    frame = make_reviews(30, seed=111)
    reference = make_reviews(40, seed=112)
    reference = reference[reference["label"] == 1]
    pred, codes, _, _ = detectors.reference_predictions(frame, SPEC, reference)
    assert pred.tolist() == [1] * 30
    k, n, _, n_ref = detectors.reference_disagreement(frame, SPEC, reference)
    assert (k, n, n_ref) == (int((frame["label"] != 1).sum()), 30, len(reference))


def test_a_one_row_holdout_measures_shares_in_whole_rows():
    """One holdout row that a model trained on flipped labels gets wrong: each class's predicted share
    is 1 or 0 against a true 0 or 1, so the share gap is the whole row (1.0), not half of it."""
    reference = make_reviews(300, seed=113)
    candidate = make_reviews(300, seed=114)
    candidate["label"] = 1 - candidate["label"]  # every label flipped: the candidate model predicts the other class
    holdout = make_reviews(20, seed=115).iloc[:1]
    g = detectors.paired_gate(candidate, reference, holdout, SPEC)
    assert (g["holdout_rows"], g["accuracy"], g["reference_accuracy"]) == (1, 0.0, 1.0)
    assert (g["discordant_worse"], g["discordant_better"]) == (1, 0)
    assert g["share"] in (0.0, 1.0) and g["share_gap"] == pytest.approx(1.0)


def test_cross_fit_scores_new_rows_with_the_mean_of_the_fold_models():
    """The documented construction, rebuilt with scikit-learn: stratified shuffled folds (shrunk to the
    rarest class: 3 here), one logistic regression per fold, out-of-fold on the training rows and
    the fold models' mean on the new rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(116)
    X = rng.normal(size=(40, 2))
    codes = np.array([0] * 20 + [1] * 17 + [2] * 3)
    X[codes == 1, 0] += 2.0
    X[codes == 2, 1] += 3.0
    X_new = rng.normal(size=(7, 2))
    oof, new = detectors.cross_fit_proba(X, codes, 4, X_new, seed=5)
    want_oof, want_new = np.zeros((40, 4)), np.zeros((7, 4))
    splits = list(StratifiedKFold(n_splits=3, shuffle=True, random_state=5).split(X, codes))
    for train, test in splits:
        model = make_pipeline(detectors.OuterFence(), StandardScaler(), LogisticRegression(max_iter=1000)).fit(X[train], codes[train])
        want_oof[test, :3] = model.predict_proba(X[test])
        want_new[:, :3] += model.predict_proba(X_new) / 3
    np.testing.assert_allclose(oof, want_oof, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(new, want_new, rtol=1e-9, atol=1e-12)
    assert (new[:, 3] == 0).all() and np.allclose(new.sum(axis=1), 1)
    # fewer than two classes with two rows: uniform out of fold, and new rows get the one class for certain
    few_oof, few_new = detectors.cross_fit_proba(X[:5], np.array([1, 1, 1, 1, 1]), 3, X_new)
    np.testing.assert_array_equal(few_oof, np.full((5, 3), 1 / 3))
    np.testing.assert_array_equal(few_new, np.tile([0.0, 1.0, 0.0], (7, 1)))
