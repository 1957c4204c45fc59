"""The flip posterior's suspect set and noise rate when no model has skill (issue 9, a new user's checkerboard and moons)."""

import numpy as np
import pandas as pd
import pytest

from labelguard.tasks import attacks
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.posterior import anchored_noise_rate, choose_suspect_set, flip_posterior


def _split(X, y, seed):
    """Candidate 80 %, trusted holdout 20 %, as ingest splits."""
    feats = tuple(f"f{i}" for i in range(X.shape[1]))
    frame = pd.DataFrame(X, columns=feats).assign(label=y, review_id=np.arange(len(y)))
    spec = ColumnSpec(feature_cols=feats, timestamp_col=None, classes=(0, 1))
    idx = np.random.default_rng(seed).permutation(len(frame))
    cut = int(round(0.8 * len(frame)))
    return frame.iloc[idx[:cut]].reset_index(drop=True), frame.iloc[idx[cut:]].reset_index(drop=True), spec


def _checkerboard(seed, rows=400):
    X = np.random.default_rng(seed).uniform(0, 3, size=(rows, 2))
    return _split(X, (np.floor(X[:, 0]) + np.floor(X[:, 1])).astype(int) % 2, seed)


def _flipped(cand, spec, attack, rate, seed):
    res = attacks.flip_labels(cand, spec, attack=attack, rate=rate, seed=seed)
    return res.frame, res.frame["review_id"].isin(res.flipped_ids).to_numpy()


def test_a_clean_checkerboard_no_model_fits_names_nobody_and_reads_no_flips():
    # 320 candidate rows, 80 trusted: the linear model has no skill; the posterior sat at 0.17 on both, and the old
    # rule named 149 clean rows with an estimated noise rate of 17 %
    cand, ref, spec = _checkerboard(107)
    post = flip_posterior(cand, spec, ref)
    assert post.suspect.sum() == 0, (post.chosen, post.candidates)
    assert post.noise_rate < 0.02
    assert post.posterior.mean() > 0.1  # the raw posterior is still flat and high: the trusted rows are what read it as no flips


def test_a_poisoned_checkerboard_no_model_fits_takes_the_neighbourhood_set():
    # random 10 % (32 flips): the models have no skill, the neighbourhood rule finds 24 of its 29 rows right;
    # the old rule chose cleanlab's 164 rows (17 flips)
    cand, ref, spec = _checkerboard(101)
    frame, truth = _flipped(cand, spec, "random", 0.1, 101)
    post = flip_posterior(frame, spec, ref)
    assert post.chosen == "neighbourhood", post.candidates
    assert int((post.suspect & truth).sum()) == 24 and int(post.suspect.sum()) == 29


def test_moons_boundary_flips_take_the_reference_models_set_which_holds_mostly_flips():
    # make_moons (noise 0.2) 1,000 rows, `nearest` 10 % (80 flips): the pooled posterior's set held 20 flips in 39
    # rows; the reference model alone holds more of them, and the trusted rows show its set better
    from sklearn.datasets import make_moons

    cand, ref, spec = _split(*make_moons(n_samples=1000, noise=0.2, random_state=100), 100)
    frame, truth = _flipped(cand, spec, "nearest", 0.1, 100)
    post = flip_posterior(frame, spec, ref)
    tp, named = int((post.suspect & truth).sum()), int(post.suspect.sum())
    assert post.chosen == "reference_model", post.candidates
    assert tp > named / 2 and tp >= 60, (tp, named)


def test_the_noise_rate_is_the_excess_over_the_trusted_rows_when_the_posterior_does_not_tell_them_apart():
    rng = np.random.default_rng(0)
    flat, flat_ref = rng.uniform(0.4, 0.5, 320), rng.uniform(0.4, 0.5, 80)
    rate, shows = anchored_noise_rate(flat, flat_ref)
    assert not shows and rate == pytest.approx(max(0.0, flat.mean() - flat_ref.mean()) / (1 - flat_ref.mean()))
    assert rate < 0.02
    # a posterior that stands clearly above its trusted level: its own mean is the estimate (calibrated: boundary flips count in full)
    sharp = np.r_[np.full(100, 0.6), np.full(900, 0.02)]
    rate, shows = anchored_noise_rate(sharp, np.full(200, 0.02) + rng.uniform(0, 0.01, 200))
    assert shows and rate == pytest.approx(sharp.mean())


def test_a_set_no_more_frequent_on_the_candidate_than_on_trusted_rows_loses_to_naming_nobody():
    # the posterior named nobody; cleanlab's 129 of 320 rows against 30 % of 80 trusted rows: 32 rows over the clean
    # rate, 1.7 standard errors of the two rates' difference — not two, so nobody is named (the old rule took it,
    # raising the flip count to that set's own excess and so its expected F1 to 0.52)
    chosen, scored = choose_suspect_set({"posterior": (0, 0.0), "cleanlab": (129, 0.302)}, 320, 0.64, 80)
    assert chosen == "posterior" and scored["cleanlab"]["z"] == pytest.approx((129 - 0.302 * 320) / np.sqrt(129 * (1 - 129 / 320) + 320**2 * 0.302 * 0.698 / 80))
    # the same set against 15 % of the trusted rows stands 5.2 standard errors above it: named
    assert choose_suspect_set({"posterior": (0, 0.0), "cleanlab": (129, 0.15)}, 320, 0.64, 80)[0] == "cleanlab"


def test_a_set_of_every_row_reached_by_every_trusted_row_is_not_likelier_than_clean():
    # every candidate row in the set (s = n) and every trusted row at or above its lowest posterior (share 1):
    # both shares are 1 with no spread; the old code divided 0 by 0 and, NaN < 2 being false, named all the rows
    import warnings

    from labelguard.tasks.posterior import _no_likelier_than_clean

    posterior = np.full(40, 0.6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a 0/0 RuntimeWarning fails the test
        assert _no_likelier_than_clean(np.ones(40, dtype=bool), posterior, np.full(10, 0.7)) is True
        # one trusted row below the set: the candidate's share 1 against 0.9 stands 1.05 standard errors above
        assert _no_likelier_than_clean(np.ones(40, dtype=bool), posterior, np.r_[np.full(9, 0.7), 0.1]) is True
        # no trusted row reaches the set: the trusted rows do not speak against it
        assert _no_likelier_than_clean(np.ones(40, dtype=bool), posterior, np.full(10, 0.1)) is False
