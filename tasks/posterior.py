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

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from labelguard.tasks.detectors import RowScores, _fit_proba, _xy, binned_flip_posterior, oof_proba, out_of_fold_proba
from labelguard.tasks.manifest import ColumnSpec

EPS = 1e-6


@dataclass(frozen=True)
class FlipPosterior:
    """Per-row flip posterior, the expected-F1 suspect set, the pooling weights and the estimated noise rate."""

    posterior: np.ndarray  # shape (n,), P(row's label was flipped | all evidence)
    suspect: np.ndarray  # shape (n,), bool
    weights: dict[str, float]
    noise_rate: float

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


def _knn_proba(Z_fit: np.ndarray, codes_fit: np.ndarray, Z: np.ndarray, k_classes: int, *, k: int = 10, self_included: bool) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    k = max(1, min(k, len(Z_fit) - int(self_included)))
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


def flip_posterior(frame: pd.DataFrame, spec: ColumnSpec, reference: pd.DataFrame | None = None, *, seed: int = 0, iters: int = 100) -> FlipPosterior:
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

    Returns
    -------
    FlipPosterior
        ``posterior`` shape (n,), ``suspect`` mask, the pooling ``weights`` by view, ``noise_rate``
        (mean posterior: the estimated share of flipped rows).
    """
    from sklearn.preprocessing import StandardScaler

    X, codes, classes = _xy(frame, spec)
    k = len(classes)
    oof = _renorm(out_of_fold_proba(frame, spec, seed=seed))
    scaler = StandardScaler().fit(X)
    Z = scaler.transform(X)
    knn = _knn_proba(Z, codes, Z, k, self_included=True)
    views = [_unmix(oof, codes, oof), _unmix(knn, codes, oof)]
    names = ["candidate_out_of_fold", "neighbourhood"]
    if reference is not None and len(reference) >= 2 * k and len(np.unique(_xy(reference, spec)[1])) >= 2:
        Xr, codes_r, _ = _xy(reference, spec)
        ref_view = _fit_proba(Xr, codes_r, X, k)
        # the same three views on the reference rows, none trained on the row it scores
        ref_oof = oof_proba(Xr, codes_r, k, seed=seed)
        cand_on_ref = _fit_proba(X, codes, Xr, k)
        knn_on_ref = _knn_proba(Z, codes, scaler.transform(Xr), k, self_included=False)
        views_ref = [_renorm(ref_oof), _unmix(_renorm(cand_on_ref), codes, oof), _unmix(knn_on_ref, codes, oof)]
        views = [_renorm(ref_view)] + views
        names = ["reference_model"] + names
        w = _fit_weights(views_ref, codes_r)
    else:
        w = np.array([1.0, 0.0])  # no trusted labels to weigh the views with: cleanlab's view alone
    prior = _pool(views, w)
    posterior = binned_flip_posterior(prior, codes, k, iters=iters)
    return FlipPosterior(posterior, expected_f1_set(posterior), dict(zip(names, map(float, w))), float(posterior.mean()))
