import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from labelguard.errors import BadInput
from labelguard.tasks.synthetic import FEATURES, make_reviews


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = make_reviews(300, seed=5), make_reviews(300, seed=5), make_reviews(300, seed=6)
    assert a.equals(b)
    assert not a[list(FEATURES)].equals(c[list(FEATURES)])


def test_columns_ids_and_time_order():
    df = make_reviews(250, seed=1)
    assert list(df.columns) == ["review_id", "label", *FEATURES, "created_at"]
    assert df["review_id"].is_unique and df["review_id"].iloc[0] == "rev-0000000"
    assert df["created_at"].is_monotonic_increasing
    assert set(df["label"]) == {0, 1}


def test_default_clusters_are_linearly_separable_enough():
    df = make_reviews(4000, seed=3)
    X, y = df[list(FEATURES)].to_numpy(), df["label"].to_numpy()
    # Bayes error at separation 5 is about 0.6 %; a linear model gets close to it.
    assert LogisticRegression().fit(X, y).score(X, y) > 0.98
    # and the class means sit `separation` apart on the diagonal
    gap = X[y == 1].mean(axis=0) - X[y == 0].mean(axis=0)
    assert np.linalg.norm(gap) == pytest.approx(5.0, abs=0.15)


def test_overlap_and_balance_are_parameters():
    df = make_reviews(5000, separation=1.0, positive_share=0.3, seed=2)
    assert df["label"].mean() == pytest.approx(0.3, abs=0.02)
    X, y = df[list(FEATURES)].to_numpy(), df["label"].to_numpy()
    assert LogisticRegression().fit(X, y).score(X, y) < 0.85


def test_multiclass():
    df = make_reviews(900, n_classes=3, seed=0)
    assert set(df["label"]) == {0, 1, 2}


@pytest.mark.parametrize("kwargs", [{"rows": 1}, {"positive_share": 1.0}, {"spread": 0}])
def test_bad_parameters(kwargs):
    with pytest.raises(BadInput):
        make_reviews(**{"rows": 10, **kwargs})
