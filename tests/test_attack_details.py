"""Attack internals the contracts do not reach: registry entries, exact refusals, the rate bounds,
standardization, and the softmax regression the greedy attack refits (written against survivors
of `make mutation` on tasks/attacks.py)."""

import numpy as np
import pandas as pd
import pytest

from labelguard.errors import BadInput
from labelguard.tasks import attacks
from labelguard.tasks.attacks import _fit_softmax, _softmax, _standardize, check_rate, flip_labels, segment_mask
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.synthetic import make_reviews


def test_registry_entries_carry_their_name_and_docstring_line():
    assert list(attacks.REGISTRY) == ["random", "targeted", "nearest", "farthest", "greedy", "subset", "cluster"]
    for name, spec in attacks.REGISTRY.items():
        assert spec.name == name
        assert spec.description == spec.fn.__doc__.strip().splitlines()[0] != name
    assert attacks.REGISTRY["random"].description == "Uniform flips, either way (to a random other class when there are more than two)."


@pytest.mark.parametrize("rate", [0.0, 1.0])
def test_rate_bounds_are_inclusive(rate):
    frame = make_reviews(50, seed=1)
    res = flip_labels(frame, ColumnSpec(), attack="random", rate=rate, seed=0)
    assert len(res.flipped) == int(rate * 50) and res.budget == int(rate * 50)
    assert (res.frame["label"] != frame["label"]).sum() == int(rate * 50)


@pytest.mark.parametrize("rate", [1.5, -0.1, float("nan")])
def test_rate_outside_bounds_is_one_line(rate):
    with pytest.raises(BadInput) as err:
        check_rate(rate)
    assert str(err.value) == f"rate must be within [0, 1], got {rate} (fix: pass e.g. --rate 0.2)"


def test_unknown_class_named_for_targeted_is_one_line():
    with pytest.raises(BadInput) as err:
        flip_labels(make_reviews(50, seed=1), ColumnSpec(), attack="targeted", rate=0.1, seed=0, source="nope")
    assert str(err.value) == "'nope' is not one of the classes [0, 1] (fix: name an existing class)"


def test_segment_predicate_refusals_are_one_line():
    X = np.zeros((4, 2))
    with pytest.raises(BadInput) as err:
        segment_mask(X, where="polarity > 1", frame=None)
    assert str(err.value) == "a `where` predicate needs the frame's columns (fix: pass the frame)"
    with pytest.raises(BadInput) as err:
        segment_mask(X, where="nope > 1", frame=pd.DataFrame({"polarity": [0.0] * 4}))
    assert str(err.value).startswith("cannot evaluate segment predicate 'nope > 1': ")
    assert str(err.value).endswith(' (fix: write a pandas query over the feature columns, e.g. "polarity > 3")')


def test_standardize_centres_and_scales_each_column_and_keeps_constant_columns_finite():
    X = np.c_[np.arange(10.0) * 1000, np.linspace(-1, 1, 10), np.full(10, 7.0)]
    Z = _standardize(X)
    assert np.allclose(Z.mean(axis=0), 0) and np.allclose(Z[:, :2].std(axis=0), 1)
    assert np.array_equal(Z[:, 2], np.zeros(10))


@pytest.mark.parametrize("k", [2, 3])
def test_fit_softmax_reaches_the_regularised_optimum(k):
    """Newton's method stops where the gradient of mean cross-entropy + l2/2 |W|² vanishes."""
    rng = np.random.default_rng(5)
    n = 300
    X1 = np.c_[rng.normal(size=(n, 3)), np.ones(n)]
    codes = rng.integers(k, size=n)
    codes[: n // 2] = (X1[: n // 2, 0] > 0).astype(int) % k  # some signal, some noise
    W = _fit_softmax(X1, codes, k, l2=1e-2)
    P = _softmax(X1 @ W.T)
    grad = (P - np.eye(k)[codes]).T @ X1 / n + 1e-2 * W
    assert np.abs(grad).max() < 1e-8
    assert np.abs(W).max() > 0.1  # not the zero start


def test_softmax_rows_are_probabilities():
    Z = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])
    P = _softmax(Z)
    assert np.allclose(P.sum(axis=1), 1) and np.allclose(P[0], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())
    assert P[1, 0] == 1.0 and np.isfinite(P).all()


def test_unknown_attack_and_unknown_option_are_one_line():
    frame = make_reviews(50, seed=1)
    with pytest.raises(BadInput) as err:
        flip_labels(frame, ColumnSpec(), attack="nope", rate=0.1, seed=0)
    assert str(err.value) == "unknown attack 'nope' (fix: choose one of: cluster, farthest, greedy, nearest, random, subset, targeted)"
    with pytest.raises(BadInput) as err:
        flip_labels(frame, ColumnSpec(), attack="random", rate=0.1, seed=0, bogus=1)
    assert str(err.value) == "attack 'random' does not take option(s) bogus (fix: it takes none: drop --option)"


def test_classes_come_from_the_labels_when_the_spec_names_none():
    frame = make_reviews(60, seed=2)
    frame["label"] = frame["label"].map({0: "neg", 1: "pos"})
    res = flip_labels(frame, ColumnSpec(classes=()), attack="random", rate=0.1, seed=0)
    assert len(res.flipped) == 6 and {(o, n) for o, n in zip(res.flipped["old"], res.flipped["new"])} <= {("neg", "pos"), ("pos", "neg")}


def test_subset_where_sees_the_feature_columns():
    frame = make_reviews(200, seed=3)
    res = flip_labels(frame, ColumnSpec(), attack="subset", rate=0.05, seed=0, where="polarity > 1")
    inside = set(frame.loc[frame["polarity"] > 1, "review_id"])
    assert len(res.flipped) == 10 and set(res.flipped["id"]) <= inside and res.note == ""
