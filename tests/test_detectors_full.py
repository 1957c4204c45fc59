"""Detector behaviour that the full mutation run of tasks/detectors.py (issue 13, eleventh session)
found untested: the model family in force, the model choice as the JSON records it, the defaults and
memo of the cross-fit, the EM tolerance, and the boundaries each detector's rule states.

Small data, through the detectors' functions; expected values worked out independently (scikit-learn,
scipy, numpy, or by hand), not read back from the code.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from labelguard.tasks import detectors
from labelguard.tasks.detectors import ModelChoice
from labelguard.tasks.manifest import ColumnSpec

SPEC = ColumnSpec()


# ---------------------------------------------------------------- model family


def test_the_detectors_model_is_the_family_in_force():
    """drift fits ``_logreg()``: inside a kernel block it is the Nystroem pipeline of 100 landmarks, outside it the linear one."""
    assert [name for name, _ in detectors._logreg().steps] == ["outerfence", "standardscaler", "logisticregression"]
    with detectors._using("kernel"):
        model = detectors._logreg()
    assert [name for name, _ in model.steps] == ["outerfence", "standardscaler", "nystroem", "logisticregression"]
    assert model.named_steps["nystroem"].n_components == 100


def test_the_kernel_family_has_100_landmarks_capped_at_the_training_rows():
    """Nystroem cannot take more landmarks than rows: fitted on 60 rows it takes 60 (and at least one), else 100."""
    assert detectors._model("kernel").named_steps["nystroem"].n_components == 100
    assert [detectors._model("kernel", n).named_steps["nystroem"].n_components for n in (60, 100, 250, 0)] == [60, 100, 100, 1]
    rng = np.random.default_rng(183)
    codes = np.repeat([0, 1], 30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sklearn warns when asked for more landmarks than rows
        with detectors._using("kernel"):
            fitted = detectors.fitted_on(rng.normal(size=(60, 2)) + codes[:, None], codes)
    assert fitted.named_steps["nystroem"].n_components == 60


def test_no_new_rows_get_no_probabilities():
    rng = np.random.default_rng(184)
    codes = np.repeat([0, 1], 10)
    assert detectors._fit_proba(rng.normal(size=(20, 2)), codes, np.zeros((0, 2)), 3).shape == (0, 3)


def test_the_model_choice_is_recorded_with_every_field_and_z_to_two_decimals():
    """The JSON report's ``detector_model``: z rounded to 2 places, and None when no choice was measured (rows 0)."""
    chosen = ModelChoice("kernel", -3.14159, 1, 0.61, 0.42, 0.7, 0.9, "candidate")
    assert chosen.to_dict() == {"family": "kernel", "z": -3.14, "rows": 1, "linear_log_loss": 0.61, "kernel_log_loss": 0.42,
                                "linear_accuracy": 0.7, "kernel_accuracy": 0.9, "measured_on": "candidate"}
    assert ModelChoice("linear", 2.5, 0).to_dict() == {"family": "linear", "z": None, "rows": 0, "linear_log_loss": None,
                                                       "kernel_log_loss": None, "linear_accuracy": None, "kernel_accuracy": None,
                                                       "measured_on": "reference"}


# ---------------------------------------------------------------- cross-fit


def _by_hand(X, codes, X_new, k, n_splits, seed):
    oof, new = np.zeros((len(X), k)), np.zeros((len(X_new), k))
    for train, test in StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(X, codes):
        model = make_pipeline(detectors.OuterFence(), StandardScaler(), LogisticRegression(max_iter=1000)).fit(X[train], codes[train])
        oof[test] = model.predict_proba(X[test])
        new += model.predict_proba(X_new) / n_splits
    return oof, new


def test_cross_fit_defaults_to_five_seeded_folds_and_shares_them_through_the_memo():
    """Classes of 12 rows each, so five folds are five (not shrunk); seed 0; the fold fits are kept in the memo."""
    rng = np.random.default_rng(150)
    codes = np.repeat([0, 1], 12)
    X = rng.normal(size=(24, 2)) + codes[:, None] * 1.2
    X_new = rng.normal(size=(5, 2))
    memo: dict = {}
    oof, new = detectors.cross_fit_proba(X, codes, 2, X_new, memo=memo)
    want_oof, want_new = _by_hand(X, codes, X_new, 2, 5, 0)
    np.testing.assert_allclose(oof, want_oof, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(new, want_new, rtol=1e-9, atol=1e-12)
    assert len(memo) == 1  # the five fold fits, which oof_proba given this memo then uses
    np.testing.assert_array_equal(detectors.oof_proba(X, codes, 2, memo=memo), oof)
    assert len(memo) == 1


def test_cross_fit_without_two_classes_of_two_rows_scores_new_rows_with_one_model_of_all_rows():
    """Four rows of class 0 and one of class 1: no fold split (uniform out of fold), and the new rows get a model
    fitted on all five rows, which has seen both classes."""
    rng = np.random.default_rng(187)
    X, codes = rng.normal(size=(5, 2)), np.array([0, 0, 0, 0, 1])
    X[4] += 3.0
    X_new = rng.normal(size=(4, 2))
    oof, new = detectors.cross_fit_proba(X, codes, 2, X_new)
    np.testing.assert_array_equal(oof, np.full((5, 2), 0.5))
    model = make_pipeline(detectors.OuterFence(), StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, codes)
    np.testing.assert_allclose(new, model.predict_proba(X_new), rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- EM


def test_the_em_tolerance_stops_the_iterations_when_the_matrix_moves_less():
    """A tolerance above any move of T stops EM after its first step: the same as one iteration."""
    rng = np.random.default_rng(151)
    prior = rng.dirichlet([1.5, 1.5, 1.5], size=80)
    codes = rng.integers(0, 3, size=80)
    one = detectors._em_flip_posterior(prior, codes, 3, 1)
    np.testing.assert_array_equal(detectors._em_flip_posterior(prior, codes, 3, 100, tol=2.0), one)
    many = detectors._em_flip_posterior(prior, codes, 3, 100)
    assert np.abs(many - one).max() > 1e-3  # at the default 1e-5 it runs on


# ---------------------------------------------------------------- the model family's choice

XY = ColumnSpec(feature_cols=("x1", "x2"), timestamp_col=None, classes=(0, 1))


def _oof_by_hand(X, codes, k, family, seed=0):
    """The documented out-of-fold probabilities: stratified shuffled folds shrunk to the rarest class with two rows,
    one model per fold (the kernel family: Nystroem with min(100, training rows) landmarks), a class missing from a
    fold's training rows gets probability 0 there."""
    from sklearn.kernel_approximation import Nystroem

    counts = np.bincount(codes, minlength=k)
    n_folds = max(2, min(5, counts[counts >= 2].min()))
    full = np.zeros((len(X), k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the least populated class has only 1 member"
        splits = list(StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(X, codes))
    for train, test in splits:
        steps = [detectors.OuterFence(), StandardScaler()]
        if family == "kernel":
            steps.append(Nystroem(n_components=min(100, len(train)), random_state=0))
        model = make_pipeline(*steps, LogisticRegression(max_iter=1000)).fit(X[train], codes[train])
        full[np.ix_(test, model.classes_)] = model.predict_proba(X[test])
    return full


def _choice_by_hand(X, codes, k, seed=0):
    loss, right = {}, {}
    for family in ("linear", "kernel"):
        p = _oof_by_hand(X, codes, k, family, seed)
        loss[family] = -np.log(np.clip(p[np.arange(len(X)), codes], 1e-12, 1.0))
        right[family] = (p.argmax(axis=1) == codes).astype(float)
    d = loss["kernel"] - loss["linear"]
    z = d.mean() / (d.std(ddof=1) / np.sqrt(len(d)))
    a = right["kernel"] - right["linear"]
    better = a.mean() / (a.std(ddof=1) / np.sqrt(len(a))) > 2
    family = "kernel" if z < -2 and better else "linear"
    return family, z, [float(v.mean()) for v in (loss["linear"], loss["kernel"], right["linear"], right["kernel"])]


def test_the_choice_on_rings_is_kernel_with_every_figure_worked_out_by_hand():
    """150 rows of noisy rings: five folds of seed 0 for each family; z is the paired log-loss difference over its
    standard error; the four means to four decimals (none of them round at four)."""
    from sklearn.datasets import make_circles

    X, y = make_circles(150, noise=0.15, factor=0.5, random_state=8)
    family, z, means = _choice_by_hand(X, y, 2)
    choice = detectors.choose_model_family(X, y, 2)
    assert family == "kernel" and (choice.family, choice.rows) == ("kernel", 150)
    assert choice.z == pytest.approx(z, rel=1e-9) and z < -2
    assert [choice.linear_log_loss, choice.kernel_log_loss, choice.linear_accuracy, choice.kernel_accuracy] == [round(m, 4) for m in means]
    assert all(round(m, 5) != round(m, 4) for m in means)  # a fifth decimal would show


def test_a_class_of_one_row_costs_the_clipped_loss_not_an_infinite_one():
    """Three classes, the third of a single row: in the fold that tests it no model has seen its class, so its
    probability is 0 and its loss is -log(1e-12) = 27.63, not infinite; the choice stays linear on blobs."""
    rng = np.random.default_rng(152)
    codes = np.array([0] * 45 + [1] * 44 + [2])
    X = rng.normal(size=(90, 2)) + np.where(codes[:, None] == 1, 1.5, 0.0)
    family, z, means = _choice_by_hand(X, codes, 3)
    choice = detectors.choose_model_family(X, codes, 3)
    assert (choice.family, choice.rows) == (family, 90) == ("linear", 90)
    assert choice.z == pytest.approx(z, rel=1e-9)
    assert [choice.linear_log_loss, choice.kernel_log_loss, choice.linear_accuracy, choice.kernel_accuracy] == [round(m, 4) for m in means]
    assert np.isfinite(choice.linear_log_loss) and choice.linear_log_loss > 27.63 / 90


def test_a_choice_needs_fifty_rows_and_two_classes_of_two_rows():
    rng = np.random.default_rng(153)
    X = rng.normal(size=(60, 2))
    two = np.array([0] * 30 + [1] * 30)
    assert detectors.choose_model_family(X[:49], two[:49], 2) == ModelChoice("linear", 0.0, 0)  # 49 rows: no choice
    assert detectors.choose_model_family(X[:50], two[:50], 2).rows == 50  # exactly 50: chosen
    assert detectors.choose_model_family(X, np.array([0] * 58 + [1] * 2), 2).rows == 60  # a class of exactly two rows counts
    assert detectors.choose_model_family(X, np.array([0] * 59 + [1]), 2) == ModelChoice("linear", 0.0, 0)  # one of one row


def test_the_choice_is_made_on_the_seeded_sample_when_there_are_more_rows_than_the_cap(monkeypatch):
    """The cap (5,000) lowered to 60 so the sample is cheap: the choice on 90 rows is the choice on the 60 rows a
    generator seeded with ``seed`` picks without replacement, in their order."""
    monkeypatch.setattr(detectors, "CHOICE_MAX_ROWS", 60)
    rng = np.random.default_rng(154)
    codes = rng.integers(0, 2, 90)
    X = rng.normal(size=(90, 2)) + codes[:, None]
    for seed in (0, 3):
        take = np.sort(np.random.default_rng(seed).choice(90, 60, replace=False))
        kwargs = {"seed": seed} if seed else {}
        sampled = detectors.choose_model_family(X, codes, 2, **kwargs)
        assert sampled.rows == 60
        assert sampled == detectors.choose_model_family(X[take], codes[take], 2, seed=seed)
    assert sampled.z == pytest.approx(_choice_by_hand(X[take], codes[take], 2, seed=3)[1], rel=1e-9)  # folds of seed 3 too


@pytest.mark.parametrize(("z_loss", "z_right", "family"), [
    (-3.0, 2.5, "kernel"),
    (-2.0, 3.0, "linear"),  # the log-loss must be lower by MORE than two standard errors
    (-3.0, 2.0, "linear"),  # and the accuracy higher by more than two
    (-3.0, 1.0, "linear"),  # both, not either
    (0.0, 3.0, "linear"),
])
def test_the_kernel_family_needs_both_differences_beyond_two_standard_errors(monkeypatch, z_loss, z_right, family):
    """The two paired z's replaced by fixed numbers (no data lands exactly on 2.0): the first is the log-loss's, the second the accuracy's."""
    zs = iter([z_loss, z_right])
    monkeypatch.setattr(detectors, "_paired_z", lambda d: next(zs))
    rng = np.random.default_rng(155)
    codes = np.repeat([0, 1], 30)
    choice = detectors.choose_model_family(rng.normal(size=(60, 2)) + codes[:, None], codes, 2)
    assert (choice.family, choice.z) == (family, z_loss)


def test_the_paired_z_is_the_mean_over_its_standard_error():
    d = np.array([3.0, 1.0, 2.0, 6.0])  # mean 3, sd (ddof 1) sqrt(14/3), se sd / 2
    assert detectors._paired_z(d) == pytest.approx(3.0 / (np.sqrt(14 / 3) / 2), rel=1e-12)
    assert detectors._paired_z(np.array([1.0, 0.0, 1.0, 0.0])) == pytest.approx(0.5 / (np.sqrt(1 / 3) / 2), rel=1e-12)  # se below 1
    assert detectors._paired_z(np.zeros(5)) == 0.0
    assert detectors._paired_z(np.ones(5)) == np.inf and detectors._paired_z(-np.full(5, 2.0)) == -np.inf


def test_the_choice_is_remembered_by_the_rows_bytes_and_the_oldest_dropped_at_64(monkeypatch):
    from labelguard.tasks.synthetic import make_reviews

    frame = make_reviews(60, seed=156)
    X, codes = frame[list(SPEC.feature_cols)].to_numpy(float), frame["label"].to_numpy()
    monkeypatch.setattr(detectors, "_CHOICES", {})
    with detectors.detector_model(frame.head(10), SPEC, frame) as choice:
        assert choice == detectors.choose_model_family(X, codes, 2)  # measured_on "reference", the default
    assert list(detectors._CHOICES.values()) == [choice]
    full = {f"d{i}": ModelChoice("linear", 0.0, 0) for i in range(64)}
    monkeypatch.setattr(detectors, "_CHOICES", full)
    with detectors.detector_model(frame.head(10), SPEC, frame) as again:
        assert again == choice
    assert len(full) == 64 and "d0" not in full and "d1" in full and list(full.values())[-1] == choice


# ---------------------------------------------------------------- class-conditional shift


def _xy_frame(X, labels, prefix="r"):
    import pandas as pd

    return pd.DataFrame({"x1": X[:, 0], "x2": X[:, 1], "label": labels, "review_id": [f"{prefix}{i}" for i in range(len(labels))]})


def test_one_feature_and_two_rows_per_class_on_each_side_is_testable_and_is_students_t():
    """d = 1: T² is Student's t², so the p-value is the pooled two-sample t-test's; n_a = n_b = 2 > d is enough."""
    from scipy import stats

    spec = ColumnSpec(feature_cols=("x1",), timestamp_col=None, classes=(0, 1))
    cand = _xy_frame(np.array([[0.1, 0], [0.7, 0], [3.0, 0], [3.9, 0]]), [0, 0, 1, 1])
    ref = _xy_frame(np.array([[-0.2, 0], [0.3, 0], [2.2, 0], [2.5, 0]]), [0, 0, 1, 1], "s")
    out = detectors.class_conditional_shift(cand, spec, ref)
    assert list(out) == ["0", "1"]
    assert out["0"]["p_value"] == pytest.approx(stats.ttest_ind([0.1, 0.7], [-0.2, 0.3]).pvalue, rel=1e-9)
    assert out["1"]["p_value"] == pytest.approx(stats.ttest_ind([3.0, 3.9], [2.2, 2.5]).pvalue, rel=1e-9)


def test_a_class_with_no_more_reference_rows_than_features_is_not_tested():
    """Class 0 has 20 candidate rows but only 2 reference rows for 2 features: not tested, whatever the candidate has."""
    rng = np.random.default_rng(157)
    cand = _xy_frame(rng.normal(size=(40, 2)), [0] * 20 + [1] * 20)
    ref = _xy_frame(rng.normal(size=(22, 2)), [0] * 2 + [1] * 20, "s")
    assert list(detectors.class_conditional_shift(cand, XY, ref)) == ["1"]


def test_each_class_power_is_against_its_nearest_class_at_alpha_over_the_tested_classes():
    """Four classes, class 0 untestable (2 candidate rows): for each tested class c, the receiving class t is the one
    whose reference mean is nearest to c's in t's pooled metric, and the power is ``hotelling_power(mean_c - mean_t,
    pooled_t, candidate rows of t, candidate rows of c, reference rows of t, alpha / 3)``."""
    from labelguard.tasks.power import hotelling_power

    rng = np.random.default_rng(158)
    centre = {0: (5.0, 5.0), 1: (0.0, 0.0), 2: (3.0, 0.0), 3: (0.0, 2.0)}
    n_cand, n_ref = {0: 2, 1: 80, 2: 60, 3: 50}, {0: 30, 1: 40, 2: 25, 3: 8}

    def rows(sizes):
        labels = np.repeat(list(sizes), list(sizes.values()))
        return rng.normal(size=(len(labels), 2)) + np.array([centre[c] for c in labels]), labels

    (Xc, yc), (Xr, yr) = rows(n_cand), rows(n_ref)
    spec = ColumnSpec(feature_cols=("x1", "x2"), timestamp_col=None, classes=(0, 1, 2, 3))
    out = detectors.class_conditional_shift(_xy_frame(Xc, yc), spec, _xy_frame(Xr, yr, "s"), alpha=1e-3)
    assert list(out) == ["1", "2", "3"]
    mean = {c: Xr[yr == c].mean(axis=0) for c in (1, 2, 3)}
    pooled = {c: ((n_cand[c] - 1) * np.cov(Xc[yc == c].T) + (n_ref[c] - 1) * np.cov(Xr[yr == c].T)) / (n_cand[c] + n_ref[c] - 2) for c in (1, 2, 3)}
    nearest = {}
    for c in (1, 2, 3):
        gap = {t: float((mean[c] - mean[t]) @ np.linalg.inv(pooled[t]) @ (mean[c] - mean[t])) for t in (1, 2, 3) if t != c}
        nearest[c] = min(gap, key=gap.get)
        want = hotelling_power(mean[c] - mean[nearest[c]], pooled[nearest[c]], n_cand[nearest[c]], n_cand[c], n_ref[nearest[c]], 1e-3 / 3)
        assert out[str(c)]["power"] == pytest.approx(want, rel=1e-9), c
    assert nearest == {1: 3, 2: 1, 3: 1}


def test_the_disagreement_counts_use_the_folds_asked_for():
    from labelguard.tasks.synthetic import make_reviews

    frame, reference = make_reviews(150, separation=1.0, seed=137), make_reviews(150, separation=1.0, seed=138)
    _, _, pred_r, codes_r = detectors.reference_predictions(frame, SPEC, reference, folds=3)
    assert detectors.reference_disagreement(frame, SPEC, reference, folds=3)[2] == int((pred_r != codes_r).sum())
    assert detectors.reference_disagreement(frame, SPEC, reference)[2] != int((pred_r != codes_r).sum())  # five folds differ here


# ---------------------------------------------------------------- kNN consistency


def test_knn_on_eight_rows_looks_at_all_seven_others_and_shares_its_search_through_the_memo():
    """Fewer rows than k + 1: k shrinks to n - 1, so each row's neighbours are the seven other rows and its score is
    the share of them with another label (3/7 for class 0, 5/7 for class 1; 5/7 >= 0.7 is suspect)."""
    rng = np.random.default_rng(159)
    labels = [0] * 5 + [1] * 3
    frame = _xy_frame(rng.normal(size=(8, 2)), labels)
    memo: dict = {}
    res = detectors.knn_consistency(frame, XY, memo=memo)
    np.testing.assert_allclose(res.score, [3 / 7] * 5 + [5 / 7] * 3, rtol=1e-12)
    assert res.suspect.tolist() == [False] * 5 + [True] * 3 and res.estimate == 3 / 8
    assert len(memo) == 1  # the search, kept for the flip posterior's neighbourhood view
    Z = StandardScaler().fit_transform(frame[["x1", "x2"]].to_numpy(float))
    assert detectors.self_neighbours(Z, 7, memo) is next(iter(memo.values()))


# ---------------------------------------------------------------- flip posterior


def _em_by_hand(prior, codes, k, iters, tol=1e-5):
    T = np.full((k, k), 0.02 / max(1, k - 1))
    np.fill_diagonal(T, 0.98)
    onehot = np.eye(k)[codes]
    for _ in range(iters):
        post = prior * T[:, codes].T
        post /= post.sum(axis=1, keepdims=True)
        new = post.T @ onehot / post.sum(axis=0)[:, None]
        moved = np.abs(new - T).max()
        T = new
        if moved < tol:
            break
    joint = prior * T[:, codes].T
    return 1.0 - (joint / joint.sum(axis=1, keepdims=True))[np.arange(len(codes)), codes]


def _binned_by_hand(prior, codes, k, bins=4, min_bin_rows=250, iters=100):
    """Quantile bins of the prior's confidence (max probability), as many as fit ``min_bin_rows`` rows each, up to
    ``bins``; a row on an edge goes to the bin above; EM within each bin."""
    confidence = prior.max(axis=1)
    n_bins = max(1, min(bins, len(prior) // min_bin_rows))
    edges = np.quantile(confidence, [b / n_bins for b in range(1, n_bins)])
    which = np.searchsorted(edges, confidence, side="right")
    flip = np.zeros(len(prior))
    for b in range(n_bins):
        flip[which == b] = _em_by_hand(prior[which == b], codes[which == b], k, iters)
    return flip


def test_the_binned_flip_posterior_is_em_within_quantile_bins_of_confidence():
    """121 rows: every edge (a quarter, a third or half of the way through 120 gaps) is some row's own confidence, and
    that row belongs to the bin above it, as rows scored through ``also`` do."""
    rng = np.random.default_rng(160)
    prior = rng.dirichlet([1.0, 1.0, 1.0], size=121)
    codes = rng.integers(0, 3, size=121)
    for bins in (2, 3, 4):
        got, again = detectors.binned_flip_posterior(prior, codes, 3, bins=bins, min_bin_rows=30, iters=50, also=(prior, codes))
        np.testing.assert_allclose(got, _binned_by_hand(prior, codes, 3, bins=bins, min_bin_rows=30, iters=50), rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(again, got)


def test_em_divides_by_a_true_class_mass_below_one_row():
    """A class the prior almost never believes in (0.1 %) but two rows are labelled with: its posterior mass is below
    one row, and T's row for it is still that mass's share, not the mass itself."""
    rng = np.random.default_rng(168)
    prior = np.hstack([rng.dirichlet([2.0, 2.0], size=60) * 0.999, np.full((60, 1), 0.001)])
    codes = np.r_[rng.integers(0, 2, size=58), 2, 2]
    got = detectors.binned_flip_posterior(prior, codes, 3, bins=1, iters=20)
    np.testing.assert_allclose(got, _em_by_hand(prior, codes, 3, 20), rtol=1e-9, atol=1e-12)


def test_the_flip_posteriors_defaults_are_four_bins_of_250_rows_and_100_iterations():
    """Priors near 0.5 make EM slow (it is still moving after 100 iterations), so each default shows: 1,250 rows make
    five bins of 250 possible (four are used), 1,000 rows four of 250 (not three of 251)."""
    rng = np.random.default_rng(161)
    for n in (1250, 1000):
        prior = rng.dirichlet([50.0, 50.0], size=n)
        codes = rng.integers(0, 2, size=n)
        got = detectors.binned_flip_posterior(prior, codes, 2)
        np.testing.assert_allclose(got, _binned_by_hand(prior, codes, 2), rtol=1e-9, atol=1e-12)
        assert np.abs(got - _binned_by_hand(prior, codes, 2, iters=101)).max() > 1e-6  # the 100 matters


def _anchored_prior(frame, reference):
    X, Xr = frame[list(SPEC.feature_cols)].to_numpy(float), reference[list(SPEC.feature_cols)].to_numpy(float)
    model = make_pipeline(detectors.OuterFence(), StandardScaler(), LogisticRegression(max_iter=1000)).fit(Xr, reference["label"].to_numpy())
    prior = model.predict_proba(X) + 1e-9
    return prior / prior.sum(axis=1, keepdims=True)


def test_reference_anchored_scores_are_the_binned_posterior_of_the_reference_models_prior_with_the_options_given():
    from labelguard.tasks.synthetic import make_reviews

    frame, reference = make_reviews(200, separation=1.0, seed=162), make_reviews(200, separation=1.0, seed=163)
    prior, codes = _anchored_prior(frame, reference), frame["label"].to_numpy()
    memo: dict = {}
    res = detectors.reference_anchored(frame, SPEC, reference, bins=2, min_bin_rows=50, iters=1, memo=memo)
    np.testing.assert_allclose(res.score, _binned_by_hand(prior, codes, 2, bins=2, min_bin_rows=50, iters=1), rtol=1e-6, atol=1e-9)
    assert res.estimate == pytest.approx(res.score.mean(), rel=1e-12)
    assert len(memo) == 1  # the reference model, shared with the reference_model guard and the gate
    Xr, codes_r = reference[list(SPEC.feature_cols)].to_numpy(float), reference["label"].to_numpy()
    assert detectors.fitted_on(Xr, codes_r, memo) is next(iter(memo.values()))


def test_reference_anchored_defaults_are_the_flip_posteriors():
    """1,250 barely separated rows: the reference model's priors are near 0.5, so bins, bin size and iterations all show."""
    from labelguard.tasks.synthetic import make_reviews

    frame, reference = make_reviews(1250, separation=0.3, seed=164), make_reviews(300, separation=0.3, seed=165)
    prior, codes = _anchored_prior(frame, reference), frame["label"].to_numpy()
    res = detectors.reference_anchored(frame, SPEC, reference)
    np.testing.assert_allclose(res.score, _binned_by_hand(prior, codes, 2), rtol=1e-6, atol=1e-9)
    for other in ({"bins": 5}, {"iters": 101}):
        assert np.abs(res.score - _binned_by_hand(prior, codes, 2, **other)).max() > 1e-6, other
    frame = frame.head(1000)
    res = detectors.reference_anchored(frame, SPEC, reference)
    np.testing.assert_allclose(res.score, _binned_by_hand(_anchored_prior(frame, reference), codes[:1000], 2), rtol=1e-6, atol=1e-9)
    assert np.abs(res.score - _binned_by_hand(_anchored_prior(frame, reference), codes[:1000], 2, min_bin_rows=251)).max() > 1e-6


def test_expected_flips_of_exactly_half_a_row_name_the_suspects_that_maximise_the_expected_f1(monkeypatch):
    """Posteriors 0.25, 0.25, 0, ...: the sum is exactly 0.5, which is enough; expected F1 is 0.5/1.5 for one row and
    1/2.5 for two, then falls, so the two rows are named. (The posterior is replaced: no real data sums to 0.5.)"""
    from labelguard.tasks.synthetic import make_reviews

    frame, reference = make_reviews(30, seed=166), make_reviews(30, seed=167)
    monkeypatch.setattr(detectors, "binned_flip_posterior", lambda *a, **k: np.array([0.0, 0.25, 0.0, 0.25] + [0.0] * 26))
    res = detectors.reference_anchored(frame, SPEC, reference)
    assert np.flatnonzero(res.suspect).tolist() == [1, 3] and res.estimate == pytest.approx(0.5 / 30)


# ---------------------------------------------------------------- duplicates


def test_duplicate_conflicts_compare_text_as_text_and_numbers_as_numbers():
    """A text column takes part as stored (it cannot be made a float); an integer 1 and a float 1.0 are the same value."""
    import pandas as pd

    spec = ColumnSpec(feature_cols=("x1",), text_cols=("text",), timestamp_col=None, classes=(0, 1))
    frame = pd.DataFrame({"x1": [1, 1, 1, 2, 1], "text": ["good", "good", "good", "good", "bad"], "label": [0, 0, 1, 1, 1],
                          "review_id": list("abcde")})
    assert detectors.duplicate_conflicts(frame, spec).tolist() == [False, False, True, False, False]
    as_float = frame.assign(x1=frame["x1"].astype(float))
    np.testing.assert_array_equal(detectors.feature_cells(frame, spec), detectors.feature_cells(as_float, spec))


def test_no_rows_get_no_posteriors_and_one_row_gets_one():
    rng = np.random.default_rng(169)
    assert detectors._em_flip_posterior(np.zeros((0, 2)), np.zeros(0, dtype=int), 2, 10).shape == (0,)
    prior, codes = rng.dirichlet([2.0, 2.0], size=1), np.array([1])
    np.testing.assert_allclose(detectors._em_flip_posterior(prior, codes, 2, 10), _em_by_hand(prior, codes, 2, 10), rtol=1e-12)
    # rows scored through ``also`` that all fall in the top bin: the other bins score none of them
    prior = rng.dirichlet([1.0, 1.0], size=100)
    codes = rng.integers(0, 2, size=100)
    top = np.array([[0.999, 0.001], [0.001, 0.999]])
    flip, other = detectors.binned_flip_posterior(prior, codes, 2, bins=4, min_bin_rows=25, iters=10, also=(top, np.array([1, 1])))
    assert other.shape == (2,) and other[1] < 0.01 < 0.9 < other[0]


# ---------------------------------------------------------------- out-of-fold probabilities and what the detectors share


def test_out_of_fold_probabilities_use_five_folds_of_seed_0_or_the_ones_asked_for():
    from labelguard.tasks.synthetic import make_reviews

    frame = make_reviews(60, separation=1.0, seed=170)
    X, codes = frame[list(SPEC.feature_cols)].to_numpy(float), frame["label"].to_numpy()
    np.testing.assert_allclose(detectors.out_of_fold_proba(frame, SPEC), _oof_by_hand(X, codes, 2, "linear"), rtol=1e-9, atol=1e-12)
    three = detectors.out_of_fold_proba(frame, SPEC, folds=3, seed=4)
    want = np.zeros((60, 2))
    for train, test in StratifiedKFold(n_splits=3, shuffle=True, random_state=4).split(X, codes):
        want[test] = make_pipeline(detectors.OuterFence(), StandardScaler(), LogisticRegression(max_iter=1000)).fit(X[train], codes[train]).predict_proba(X[test])
    np.testing.assert_allclose(three, want, rtol=1e-9, atol=1e-12)


def test_confident_learning_uses_the_seed_it_is_given():
    from cleanlab.filter import find_label_issues

    from labelguard.tasks.synthetic import make_reviews

    frame = make_reviews(200, separation=1.0, seed=171)
    labels = frame["label"].to_numpy()
    picks = {}
    for seed in (0, 1):
        proba = detectors.out_of_fold_proba(frame, SPEC, seed=seed)
        res = detectors.confident_learning(frame, SPEC, seed=seed)
        np.testing.assert_array_equal(res.suspect, find_label_issues(labels=labels, pred_probs=proba))
        np.testing.assert_allclose(res.score, 1.0 - proba[np.arange(200), labels], rtol=1e-12)
        picks[seed] = res.suspect
    assert not np.array_equal(picks[0], picks[1])  # the seed changes the folds, and so the suspects


def test_each_detector_given_a_memo_leaves_its_fits_there_for_the_others():
    """The memo is how one check fits each model once (the confident-learning guard, the reference model, the flip
    posterior): every detector that fits, given one, puts its fits in it, and the next detector finds them there."""
    from labelguard.tasks.synthetic import make_reviews

    frame, reference = make_reviews(60, seed=172), make_reviews(60, seed=173)
    X, codes = frame[list(SPEC.feature_cols)].to_numpy(float), frame["label"].to_numpy()
    Xr, codes_r = reference[list(SPEC.feature_cols)].to_numpy(float), reference["label"].to_numpy()
    memo: dict = {}
    detectors.out_of_fold_proba(frame, SPEC, memo=memo)
    assert len(memo) == 1  # the five fold fits
    detectors.confident_learning(frame, SPEC, memo=memo)
    detectors.oof_proba(X, codes, 2, memo=memo)
    detectors.cross_fit_proba(X, codes, 2, Xr, memo=memo)
    assert len(memo) == 1  # found there: nothing fitted again
    memo = {}
    detectors.confident_learning(frame, SPEC, memo=memo)
    assert len(memo) == 1
    memo = {}
    detectors.reference_predictions(frame, SPEC, reference, memo=memo)
    assert len(memo) == 2  # the reference model and the reference's own fold fits
    detectors.reference_anchored(frame, SPEC, reference, memo=memo)
    detectors.oof_proba(Xr, codes_r, 2, memo=memo)
    assert len(memo) == 2


def test_a_memo_never_hands_one_datasets_fits_to_another():
    """Fits are kept by their rows' bytes and labels: the same features with other labels, or other features with the
    same labels, are fitted afresh (one memo serves a candidate and its reference in one check)."""
    rng = np.random.default_rng(174)
    codes = np.repeat([0, 1], 20)
    X = rng.normal(size=(40, 2)) + codes[:, None]
    other_codes = codes.copy()
    other_codes[:6] = 1
    X2 = X[::-1].copy()
    X_new = rng.normal(size=(6, 2))
    memo: dict = {}
    for feats, labels in ((X, codes), (X, other_codes), (X2, codes)):
        np.testing.assert_array_equal(detectors.oof_proba(feats, labels, 2, memo=memo), detectors.oof_proba(feats, labels, 2))
        np.testing.assert_array_equal(detectors._predict(detectors.fitted_on(feats, labels, memo), X_new, 2),
                                      detectors._predict(detectors.fitted_on(feats, labels), X_new, 2))
    assert len(memo) == 6


def test_folds_shrink_to_a_class_of_exactly_two_rows_and_default_to_five_of_seed_0():
    rng = np.random.default_rng(175)
    codes = np.array([0] * 20 + [1] * 18 + [2] * 2)
    X = rng.normal(size=(40, 2)) + np.eye(3)[codes][:, :2] * 2
    np.testing.assert_allclose(detectors.oof_proba(X, codes, 3), _oof_by_hand(X, codes, 3, "linear"), rtol=1e-9, atol=1e-12)  # two folds
    wide = np.repeat([0, 1], 12)
    Xw = rng.normal(size=(24, 2)) + wide[:, None]
    np.testing.assert_allclose(detectors.oof_proba(Xw, wide, 2), _oof_by_hand(Xw, wide, 2, "linear"), rtol=1e-9, atol=1e-12)  # five


# ---------------------------------------------------------------- the paired gate


def test_the_gate_on_classes_every_model_separates_perfectly_reads_no_share_gap():
    """Far-apart classes: both models are right on every holdout row and every bootstrap refit agrees, so each class's
    excess and its sd are exactly 0: p is 1 (no evidence), not the normal tail of 0 / 0 nor 0. The reference model is
    the one kept in the memo."""
    from labelguard.tasks.synthetic import make_reviews

    candidate, reference = make_reviews(120, separation=40.0, seed=176), make_reviews(120, separation=40.0, seed=177)
    holdout = make_reviews(64, separation=40.0, seed=178).assign(review_id=lambda f: "h-" + f["review_id"].astype(str))
    memo: dict = {}
    g = detectors.paired_gate(candidate, reference, holdout, SPEC, memo=memo)
    assert (g["accuracy"], g["reference_accuracy"], g["discordant_worse"], g["discordant_better"]) == (1.0, 1.0, 0, 0)
    assert (g["share_gap"], g["share_p"], g["accuracy_p"]) == (0.0, 1.0, 1.0)
    assert len(memo) == 1
    Xr, codes_r = reference[list(SPEC.feature_cols)].to_numpy(float), reference["label"].to_numpy()
    assert detectors.fitted_on(Xr, codes_r, memo) is next(iter(memo.values()))
    Xh = holdout[list(SPEC.feature_cols)].to_numpy(float)
    assert detectors._bootstrap_share_sd(Xr, codes_r, Xh, 2).tolist() == [0.0, 0.0]  # 64 rows: shares k/64 are exact, so the sd is 0


def test_as_many_holdout_rows_lost_as_won_is_a_sign_test_not_a_certain_pass():
    """One row only the reference model gets right and one only the candidate's: P(X >= 1 | 2 trials, 1/2) = 0.75."""
    from labelguard.tasks.synthetic import make_reviews

    candidate, reference = make_reviews(80, separation=1.0, seed=201), make_reviews(80, separation=1.0, seed=301)
    holdout = make_reviews(50, separation=1.0, seed=401).assign(review_id=lambda f: "h-" + f["review_id"].astype(str))
    g = detectors.paired_gate(candidate, reference, holdout, SPEC)
    assert (g["discordant_worse"], g["discordant_better"], g["accuracy_p"]) == (1, 1, 0.75)
    truth = holdout["label"].to_numpy() == int(g["share_class"])
    assert g["true_share"] == truth.mean() != 0.5  # the named class's true holdout share, not the others'


def test_the_positive_share_is_the_named_classs_else_the_last_classs():
    """Three far-apart classes of 30, 20 and 10 holdout rows, predicted perfectly: the positive share is the named
    class's (class 0: 0.5); with none named (three classes: no default) it is the last class's (class 2: 1/6)."""
    import pandas as pd

    from labelguard.tasks.synthetic import make_reviews

    def take(frame, sizes):
        return pd.concat([frame[frame["label"] == c].head(n) for c, n in enumerate(sizes)]).reset_index(drop=True)

    candidate = make_reviews(300, separation=40.0, seed=179, n_classes=3)
    reference = make_reviews(300, separation=40.0, seed=180, n_classes=3)
    holdout = take(make_reviews(300, separation=40.0, seed=181, n_classes=3), (30, 20, 10)).assign(review_id=lambda f: "h-" + f["review_id"].astype(str))
    three = ColumnSpec(classes=(0, 1, 2))
    for spec, share in ((three, 10 / 60), (ColumnSpec(classes=(0, 1, 2), positive_class=0), 30 / 60)):
        g = detectors.paired_gate(candidate, reference, holdout, spec)
        assert (g["accuracy"], g["reference_accuracy"]) == (1.0, 1.0)
        assert (g["positive_share"], g["reference_positive_share"]) == (pytest.approx(share), pytest.approx(share))


def _bootstrap_predictions(X, codes, X_new, rounds):
    """Each of ``rounds`` refits on a bootstrap resample (a generator seeded 0 draws each as n integers in [0, n)):
    its predicted classes on the new rows."""
    rng = np.random.default_rng(0)
    for _ in range(rounds):
        take = rng.integers(0, len(X), len(X))
        model = make_pipeline(detectors.OuterFence(), StandardScaler(), LogisticRegression(max_iter=1000)).fit(X[take], codes[take])
        yield model.classes_[model.predict_proba(X_new).argmax(axis=1)]


def _share_sd_by_hand(X, codes, X_new, k, rounds=8):
    """Eight refits on bootstrap resamples (a generator seeded 0 draws each as n integers in [0, n)); each class's
    predicted share of the new rows; their standard deviation with ddof 1."""
    shares = np.zeros((rounds, k))
    for b, pred in enumerate(_bootstrap_predictions(X, codes, X_new, rounds)):
        for c in range(k):
            shares[b, c] = (pred == c).sum() / len(X_new)
    return shares.std(axis=0, ddof=1)


def test_the_share_sd_is_over_eight_seeded_bootstrap_refits():
    """Noisy classes 0 and 1 of a three-class set (class 2 has no rows, so no refit predicts it: its sd is 0); also on
    a single new row, whose share is 0 or 1."""
    rng = np.random.default_rng(182)
    codes = rng.integers(0, 2, 40)
    X = rng.normal(size=(40, 2)) + codes[:, None] * 0.8
    X_new = rng.normal(size=(25, 2)) + 0.4
    got = detectors._bootstrap_share_sd(X, codes, X_new, 3)
    np.testing.assert_allclose(got, _share_sd_by_hand(X, codes, X_new, 3), rtol=1e-12, atol=1e-15)
    assert got[0] > 0 and got[2] == 0.0
    one = X_new[3:4]  # a row the refits do not agree on
    sd_one = detectors._bootstrap_share_sd(X, codes, one, 2)
    np.testing.assert_allclose(sd_one, _share_sd_by_hand(X, codes, one, 2), rtol=1e-12, atol=1e-15)
    assert sd_one[0] > 0.3


def test_the_skill_p_is_the_g_test_of_the_predicted_by_true_table():
    """A predicted class seen once still counts; predictions of two classes against truths of three (a 2 x 3 table)."""
    import pandas as pd
    from scipy import stats

    def by_hand(pred, truth):
        return stats.chi2_contingency(pd.crosstab(pred, truth).to_numpy(), lambda_="log-likelihood").pvalue

    pred = np.array([0] * 12 + [1] * 11 + [2])
    truth = np.array([0] * 10 + [1] * 2 + [1] * 9 + [0] * 2 + [2])
    assert detectors._skill_p(pred, truth) == pytest.approx(by_hand(pred, truth), rel=1e-12)
    pred, truth = np.array([0] * 10 + [1] * 10), np.array([0] * 7 + [2] * 3 + [1] * 8 + [2] * 2)
    assert detectors._skill_p(pred, truth) == pytest.approx(by_hand(pred, truth), rel=1e-12)
    assert detectors._skill_p(np.zeros(10, dtype=int), np.arange(10) % 2) == 1.0  # one class predicted: no information


def test_the_reference_model_never_predicts_a_holdout_row_it_trained_on():
    """Holdout rows that are also reference rows (same id): the holdout is split into five folds by a permutation
    seeded 0 (row i in fold perm[i] % 5), and each fold is predicted by a model fitted on the reference rows whose
    ids are not in that fold."""
    from labelguard.tasks.synthetic import make_reviews

    reference = make_reviews(80, separation=1.0, seed=185)
    holdout = make_reviews(40, separation=1.0, seed=186)
    holdout.iloc[:25] = reference.iloc[:25].to_numpy()  # 25 shared rows, ids and all
    Xr, codes_r = reference[list(SPEC.feature_cols)].to_numpy(float), reference["label"].to_numpy()
    Xh = holdout[list(SPEC.feature_cols)].to_numpy(float)
    fold = np.random.default_rng(0).permutation(40) % 5
    want = np.zeros(40, dtype=int)
    for f in range(5):
        keep = ~reference["review_id"].isin(holdout["review_id"][fold == f]).to_numpy()
        model = make_pipeline(detectors.OuterFence(), StandardScaler(), LogisticRegression(max_iter=1000)).fit(Xr[keep], codes_r[keep])
        want[fold == f] = model.predict(Xh[fold == f])
    got = detectors._cross_fitted_reference(reference, holdout, SPEC)
    assert got.tolist() == want.tolist()
    whole = make_pipeline(detectors.OuterFence(), StandardScaler(), LogisticRegression(max_iter=1000)).fit(Xr, codes_r).predict(Xh)
    assert got.tolist() != whole.tolist()  # leaving the shared rows out changes some predictions here


def test_a_model_of_no_rows_gives_every_class_the_same_probability():
    """A reference with no rows has nothing to say: 1/K for each class, rows summing to 1."""
    np.testing.assert_array_equal(detectors._predict(np.array([], dtype=int), np.zeros((4, 2)), 3), np.full((4, 3), 1 / 3))


def _recall_sd_by_hand(X, codes, X_new, truth, k, rounds=8):
    """The same eight seeded bootstrap refits as the share sd; each class's recall on the new rows of that class
    (0 for a class with none), and its standard deviation over the refits with ddof 1."""
    recalls = np.zeros((rounds, k))
    for b, pred in enumerate(_bootstrap_predictions(X, codes, X_new, rounds)):
        for c in range(k):
            mine = truth == c
            recalls[b, c] = (pred[mine] == c).sum() / mine.sum() if mine.any() else 0.0
    return recalls.std(axis=0, ddof=1)


def test_the_recall_sd_is_over_the_same_eight_refits_and_zero_for_a_class_with_no_new_rows():
    """With the new rows' true classes, each class's recall over the share sd's eight refits: the share sd unchanged,
    the recall sd by hand; class 2 of three has no new row (recall sd 0)."""
    rng = np.random.default_rng(182)
    codes = rng.integers(0, 2, 40)
    X = rng.normal(size=(40, 2)) + codes[:, None] * 0.8
    X_new = rng.normal(size=(25, 2)) + 0.4
    truth = (X_new.sum(axis=1) > 0.8).astype(int)
    assert 0 < truth.sum() < 25
    share_sd, recall_sd = detectors._bootstrap_share_sd(X, codes, X_new, 3, truth=truth)
    np.testing.assert_allclose(share_sd, _share_sd_by_hand(X, codes, X_new, 3), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(recall_sd, _recall_sd_by_hand(X, codes, X_new, truth, 3), rtol=1e-12, atol=1e-15)
    assert recall_sd.shape == (3,) and recall_sd[0] > 0 and recall_sd[1] > 0 and recall_sd[2] == 0.0


def test_the_gate_pairs_each_classs_recall_on_its_own_holdout_rows():
    """``recall_moves``: per class, (holdout rows of the class only the reference model gets right, rows only the
    candidate's does, rows of the class, hypot of both models' bootstrap recall sd), each model fitted by hand (the
    reference on all its rows: no id is shared with the holdout)."""
    from labelguard.tasks.synthetic import make_reviews

    candidate, reference = make_reviews(60, separation=1.0, seed=503), make_reviews(60, separation=1.0, seed=603)
    holdout = make_reviews(40, separation=1.0, seed=703).assign(review_id=lambda f: "h-" + f["review_id"].astype(str))
    feats = list(SPEC.feature_cols)
    X, codes = candidate[feats].to_numpy(float), candidate["label"].to_numpy()
    Xr, codes_r = reference[feats].to_numpy(float), reference["label"].to_numpy()
    Xh, codes_h = holdout[feats].to_numpy(float), holdout["label"].to_numpy()
    cand = make_pipeline(detectors.OuterFence(), StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, codes).predict(Xh)
    ref = make_pipeline(detectors.OuterFence(), StandardScaler(), LogisticRegression(max_iter=1000)).fit(Xr, codes_r).predict(Xh)
    sd = np.hypot(_recall_sd_by_hand(X, codes, Xh, codes_h, 2), _recall_sd_by_hand(Xr, codes_r, Xh, codes_h, 2))
    want = [(int(((ref == codes_h) & (cand != codes_h) & (codes_h == c)).sum()), int(((cand == codes_h) & (ref != codes_h) & (codes_h == c)).sum()),
             int((codes_h == c).sum())) for c in range(2)]
    assert want == [(0, 5, 21), (8, 0, 19)]  # worked out above; the gate must give the same
    g = detectors.paired_gate(candidate, reference, holdout, SPEC)
    assert [m[:3] for m in g["recall_moves"]] == want
    np.testing.assert_allclose([m[3] for m in g["recall_moves"]], sd, rtol=1e-12)
    assert all(type(v) is int for m in g["recall_moves"] for v in m[:3]) and all(type(m[3]) is float for m in g["recall_moves"])


# ---------------------------------------------------------------- the share test's selection (twentieth session)


def _gate_with_given_models(monkeypatch, cand, ref, share_sd_cand, truth=None):
    """``paired_gate`` on a holdout of 50, 30 and 20 rows of classes 0, 1 and 2 (``truth``), with the candidate's and
    the reference model's holdout predictions given (``cand``, ``ref``), the candidate's bootstrap share sd given and
    the reference model's 0: each class's excess, sd and p are then worked out by hand from the documented formula."""
    from labelguard.tasks.synthetic import make_reviews

    truth = np.repeat([0, 1, 2], [50, 30, 20]) if truth is None else truth
    n = len(truth)
    holdout = make_reviews(n, seed=811, n_classes=3).assign(label=truth, review_id=lambda f: "h-" + f["review_id"].astype(str))
    candidate, reference = make_reviews(90, seed=812, n_classes=3), make_reviews(90, seed=813, n_classes=3)
    sds = iter([(np.asarray(share_sd_cand, float), np.zeros(3)), (np.zeros(3), np.zeros(3))])  # the candidate's first, then the reference's
    monkeypatch.setattr(detectors, "_fit_proba", lambda X, codes, X_new, k: np.eye(k)[cand])
    monkeypatch.setattr(detectors, "_cross_fitted_reference", lambda reference, holdout, spec, memo=None: np.asarray(ref))
    monkeypatch.setattr(detectors, "_bootstrap_share_sd", lambda *a, **kw: next(sds))
    return detectors.paired_gate(candidate, reference, holdout, ColumnSpec(classes=(0, 1, 2)))


def test_the_share_test_names_the_class_with_the_smallest_p_not_the_largest_gap(monkeypatch):
    """Three classes, the reference model right on every row. The candidate's model predicts class 1 for 8 rows of
    class 0 and class 2 for 5 more, with training variability 0.2, 0.05 and 0 in the shares of classes 0, 1 and 2:
    excess 0.13, 0.08, 0.05; sd sqrt(13/100² + 0.2²), sqrt(8/100² + 0.05²), sqrt(5/100²); p = 3 × the normal tail:
    0.78, 0.25, 0.038. The gate names class 2, the smallest p, though its gap is the smallest; p-values are compared
    as numbers, not rounded to 0 or 1 (classes 1 and 2 are both under 0.5)."""
    from scipy import stats

    truth = np.repeat([0, 1, 2], [50, 30, 20])
    cand = truth.copy()
    cand[:8], cand[8:13] = 1, 2
    g = _gate_with_given_models(monkeypatch, cand, truth, [0.2, 0.05, 0.0])
    p = [3 * stats.norm.sf(e / s) for e, s in ((0.13, np.sqrt(13e-4 + 0.04)), (0.08, np.sqrt(8e-4 + 0.0025)), (0.05, np.sqrt(5e-4)))]
    assert [round(v, 3) for v in p] == [0.784, 0.246, 0.038]  # the premise: class 2's p smallest, 1's and 2's both under 0.5
    assert (g["share_class"], g["share"], g["true_share"], g["reference_share"]) == ("2", 0.25, 0.2, 0.2)
    assert g["share_gap"] == pytest.approx(0.05, rel=1e-12) and g["share_p"] == pytest.approx(p[2], rel=1e-9)


def test_equal_share_p_values_go_to_the_larger_gap_then_the_smaller_true_share(monkeypatch):
    """Every class's p is 1 (training variability 0.2 in each share): the candidate's model predicts class 1 for 2 rows
    of class 0, so classes 0 and 1 both have excess 0.02 and class 2 has 0. The larger gap first (not class 2, the
    smallest true share), then between 0 and 1 the smaller true share (class 1, 30 %), not the lower code."""
    truth = np.repeat([0, 1, 2], [50, 30, 20])
    cand = truth.copy()
    cand[:2] = 1
    g = _gate_with_given_models(monkeypatch, cand, truth, [0.2, 0.2, 0.2])
    assert (g["share_class"], g["share_gap"], g["share_p"]) == ("1", 0.02, 1.0)
    assert (g["share"], g["true_share"], g["reference_share"]) == (0.32, 0.3, 0.3)


def test_a_class_set_held_as_python_objects_names_the_share_class_as_written():
    """A label column of dates (Parquet ``date32`` reads as ``datetime.date`` objects): the class set is an object
    array, its members no numpy scalars, and the share class is the date's text."""
    import datetime

    from labelguard.tasks.synthetic import make_reviews

    days = (datetime.date(2024, 1, 1), datetime.date(2024, 6, 1))

    def dated(frame):
        return frame.assign(label=[days[v] for v in frame["label"]])

    candidate, reference = dated(make_reviews(80, separation=1.0, seed=201)), dated(make_reviews(80, separation=1.0, seed=301))
    holdout = dated(make_reviews(50, separation=1.0, seed=401)).assign(review_id=lambda f: "h-" + f["review_id"].astype(str))
    g = detectors.paired_gate(candidate, reference, holdout, ColumnSpec(classes=days))
    as_ints = detectors.paired_gate(*(f.assign(label=[days.index(v) for v in f["label"]]) for f in (candidate, reference, holdout)), SPEC)
    assert g["share_class"] == str(days[int(as_ints["share_class"])]) and g["share_class"] in ("2024-01-01", "2024-06-01")
    assert (g["share_p"], g["accuracy_p"], g["true_share"]) == (as_ints["share_p"], as_ints["accuracy_p"], as_ints["true_share"])


def test_share_p_values_that_agree_to_12_decimals_are_one_and_the_larger_gap_is_named(monkeypatch):
    """The p-values are compared to 12 decimals (float noise, as between a binary problem's mirror classes, is no
    difference). Class 1: excess 0.08, training variability 0.05; class 2: excess 0.05, its variability chosen so that
    its p is 3e-13 below class 1's: the same to 12 decimals, not to 13. The larger gap is named (class 1), not the
    class whose p is smaller only in the 13th decimal."""
    from scipy import stats

    truth = np.repeat([0, 1, 2], [50, 30, 20])
    cand = truth.copy()
    cand[:8], cand[8:13] = 1, 2
    var2 = 0.028090256317784366
    g = _gate_with_given_models(monkeypatch, cand, truth, [0.5, 0.05, var2])
    p1 = 3 * float(stats.norm.sf(0.08 / float(np.sqrt(8 / 100**2 + 0.05**2 + 0.0))))
    p2 = 3 * float(stats.norm.sf(0.05 / float(np.sqrt(5 / 100**2 + var2**2 + 0.0))))
    assert round(p1, 12) == round(p2, 12) == 0.245601531487 and (round(p1, 13), round(p2, 13)) == (0.2456015314869, 0.2456015314866)
    assert (g["share_class"], g["true_share"]) == ("1", 0.3)
    assert g["share_gap"] == pytest.approx(0.08, rel=1e-12) and g["share_p"] == pytest.approx(p1, rel=1e-12)
