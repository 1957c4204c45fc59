"""Label-flip robustness certificates: how many flipped training labels each holdout prediction provably survives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labelguard.errors import BadInput
from labelguard.tasks.features import feature_matrix
from labelguard.tasks.manifest import ColumnSpec, to_py

# pandas' hash_array takes a 16-character key; fixed so a row's partition never depends on the run
PARTITION_HASH_KEY = "labelguard-dpa01"
MIN_ROWS_PER_PARTITION = 20  # below this a base model learns little and the default k shrinks


@dataclass
class Certificate:
    """Per holdout row: the aggregate prediction and its certified radius (flips it provably survives).

    ``radius[i]`` is the largest number of training labels an attacker may flip (any rows, any new
    labels, features untouched) with the prediction for holdout row ``i`` provably unchanged; -1
    where the prediction is wrong to begin with (nothing to protect).
    """

    method: str  # "dpa" (partition aggregation) or "knn" (fixed neighbourhood votes)
    model: str
    voters: int  # k: partitions (DPA) or neighbours (kNN)
    classes: list
    prediction: np.ndarray  # (n_holdout,) class labels
    radius: np.ndarray  # (n_holdout,) int, -1 where wrong
    ids: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def accuracy(self) -> float:
        """Accuracy of the certified (aggregate) classifier on the holdout, budget 0."""
        return float(np.mean(self.radius >= 0)) if len(self.radius) else 0.0

    @property
    def max_budget(self) -> int:
        """The largest radius any prediction can have: half the voters."""
        return self.voters // 2

    def certified_accuracy(self, budget: int) -> float:
        """Share of holdout rows predicted correctly and provably so under ``budget`` flips."""
        return float(np.mean(self.radius >= budget)) if len(self.radius) else 0.0

    def curve(self, budgets: list[int] | None = None) -> list[dict[str, float]]:
        """Certified accuracy at budgets 0..B (default B = half the voters)."""
        budgets = list(range(self.max_budget + 1)) if budgets is None else budgets
        return [{"flips": int(b), "certified_accuracy": self.certified_accuracy(b)} for b in budgets]

    def median_radius(self) -> int:
        """The flips half the holdout's predictions provably survive (wrong predictions count as -1)."""
        return int(np.floor(np.median(self.radius))) if len(self.radius) else -1

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "model": self.model,
            "voters": self.voters,
            "classes": [to_py(c) for c in self.classes],
            "accuracy": self.accuracy,
            "median_radius": self.median_radius(),
            "curve": self.curve(),
            "seconds": self.seconds,
        }


def partition_of(ids, k: int) -> np.ndarray:
    """A label-independent hash partition of rows into ``k`` parts, from the row ids alone.

    Parameters
    ----------
    ids
        Row ids, shape (n_rows,); hashed as text, so ``7`` and ``"7"`` land together.
    k
        Number of partitions.

    Returns
    -------
    ndarray of int, shape (n_rows,), values in [0, k). A flipped label never moves a row to
    another partition, which is what makes the DPA certificate hold for label flips.
    """
    text = pd.Series(ids).astype(str).to_numpy(dtype=object)
    return (pd.util.hash_array(text, hash_key=PARTITION_HASH_KEY) % np.uint64(k)).astype(np.int64)


def vote_radius(votes: np.ndarray, truth: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Aggregate prediction and certified radius from per-class vote counts.

    A label flip changes at most one vote, moving it from one class to another, so it closes the
    gap between the top class and any class ``c`` by at most two. With ties broken towards the
    class that comes first in class order (as ``argmax`` does), the prediction ``top`` survives
    ``r`` flips when ``n_top - r >= n_c + r + [c < top]`` for every other class ``c``:

        r = min over c != top of floor((n_top - n_c - [c < top]) / 2)

    (Levine & Feizi, "Deep Partition Aggregation: Provable Defense against General Poisoning
    Attacks", ICLR 2021, Theorem 1 with a flip counted as one poisoned sample; for kNN, Jia et al.,
    "Certified Robustness of Nearest Neighbors against Data Poisoning and Backdoor Attacks",
    AAAI 2022.)

    Parameters
    ----------
    votes
        Vote counts, shape (n_rows, n_classes), classes in class order.
    truth
        True class index per row, shape (n_rows,); where given, wrong predictions get radius -1.

    Returns
    -------
    (prediction index (n_rows,), radius (n_rows,) int)
    """
    votes = np.asarray(votes, dtype=np.int64)
    n, C = votes.shape
    top = np.argmax(votes, axis=1)  # first maximum: ties go to the earlier class
    n_top = votes[np.arange(n), top]
    cls = np.arange(C)[None, :]
    gap = n_top[:, None] - votes - (cls < top[:, None]).astype(np.int64)
    gap[np.arange(n), top] = np.iinfo(np.int64).max  # c != top
    radius = np.floor_divide(gap.min(axis=1), 2) if C > 1 else np.full(n, np.iinfo(np.int64).max)
    if truth is not None:
        radius = np.where(top == np.asarray(truth), radius, -1)
    return top, radius.astype(np.int64)


def default_partitions(n_rows: int, max_partitions: int = 100) -> int:
    """k for DPA: as many partitions as keep about ``MIN_ROWS_PER_PARTITION`` rows each, at most 100."""
    return int(max(2, min(max_partitions, n_rows // MIN_ROWS_PER_PARTITION)))


def check_partitions(n_rows: int, k: int) -> int:
    """Raise :class:`BadInput` when ``n_rows`` training rows cannot fill ``k`` partitions."""
    if k < 2:
        raise BadInput(f"a certificate needs at least 2 partitions, got {k}", "pass --partitions 2 or more")
    if n_rows < 2 * k:
        raise BadInput(
            f"{n_rows} training rows are too few for {k} partitions (at least 2 rows each)",
            f"pass --partitions {max(2, n_rows // MIN_ROWS_PER_PARTITION)} or fewer, or more data",
        )
    return k


def partition_votes(X: np.ndarray, y: np.ndarray, parts: np.ndarray, X_test: np.ndarray, classes: list, model: str, seed: int, k: int) -> np.ndarray:
    """Vote counts of ``k`` base models of the registered ``model`` family, one per partition.

    A partition holding a single class votes that class (a model cannot learn more from it); an
    empty one abstains. Both are fixed under label flips only in the sense the certificate needs:
    a flip changes the vote of the one partition it lands in and no other.

    Returns
    -------
    ndarray of int, shape (n_test, n_classes).
    """
    from labelguard.tasks.train import REGISTRY, check_model

    check_model(model)
    index = {c: i for i, c in enumerate(classes)}
    votes = np.zeros((len(X_test), len(classes)), dtype=np.int64)
    rows = np.arange(len(X_test))
    from threadpoolctl import threadpool_limits

    # k small fits: one thread each (BLAS/OpenMP threads on 40-row fits cost more than they save:
    # measured 3.6x for logistic regression, 23x for gradient boosting on a busy 2-core machine)
    with threadpool_limits(1):
        _fill_votes(votes, rows, X, y, parts, X_test, index, model, seed, k, REGISTRY)
    return votes


def _fill_votes(votes, rows, X, y, parts, X_test, index, model, seed, k, REGISTRY) -> None:
    for p in range(k):
        members = parts == p
        if not members.any():
            continue
        y_p = y[members]
        present = np.unique(y_p)
        if len(present) == 1:
            votes[:, index[present[0]]] += 1
            continue
        pred = REGISTRY[model](seed).fit(X[members], y_p).predict(X_test)
        votes[rows, np.array([index[v] for v in pred])] += 1


def knn_votes(X: np.ndarray, y: np.ndarray, X_test: np.ndarray, classes: list, fitted_pipeline) -> np.ndarray:
    """Vote counts of each test row's k nearest training rows, in the fitted kNN pipeline's own space.

    Label flips never move a row (features stay), so the neighbourhood is the same before and
    after any flip and only the votes can change: the certificate is exact, not a bound.
    """
    from sklearn.neighbors import KNeighborsClassifier

    knn = fitted_pipeline[-1] if hasattr(fitted_pipeline, "steps") else fitted_pipeline
    if not isinstance(knn, KNeighborsClassifier) or knn.weights != "uniform":
        raise BadInput("the kNN certificate needs a uniform-vote KNeighborsClassifier", "use the registered knn model")
    Z = fitted_pipeline[:-1].transform(X_test) if hasattr(fitted_pipeline, "steps") and len(fitted_pipeline.steps) > 1 else X_test
    neighbours = knn.kneighbors(Z, return_distance=False)  # (n_test, k), indexes into the training rows
    index = {c: i for i, c in enumerate(classes)}
    codes = np.array([index[v] for v in y])
    votes = np.zeros((len(X_test), len(classes)), dtype=np.int64)
    np.add.at(votes, (np.repeat(np.arange(len(X_test)), neighbours.shape[1]), codes[neighbours].ravel()), 1)
    return votes


def uses_knn(model: str) -> bool:
    """True for a registered model whose prediction is a uniform vote of its nearest neighbours."""
    from sklearn.neighbors import KNeighborsClassifier

    from labelguard.tasks.train import REGISTRY

    est = REGISTRY[model](0)
    last = est[-1] if hasattr(est, "steps") else est
    return isinstance(last, KNeighborsClassifier) and last.weights == "uniform"


def certify(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    spec: ColumnSpec,
    *,
    model: str = "logreg",
    partitions: int | None = None,
    seed: int = 0,
) -> Certificate:
    """Certify every holdout prediction of the ``model`` family against label flips in ``train``.

    For a kNN model (uniform votes) the certificate comes from the fixed neighbourhood votes of the
    model trained on all of ``train`` (Jia et al., AAAI 2022): exact, and the model certified is the
    one deployed. For every other family it is Deep Partition Aggregation (Levine & Feizi, ICLR
    2021): ``k`` base models of the family, each trained on one part of a hash partition of the rows
    by id (never by label), vote; the certified classifier is that vote, not the single model
    trained on everything, and its accuracy is reported beside the radius.

    Parameters
    ----------
    train
        Training rows (the candidate data as the pipeline would train on it), shape (n, ...).
    holdout
        Trusted holdout rows to certify, shape (m, ...).
    spec
        Columns and class set (with the text featurizer fitted, if any).
    model
        Registered model family.
    partitions
        k for DPA (default :func:`default_partitions`: about 20 rows a part, at most 100). Ignored
        for kNN, whose voters are its neighbours.
    seed
        Passed to every base model.

    Returns
    -------
    Certificate with per-row prediction and radius; radius is at most k // 2.

    Cost: DPA trains k models on n/k rows each (for linear models about the cost of one fit on all
    rows plus k × the per-fit overhead; measured in bench/RESULTS.md) and predicts the holdout k
    times; kNN costs one neighbour query of the holdout.

    Assumptions: the attacker flips labels only (features, ids and row set unchanged: insertions
    and deletions are certified by DPA too, but each counts as one), the partition hash and the
    base models' training are deterministic (a fixed seed), and the holdout is trusted.

    Raises
    ------
    BadInput
        Too few training rows for the partitions, or an unknown model.
    """
    import time

    from labelguard.tasks.train import check_model, train_model

    check_model(model)
    started = time.perf_counter()
    classes = list(spec.classes)
    X, y = feature_matrix(train, spec), train[spec.label_col].to_numpy()
    X_test = feature_matrix(holdout, spec)
    index = {c: i for i, c in enumerate(classes)}
    truth = np.array([index.get(v, -1) for v in holdout[spec.label_col].to_numpy()])
    if uses_knn(model):
        fitted = train_model(train, spec, model=model, seed=seed)
        votes = knn_votes(X, y, X_test, classes, fitted)
        method, voters = "knn", int(votes.sum(axis=1).max()) if len(votes) else 0
    else:
        k = check_partitions(len(train), partitions or default_partitions(len(train)))
        votes = partition_votes(X, y, partition_of(train[spec.id_col].to_numpy(), k), X_test, classes, model, seed, k)
        method, voters = "dpa", k
    top, radius = vote_radius(votes, truth)
    return Certificate(
        method=method, model=model, voters=voters, classes=classes, prediction=np.asarray(classes, dtype=object)[top],
        radius=radius, ids=holdout[spec.id_col].tolist(), seconds=time.perf_counter() - started,
    )
