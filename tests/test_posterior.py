"""The pooled flip posterior: its suspect set is never worse than the best single detector's."""

import numpy as np
import pytest

from labelguard.tasks import attacks
from labelguard.tasks.detectors import confident_learning, reference_anchored
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.posterior import expected_f1_set, flip_posterior
from labelguard.tasks.synthetic import make_reviews


def _f1(found, truth):
    return 2 * (found & truth).sum() / max(1, found.sum() + truth.sum())


@pytest.mark.parametrize("attack,rate", [("random", 0.1), ("targeted", 0.2), ("nearest", 0.2)])
def test_posterior_set_at_least_matches_the_best_single_detector(attack, rate):
    spec = ColumnSpec()
    cand, ref = make_reviews(3000, separation=2.8, seed=7), make_reviews(800, separation=2.8, seed=8)
    res = attacks.flip_labels(cand, spec, attack=attack, rate=rate, seed=7)
    truth = res.frame["review_id"].isin(res.flipped_ids).to_numpy()
    post = flip_posterior(res.frame, spec, ref, seed=7)
    best = max(_f1(confident_learning(res.frame, spec, seed=7).suspect, truth), _f1(reference_anchored(res.frame, spec, ref).suspect, truth))
    assert _f1(post.suspect, truth) >= best - 0.01, (attack, _f1(post.suspect, truth), best)
    assert abs(post.noise_rate - rate) < 0.05 and set(post.weights) == {"reference_model", "candidate_out_of_fold", "neighbourhood"}


def test_expected_f1_set_takes_the_sure_rows_and_nothing_on_no_evidence():
    q = np.array([0.95, 0.9, 0.6, 0.1, 0.05, 0.0])
    assert expected_f1_set(q).tolist() == [True, True, True, False, False, False]
    assert not expected_f1_set(np.full(100, 0.004)).any()
