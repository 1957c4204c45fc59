"""The pooled flip posterior: its suspect set is never worse than the best single detector's."""

import numpy as np
import pandas as pd
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


def test_a_few_dozen_trusted_rows_do_not_sharpen_the_pooled_views_into_false_certainty():
    """Wine split 80/20 as ingest splits it (36 trusted rows), one row flipped: the weights stay near the equal-weight prior, the set is that row."""
    from sklearn.datasets import load_wine

    from labelguard.tasks import posterior

    bunch = load_wine()
    cols = tuple(f"f{i}" for i in range(bunch.data.shape[1]))
    w = pd.DataFrame(bunch.data, columns=cols).assign(label=bunch.target, review_id=np.arange(len(bunch.target)))
    spec = ColumnSpec(feature_cols=cols, timestamp_col=None, classes=(0, 1, 2))
    idx = np.random.default_rng(100).permutation(len(w))
    cand, ref = w.iloc[idx[:142]].reset_index(drop=True), w.iloc[idx[142:]].reset_index(drop=True)
    res = attacks.flip_labels(cand, spec, attack="subset", rate=0.01, seed=100)
    post = flip_posterior(res.frame, spec, ref, seed=100)
    assert max(abs(v - 1 / 3) for v in post.weights.values()) < 1.0, post.weights
    assert res.frame["review_id"][post.suspect].tolist() == list(res.flipped_ids), (post.weights, post.suspect.sum())
    # the maximum-likelihood weights (no prior) sharpen every view to the bound and name clean rows with certainty
    old = posterior.PRIOR_SD
    try:
        posterior.PRIOR_SD = 1e9
        loose = flip_posterior(res.frame, spec, ref, seed=100)
    finally:
        posterior.PRIOR_SD = old
    assert max(loose.weights.values()) > 2.0 and loose.suspect.sum() == 3, (loose.weights, loose.suspect.sum())


def test_the_set_choice_keeps_the_posterior_unless_trusted_rows_show_the_other_better_beyond_one_standard_error():
    from labelguard.tasks.posterior import choose_suspect_set

    # 2,000 rows, ~100 flipped; the posterior's 110 rows flag 4 % of 500 trusted rows (~76 clean rows in the set),
    # cleanlab's 90 rows flag 0.2 % of them (~4): cleanlab's set is far better, by many standard errors
    chosen, scored = choose_suspect_set({"posterior": (110, 0.04), "cleanlab": (90, 0.002)}, 2000, 100.0, 500)
    assert chosen == "cleanlab"
    assert scored["posterior"]["expected_f1"] == pytest.approx(2 * (110 - 0.04 * 1900) / (110 + 100))
    assert scored["cleanlab"]["expected_f1"] == pytest.approx(2 * (90 - 0.002 * 1900) / (90 + 100))
    # the same rates on 30 trusted rows are too rough to switch on: the posterior's set stays
    assert choose_suspect_set({"posterior": (110, 0.04), "cleanlab": (90, 0.002)}, 2000, 100.0, 30)[0] == "posterior"
    # equal evidence: the default wins the tie
    assert choose_suspect_set({"posterior": (100, 0.01), "cleanlab": (100, 0.01)}, 2000, 100.0, 500)[0] == "posterior"
    # between one and two standard errors: cleanlab's set is expected better by 0.305 (0.810 vs 0.505); one standard
    # error of that difference on 300 trusted rows is 2 * 1900 / 210 * hypot(se(1 %), se(3 %)) = 0.206, so the shipped
    # margin switches and the two-standard-error margin judged on fresh seeds in the eighth session does not
    chosen, scored = choose_suspect_set({"posterior": (110, 0.03), "cleanlab": (100, 0.01)}, 2000, 100.0, 300)
    assert chosen == "cleanlab"
    assert scored["posterior"]["expected_f1"] == pytest.approx(2 * (110 - 0.03 * 1900) / 210)
    assert scored["cleanlab"]["expected_f1"] == pytest.approx(2 * (100 - 0.01 * 1900) / 200)
    assert choose_suspect_set({"posterior": (110, 0.03), "cleanlab": (100, 0.01)}, 2000, 100.0, 300, margin_se=2.0)[0] == "posterior"


def test_flip_posterior_reports_which_set_it_chose_and_the_choice_is_one_of_the_candidate_sets():
    spec = ColumnSpec()
    cand, ref = make_reviews(1500, separation=2.8, seed=110), make_reviews(400, separation=2.8, seed=111)
    res = attacks.flip_labels(cand, spec, attack="random", rate=0.05, seed=110)
    post = flip_posterior(res.frame, spec, ref)
    # both models have skill here: the posterior's, cleanlab's and the reference model's own sets compete (the
    # neighbourhood set only where no model has skill: tests/test_posterior_no_skill.py)
    assert set(post.candidates) == {"posterior", "cleanlab", "reference_model"} and post.chosen in post.candidates
    own = expected_f1_set(post.posterior)
    cleanlab = confident_learning(res.frame, spec).suspect
    assert post.candidates["posterior"]["rows"] == own.sum() and post.candidates["cleanlab"]["rows"] == cleanlab.sum()
    assert post.suspect.sum() == post.candidates[post.chosen]["rows"]
    if post.chosen != "reference_model":
        assert (post.suspect == (own if post.chosen == "posterior" else cleanlab)).all()
    assert post.noise_rate == post.posterior.mean()  # the posterior stands above the trusted rows: its own mean
