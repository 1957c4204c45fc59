"""Detector behaviour that the fresh seed-12 mutation sample of tasks/detectors.py (issue 13, fifth
session) found untested, through the module's public functions: a reference with no rows, and
``binned_flip_posterior`` scoring other rows (``also``) with the bins and transition matrices it fitted.

Values are recomputed here from the formulas the docstrings state, not read back from the code.
"""

from __future__ import annotations

import numpy as np

from labelguard.tasks import detectors
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.synthetic import make_reviews

SPEC = ColumnSpec()


def test_a_reference_without_rows_gives_no_information_so_every_row_gets_the_first_class():
    """No training rows: the reference 'model' is uniform, whose argmax is the first class (code 0)."""
    frame = make_reviews(25, seed=120)
    empty = make_reviews(10, seed=121).iloc[:0]
    pred, codes, pred_r, codes_r = detectors.reference_predictions(frame, SPEC, empty)
    assert pred.tolist() == [0] * 25 and codes.tolist() == frame["label"].tolist()
    assert (pred_r.tolist(), codes_r.tolist()) == ([], [])
    assert detectors.reference_disagreement(frame, SPEC, empty) == (int((frame["label"] != 0).sum()), 25, 0, 0)


def _posterior_with(prior: np.ndarray, codes: np.ndarray, T: np.ndarray) -> np.ndarray:
    joint = prior * T[:, codes].T
    post = joint / joint.sum(axis=1, keepdims=True)
    return 1.0 - post[np.arange(len(codes)), codes]


def test_other_rows_are_scored_with_the_transition_matrix_fitted_on_the_rows():
    """One bin, one EM step from the documented start (98 % kept, 2 % to the other class): the other
    rows' flip posterior uses that step's T, and they take no part in the fit."""
    rng = np.random.default_rng(122)
    prior = rng.dirichlet([2.0, 2.0], size=50)
    codes = rng.integers(0, 2, size=50)
    other_prior = rng.dirichlet([1.0, 3.0], size=9)
    other_codes = rng.integers(0, 2, size=9)
    T = np.array([[0.98, 0.02], [0.02, 0.98]])
    post = prior * T[:, codes].T
    post /= post.sum(axis=1, keepdims=True)
    T = post.T @ np.eye(2)[codes] / post.sum(axis=0)[:, None]
    flip, other = detectors.binned_flip_posterior(prior, codes, 2, bins=1, iters=1, also=(other_prior, other_codes))
    np.testing.assert_allclose(flip, _posterior_with(prior, codes, T), rtol=1e-12)
    np.testing.assert_allclose(other, _posterior_with(other_prior, other_codes, T), rtol=1e-12)
    assert other.shape == (9,)


def test_the_fitted_rows_scored_again_as_other_rows_get_their_own_posterior_bin_by_bin():
    """Four confidence bins of 30 rows: rows passed back through ``also`` fall in the same bins and
    are scored with the same matrices, so each gets exactly the posterior it got in the fit."""
    rng = np.random.default_rng(123)
    prior = rng.dirichlet([1.0, 1.0, 1.0], size=120)
    codes = rng.integers(0, 3, size=120)
    pick = rng.permutation(120)[:40]
    flip, other = detectors.binned_flip_posterior(prior, codes, 3, bins=4, min_bin_rows=30, iters=20, also=(prior[pick], codes[pick]))
    np.testing.assert_array_equal(other, flip[pick])
    alone = detectors.binned_flip_posterior(prior, codes, 3, bins=4, min_bin_rows=30, iters=20)
    np.testing.assert_array_equal(alone, flip)  # scoring other rows changes nothing about the fit
