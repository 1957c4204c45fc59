"""Content detectors that score every row's label: plain functions the guards and benchmarks share."""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from labelguard.tasks.manifest import ColumnSpec


@dataclass(frozen=True)
class RowScores:
    """Per-row suspicion (higher = more likely flipped), the suspect mask, and a dataset-level figure."""

    score: np.ndarray
    suspect: np.ndarray
    estimate: float  # detector-specific: estimated flip rate, or suspect fraction


def _xy(frame: pd.DataFrame, spec: ColumnSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from labelguard.tasks.classes import class_codes
    from labelguard.tasks.features import feature_matrix

    classes = np.asarray(spec.classes)
    X = feature_matrix(frame, spec)
    codes = class_codes(spec.classes, frame[spec.label_col].to_numpy())  # spec.classes need not be sorted
    return X, codes, classes


# The model family every detector fit uses (``_fitted``): set for the span of one check by
# :func:`detector_model`, so the guards, the flip posterior and the model gate of one verify share it.
_FAMILY: contextvars.ContextVar[str] = contextvars.ContextVar("labelguard_detector_model", default="linear")
KERNEL_COMPONENTS = 100  # Nystroem landmarks of the kernel family (scikit-learn's default)
CHOICE_MIN_ROWS = 50  # fewer trusted rows than this: the linear family, no choice
CHOICE_MAX_ROWS = 5000  # the choice is made on a seeded sample of at most this many trusted rows
CHOICE_SE = 2.0  # the kernel family must be better by more than two standard errors, in log-loss and in accuracy


FENCE_IQR = 3.0  # Tukey's outer fences: quartiles -/+ 3 interquartile ranges ("far out" values)


class OuterFence(TransformerMixin, BaseEstimator):
    """Clip each feature to Tukey's outer fences, ``[Q1 - 3 IQR, Q3 + 3 IQR]``, learnt on the training rows.

    Tukey, *Exploratory Data Analysis* (Addison-Wesley, 1977), ch. 2: values beyond the outer fences
    are "far out". The detectors' models standardise their features; with heavy tails (Cauchy,
    Student's t, lognormal money amounts) the standard deviation is set by the few largest values a
    sample happened to draw and grows with the sample, so the same regularised logistic regression
    fitted on 2,400 clean rows scored 11-18 accuracy points below one fitted on 600 (break-it r16 F4:
    the model gate fired on clean Cauchy features in 3 of 10 seeds). Quartiles do not depend on the
    tails, so after the fence the scale, and the fit, no longer depend on the sample's size. On
    Gaussian features the fences sit at 4.7 standard deviations (2.4 values in a million are
    clipped); a feature whose quartiles coincide (a sparse indicator, a mostly-zero count) is left
    as it is. Features only: flipped labels cannot move the fences.

    Input shape (n, d) numeric; output the same shape, float.
    """

    def __init__(self, iqr: float = FENCE_IQR):
        self.iqr = iqr

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        q1, q3 = np.nanpercentile(X, [25, 75], axis=0) if len(X) else (np.zeros(X.shape[1]), np.zeros(X.shape[1]))
        spread = q3 - q1
        self.low_ = np.where(spread > 0, q1 - self.iqr * spread, -np.inf)
        self.high_ = np.where(spread > 0, q3 + self.iqr * spread, np.inf)
        return self

    def transform(self, X):
        return np.clip(np.asarray(X, dtype=float), self.low_, self.high_)


def feature_scaler():
    """The detectors' feature scaling (models and neighbourhoods alike): far-out values clipped
    (:class:`OuterFence`), then standardised. An unfitted scikit-learn pipeline; (n, d) -> (n, d)."""
    return make_pipeline(OuterFence(), StandardScaler())


def _model(family: str = "linear", rows: int | None = None):
    """A fresh probabilistic classifier of the family: ``linear`` (standardised logistic regression) or
    ``kernel`` (logistic regression on a Nystroem approximation of the RBF kernel: kernel logistic
    regression, for classes no hyperplane separates; ``rows`` caps the landmarks at the training rows).
    Both clip far-out feature values first (:class:`OuterFence`), so heavy tails do not set the scale."""
    if family == "kernel":
        from sklearn.kernel_approximation import Nystroem

        comps = KERNEL_COMPONENTS if rows is None else max(1, min(KERNEL_COMPONENTS, rows))
        return make_pipeline(*_scaling_steps(), Nystroem(n_components=comps, random_state=0), LogisticRegression(max_iter=1000))
    return make_pipeline(*_scaling_steps(), LogisticRegression(max_iter=1000))


def _scaling_steps() -> list:
    """:func:`feature_scaler`'s fresh estimators, for a model's pipeline to start with."""
    return [step for _, step in feature_scaler().steps]


def _logreg():
    """The detectors' model for the family in force (see :func:`detector_model`)."""
    return _model(_FAMILY.get())


@dataclass(frozen=True)
class ModelChoice:
    """Which model family the detectors use on one dataset, and why.

    ``z`` is the mean per-row out-of-fold log-loss difference (kernel minus linear) on the trusted
    rows divided by its standard error (negative: the kernel family fits better); ``rows`` the trusted
    rows it was measured on (0: too few to choose, the linear family); the accuracies are out of fold on them.
    ``measured_on`` says whose rows those are: ``"reference"`` (trusted) or ``"candidate"`` (the data being
    checked, when the reference has fewer than :data:`CHOICE_MIN_ROWS` rows or there is none).
    """

    family: str
    z: float
    rows: int
    linear_log_loss: float | None = None
    kernel_log_loss: float | None = None
    linear_accuracy: float | None = None
    kernel_accuracy: float | None = None
    measured_on: str = "reference"

    def to_dict(self) -> dict:
        return {"family": self.family, "z": None if self.rows == 0 else round(self.z, 2), "rows": self.rows,
                "linear_log_loss": self.linear_log_loss, "kernel_log_loss": self.kernel_log_loss,
                "linear_accuracy": self.linear_accuracy, "kernel_accuracy": self.kernel_accuracy,
                "measured_on": self.measured_on}


def choose_model_family(X: np.ndarray, codes: np.ndarray, k: int, *, seed: int = 0) -> ModelChoice:
    """Linear or kernel logistic regression for the detectors, chosen on trusted rows by out-of-fold log-loss.

    Every model-based guard (confident learning, the reference model, the model gate) and the flip
    posterior read a label as suspect when a model fitted on the other rows finds it improbable. That
    reading is sound only when the model can represent P(label | features): confident learning's
    guarantees assume well-estimated out-of-fold probabilities (Northcutt, Jiang & Chuang, "Confident
    Learning: Estimating Uncertainty in Dataset Labels", JAIR 70, 2021, section 4). On classes no
    hyperplane separates (rings, XOR), a linear model's out-of-fold probabilities are near chance and
    depend on the sample it was fitted on, so clean data looks mislabelled at a rate that differs
    between a 2,000-row candidate and a 500-row reference: the guards fired on clean data.

    Both families are scored by 5-fold out-of-fold log-loss on the same trusted rows (at most
    :data:`CHOICE_MAX_ROWS`, a seeded sample beyond). The kernel family is chosen only when its mean
    per-row log-loss is lower by more than :data:`CHOICE_SE` standard errors (a paired comparison) and
    its out-of-fold accuracy is higher by more than as many (the guards read predicted classes too: on
    196 rows of text features a kernel model had the lower log-loss by tempering an over-confident
    linear one, and no skill beyond the commonest class); on data a linear model fits, it stays linear,
    so results there are the linear model's.

    Parameters
    ----------
    X
        Trusted feature rows, shape (n, d).
    codes
        Their class codes, shape (n,), in ``0..k-1``.
    k
        Number of classes.

    Returns
    -------
    ModelChoice
        ``family`` ``"linear"`` or ``"kernel"``; with fewer than :data:`CHOICE_MIN_ROWS` rows or two
        classes with two rows each, ``"linear"`` with ``rows=0``.
    """
    counts = np.bincount(codes, minlength=k)
    if len(X) < CHOICE_MIN_ROWS or (counts >= 2).sum() < 2:
        return ModelChoice("linear", 0.0, 0)
    if len(X) > CHOICE_MAX_ROWS:
        take = np.sort(np.random.default_rng(seed).choice(len(X), CHOICE_MAX_ROWS, replace=False))
        X, codes = X[take], codes[take]
    losses, right = {}, {}
    for family in ("linear", "kernel"):
        with _using(family):  # the detectors' own out-of-fold probabilities, as each family would give them
            proba = oof_proba(X, codes, k, seed=seed)
        losses[family] = -np.log(np.clip(proba[np.arange(len(X)), codes], 1e-12, 1.0))
        right[family] = (proba.argmax(axis=1) == codes).astype(float)
    z = _paired_z(losses["kernel"] - losses["linear"])
    # better probabilities and better predictions, each beyond two standard errors: the guards read both
    # (confident learning's thresholds; the reference model's and the gate's predicted classes). A kernel
    # model that only tempers an over-confident linear one (196 rows of text features) has a lower
    # log-loss and no clearly better predictions: the default stays
    better = _paired_z(right["kernel"] - right["linear"]) > CHOICE_SE
    family = "kernel" if z < -CHOICE_SE and better else "linear"
    return ModelChoice(family, z, len(X), round(float(losses["linear"].mean()), 4), round(float(losses["kernel"].mean()), 4),
                       round(float(right["linear"].mean()), 4), round(float(right["kernel"].mean()), 4))


def _paired_z(d: np.ndarray) -> float:
    """Mean of paired per-row differences over its standard error (0 when every difference is the same)."""
    se = float(d.std(ddof=1) / np.sqrt(len(d)))
    if se > 0:
        return float(d.mean() / se)
    return 0.0 if d.mean() == 0 else float(np.copysign(np.inf, d.mean()))  # the same non-zero difference on every row


_CHOICES: dict[str, ModelChoice] = {}  # digest of the trusted rows -> choice: a drill's cells share one holdout
_CHOICES_KEPT = 64


def _chosen_for(digest: str, X: np.ndarray, codes: np.ndarray, k: int) -> ModelChoice:
    """:func:`choose_model_family`, remembered by the rows' bytes (the same rows always give the same choice)."""
    if digest not in _CHOICES:
        if len(_CHOICES) >= _CHOICES_KEPT:
            _CHOICES.pop(next(iter(_CHOICES)))
        _CHOICES[digest] = choose_model_family(X, codes, k)
    return _CHOICES[digest]


@contextmanager
def detector_model(frame: pd.DataFrame | None, spec: ColumnSpec, trusted: pd.DataFrame | None, memo: dict | None = None):
    """Use the model family :func:`choose_model_family` picks for these rows while the block runs.

    The choice is made on ``trusted`` rows (the reference) when there are enough, else on ``frame``
    (the candidate: its labels may be flipped, but a family that fits the features' geometry fits it
    with or without a few flipped labels). ``memo`` keeps it (``memo["detector_model"]``) so the
    guards and the flip posterior of one check make it once and agree. Yields the :class:`ModelChoice`.
    """
    import dataclasses

    on_trusted = trusted is not None and len(trusted) >= CHOICE_MIN_ROWS
    rows = trusted if on_trusted else frame
    whose = "reference" if on_trusted else "candidate"  # the console and the JSON must not call the candidate's rows trusted
    if rows is None or len(rows) == 0:
        choice = ModelChoice("linear", 0.0, 0, measured_on=whose)
    else:
        X, codes, classes = _xy(rows, spec)
        digest = _digest(X, codes)
        key = ("detector_model", digest)
        choice = _memoized(memo, key, lambda: dataclasses.replace(_chosen_for(digest, X, codes, len(classes)), measured_on=whose))
    if memo is not None:
        memo["detector_model"] = choice
    with _using(choice.family):
        yield choice


@contextmanager
def _using(family: str):
    """Every detector fit in the block is of ``family`` (see :func:`_fitted`)."""
    token = _FAMILY.set(family)
    try:
        yield
    finally:
        _FAMILY.reset(token)


def out_of_fold_proba(frame: pd.DataFrame, spec: ColumnSpec, *, folds: int = 5, seed: int = 0, memo: dict | None = None) -> np.ndarray:
    """Out-of-fold predicted probabilities from logistic regression, shape (n, K) in class order."""
    X, codes, classes = _xy(frame, spec)
    return oof_proba(X, codes, len(classes), folds=folds, seed=seed, memo=memo)


def _digest(*arrays: np.ndarray) -> str:
    """A key for a memo: the arrays' shapes, types and bytes (equal inputs give equal fits, so they may share one)."""
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.shape}{a.dtype.str}".encode())
        h.update(a.data)
    return h.hexdigest()


def _memoized(memo: dict | None, key: tuple, compute):
    """``compute()``, kept in ``memo`` under ``key`` when the caller keeps a memo (None: computed every time)."""
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def _fold_fits(X: np.ndarray, codes: np.ndarray, k: int, *, folds: int, seed: int, memo: dict | None) -> list | None:
    """The out-of-fold split's fold models: ``[(test rows, fitted), ...]``, or None with fewer than two usable classes.

    Folds shrink to the rarest class with at least two rows. ``memo`` (a dict the caller keeps, e.g.
    :attr:`labelguard.tasks.guards.GuardContext.memo`) shares the fits between callers given the
    same rows, labels and seed: the confident-learning guard, the reference model's own out-of-fold
    rate and the flip posterior each fitted the same five models on 100,000 rows.
    """

    def fit_folds() -> list | None:
        counts = np.bincount(codes, minlength=k)
        usable = counts >= 2
        if usable.sum() < 2:
            return None
        n_folds = int(max(2, min(folds, counts[usable].min())))
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "least populated class has only 1 member": handled in _fitted
            splits = list(StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(X, codes))
        return [(test, _fitted(X[train], codes[train])) for train, test in splits]

    return _memoized(memo, ("folds", _FAMILY.get(), _digest(X, codes), k, folds, seed), fit_folds)


def oof_proba(X: np.ndarray, codes: np.ndarray, k: int, *, folds: int = 5, seed: int = 0, memo: dict | None = None) -> np.ndarray:
    """Out-of-fold logistic-regression probabilities, shape (n, k), robust to rare classes.

    Folds shrink to the rarest class with at least two rows; a fold whose training rows hold a
    single class predicts it with certainty; with fewer than two usable classes every row gets the
    uniform distribution. ``memo``: see :func:`_fold_fits`.
    """
    full = np.full((len(X), k), 1.0 / k)
    fits = _fold_fits(X, codes, k, folds=folds, seed=seed, memo=memo)
    for test, fitted in fits or []:
        full[test] = _predict(fitted, X[test], k)
    return full


def cross_fit_proba(X: np.ndarray, codes: np.ndarray, k: int, X_new: np.ndarray, *, folds: int = 5, seed: int = 0,
                    memo: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold probabilities on the training rows and the same fold models' mean on new rows.

    Every row, old or new, is then scored by models of the same strength (each fitted on
    ``(folds - 1) / folds`` of the rows, none on the row it scores), so what the models do on the
    training rows — whose labels are known — says how they behave on the new ones. ``memo``: see
    :func:`_fold_fits` (the fold models are those of :func:`oof_proba` with the same seed).

    Returns
    -------
    tuple
        (out-of-fold probabilities, shape (n, k); mean fold-model probabilities on ``X_new``, shape (m, k)).
    """
    fits = _fold_fits(X, codes, k, folds=folds, seed=seed, memo=memo)
    if fits is None:
        return oof_proba(X, codes, k, folds=folds, seed=seed, memo=memo), _fit_proba(X, codes, X_new, k)
    oof = np.full((len(X), k), 1.0 / k)
    new = np.zeros((len(X_new), k))
    for test, fitted in fits:  # one fit per fold scores both (it used to be fitted twice)
        oof[test] = _predict(fitted, X[test], k)
        new += _predict(fitted, X_new, k) / len(fits)
    return oof, new


def _fitted(X: np.ndarray, codes: np.ndarray):
    """A logistic regression fitted on the rows, or the class codes present when fewer than two (nothing to fit)."""
    present = np.unique(codes)
    return present if len(present) < 2 else _model(_FAMILY.get(), len(X)).fit(X, codes)


def _predict(fitted, X_new: np.ndarray, k: int) -> np.ndarray:
    """Probabilities, shape (m, k): uniform without training rows, certain with one class, else the model's."""
    out = np.zeros((len(X_new), k))
    if len(X_new) == 0:
        return out
    if isinstance(fitted, np.ndarray):
        if len(fitted) == 0:  # no training rows (a tiny reference): no information, uniform
            return np.full((len(X_new), k), 1.0 / k)
        out[:, fitted[0]] = 1.0
        return out
    out[:, fitted.classes_] = fitted.predict_proba(X_new)
    return out


def _fit_proba(X: np.ndarray, codes: np.ndarray, X_new: np.ndarray, k: int) -> np.ndarray:
    if len(X_new) == 0:
        return np.zeros((0, k))
    return _predict(_fitted(X, codes), X_new, k)


def fitted_on(X: np.ndarray, codes: np.ndarray, memo: dict | None = None):
    """One model fitted on all the rows (see :func:`_fitted`); ``memo`` shares it between callers given the same rows
    (the reference model was fitted three times on the same trusted rows: reference_model twice, the model gate once)."""
    return _memoized(memo, ("fit", _FAMILY.get(), _digest(X, codes)), lambda: _fitted(X, codes))


def self_neighbours(Z: np.ndarray, k: int, memo: dict | None = None) -> np.ndarray:
    """Indices of each row's ``k + 1`` nearest rows of ``Z`` (the row itself among them), shape (n, k + 1).

    ``memo`` (see :func:`_fold_fits`) shares the search between the kNN guard and the flip
    posterior's neighbourhood view: on 100,000 rows × 50 features it is a brute-force search of minutes.
    """
    return _memoized(memo, ("neighbours", _digest(Z), k), lambda: NearestNeighbors(n_neighbors=k + 1).fit(Z).kneighbors(Z)[1])


def other_neighbours(Z: np.ndarray, k: int, memo: dict | None = None) -> np.ndarray:
    """Indices of each row's ``k`` nearest *other* rows of ``Z``, shape (n, k) (the search of :func:`self_neighbours`).

    The search returns the row itself among its ``k + 1`` nearest, but not always first: where rows repeat (binary or
    coarse features) its duplicates are as near as itself, and dropping the first column kept the row as its own
    neighbour, agreeing with its own label (break-it r16 F5). The row itself is dropped wherever it is; where the
    search did not return it (more than ``k + 1`` duplicates), the farthest of the ``k + 1`` is dropped instead.
    """
    idx = self_neighbours(Z, k, memo)
    is_self = idx == np.arange(len(idx))[:, None]
    order = np.argsort(is_self, axis=1, kind="stable")  # the row itself last, the rest in distance order
    return np.take_along_axis(idx, order, axis=1)[:, :k]


def confident_learning(frame: pd.DataFrame, spec: ColumnSpec, *, seed: int = 0, memo: dict | None = None) -> RowScores:
    """cleanlab's ``find_label_issues`` on 5-fold logistic-regression probabilities (``memo``: see :func:`_fold_fits`)."""
    from cleanlab.filter import find_label_issues

    _, codes, _ = _xy(frame, spec)
    proba = out_of_fold_proba(frame, spec, seed=seed, memo=memo)
    suspect = find_label_issues(labels=codes, pred_probs=proba, n_jobs=1)
    score = 1.0 - proba[np.arange(len(codes)), codes]
    return RowScores(score, suspect, float(suspect.mean()))


KNN_K, KNN_ETA = 10, 0.7  # knn_consistency's neighbours and disagreement share (the flip posterior's neighbourhood set uses the same rule)


def knn_consistency(frame: pd.DataFrame, spec: ColumnSpec, *, k: int = KNN_K, eta: float = KNN_ETA, memo: dict | None = None) -> RowScores:
    """k-nearest-neighbour label consistency (Paudice et al. 2018): suspect when at least ``eta`` of a
    row's neighbours carry another label (``memo``: see :func:`self_neighbours`)."""
    X, codes, _ = _xy(frame, spec)
    Z = feature_scaler().fit_transform(X)
    disagree = neighbourhood_disagreement(Z, codes, k=k, memo=memo)
    suspect = disagree >= eta
    return RowScores(disagree, suspect, float(suspect.mean()))


def neighbourhood_disagreement(Z: np.ndarray, codes: np.ndarray, *, k: int = KNN_K, Z_query: np.ndarray | None = None,
                               codes_query: np.ndarray | None = None, memo: dict | None = None) -> np.ndarray:
    """The share of each row's ``k`` nearest other rows of ``Z`` that carry another label, every row tied with the
    ``k``-th counted (exact duplicates are one point: all of a row's duplicates are as near as any of them).

    With ``Z_query``/``codes_query``: the same for those rows (trusted rows, not in ``Z``) against the rows of ``Z``,
    so that they are scored as each row of ``Z`` is, in a neighbour pool of the same size.

    "The k nearest" is not defined where more than k rows are equally near: the search then returned the first ones
    in its own order, the same ones for every duplicated row, so the verdict of hundreds of rows (a zero-inflated
    count's all-zero row) rested on ten of them (break-it r18 F1: clean integer counts fired knn_consistency in 15 of
    60 runs). Counting every tied row (R's ``class::knn(use.all = TRUE)``) makes the share that of the whole tied set.
    """
    k = max(1, min(k, len(Z) - 1))
    uniq, inv, mult = np.unique(Z, axis=0, return_inverse=True, return_counts=True)
    if Z_query is None and len(uniq) == len(Z):  # no duplicates: the plain search (memoized, shared with the flip posterior)
        idx = other_neighbours(Z, k, memo)
        return (codes[idx] != codes[:, None]).mean(axis=1)
    inv = np.asarray(inv).ravel()
    n_codes = int(max(codes.max(initial=0), -1 if codes_query is None else codes_query.max(initial=0))) + 1
    counts = np.zeros((len(uniq), n_codes))
    np.add.at(counts, (inv, codes), 1)
    search = NearestNeighbors(n_neighbors=min(k + 1, len(uniq))).fit(uniq)
    if Z_query is None:  # each distinct point: its own duplicates (less the row itself), then the next distinct points
        dist, nbrs = search.kneighbors(uniq)
        rows = mult[nbrs] - (nbrs == np.arange(len(uniq))[:, None])
    else:
        dist, nbrs = search.kneighbors(Z_query, n_neighbors=min(k, len(uniq)))
        rows = mult[nbrs]
    # rows gathered in distance order, a distinct point whole, until k rows are in (k + 1 points, k without the row
    # itself, always hold k other rows, so the search returns enough); every point as near as that one is taken
    # (ties at the k-th distance; the search returns distances in order, so the points before it are among them)
    reach = np.argmax(np.cumsum(rows, axis=1) >= k, axis=1)
    far = dist[np.arange(len(dist)), reach]
    cut = far * (1 + 1e-9) + 1e-12  # as near as the k-th: a relative 1e-9 absorbs the rounding of two ways of computing one distance
    taken = dist <= cut[:, None]
    agg = np.einsum("qj,qjc->qc", taken.astype(float), counts[nbrs])
    # distinct points as near as the k-th beyond the ones the search returned (a lattice of counts: many points at one
    # distance, more than k + 1 of them): every point within that distance is counted, found by a radius search
    edge = np.flatnonzero(dist[:, -1] <= cut) if nbrs.shape[1] < len(uniq) else np.empty(0, int)
    if len(edge):
        from sklearn.neighbors import KDTree

        query = uniq if Z_query is None else Z_query
        within = KDTree(uniq).query_radius(query[edge], r=cut[edge])
        owner = np.repeat(np.arange(len(edge)), [len(w) for w in within])
        extra = np.zeros((len(edge), counts.shape[1]))
        np.add.at(extra, owner, counts[np.concatenate(within).astype(int)])
        agg[edge] = extra
    if Z_query is None:
        total = agg.sum(axis=1)[inv] - 1
        same = agg[inv, codes] - 1
    else:
        total = agg.sum(axis=1)
        same = agg[np.arange(len(codes_query)), codes_query]
    return 1.0 - same / np.maximum(total, 1)


def reference_anchored(
    frame: pd.DataFrame, spec: ColumnSpec, reference: pd.DataFrame, *, bins: int = 4, min_bin_rows: int = 250, iters: int = 100,
    memo: dict | None = None,
) -> RowScores:
    """Score each row's label with a model fitted on the trusted reference, then estimate the label-noise
    transition matrix by EM and each row's posterior probability of having been flipped.

    The observed label is modelled as the true label (posterior from the reference model) passed
    through an unknown K×K transition matrix T; EM fits T on the candidate data. Because the
    reference model never sees the poisoned rows, this stays sharp when poisoning is large or
    class-targeted. The suspect set is the top-k rows by flip posterior, with k chosen to maximise
    the expected F1; ``estimate`` is the estimated flip rate.
    """
    X, codes, classes = _xy(frame, spec)
    Xr, codes_r, _ = _xy(reference, spec)
    k = len(classes)
    prior = _predict(fitted_on(Xr, codes_r, memo), X, k) + 1e-9
    prior /= prior.sum(axis=1, keepdims=True)
    flip = binned_flip_posterior(prior, codes, k, bins=bins, min_bin_rows=min_bin_rows, iters=iters)
    order = np.argsort(-flip, kind="stable")
    expected_tp = np.cumsum(flip[order])
    expected_f1 = 2 * expected_tp / (np.arange(1, len(flip) + 1) + flip.sum())
    n_suspects = int(np.argmax(expected_f1) + 1) if flip.sum() >= 0.5 else 0
    suspect = np.zeros(len(flip), dtype=bool)
    suspect[order[:n_suspects]] = True
    return RowScores(flip, suspect, float(flip.mean()))


def binned_flip_posterior(
    prior: np.ndarray, codes: np.ndarray, k: int, *, bins: int = 4, min_bin_rows: int = 250, iters: int = 100,
    also: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Each row's posterior probability of a flipped label, with the transition matrix fitted by EM within confidence bins.

    Noise may depend on where a row sits (boundary-hugging attacks flip the least certain rows), so
    T is estimated separately within quantile bins of the prior's confidence (at least
    ``min_bin_rows`` rows each). ``prior`` has shape (n, k); returns shape (n,).

    ``also`` — (prior, codes) of other rows, shapes (m, k) and (m,) — scores those rows with the
    bins' edges and transition matrices fitted here (they take no part in the fit); the return is
    then the pair (flip posterior of the rows, flip posterior of the other rows).
    """
    confidence = prior.max(axis=1)
    n_bins = max(1, min(bins, len(prior) // min_bin_rows))
    edges = np.quantile(confidence, np.linspace(0, 1, n_bins + 1)[1:-1])
    which = np.searchsorted(edges, confidence, side="right")
    flip = np.zeros(len(prior))
    other = None if also is None else np.zeros(len(also[0]))
    which_other = None if also is None else np.searchsorted(edges, also[0].max(axis=1), side="right")
    for b in range(n_bins):
        rows = which == b
        T = _em_transition(prior[rows], codes[rows], k, iters)
        flip[rows] = _flip_given(prior[rows], codes[rows], T)
        if also is not None:
            mine = which_other == b
            other[mine] = _flip_given(also[0][mine], also[1][mine], T)
    return flip if also is None else (flip, other)


def _em_transition(prior: np.ndarray, codes: np.ndarray, k: int, iters: int, tol: float = 1e-5) -> np.ndarray:
    """EM for the transition matrix T[y, ỹ] = P(observed ỹ | true y), shape (k, k)."""
    T = np.full((k, k), 0.02 / max(1, k - 1))
    np.fill_diagonal(T, 0.98)
    onehot = np.eye(k)[codes]
    for _ in range(iters):
        joint = prior * T[:, codes].T  # P(true=y, observed=ỹ_i | x_i) ∝ p(y|x) T[y, ỹ_i]
        post = joint / joint.sum(axis=1, keepdims=True)
        new_T = post.T @ onehot / np.maximum(post.sum(axis=0)[:, None], 1e-12)
        done = np.abs(new_T - T).max() < tol
        T = new_T
        if done:
            break
    return T


def _flip_given(prior: np.ndarray, codes: np.ndarray, T: np.ndarray) -> np.ndarray:
    if len(codes) == 0:
        return np.zeros(0)
    joint = prior * T[:, codes].T
    post = joint / np.maximum(joint.sum(axis=1, keepdims=True), 1e-300)
    return 1.0 - post[np.arange(len(codes)), codes]


def _em_flip_posterior(prior: np.ndarray, codes: np.ndarray, k: int, iters: int, tol: float = 1e-5) -> np.ndarray:
    """EM for the transition matrix T[y, ỹ]; returns each row's posterior probability that its label was flipped."""
    return _flip_given(prior, codes, _em_transition(prior, codes, k, iters, tol))


def feature_cells(frame: pd.DataFrame, spec: ColumnSpec) -> np.ndarray:
    """A 64-bit hash of each row's stored feature values (text included), shape (n,): equal rows share a cell."""
    from labelguard.tasks.features import raw_feature_cols

    feats = raw_feature_cols(spec)
    numeric = [c for c in feats if c in spec.feature_cols]
    return pd.util.hash_pandas_object(frame[feats].astype({c: float for c in numeric}), index=False).to_numpy()


def duplicate_conflicts(frame: pd.DataFrame, spec: ColumnSpec) -> np.ndarray:
    """Rows whose exact feature vector recurs with another label; the minority label of each group is
    suspect (every row of a tied group)."""
    key = feature_cells(frame, spec)
    labels = frame[spec.label_col].to_numpy()
    df = pd.DataFrame({"key": key, "label": labels})
    counts = df.groupby(["key", "label"]).size().rename("n").reset_index()
    n_labels = counts.groupby("key")["label"].transform("nunique")
    counts = counts[n_labels > 1]
    if counts.empty:
        return np.zeros(len(frame), dtype=bool)
    top = counts.groupby("key")["n"].transform("max")
    minority = counts[(counts["n"] < top) | (counts.groupby("key")["n"].transform("nunique") == 1)]
    flagged = set(zip(minority["key"], minority["label"]))
    return np.fromiter(((k, lab) in flagged for k, lab in zip(key, labels)), dtype=bool, count=len(frame))


def class_conditional_shift(frame: pd.DataFrame, spec: ColumnSpec, reference: pd.DataFrame, *, alpha: float = 1e-3) -> dict:
    """Two-sample Hotelling T² per class between candidate and reference feature means, with each class's power.

    A label flip moves rows of one class's feature distribution into another class, so the per-class
    means shift even when the class prior stays put. ``power`` of class c is the smallest share of
    class c's rows flipped into its hardest-to-see neighbour class that the receiving class's test
    (at ``alpha / K``) would detect (:func:`labelguard.tasks.power.hotelling_power`).

    Returns
    -------
    dict
        class name -> ``p_value``, ``shift`` (norm of the mean difference, in feature units),
        ``shift_sd`` (its Mahalanobis length: within-class standard deviations, unit-free), ``rows``,
        ``features`` (the matrix's columns, text components included), ``power``.
    """
    from labelguard.tasks.power import UNDETECTABLE, hotelling_power

    X, codes, classes = _xy(frame, spec)
    Xr, codes_r, _ = _xy(reference, spec)
    d = X.shape[1]
    k = len(classes)
    names = [str(c.item() if isinstance(c, np.generic) else c) for c in classes]
    out, means, covs, sizes = {}, {}, {}, {}
    for c in range(k):
        a, b = X[codes == c], Xr[codes_r == c]
        na, nb = len(a), len(b)
        if na <= d or nb <= d or na + nb - 2 <= d:
            continue
        diff = a.mean(axis=0) - b.mean(axis=0)
        pooled = ((na - 1) * np.cov(a, rowvar=False).reshape(d, d) + (nb - 1) * np.cov(b, rowvar=False).reshape(d, d)) / (na + nb - 2)
        t2 = (na * nb) / (na + nb) * float(diff @ np.linalg.pinv(pooled) @ diff)
        f = t2 * (na + nb - d - 1) / (d * (na + nb - 2))
        out[names[c]] = {"p_value": float(stats.f.sf(f, d, na + nb - d - 1)), "shift": float(np.linalg.norm(diff)),
                         "shift_sd": float(np.sqrt(max(0.0, t2 * (na + nb) / (na * nb)))), "rows": int(na), "features": int(d)}
        means[c], covs[c], sizes[c] = b.mean(axis=0), pooled, (na, nb)
    level = alpha / max(1, len(out))
    for c in range(k):
        if names[c] not in out:
            continue
        others = [t for t in means if t != c]
        # the attacker's quietest target is the class whose mean is nearest (smallest shift per flip)
        others.sort(key=lambda t: float((means[c] - means[t]) @ np.linalg.pinv(covs[t]) @ (means[c] - means[t])))
        n_source = int((codes == c).sum())
        worst = max((hotelling_power(means[c] - means[t], covs[t], sizes[t][0], n_source, sizes[t][1], level) for t in others[:1]), default=UNDETECTABLE)
        out[names[c]]["power"] = worst
    return out


def reference_predictions(frame: pd.DataFrame, spec: ColumnSpec, reference: pd.DataFrame, *, folds: int = 5,
                          memo: dict | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Predictions of a model fitted on the reference: on the candidate, and out of fold on the reference itself.

    Returns
    -------
    tuple
        (pred, codes, pred_ref, codes_ref): class codes, shapes (n,), (n,), (n_ref,), (n_ref,).
    """
    X, codes, classes = _xy(frame, spec)
    Xr, codes_r, _ = _xy(reference, spec)
    k = len(classes)
    pred = _predict(fitted_on(Xr, codes_r, memo), X, k).argmax(axis=1)
    pred_r = oof_proba(Xr, codes_r, k, folds=folds, memo=memo).argmax(axis=1)
    return pred, codes, pred_r, codes_r


def reference_disagreement(frame: pd.DataFrame, spec: ColumnSpec, reference: pd.DataFrame, *, folds: int = 5) -> tuple[int, int, int, int]:
    """How often labels disagree with the reference model: on the candidate, and out of fold on the
    reference itself (the rate clean data should show). Returns (k, n, k_ref, n_ref)."""
    pred, codes, pred_r, codes_r = reference_predictions(frame, spec, reference, folds=folds)
    return int((pred != codes).sum()), len(codes), int((pred_r != codes_r).sum()), len(codes_r)


def _cross_fitted_reference(reference: pd.DataFrame, holdout: pd.DataFrame, spec: ColumnSpec, *, folds: int = 5, memo: dict | None = None) -> np.ndarray:
    """The reference model's predictions on the holdout, never from a model that trained on the row it predicts.

    Reference rows that are also holdout rows (same id) are left out of the fit for their own fold.
    """
    Xh, _, _ = _xy(holdout, spec)
    ref_ids = reference[spec.id_col].to_numpy()
    hold_ids = holdout[spec.id_col].to_numpy()
    shared = np.isin(hold_ids, ref_ids)
    Xr, codes_r, _ = _xy(reference, spec)
    k = len(spec.classes)
    if not shared.any():
        return _predict(fitted_on(Xr, codes_r, memo), Xh, k).argmax(axis=1)
    pred = np.empty(len(Xh), dtype=int)
    fold = np.random.default_rng(0).permutation(len(Xh)) % folds
    for f in range(folds):
        rows = fold == f
        keep = ~np.isin(ref_ids, hold_ids[rows])
        pred[rows] = _fit_proba(Xr[keep], codes_r[keep], Xh[rows], k).argmax(axis=1)
    return pred


def paired_gate(candidate: pd.DataFrame, reference: pd.DataFrame, holdout: pd.DataFrame, spec: ColumnSpec, *, memo: dict | None = None, **_: object) -> dict:
    """Train on the candidate and on the reference, compare on the holdout: accuracy by a paired sign
    test (rows where the two models disagree), and each class's predicted share against its true
    holdout share: ``share_gap`` is how much further from the true share the candidate's prediction
    is than the reference model's (a clean model's own share bias cancels), tested one-sided
    (Bonferroni over classes) against the holdout's sampling error and both models' training
    variability (bootstrap refits, :func:`_bootstrap_share_sd`): a share that swings by points from
    one clean training sample to the next is no evidence of flips.

    The reference model never predicts a holdout row it trained on (see :func:`_cross_fitted_reference`),
    so an overlap of reference and holdout does not make the reference look better than it is.
    """
    X, codes, classes = _xy(candidate, spec)
    Xh, codes_h, _ = _xy(holdout, spec)
    cand = _fit_proba(X, codes, Xh, len(classes)).argmax(axis=1)
    ref = _cross_fitted_reference(reference, holdout, spec, memo=memo)
    cand_right, ref_right = cand == codes_h, ref == codes_h
    worse, better = int((ref_right & ~cand_right).sum()), int((cand_right & ~ref_right).sum())
    k = len(classes)
    Xr, codes_r, _ = _xy(reference, spec)
    # how much a fitted model's predicted shares move with its training sample: on overlapping classes a
    # clean model's share of a 10 % class ranges over several points from one sample to the next
    share_sd_cand, recall_sd_cand = _bootstrap_share_sd(X, codes, Xh, k, truth=codes_h)
    share_sd_ref, recall_sd_ref = _bootstrap_share_sd(Xr, codes_r, Xh, k, truth=codes_h)
    n_h = max(1, len(codes_h))
    shares = []
    for c in range(k):
        # the candidate's predicted share of class c against the class's TRUE holdout share, beyond the
        # reference model's own distance from it (a clean model has a share bias of its own: logistic
        # regression under-predicts a 10 % class); the gap is tested against the holdout's sampling
        # error (the class's false positives and negatives) and both models' training variability
        fp, fn = int(((cand == c) & (codes_h != c)).sum()), int(((cand != c) & (codes_h == c)).sum())
        truth = float((codes_h == c).mean())
        excess = abs(fp - fn) / n_h - abs(float((ref == c).mean()) - truth)
        sd = float(np.sqrt((fp + fn) / n_h**2 + share_sd_cand[c] ** 2 + share_sd_ref[c] ** 2))
        p = float(stats.norm.sf(excess / sd)) if excess > 0 and sd > 0 else (0.0 if excess > 0 else 1.0)
        shares.append((min(1.0, p * k), -excess, truth, c))
    # the most significant class; ties (two classes are mirror images: their p-values differ in the last bits) go to
    # the class with the smaller true share, where the move is the larger part of the class, then the lower code
    share_p, neg_gap, _, share_c = min(shares, key=lambda t: (round(t[0], 12), round(t[1], 12), t[2], t[3]))
    share_gap = max(0.0, -neg_gap)
    name = classes[share_c]
    from labelguard.tasks.classes import positive_class

    named = positive_class(spec)
    pos = list(spec.classes).index(named) if named is not None else k - 1
    # how far the candidate model's predicted share of each class moved from the reference model's on
    # the same rows: paired counts (rows the candidate alone predicts c, rows the reference alone does)
    share_moves = [(int(((cand == c) & (ref != c)).sum()), int(((ref == c) & (cand != c)).sum())) for c in range(k)]
    # each class's recall, paired on the holdout rows of that class: (rows the reference model alone gets
    # right, rows the candidate's alone does, rows of the class): a 1 % class can lose all its recall
    # while accuracy and its predicted share move by a point
    # and how much a clean model's recall of the class swings with its training sample (both models' bootstrap sd)
    recall_moves = [(int((ref_right & ~cand_right & (codes_h == c)).sum()), int((cand_right & ~ref_right & (codes_h == c)).sum()),
                     int((codes_h == c).sum()), float(np.hypot(recall_sd_cand[c], recall_sd_ref[c]))) for c in range(k)]
    return {
        "share_moves": share_moves,
        "recall_moves": recall_moves,
        "accuracy": float(cand_right.mean()),
        "reference_accuracy": float(ref_right.mean()),
        "accuracy_p": float(stats.binomtest(worse, worse + better, 0.5, alternative="greater").pvalue) if worse + better else 1.0,
        "holdout_rows": int(len(codes_h)),
        "discordant_worse": worse,
        "discordant_better": better,
        "share_class": str(name.item() if isinstance(name, np.generic) else name),
        "share": float((cand == share_c).mean()),
        "true_share": float((codes_h == share_c).mean()),
        "reference_share": float((ref == share_c).mean()),
        "share_gap": share_gap,
        "share_p": share_p,
        "positive_share": float((cand == pos).mean()),
        "reference_positive_share": float((ref == pos).mean()),
        "reference_skill_p": _skill_p(ref, codes_h),
    }


SHARE_BOOTSTRAPS = 8


def _bootstrap_share_sd(X: np.ndarray, codes: np.ndarray, X_new: np.ndarray, k: int, *, rounds: int = SHARE_BOOTSTRAPS,
                        truth: np.ndarray | None = None):
    """Standard deviation of each class's predicted share on ``X_new`` over refits on bootstrap resamples
    of the training rows (Efron & Tibshirani 1993, *An Introduction to the Bootstrap*, ch. 6), shape (k,).

    With ``truth`` (class codes of ``X_new``'s rows), also each class's recall on them over the same
    refits: returns (share sd, recall sd); a class with no row in ``truth`` has recall sd 0."""
    rng = np.random.default_rng(0)
    shares = np.empty((rounds, k))
    recalls = np.zeros((rounds, k))
    for b in range(rounds):
        take = rng.integers(0, len(X), len(X))
        pred = _fit_proba(X[take], codes[take], X_new, k).argmax(axis=1)
        shares[b] = np.bincount(pred, minlength=k)[:k] / max(1, len(X_new))
        if truth is not None:
            recalls[b] = [float((pred[truth == c] == c).mean()) if (truth == c).any() else 0.0 for c in range(k)]
    if truth is None:
        return shares.std(axis=0, ddof=1)
    return shares.std(axis=0, ddof=1), recalls.std(axis=0, ddof=1)


def _skill_p(pred: np.ndarray, truth: np.ndarray) -> float:
    """P-value of "the predictions carry no information about the true labels": a G-test of
    independence on the predicted × true contingency table (1.0 when the model names one class only).

    Unlike accuracy against the commonest class's share, this sees skill on imbalanced data: a model
    that finds 3 of a 1 % class's 4 rows with few false alarms is far from independent.
    """
    table = pd.crosstab(pred, truth).to_numpy()
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return 1.0
    return float(stats.chi2_contingency(table, lambda_="log-likelihood").pvalue)
