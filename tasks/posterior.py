"""One flip posterior per row from all the evidence, and the suspect set that maximizes expected F1 under it.

Three views of each row's true class are pooled:

* the reference-anchored model (fitted on trusted rows; never sees poisoned labels),
* out-of-fold probabilities on the candidate itself (cleanlab's view: more rows, but noisy labels),
* neighbourhood label agreement (k nearest candidate rows, leave-one-out).

The two candidate-trained views learn the *noisy* label distribution. They are un-mixed with the
noise matrix cleanlab estimates from them (``p(y|x) = N⁻¹ p̃(ỹ|x)``, the backward correction of
Patrini et al. 2017, CVPR, "Making deep neural networks robust to label noise"). The views are then
pooled log-linearly with weights fitted to the trusted reference's labels (stacking on rows the
attacker cannot touch), the label-noise transition matrix is fitted by EM on the candidate, and
each row's posterior probability of having been flipped follows. The suspect set is the top-k rows
by that posterior, k maximizing the expected F1 (Jansche 2007; Nan et al. 2012, ICML, "Optimizing
F-measures: a tale of two approaches"), unless the trusted rows, clean by construction, show another
detector's set better (cleanlab's, the neighbourhood rule's, the reference model's alone) or show the
posterior no likelier on the candidate than on them (no model has skill): then nobody is named from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from labelguard.tasks.detectors import (KNN_ETA, KNN_K, RowScores, _fold_fits, _predict, _skill_p, _xy, binned_flip_posterior, cross_fit_proba,
                                        detector_model, feature_scaler, knn_consistency, oof_proba)
from labelguard.tasks.manifest import ColumnSpec

EPS = 1e-6


@dataclass(frozen=True)
class FlipPosterior:
    """Per-row flip posterior, the expected-F1 suspect set, the pooling weights and the estimated noise rate."""

    posterior: np.ndarray  # shape (n,), P(row's label was flipped | all evidence)
    suspect: np.ndarray  # shape (n,), bool
    weights: dict[str, float]
    noise_rate: float
    chosen: str = "posterior"  # which candidate suspect set ``suspect`` is: "posterior", "cleanlab", "neighbourhood" or "reference_model"
    candidates: dict[str, dict[str, float]] = field(default_factory=dict)  # per candidate set: rows, false_positive_rate, expected_f1, z
    note: str = ""  # why no set was named though a detector flagged rows (no model has skill): :func:`unvouched_note`

    def as_scores(self) -> RowScores:
        return RowScores(self.posterior, self.suspect, self.noise_rate)


def expected_f1_set(posterior: np.ndarray) -> np.ndarray:
    """The top-k rows by posterior with k maximizing expected F1 ≈ 2 Σ_top-k q / (k + Σ q); empty when Σ q < 0.5.

    Parameters
    ----------
    posterior
        Per-row flip probabilities, shape (n,).

    Returns
    -------
    numpy.ndarray
        Boolean mask, shape (n,).
    """
    order = np.argsort(-posterior, kind="stable")
    total = float(posterior.sum())
    mask = np.zeros(len(posterior), dtype=bool)
    if total < 0.5:
        return mask
    f1 = 2 * np.cumsum(posterior[order]) / (np.arange(1, len(posterior) + 1) + total)
    mask[order[: int(np.argmax(f1)) + 1]] = True
    return mask


def _unmix(noisy: np.ndarray, codes: np.ndarray, oof: np.ndarray) -> np.ndarray:
    """Backward-correct probabilities of the noisy label with cleanlab's noise matrix estimate."""
    from cleanlab.count import estimate_py_and_noise_matrices_from_probabilities

    k = noisy.shape[1]
    present = np.unique(codes)
    if len(present) < 2:
        return noisy
    sub = np.ix_(np.arange(len(codes)), present)
    remap = np.searchsorted(present, codes)
    _, nm, _, _ = estimate_py_and_noise_matrices_from_probabilities(remap, _renorm(oof[sub]))
    full = np.eye(k)
    full[np.ix_(present, present)] = nm  # nm[i, j] = P(label = i | true = j)
    clean = noisy @ np.linalg.pinv(full).T
    return _renorm(np.clip(clean, EPS, None))


def _renorm(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, None)
    return p / p.sum(axis=1, keepdims=True)


def _knn_proba(Z_fit: np.ndarray, codes_fit: np.ndarray, Z: np.ndarray, k_classes: int, *, k: int = 10, self_included: bool,
               memo: dict | None = None) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    from labelguard.tasks.detectors import other_neighbours

    k = max(1, min(k, len(Z_fit) - int(self_included)))
    if self_included and Z is Z_fit:  # the kNN guard's own search on the same rows (memo), the row itself left out
        idx = other_neighbours(Z_fit, k, memo)
    else:
        _, idx = NearestNeighbors(n_neighbors=k + int(self_included)).fit(Z_fit).kneighbors(Z)
        idx = idx[:, 1:] if self_included else idx
    counts = np.stack([(codes_fit[idx] == c).sum(axis=1) for c in range(k_classes)], axis=1)
    return _renorm((counts + 0.5) / (k + 0.5 * k_classes))


def _pool(views: list[np.ndarray], w: np.ndarray) -> np.ndarray:
    logit = sum(wi * np.log(v) for wi, v in zip(w, views))
    logit -= logit.max(axis=1, keepdims=True)
    return _renorm(np.exp(logit))


PRIOR_SD = 1.0  # prior scale of each pooling weight around the uninformative equal-weight geometric mean


def _fit_weights(views_ref: list[np.ndarray], codes_ref: np.ndarray) -> np.ndarray:
    """Log-linear pooling weights: the MAP under the trusted reference labels' log-likelihood and a
    N(1/m, PRIOR_SD²) prior per weight (m views; the prior mean is the equal-weight geometric mean).

    A few dozen trusted rows of near-separable classes reward sharpening every view without limit
    (weights at their bound, confident flips on clean atypical rows); the prior keeps such a small
    reference from moving the weights far, and fades as trusted rows accumulate.
    """
    rows = np.arange(len(codes_ref))
    m = len(views_ref)
    start = np.full(m, 1.0 / m)

    def loss(w):
        return -np.log(_pool(views_ref, w)[rows, codes_ref]).sum() + 0.5 * float(((w - start) / PRIOR_SD) ** 2 @ np.ones(m))

    res = minimize(loss, start, bounds=[(0.0, 3.0)] * m, method="L-BFGS-B")
    return res.x if res.success or res.fun < loss(start) else start


def flip_posterior(frame: pd.DataFrame, spec: ColumnSpec, reference: pd.DataFrame | None = None, *, seed: int = 0, iters: int = 100,
                   memo: dict | None = None) -> FlipPosterior:
    """Pool the evidence into one flip posterior per row and choose the expected-F1 suspect set.

    Parameters
    ----------
    frame
        The candidate rows (n).
    spec
        Columns and class set.
    reference
        Trusted rows; without them the two candidate views are pooled with equal weights.
    seed
        Seed of the out-of-fold split.
    memo
        The guards' shared fits (:attr:`labelguard.tasks.guards.GuardContext.memo`): the out-of-fold
        models and the neighbour search the guards already made on the same rows are reused, not redone.

    Returns
    -------
    FlipPosterior
        ``posterior`` shape (n,), ``suspect`` mask, the pooling ``weights`` by view, ``noise_rate``
        (the estimated share of flipped rows: the mean posterior, or with trusted rows
        :func:`anchored_noise_rate` against them, scored in sample as the candidate is: :func:`in_sample_reference_posterior`). With trusted rows, ``suspect`` is the posterior's expected-F1 set
        (empty when the trusted rows reach it about as often as candidate rows), or cleanlab's set, the
        knn_consistency rule's set or the reference model's own expected-F1 set, whichever
        :func:`choose_suspect_set` expects to be better from the rates at which each method flags
        trusted rows, reweighted to the candidate's clean label mix (:func:`class_weighted_rate`; ``chosen``;
        ``candidates`` holds the figures; a model-based set competes only when its model has skill on the
        trusted rows, the model gate's G-test). ``note``: when no model has skill and nobody is named though
        a detector flagged rows, why (:func:`unvouched_note`), else "".
    """
    # the guards' model family (the same choice on the same trusted rows: memo keeps it)
    with detector_model(frame, spec, reference, memo):
        return _flip_posterior(frame, spec, reference, seed=seed, iters=iters, memo=memo)


def _flip_posterior(frame: pd.DataFrame, spec: ColumnSpec, reference: pd.DataFrame | None, *, seed: int, iters: int,
                    memo: dict | None) -> FlipPosterior:
    X, codes, classes = _xy(frame, spec)
    k = len(classes)
    trusted = reference is not None and len(reference) >= 2 * k and len(np.unique(_xy(reference, spec)[1])) >= 2
    if trusted:
        Xr, codes_r, _ = _xy(reference, spec)
        # the fold models behind the out-of-fold view also score the trusted rows (which none of them saw)
        oof_raw, cand_on_ref = cross_fit_proba(X, codes, k, Xr, seed=seed, memo=memo)
    else:
        oof_raw = oof_proba(X, codes, k, seed=seed, memo=memo)
    oof = _renorm(oof_raw)
    scaler = feature_scaler().fit(X)  # far-out values clipped, as the models' features are
    Z = scaler.transform(X)
    knn = _knn_proba(Z, codes, Z, k, self_included=True, memo=memo)
    views = [_unmix(oof, codes, oof), _unmix(knn, codes, oof)]
    names = ["candidate_out_of_fold", "neighbourhood"]
    if trusted:
        # the same three views on the reference rows, none trained on the row it scores; the reference
        # view comes from the same fold models on both, so the trusted rows show how it behaves on the candidate
        ref_oof, ref_view = cross_fit_proba(Xr, codes_r, k, X, seed=seed, memo=memo)
        knn_on_ref = _knn_proba(Z, codes, scaler.transform(Xr), k, self_included=False)
        views_ref = [_renorm(ref_oof), _unmix(_renorm(cand_on_ref), codes, oof), _unmix(knn_on_ref, codes, oof)]
        views = [_renorm(ref_view)] + views
        names = ["reference_model"] + names
        w = _fit_weights(views_ref, codes_r)
    else:
        w = np.array([1.0, 0.0])  # no trusted labels to weigh the views with: cleanlab's view alone
    prior = _pool(views, w)
    if len(views) == 2:
        posterior = binned_flip_posterior(prior, codes, k, iters=iters)
        return FlipPosterior(posterior, expected_f1_set(posterior), dict(zip(names, map(float, w))), float(posterior.mean()))
    prior_ref = _pool(views_ref, w)
    posterior, posterior_ref = binned_flip_posterior(prior, codes, k, iters=iters, also=(prior_ref, codes_r))
    from labelguard.tasks.guards import SKILL_ALPHA  # the model gate's rule for "has skill"

    # a model whose predictions on the trusted rows are independent of their labels has no skill (the model gate's
    # G-test): when the reference model has none and the posterior stands no higher on the candidate than on the
    # trusted rows, the posterior's level is its false-alarm level, not flips (EM's noise matrix is not identified)
    ref_skill = _skill_p(ref_oof.argmax(axis=1), codes_r) <= SKILL_ALPHA
    anchored, shows_flips = anchored_noise_rate(posterior, posterior_ref)
    no_skill = not ref_skill and not shows_flips
    # the flipped share: the posterior's mean only where the trusted rows, scored as the candidate's rows are, stand clearly
    # below it (:func:`in_sample_reference_posterior`); a transition matrix fitted on the candidate alone puts its rows
    # above the trusted rows on clean many-class data (40 classes: 24 % read as flips, fresh seed 9500)
    level, level_shows = anchored_noise_rate(posterior, in_sample_reference_posterior(prior, codes, prior_ref, codes_r, k, iters=iters))
    noise_rate = anchored if no_skill else float(posterior.mean()) if level_shows else level
    own = expected_f1_set(posterior)
    unnamed = {}  # sets the trusted rows could not vouch for when no model has skill: (rows, share of trusted rows flagged)
    if no_skill and _no_likelier_than_clean(own, posterior, posterior_ref):
        unnamed["posterior"] = (int(own.sum()), float((posterior_ref >= posterior[own].min()).mean()))
        own = np.zeros(len(codes), dtype=bool)
    # the candidate's clean rows by label: the trusted rows stand for them class by class (a targeted attack empties its
    # source class, so clean candidate rows are not labelled in the trusted rows' proportions)
    mix = clean_label_mix(codes, posterior, k)
    candidates = {"posterior": _posterior_set_false_positive_rate(own, posterior, posterior_ref, codes_r, mix)}
    cleanlab = _cleanlab_set(codes, oof_raw)  # exactly the confident_learning guard's set (same folds)
    # a set from a model without skill holds noise: where it flags more candidate than trusted rows, that is how
    # candidate rows are scored (out of fold, against their own labels), not flips (a clean checkerboard: cleanlab
    # flagged 40 % of candidate rows and 30 % of trusted ones)
    if _skill_p(cand_on_ref.argmax(axis=1), codes_r) <= SKILL_ALPHA:
        # the trusted rows scored as each candidate row was: by one fold model, not by the five models' mean (see below)
        candidates["cleanlab"] = _cleanlab_set_false_positive_rate(cleanlab, codes, oof, _fold_proba_on(X, codes, k, Xr, cand_on_ref, seed=seed, memo=memo),
                                                                   codes_r, mix)
    knn_set, reference = np.zeros(len(codes), dtype=bool), np.zeros(len(codes), dtype=bool)
    if no_skill:  # the neighbourhood rule needs no model
        knn_set = knn_consistency(frame, spec, memo=memo).suspect  # the guard's own set (its neighbour search is memoized)
        knn_ref_hits = _neighbourhood_hits(Z, codes, scaler.transform(Xr), codes_r)
        candidates["neighbourhood"] = class_weighted_rate(knn_ref_hits, codes_r, mix) if knn_set.any() else (0.0, 0.0)
    elif ref_skill:  # the reference model's view alone, EM'd the same way (the reference_model guard's evidence)
        alone, alone_ref = binned_flip_posterior(_renorm(ref_view), codes, k, iters=iters, also=(_renorm(ref_oof), codes_r))
        reference = expected_f1_set(alone)
        candidates["reference_model"] = _posterior_set_false_positive_rate(reference, alone, alone_ref, codes_r, mix)
    sets = {"posterior": own, "cleanlab": cleanlab, "neighbourhood": knn_set, "reference_model": reference}
    chosen, scored = choose_suspect_set({m: (int(sets[m].sum()), *fpr) for m, fpr in candidates.items()}, len(codes), noise_rate * len(codes), len(codes_r))
    note = ""
    if no_skill and not sets[chosen].any():
        # the raw share of trusted rows the neighbourhood rule flags (the others: their estimate, from the same trusted rows)
        raw = {"neighbourhood": float(knn_ref_hits.mean())} if knn_set.any() else {}
        unnamed.update({m: (int(d["rows"]), raw.get(m, float(d["false_positive_rate"]))) for m, d in scored.items() if m != "posterior" and d["rows"] > 0})
        note = unvouched_note(unnamed, len(codes), len(codes_r))
    return FlipPosterior(posterior, sets[chosen], dict(zip(names, map(float, w))), noise_rate, chosen, scored, note)


# where each candidate set's rows can be read when it is not named (the guard that reports the same set)
SET_SOURCE = {"posterior": "the pooled flip posterior", "neighbourhood": "knn_consistency", "cleanlab": "confident_learning",
              "reference_model": "reference_model"}


def unvouched_note(unnamed: dict[str, tuple[int, float]], rows: int, reference_rows: int) -> str:
    """Why nobody is named although a detector flagged rows, when no model has skill: "" when no set was left unnamed.

    Without a model that tells the classes apart, the trusted rows are the only measure of a detector's false alarms:
    a set is named only when the candidate's rows are flagged clearly more often than the trusted rows. When they are
    flagged about as often, either the detector's false alarms are that frequent, or the trusted rows hold flips as
    often as the candidate (labels changed before ingest split the holdout off the same file), and nothing in the
    data tells the two apart. An empty suspect set with nothing said would read as "no flips"; this says which.
    ``unnamed``: method -> (rows in its set, share of the trusted rows it flags); the set quoted is the one standing
    most above its trusted rows' share (the two-sample z of :func:`choose_suspect_set`), a guard's before the pooled
    posterior's (a guard's rows can be read in its ``suspect_ids``).
    """
    if not unnamed:
        return ""

    def z(s: int, f: float) -> float:
        spread = np.sqrt(s * (1 - s / max(1, rows)) + rows**2 * f * (1 - f) / max(1, reference_rows))
        return float((s - f * rows) / spread) if spread > 0 else 0.0

    m, (s, f) = max(unnamed.items(), key=lambda kv: (kv[0] != "posterior", z(*kv[1])))
    where = "" if m == "posterior" else f" ({SET_SOURCE[m]}'s suspect_ids)"
    return (f"none named: no model tells the classes apart on the {reference_rows} trusted rows, and {SET_SOURCE[m]} flags "
            f"{s} of the {rows} candidate rows ({s / max(1, rows):.1%}) and {f:.1%} of the trusted rows, not clearly more often; "
            f"if the trusted rows are clean these are its false alarms, but if labels were changed before the holdout was split "
            f"off the same data, the trusted rows hold flips too and these {s} rows may be flips{where}; "
            f"verify against trusted rows labelled independently (--reference) to tell")


def anchored_noise_rate(posterior: np.ndarray, posterior_ref: np.ndarray, *, margin_se: float = 2.0) -> tuple[float, bool]:
    """The flipped share: the posterior's mean where the trusted rows vouch for it, else its excess over its false-alarm level.

    The trusted rows are clean by construction, so the posterior's mean on them, ``m_ref``, is the level it
    reaches on clean rows. A calibrated posterior's mean ``m`` on the candidate is the flipped share; its
    mean on the flipped rows then exceeds ``m_ref`` by ``(m - m_ref) / m`` (what it tells flips from clean
    rows by). When the candidate's mean stands no more than ``margin_se`` standard errors above the trusted
    rows' (Welch), the posterior does not tell them apart, its mean is not evidence of flips (when no model has
    skill EM's noise matrix is not identified: a clean 3x3 checkerboard read 0.45 on both), and the estimate
    is the share the data do show: with flipped rows at most 1 and clean ones at ``m_ref``,
    ``m <= pi + (1 - pi) m_ref`` bounds it below by ``(m - m_ref) / (1 - m_ref)`` (near 0 there).
    ``margin_se``: the two-standard-error convention of the detectors' model choice.

    Returns
    -------
    tuple
        (estimated flipped share, whether the candidate's mean stands above the trusted rows' by ``margin_se``).
    """
    m = float(posterior.mean())
    if len(posterior_ref) < 2:
        return m, True
    m_ref = float(posterior_ref.mean())
    se = float(np.sqrt(posterior.var(ddof=1) / len(posterior) + posterior_ref.var(ddof=1) / len(posterior_ref)))
    if m - m_ref > margin_se * se:
        return m, True
    return max(0.0, m - m_ref) / max(EPS, 1.0 - m_ref), False


def in_sample_reference_posterior(prior: np.ndarray, codes: np.ndarray, prior_ref: np.ndarray, codes_ref: np.ndarray, k: int, *,
                                  iters: int = 100) -> np.ndarray:
    """The trusted rows' flip posterior with the transition matrix fitted on the candidate's rows and theirs together, shape (m,).

    EM fits the k × k transition matrix on the rows it then scores: each row's own label pulls its cell of the matrix
    towards it, so a row in the fit reads a higher flip posterior than the same row outside it, and with many classes
    (k² cells, a few rows each) the pull is large: on clean 40-class data (4,000 rows) the posterior's mean was 0.204 on
    the candidate and 0.148 on the trusted rows with the candidate alone in the fit, and 0.270 and 0.361 with the trusted
    rows alone in it (dev seed 9200, bench/RESULTS.md seventeenth session). With both in the fit, each side is
    scored in sample, alike, and the comparison of their means (:func:`anchored_noise_rate`) reads flips, not the fit.
    ``prior``/``codes``: the candidate's (n, k) pooled prior and labels; ``prior_ref``/``codes_ref``: the trusted rows' (m, k), (m,).
    """
    both = binned_flip_posterior(np.vstack([prior, prior_ref]), np.concatenate([codes, codes_ref]), k, iters=iters)
    return both[len(codes):]


def _no_likelier_than_clean(suspect: np.ndarray, posterior: np.ndarray, posterior_ref: np.ndarray, *, name_se: float = 2.0) -> bool:
    """The trusted rows do not show the posterior's set to hold flips: some trusted row reaches its threshold and the
    candidate's share in the set stands less than ``name_se`` standard errors above the trusted rows' share at or
    above its lowest posterior (a two-sample comparison of the raw rates). Asked only when no model has skill."""
    if not suspect.any() or not len(posterior_ref):
        return False
    n, r, s = len(posterior), len(posterior_ref), int(suspect.sum())
    hits = int((posterior_ref >= posterior[suspect].min()).sum())
    p = hits / r
    if hits == 0:
        return False
    spread = np.sqrt(s * (1 - s / n) + n**2 * p * (1 - p) / r)
    # no spread only when every candidate row is in the set and every trusted row reaches it: both shares are 1,
    # the candidate stands no higher than the trusted rows (0/0 read as "not above", not as NaN)
    return bool(spread == 0 or (s - p * n) / spread < name_se)


def _neighbourhood_hits(Z: np.ndarray, codes: np.ndarray, Z_ref: np.ndarray, codes_ref: np.ndarray) -> np.ndarray:
    """Which trusted rows the knn_consistency rule flags against the candidate's rows (bool, shape (m,)): at least
    :data:`KNN_ETA` of a trusted row's :data:`KNN_K` nearest candidate rows carry another label (rows tied with the
    k-th counted, as the guard counts them: :func:`~labelguard.tasks.detectors.neighbourhood_disagreement`)."""
    from labelguard.tasks.detectors import neighbourhood_disagreement

    return neighbourhood_disagreement(Z, codes, k=KNN_K, Z_query=Z_ref, codes_query=codes_ref) >= KNN_ETA


def _cleanlab_set(codes: np.ndarray, oof: np.ndarray) -> np.ndarray:
    from cleanlab.filter import find_label_issues

    if len(np.unique(codes)) < 2:
        return np.zeros(len(codes), dtype=bool)
    return find_label_issues(labels=codes, pred_probs=oof, n_jobs=1)


def _smoothed_rate(hits: int, rows: int) -> float:
    # Jeffreys' estimate: 0 of 30 trusted rows flagged is not a false-positive rate of 0
    return (hits + 0.5) / (rows + 1)


def clean_label_mix(codes: np.ndarray, posterior: np.ndarray, k: int) -> np.ndarray:
    """The candidate's clean rows' share by given label, shape (k,): per label, the rows' summed probability of not
    having been flipped (``1 - posterior``)."""
    kept = np.bincount(codes, weights=1.0 - np.clip(posterior, 0.0, 1.0), minlength=k)[:k]
    return kept / kept.sum() if kept.sum() > 0 else np.bincount(codes, minlength=k)[:k] / max(1, len(codes))


def class_weighted_rate(hits: np.ndarray, codes_ref: np.ndarray, mix: np.ndarray | None = None) -> tuple[float, float]:
    """The share of the candidate's clean rows a method flags, from which trusted rows it flags: (rate, standard error).

    The trusted rows are clean, but they are labelled in the clean data's proportions, and the candidate's clean
    rows are not once flips have moved rows between labels: a targeted attack leaves few clean rows in its source
    class and many in its target, where a flip posterior runs high (a checkerboard, targeted 40 %: 31 % of the trusted
    rows reached the reference model's threshold, 62 % of the candidate's clean rows). So each trusted row of label
    ``c`` counts with weight ``mix[c] / (r_c / r)`` (``mix``: the candidate's clean rows' share per label,
    :func:`clean_label_mix`; ``r_c`` trusted rows of that label): post-stratification. The error is binomial on
    Kish's effective sample size ``1 / sum(mix[c]**2 / r_c)``, and the rate is Jeffreys' estimate on it (0 of 30
    flagged is not a rate of 0). When ``mix`` is the trusted rows' own label shares (or not given), this is the
    pooled rate ``(hits + 0.5) / (r + 1)`` with error ``sqrt(f (1 - f) / r)``. Labels with no trusted row carry no
    weight (nothing measures them). ``hits`` may be a share per row (a row's chance of being flagged, as
    :func:`_cleanlab_set_false_positive_rate` gives over the fold models); it then counts as that share.
    """
    hits = np.clip(np.asarray(hits, dtype=float), 0.0, 1.0)  # a share in [0, 1] per row (bool: flagged or not)
    r = len(codes_ref)
    if r == 0:
        return 0.0, 0.0
    k = int(max(codes_ref.max() + 1, 0 if mix is None else len(mix)))
    r_c = np.bincount(codes_ref, minlength=k).astype(float)
    h_c = np.bincount(codes_ref, weights=hits, minlength=k)
    w = r_c / r if mix is None else np.where(r_c > 0, np.resize(np.asarray(mix, float), k), 0.0)
    if w.sum() <= 0:
        w = r_c / r
    w = w / w.sum()
    seen = r_c > 0
    raw = float((w[seen] * h_c[seen] / r_c[seen]).sum())
    n_eff = 1.0 / float((w[seen] ** 2 / r_c[seen]).sum())
    rate = (raw * n_eff + 0.5) / (n_eff + 1)
    return float(rate), float(np.sqrt(rate * (1 - rate) / n_eff))


def _posterior_set_false_positive_rate(suspect: np.ndarray, posterior: np.ndarray, posterior_ref: np.ndarray, codes_ref: np.ndarray | None = None,
                                       mix: np.ndarray | None = None) -> tuple[float, float]:
    """Share of the candidate's clean rows whose flip posterior reaches the suspect set's threshold, measured on the
    trusted (clean by construction) rows: (rate, standard error), per label when ``codes_ref`` and ``mix`` are given
    (:func:`class_weighted_rate`)."""
    if not suspect.any():
        return 0.0, 0.0
    hits = posterior_ref >= posterior[suspect].min()
    return class_weighted_rate(hits, np.zeros(len(hits), int) if codes_ref is None else codes_ref, mix if codes_ref is not None else None)


def _fold_proba_on(X: np.ndarray, codes: np.ndarray, k: int, X_new: np.ndarray, mean: np.ndarray, *, seed: int, memo: dict | None) -> np.ndarray:
    """Each out-of-fold model's probabilities on new rows, shape (folds, m, k), renormalised: the models that scored the
    candidate's rows out of fold (the same memoized fits); ``mean`` (their mean, shape (m, k)) as a single fold when
    there are none (fewer than two usable classes)."""
    fits = _fold_fits(X, codes, k, folds=5, seed=seed, memo=memo)
    if not fits:
        return _renorm(mean)[None]
    return np.stack([_renorm(_predict(fitted, X_new, k)) for _, fitted in fits])


def _cleanlab_set_false_positive_rate(suspect: np.ndarray, codes: np.ndarray, oof: np.ndarray, proba_ref: np.ndarray, codes_ref: np.ndarray,
                                      mix: np.ndarray | None = None) -> tuple[float, float]:
    """Share of clean rows cleanlab's rule would flag, from the trusted rows: per given label, the self-confidence below
    which it flagged candidate rows: (rate, standard error), per label weighted by ``mix`` when given.

    cleanlab's default filter (``prune_by_noise_rate``) removes, per given label, the rows whose
    probability of that label is lowest; for two classes that is exactly a threshold on the
    self-confidence, for more an approximation.

    ``proba_ref``: the trusted rows' probabilities, shape (m, k), or one (m, k) slice per out-of-fold model, shape
    (folds, m, k). A rate measured on trusted rows stands for the candidate's clean rows only if both are scored
    alike, and each candidate row was scored by *one* fold model (the one that did not see it). The five models'
    mean is smoother than any one of them: where they disagree (few rows: at 300 candidate rows each is fitted on
    240) it pulls trusted rows away from the threshold, so fewer reach it than clean candidate rows do, and the rate
    reads low. Given the folds, a trusted row counts as the share of the fold models under which it reaches the
    threshold: its chance of being flagged when scored, like a candidate row, by one of them (the average over the
    draw of the fold, not one draw).
    """
    if not suspect.any():
        return 0.0, 0.0
    folds = proba_ref[None] if proba_ref.ndim == 2 else proba_ref
    hits = np.zeros(len(codes_ref))
    for c in np.unique(codes[suspect]):
        threshold = float(oof[suspect & (codes == c), c].max())
        hits = np.maximum(hits, ((codes_ref == c)[None, :] & (folds[:, :, c] <= threshold)).mean(axis=0))
    return class_weighted_rate(hits, codes_ref, mix)


def choose_suspect_set(
    candidates: dict[str, tuple[int, float] | tuple[int, float, float]], rows: int, expected_flips: float, reference_rows: int, *, margin_se: float = 1.0,
    name_se: float = 2.0,
) -> tuple[str, dict[str, dict[str, float]]]:
    """The candidate suspect set with the highest F1 expected from its false-positive rate measured on trusted rows.

    A set of ``s`` rows whose method flags a share ``f`` of clean rows holds about
    ``f * (rows - F)`` clean rows, so ``s - f (rows - F)`` flipped ones, and its F1 is
    ``2 (s - f (rows - F)) / (s + F)`` for ``F`` flipped rows in all. ``f`` is measured on the
    trusted reference, whose labels are right by construction, by models that never trained on the
    row they score — so it is calibrated out of sample, unlike the posterior's own expectation
    (which always prefers its own set). ``F`` is the posterior's estimated count
    (:func:`anchored_noise_rate` times the rows), raised to at least the largest estimated true-positive count.

    The first candidate is the default; another replaces it only when its expected F1 is higher by
    more than ``margin_se`` standard errors of the difference (binomial error of each ``f`` on
    ``reference_rows`` rows, by the delta method): the one-standard-error rule (Breiman et al. 1984,
    *Classification and Regression Trees*, §3.4.3) — a few hundred trusted rows measure a rate of
    1 % only roughly, and a switch on noise costs more than it gains. A challenger must also hold
    flips at all: its count must stand more than ``name_se`` standard errors above ``f * rows``, the
    count its method flags when there are no flips (``z``, a two-sample comparison of the two binomial
    rates): raising ``F`` to a set's own excess lets any large set look good, and on a clean checkerboard
    cleanlab's 129 of 320 rows, 1.7 standard errors above the trusted rows' rate, read as expected F1 0.52.

    Parameters
    ----------
    candidates
        Name -> (set size, false-positive rate on clean rows[, its standard error]), the default first; without a
        standard error, the binomial one of the rate on ``reference_rows`` rows.
    rows
        Candidate rows (n).
    expected_flips
        The posterior's expected number of flipped rows (sum of the flip posterior).
    reference_rows
        Trusted rows the rates were measured on.
    margin_se
        Standard errors by which a challenger must beat the default.
    name_se
        Standard errors by which a challenger's count must exceed its method's count on clean rows (two: the
        convention of the detectors' model choice).

    Returns
    -------
    tuple
        (chosen name, name -> ``rows``, ``false_positive_rate``, ``expected_f1``, ``z``).
    """
    def se(m: str) -> float:
        f = candidates[m][1]
        return float(candidates[m][2]) if len(candidates[m]) > 2 else float(np.sqrt(f * (1 - f) / max(1, reference_rows)))

    flips = max(0.0, min(float(rows), expected_flips))
    tp = {m: max(0.0, c[0] - c[1] * (rows - flips)) for m, c in candidates.items()}
    flips = min(float(rows), max([flips] + list(tp.values())))
    scored = {}
    for m, c in candidates.items():
        s, f = c[0], c[1]
        t = max(0.0, s - f * (rows - flips))
        # the set holds flips at all: its share of the candidate against the share of clean rows its method flags
        # (f, on the trusted rows), under the null of no flips — a two-sample comparison of binomial rates, in
        # standard errors (the candidate's count is binomial on its rows, f on the trusted rows)
        spread = np.sqrt(s * (1 - s / max(1, rows)) + rows**2 * se(m) ** 2)
        z = (s - f * rows) / spread if spread > 0 else 0.0
        scored[m] = {"rows": s, "false_positive_rate": f, "false_positive_se": se(m), "expected_f1": 2 * t / (s + flips) if s + flips > 0 else 0.0, "z": float(z)}
    names = list(candidates)
    default = names[0]
    best = default
    for m in names[1:]:
        s_big = max(candidates[m][0], candidates[default][0])
        sd = 2 * (rows - flips) / max(1e-12, s_big + flips) * np.hypot(se(m), se(default))
        if (scored[m]["expected_f1"] - scored[default]["expected_f1"] > margin_se * sd and scored[m]["expected_f1"] > scored[best]["expected_f1"]
                and scored[m]["z"] > name_se):
            best = m
    return best, scored
