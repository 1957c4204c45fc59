"""Content detectors that score every row's label: plain functions the guards and benchmarks share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
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
    from labelguard.tasks.features import feature_matrix

    classes = np.asarray(spec.classes)
    X = feature_matrix(frame, spec)
    codes = np.searchsorted(classes, frame[spec.label_col].to_numpy())
    return X, codes, classes


def _logreg():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def out_of_fold_proba(frame: pd.DataFrame, spec: ColumnSpec, *, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold predicted probabilities from logistic regression (columns in class order)."""
    X, codes, classes = _xy(frame, spec)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    proba = cross_val_predict(_logreg(), X, codes, cv=cv, method="predict_proba")
    full = np.zeros((len(X), len(classes)))
    full[:, np.unique(codes)] = proba
    return full


def confident_learning(frame: pd.DataFrame, spec: ColumnSpec, *, seed: int = 0) -> RowScores:
    """cleanlab's ``find_label_issues`` on 5-fold logistic-regression probabilities."""
    from cleanlab.filter import find_label_issues

    _, codes, _ = _xy(frame, spec)
    proba = out_of_fold_proba(frame, spec, seed=seed)
    suspect = find_label_issues(labels=codes, pred_probs=proba, n_jobs=1)
    score = 1.0 - proba[np.arange(len(codes)), codes]
    return RowScores(score, suspect, float(suspect.mean()))


def knn_consistency(frame: pd.DataFrame, spec: ColumnSpec, *, k: int = 10, eta: float = 0.7) -> RowScores:
    """k-nearest-neighbour label consistency (Paudice et al. 2018): suspect when at least ``eta`` of a
    row's neighbours carry another label."""
    X, codes, _ = _xy(frame, spec)
    Z = StandardScaler().fit_transform(X)
    k = min(k, len(Z) - 1)
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(Z).kneighbors(Z)
    disagree = (codes[idx[:, 1:]] != codes[:, None]).mean(axis=1)
    suspect = disagree >= eta
    return RowScores(disagree, suspect, float(suspect.mean()))


def reference_anchored(
    frame: pd.DataFrame, spec: ColumnSpec, reference: pd.DataFrame, *, bins: int = 4, min_bin_rows: int = 250, iters: int = 100
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
    model = _logreg().fit(Xr, codes_r)
    prior = np.full((len(X), k), 1e-9)
    prior[:, model.classes_] = model.predict_proba(X)
    prior /= prior.sum(axis=1, keepdims=True)
    # Noise may depend on where a row sits (boundary-hugging attacks flip the least certain rows), so
    # T is estimated separately within bins of the reference model's confidence.
    confidence = prior.max(axis=1)
    n_bins = max(1, min(bins, len(X) // min_bin_rows))
    edges = np.quantile(confidence, np.linspace(0, 1, n_bins + 1)[1:-1])
    which = np.searchsorted(edges, confidence, side="right")
    flip = np.zeros(len(X))
    for b in range(n_bins):
        rows = which == b
        flip[rows] = _em_flip_posterior(prior[rows], codes[rows], k, iters)
    order = np.argsort(-flip, kind="stable")
    expected_tp = np.cumsum(flip[order])
    expected_f1 = 2 * expected_tp / (np.arange(1, len(flip) + 1) + flip.sum())
    n_suspects = int(np.argmax(expected_f1) + 1) if flip.sum() >= 0.5 else 0
    suspect = np.zeros(len(flip), dtype=bool)
    suspect[order[:n_suspects]] = True
    return RowScores(flip, suspect, float(flip.mean()))


def _em_flip_posterior(prior: np.ndarray, codes: np.ndarray, k: int, iters: int, tol: float = 1e-5) -> np.ndarray:
    """EM for the transition matrix T[y, ỹ]; returns each row's posterior probability that its label was flipped."""
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
    joint = prior * T[:, codes].T
    post = joint / joint.sum(axis=1, keepdims=True)
    return 1.0 - post[np.arange(len(codes)), codes]


def duplicate_conflicts(frame: pd.DataFrame, spec: ColumnSpec) -> np.ndarray:
    """Rows whose exact feature vector recurs with another label; the minority label of each group is
    suspect (every row of a tied group)."""
    from labelguard.tasks.features import raw_feature_cols

    feats = raw_feature_cols(spec)  # exact duplicates share the stored values, text included
    key = pd.util.hash_pandas_object(frame[feats], index=False).to_numpy()
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


def class_conditional_shift(frame: pd.DataFrame, spec: ColumnSpec, reference: pd.DataFrame) -> dict:
    """Two-sample Hotelling T² per class between candidate and reference feature means.

    A label flip moves rows of one class's feature distribution into another class, so the per-class
    means shift even when the class prior stays put. Returns per-class p-values.
    """
    X, codes, classes = _xy(frame, spec)
    Xr, codes_r, _ = _xy(reference, spec)
    d = X.shape[1]
    out = {}
    for c, cls in enumerate(classes):
        a, b = X[codes == c], Xr[codes_r == c]
        na, nb = len(a), len(b)
        if na <= d or nb <= d or na + nb - 2 <= d:
            continue
        diff = a.mean(axis=0) - b.mean(axis=0)
        pooled = ((na - 1) * np.cov(a, rowvar=False).reshape(d, d) + (nb - 1) * np.cov(b, rowvar=False).reshape(d, d)) / (na + nb - 2)
        t2 = (na * nb) / (na + nb) * float(diff @ np.linalg.pinv(pooled) @ diff)
        f = t2 * (na + nb - d - 1) / (d * (na + nb - 2))
        out[str(cls.item() if isinstance(cls, np.generic) else cls)] = {
            "p_value": float(stats.f.sf(f, d, na + nb - d - 1)),
            "shift": float(np.linalg.norm(diff)),
            "rows": int(na),
        }
    return out


def reference_disagreement(frame: pd.DataFrame, spec: ColumnSpec, reference: pd.DataFrame, *, folds: int = 5) -> tuple[int, int, int, int]:
    """How often labels disagree with the reference model: on the candidate, and out of fold on the
    reference itself (the rate clean data should show). Returns (k, n, k_ref, n_ref)."""
    X, codes, _ = _xy(frame, spec)
    Xr, codes_r, _ = _xy(reference, spec)
    pred = _logreg().fit(Xr, codes_r).predict(X)
    folds = max(2, min(folds, int(np.bincount(codes_r).min()) if len(codes_r) else 2))
    pred_r = cross_val_predict(_logreg(), Xr, codes_r, cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=0))
    return int((pred != codes).sum()), len(codes), int((pred_r != codes_r).sum()), len(codes_r)


def paired_gate(candidate: pd.DataFrame, reference: pd.DataFrame, holdout: pd.DataFrame, spec: ColumnSpec, *, in_sample: bool = False) -> dict:
    """Train on the candidate and on the reference, compare on the holdout with paired sign tests
    (rows where the two models disagree): accuracy, and share of the positive class (with none
    named, the class whose predicted share moves most, Bonferroni-corrected over the classes)."""
    X, codes, _ = _xy(candidate, spec)
    Xr, codes_r, _ = _xy(reference, spec)
    Xh, codes_h, _ = _xy(holdout, spec)
    cand = _logreg().fit(X, codes).predict(Xh)
    if in_sample:  # the reference *is* the holdout: out-of-fold predictions keep the comparison fair
        ref = cross_val_predict(_logreg(), Xr, codes_r, cv=StratifiedKFold(n_splits=5, shuffle=True, random_state=0))
    else:
        ref = _logreg().fit(Xr, codes_r).predict(Xh)
    from labelguard.tasks.classes import positive_class

    named = positive_class(spec)
    if named is not None:
        positions, correction = [list(spec.classes).index(named)], 1
    else:
        positions, correction = list(range(len(spec.classes))), len(spec.classes)
    pos = max(positions, key=lambda c: (abs(float((cand == c).mean()) - float((ref == c).mean())), -c))
    cand_right, ref_right = cand == codes_h, ref == codes_h
    worse, better = int((ref_right & ~cand_right).sum()), int((cand_right & ~ref_right).sum())
    more, fewer = int(((cand == pos) & (ref != pos)).sum()), int(((cand != pos) & (ref == pos)).sum())
    share_p = min(1.0, correction * float(stats.binomtest(more, more + fewer, 0.5).pvalue)) if more + fewer else 1.0
    return {
        "accuracy": float(cand_right.mean()),
        "reference_accuracy": float(ref_right.mean()),
        "accuracy_p": float(stats.binomtest(worse, worse + better, 0.5, alternative="greater").pvalue) if worse + better else 1.0,
        "positive_share": float((cand == pos).mean()),
        "reference_positive_share": float((ref == pos).mean()),
        "share_p": share_p,
        "share_class": str(spec.classes[pos].item() if isinstance(spec.classes[pos], np.generic) else spec.classes[pos]),
    }
