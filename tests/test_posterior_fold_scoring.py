"""cleanlab's set's false-alarm rate is read on trusted rows scored as the candidate's rows were: by one out-of-fold
model each, not by the five models' mean (issue 9, the 300-row regime: the mean reads the rate low and hands the
suspect set to cleanlab's larger one)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from labelguard.tasks import attacks
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.posterior import _cleanlab_set_false_positive_rate, class_weighted_rate, flip_posterior


def test_a_row_flagged_by_two_of_five_fold_models_counts_as_two_fifths():
    codes, oof = np.array([0, 0, 1, 1]), np.array([[0.3, 0.7], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8]])
    suspect = np.array([True, False, False, False])  # flagged at a self-confidence of 0.3 for label 0
    codes_ref = np.zeros(4, int)
    folds = np.tile([0.9, 0.1], (5, 4, 1))
    folds[:2, 0] = [0.2, 0.8]  # trusted row 0 is under the threshold for two fold models, over it for three (mean 0.62)
    rate, se = _cleanlab_set_false_positive_rate(suspect, codes, oof, folds, codes_ref)
    assert rate == pytest.approx((0.1 * 4 + 0.5) / 5) and se == pytest.approx(np.sqrt(rate * (1 - rate) / 4))
    # the five models' mean keeps it over the threshold: the rate of no flagged row (Jeffreys' 0.5 of 5)
    assert _cleanlab_set_false_positive_rate(suspect, codes, oof, folds.mean(axis=0), codes_ref)[0] == pytest.approx(0.5 / 5)


def test_a_share_of_a_row_counts_as_that_share_in_the_class_weighted_rate():
    codes = np.r_[np.zeros(50, int), np.ones(50, int)]
    hits = np.r_[np.full(50, 0.4), np.zeros(50)]  # every label-0 row flagged with chance 0.4
    rate, se = class_weighted_rate(hits, codes)
    assert rate == pytest.approx((20 + 0.5) / 101) and se == pytest.approx(np.sqrt(rate * (1 - rate) / 100))


def _small(seed):
    """The regime grid's `300 rows` data (bench/regimes.py): 375 rows, 80 % candidate, 20 % trusted."""
    X, y = make_classification(n_samples=375, n_features=10, n_informative=3, n_redundant=0, n_classes=2, n_clusters_per_class=1,
                               flip_y=0, class_sep=1.0, random_state=seed)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(10)]).assign(label=y, review_id=np.arange(375))
    idx = np.random.default_rng(seed).permutation(375)
    spec = ColumnSpec(feature_cols=tuple(f"f{i}" for i in range(10)), timestamp_col=None, classes=(0, 1))
    return frame.iloc[idx[:300]].reset_index(drop=True), frame.iloc[idx[300:]].reset_index(drop=True), spec


def test_three_flips_of_300_rows_are_not_handed_to_cleanlabs_set_on_a_rate_read_low():
    # dev seed 9201, targeted 1 %: the posterior's set is the 3 flipped rows; cleanlab's holds them and 8 clean rows.
    # None of the 75 trusted rows falls under cleanlab's threshold when scored by the five fold models' mean (rate
    # 0.5 / 76), so its set read as 9 flips of 11 rows and replaced the posterior's (F1 1.0 -> 0.43). Scored as the
    # candidate's rows were, by one fold model each, some do, and the posterior's set stays.
    cand, ref, spec = _small(9201)
    res = attacks.flip_labels(cand, spec, attack="targeted", rate=0.01, seed=9201)
    post = flip_posterior(res.frame, spec, ref)
    named = sorted(res.frame.loc[post.suspect, "review_id"].tolist())
    assert (post.chosen, named) == ("posterior", [31, 230, 322]) and sorted(res.flipped_ids) == [31, 230, 322]
    cl = post.candidates["cleanlab"]
    assert cl["rows"] == 11
    # 1.2 of a trusted row's chance over the five fold models: about (1.2 + 0.5) / 76, no longer 0.5 / 76; its 11 rows
    # now stand 0.70 standard errors above that rate, not the 2 a challenger needs (0.6 and 1.26 before the detectors'
    # features were clipped at Tukey's fences: the fold models changed a little on these Gaussian rows)
    assert cl["false_positive_rate"] == pytest.approx(0.02244, abs=1e-5) and cl["z"] == pytest.approx(0.70, abs=0.01)
