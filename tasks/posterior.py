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
F-measures: a tale of two approaches").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from labelguard.tasks.detectors import RowScores, _xy, binned_flip_posterior, cross_fit_proba, detector_model, oof_proba
from labelguard.tasks.manifest import ColumnSpec

EPS = 1e-6


@dataclass(frozen=True)
class FlipPosterior:
    """Per-row flip posterior, the expected-F1 suspect set, the pooling weights and the estimated noise rate."""

    posterior: np.ndarray  # shape (n,), P(row's label was flipped | all evidence)
    suspect: np.ndarray  # shape (n,), bool
    weights: dict[str, float]
    noise_rate: float
    chosen: str = "posterior"  # which candidate suspect set ``suspect`` is: "posterior" or "cleanlab"
    candidates: dict[str, dict[str, float]] = field(default_factory=dict)  # per candidate set: rows, false_positive_rate, expected_f1

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

    from labelguard.tasks.detectors import self_neighbours

    k = max(1, min(k, len(Z_fit) - int(self_included)))
    if self_included and Z is Z_fit:  # the kNN guard's own search on the same rows (memo)
        idx = self_neighbours(Z_fit, k, memo)
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
        (mean posterior: the estimated share of flipped rows). With trusted rows, ``suspect`` is the
        posterior's expected-F1 set or cleanlab's own set on the candidate, whichever
        :func:`choose_suspect_set` expects to be better from the rates at which each method flags
        trusted rows (``chosen``; ``candidates`` holds the figures).
    """
    # the guards' model family (the same choice on the same trusted rows: memo keeps it)
    with detector_model(frame, spec, reference, memo):
        return _flip_posterior(frame, spec, reference, seed=seed, iters=iters, memo=memo)


def _flip_posterior(frame: pd.DataFrame, spec: ColumnSpec, reference: pd.DataFrame | None, *, seed: int, iters: int,
                    memo: dict | None) -> FlipPosterior:
    from sklearn.preprocessing import StandardScaler

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
    scaler = StandardScaler().fit(X)
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
    posterior, posterior_ref = binned_flip_posterior(prior, codes, k, iters=iters, also=(_pool(views_ref, w), codes_r))
    own = expected_f1_set(posterior)
    cleanlab = _cleanlab_set(codes, oof_raw)  # exactly the confident_learning guard's set (same folds)
    candidates = {
        "posterior": _posterior_set_false_positive_rate(own, posterior, posterior_ref),
        "cleanlab": _cleanlab_set_false_positive_rate(cleanlab, codes, oof, _renorm(cand_on_ref), codes_r),
    }
    sets = {"posterior": own, "cleanlab": cleanlab}
    chosen, scored = choose_suspect_set({m: (int(sets[m].sum()), fpr) for m, fpr in candidates.items()}, len(codes), float(posterior.sum()), len(codes_r))
    return FlipPosterior(posterior, sets[chosen], dict(zip(names, map(float, w))), float(posterior.mean()), chosen, scored)


def _cleanlab_set(codes: np.ndarray, oof: np.ndarray) -> np.ndarray:
    from cleanlab.filter import find_label_issues

    if len(np.unique(codes)) < 2:
        return np.zeros(len(codes), dtype=bool)
    return find_label_issues(labels=codes, pred_probs=oof, n_jobs=1)


def _smoothed_rate(hits: int, rows: int) -> float:
    # Jeffreys' estimate: 0 of 30 trusted rows flagged is not a false-positive rate of 0
    return (hits + 0.5) / (rows + 1)


def _posterior_set_false_positive_rate(suspect: np.ndarray, posterior: np.ndarray, posterior_ref: np.ndarray) -> float:
    """Share of trusted (clean by construction) rows whose flip posterior reaches the suspect set's threshold."""
    if not suspect.any():
        return 0.0
    return _smoothed_rate(int((posterior_ref >= posterior[suspect].min()).sum()), len(posterior_ref))


def _cleanlab_set_false_positive_rate(suspect: np.ndarray, codes: np.ndarray, oof: np.ndarray, proba_ref: np.ndarray, codes_ref: np.ndarray) -> float:
    """Share of trusted rows cleanlab's rule would flag: per given label, the self-confidence below which it flagged candidate rows.

    cleanlab's default filter (``prune_by_noise_rate``) removes, per given label, the rows whose
    probability of that label is lowest; for two classes that is exactly a threshold on the
    self-confidence, for more an approximation. The trusted rows are scored by a model fitted on the
    whole candidate (they are not in it: out of sample, like the candidate's out-of-fold view).
    """
    if not suspect.any():
        return 0.0
    hits = 0
    for c in np.unique(codes[suspect]):
        threshold = float(oof[suspect & (codes == c), c].max())
        hits += int((proba_ref[codes_ref == c, c] <= threshold).sum())
    return _smoothed_rate(hits, len(codes_ref))


def choose_suspect_set(
    candidates: dict[str, tuple[int, float]], rows: int, expected_flips: float, reference_rows: int, *, margin_se: float = 1.0
) -> tuple[str, dict[str, dict[str, float]]]:
    """The candidate suspect set with the highest F1 expected from its false-positive rate measured on trusted rows.

    A set of ``s`` rows whose method flags a share ``f`` of clean rows holds about
    ``f * (rows - F)`` clean rows, so ``s - f (rows - F)`` flipped ones, and its F1 is
    ``2 (s - f (rows - F)) / (s + F)`` for ``F`` flipped rows in all. ``f`` is measured on the
    trusted reference, whose labels are right by construction, by models that never trained on the
    row they score — so it is calibrated out of sample, unlike the posterior's own expectation
    (which always prefers its own set). ``F`` is the posterior's expected count, raised to at least
    the largest estimated true-positive count.

    The first candidate is the default; another replaces it only when its expected F1 is higher by
    more than ``margin_se`` standard errors of the difference (binomial error of each ``f`` on
    ``reference_rows`` rows, by the delta method): the one-standard-error rule (Breiman et al. 1984,
    *Classification and Regression Trees*, §3.4.3) — a few hundred trusted rows measure a rate of
    1 % only roughly, and a switch on noise costs more than it gains.

    Parameters
    ----------
    candidates
        Name -> (set size, false-positive rate on clean rows), the default first.
    rows
        Candidate rows (n).
    expected_flips
        The posterior's expected number of flipped rows (sum of the flip posterior).
    reference_rows
        Trusted rows the rates were measured on.
    margin_se
        Standard errors by which a challenger must beat the default.

    Returns
    -------
    tuple
        (chosen name, name -> ``rows``, ``false_positive_rate``, ``expected_f1``).
    """
    flips = max(0.0, min(float(rows), expected_flips))
    tp = {m: max(0.0, s - f * (rows - flips)) for m, (s, f) in candidates.items()}
    flips = min(float(rows), max([flips] + list(tp.values())))
    scored = {}
    for m, (s, f) in candidates.items():
        t = max(0.0, s - f * (rows - flips))
        scored[m] = {"rows": s, "false_positive_rate": f, "expected_f1": 2 * t / (s + flips) if s + flips > 0 else 0.0}
    names = list(candidates)
    default = names[0]
    best = default

    def se(f: float) -> float:
        return float(np.sqrt(f * (1 - f) / max(1, reference_rows)))

    for m in names[1:]:
        s_big = max(candidates[m][0], candidates[default][0])
        sd = 2 * (rows - flips) / max(1e-12, s_big + flips) * np.hypot(se(candidates[m][1]), se(candidates[default][1]))
        if scored[m]["expected_f1"] - scored[default]["expected_f1"] > margin_se * sd and scored[m]["expected_f1"] > scored[best]["expected_f1"]:
            best = m
    return best, scored
