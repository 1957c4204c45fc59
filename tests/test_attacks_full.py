"""Attack behaviour that the first full mutation run of tasks/attacks.py (issue 13, ninth session)
found untested: what a registration declares, the targeted capacity and its refusals, flip-matrix
shares and their split, the largest rate that fits, the subset segment's edges, the strategy
contract's refusals, and which rows cluster and farthest pick."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from labelguard.errors import BadInput
from labelguard.tasks import attacks
from labelguard.tasks.attacks import (AttackInput, AttackSpec, _standardize, check_options, flip_labels, get_attack, largest_rate,
                                      segment_mask, subset_flips, targeted_capacity)
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.synthetic import make_reviews

capacity = targeted_capacity

THREE = ColumnSpec(classes=(0, 1, 2))  # no positive class: none of three is the default
ASK = ("cannot tell which class is positive among 0, 1, 2 (fix: pass --positive-class naming the class the business figure "
       "and the targeted attack are about)")


def _labels(counts: dict) -> np.ndarray:
    return np.concatenate([np.full(n, c) for c, n in counts.items()])


def _strategy(monkeypatch, name, fn):
    monkeypatch.setitem(attacks.REGISTRY, name, AttackSpec(name, fn, name))


# ---------------------------------------------------------------- what a registration declares


def test_each_registration_keeps_its_options_and_capacity():
    assert get_attack("targeted").usage() == (
        "--option source=CLASS --option target=CLASS --option flip_matrix='{\"SOURCE\": {\"TARGET\": SHARE}}'")
    assert get_attack("subset").usage() == "--option where=\"QUERY\" --option segment_share=SHARE"
    assert get_attack("random").usage() == "(none)"
    assert get_attack("targeted").capacity is targeted_capacity
    assert get_attack("random").capacity is None


def test_unknown_options_are_all_named_with_the_ones_the_attack_takes():
    with pytest.raises(BadInput) as err:
        check_options("subset", {"zeta": 1, "alpha": 2, "where": "x > 1"})
    assert str(err.value) == ("attack 'subset' does not take option(s) alpha, zeta "
                              "(fix: its options are --option where=\"QUERY\" --option segment_share=SHARE)")


# ---------------------------------------------------------------- targeted capacity


def test_targeted_capacity_of_one_source_class():
    y, classes = _labels({0: 50, 1: 30, 2: 20}), np.array([0, 1, 2])
    assert capacity(y, classes, 1) == (30, 1)  # the positive class by default
    assert capacity(y, classes, 1, source=2) == (20, 2)  # a named source wins over the positive class
    assert capacity(y, classes, None, source="0") == (50, 0)  # as typed on the command line, no positive class needed
    with pytest.raises(BadInput) as err:
        capacity(y, classes)
    assert str(err.value) == ASK


def test_targeted_capacity_of_a_flip_matrix_is_the_largest_budget_its_split_fits():
    y, classes = _labels({0: 100, 1: 30, 2: 70}), np.array([0, 1, 2])
    # shares 0.25 and 0.75 of the budget: class 2 (70 rows) runs out first, at 94 (split 24 + 70); 95 needs 71
    assert capacity(y, classes, None, flip_matrix={1: {0: 0.1}, 2: {0: 0.3}}) == (94, 2)
    # two cells drawing on one class: together they need its rows
    assert capacity(y, classes, None, flip_matrix={2: {0: 0.5, 1: 0.5}}) == (70, 2)
    # a source class the data does not hold: nothing fits
    assert capacity(_labels({0: 10, 1: 10}), classes, None, flip_matrix={2: {0: 1.0}}) == (0, 2)


# ---------------------------------------------------------------- targeted flips and refusals


def test_targeted_without_a_positive_class_asks_for_one_unless_a_source_is_named():
    df = make_reviews(60, n_classes=3, separation=3.0, seed=5)
    with pytest.raises(BadInput) as err:
        flip_labels(df, THREE, attack="targeted", rate=0.1, seed=0)
    assert str(err.value) == ASK
    res = flip_labels(df, THREE, attack="targeted", rate=0.1, seed=0, source="2", target="0")
    assert (res.budget, set(res.flipped["old"]), set(res.flipped["new"])) == (6, {2}, {0})
    # at rate 0 no strategy runs, so nothing needs a positive class
    res = flip_labels(df, THREE, attack="targeted", rate=0.0, seed=0)
    assert (res.budget, len(res.flipped), res.note) == (0, 0, "")


def test_targeted_default_target_is_the_class_named_negative_among_several():
    df = make_reviews(90, n_classes=3, separation=3.0, seed=6)
    df["label"] = df["label"].map({0: "negative", 1: "neutral", 2: "positive"})
    spec = ColumnSpec(classes=("negative", "neutral", "positive"))
    res = flip_labels(df, spec, attack="targeted", rate=0.2, seed=1)
    assert res.budget == 18 and set(res.flipped["old"]) == {"positive"} and set(res.flipped["new"]) == {"negative"}


def test_a_source_spread_over_several_classes_may_take_every_row_of_it():
    df = make_reviews(300, n_classes=3, separation=3.0, seed=21)
    n_source = int((df["label"] == 2).sum())
    res = flip_labels(df, ColumnSpec(classes=(0, 1, 2), positive_class=2), attack="targeted", rate=n_source / 300, seed=0)
    assert res.budget == n_source and len(res.flipped) == n_source and set(res.flipped["old"]) == {2}


def test_a_named_source_spread_over_several_classes_needs_no_positive_class_even_when_refused():
    df = make_reviews(300, n_classes=3, separation=3.0, seed=21)  # 104 rows of class 2
    with pytest.raises(BadInput) as err:
        flip_labels(df, THREE, attack="targeted", rate=0.9, seed=0, source=2)
    assert str(err.value) == ("targeted needs 270 rows of class 2 but only 104 are available "
                              "(fix: pass --rate 0.34 or lower (104 flips of 300 rows), or choose another source class)")


def test_the_class_named_negative_as_source_spreads_over_the_others():
    df = make_reviews(90, n_classes=3, separation=3.0, seed=6)
    df["label"] = df["label"].map({0: "negative", 1: "neutral", 2: "positive"})
    res = flip_labels(df, ColumnSpec(classes=("negative", "neutral", "positive")), attack="targeted", rate=0.2, seed=1, source="negative")
    assert set(res.flipped["old"]) == {"negative"}
    assert res.flipped.groupby("new").size().to_dict() == {"neutral": 11, "positive": 7}

def test_a_flip_matrix_beyond_its_source_names_the_largest_rate_the_whole_matrix_fits():
    y = _labels({0: 100, 1: 30, 2: 70})
    df = pd.DataFrame({"review_id": [f"r{i}" for i in range(200)], "label": y,
                       "polarity": np.linspace(0, 1, 200), "intensity": np.linspace(1, 0, 200) ** 2})
    spec = ColumnSpec(classes=(0, 1, 2), positive_class=1, timestamp_col=None)
    with pytest.raises(BadInput) as err:
        flip_labels(df, spec, attack="targeted", rate=0.5, seed=0, flip_matrix={1: {0: 0.1}, 2: {0: 0.3}})
    # 100 flips: 25 of class 1 (30 held), 75 of class 2 (70 held); the matrix as a whole fits 94 of 200
    assert str(err.value) == ("targeted needs 75 rows of class 2 but only 70 are available "
                              "(fix: pass --rate 0.47 or lower (94 flips of 200 rows), or choose another source class)")


def test_a_named_source_beyond_its_rows_names_the_largest_rate_of_that_source():
    y = _labels({0: 20, 1: 180})
    df = pd.DataFrame({"review_id": [f"r{i}" for i in range(200)], "label": y,
                       "polarity": np.linspace(0, 1, 200), "intensity": np.linspace(1, 0, 200) ** 2})
    spec = ColumnSpec(timestamp_col=None)  # positive class 1 by default; the source named is 0
    with pytest.raises(BadInput) as err:
        flip_labels(df, spec, attack="targeted", rate=0.2, seed=0, source=0, target=1)
    assert str(err.value) == ("targeted needs 40 rows of class 0 but only 20 are available "
                              "(fix: pass --rate 0.1 or lower (20 flips of 200 rows), or choose another source class)")
    with pytest.raises(BadInput) as err:
        flip_labels(df, ColumnSpec(classes=(0, 1, 2), timestamp_col=None), attack="targeted", rate=0.2, seed=0, source=2, target=1)
    assert str(err.value) == ("targeted needs 40 rows of class 2 but only 0 are available "
                              "(fix: choose another source class (the data holds no row of class 2 to flip))")


# ---------------------------------------------------------------- flip matrix shares


@pytest.mark.parametrize("matrix, total", [({1: {0: 0.0}}, "0"), ({1: {0: 1.5}}, "1.5"), ({1: {0: 0.6}, 0: {1: 0.5}}, "1.1")])
def test_flip_matrix_shares_outside_zero_to_one_are_refused(matrix, total):
    with pytest.raises(BadInput) as err:
        flip_labels(make_reviews(40, seed=2), ColumnSpec(), attack="targeted", rate=0.1, seed=0, flip_matrix=matrix)
    assert str(err.value) == f"flip matrix shares sum to {total} (fix: make the shares sum to a value in (0, 1])"


def test_flip_matrix_shares_within_rounding_of_one_are_taken():
    res = flip_labels(make_reviews(40, seed=2), ColumnSpec(), attack="targeted", rate=0.1, seed=0, flip_matrix={1: {0: 1 + 1e-9}})
    assert res.budget == 4 and set(res.flipped["old"]) == {1}


def test_flip_matrix_budget_goes_to_the_largest_remainders():
    # 4 flips at shares 0.8 / 0.2: 3.2 and 0.8, so 3 + 0 and the spare flip to the larger remainder (0.8)
    res = flip_labels(make_reviews(40, seed=2), ColumnSpec(), attack="targeted", rate=0.1, seed=0, flip_matrix={1: {0: 0.8}, 0: {1: 0.2}})
    assert res.flipped.groupby("old").size().to_dict() == {0: 1, 1: 3}


# ---------------------------------------------------------------- largest rate


@pytest.mark.parametrize("most, rows, rate", [(0, 100, 0.0), (5, 0, 0.0), (1, 100, 0.01), (1, 1, 1.0), (300, 100, 1.0),
                                              (42, 1000, 0.042), (31, 10000, 0.0031), (94, 200, 0.47)])
def test_largest_rate_is_floored_to_two_significant_digits(most, rows, rate):
    assert largest_rate(most, rows) == rate


# ---------------------------------------------------------------- subset segment


def test_subset_segment_edges():
    # the first feature constant: the segment comes from the next one that varies
    X = np.c_[np.ones(100), np.arange(100.0)]
    assert np.flatnonzero(segment_mask(X, segment_share=0.03)).tolist() == [97, 98, 99]
    # exactly twice the share at the quantile (6 of 100): kept whole
    col = np.r_[np.zeros(94), np.ones(5), 2.0]
    assert np.flatnonzero(segment_mask(col[:, None], segment_share=0.03)).tolist() == list(range(94, 100))
    # 8 of 100 (between two and three times the share): only the rows above the quantile
    col = np.r_[np.zeros(92), np.ones(7), 2.0]
    assert np.flatnonzero(segment_mask(col[:, None], segment_share=0.03)).tolist() == [99]
    # tied at the top with nothing above: the tied rows, not nothing
    col = np.r_[np.zeros(90), np.ones(10)]
    assert np.flatnonzero(segment_mask(col[:, None], segment_share=0.03)).tolist() == list(range(90, 100))
    with pytest.raises(BadInput) as err:
        segment_mask(X, segment_share=1.5)
    assert str(err.value) == "segment_share must be in (0, 1], got 1.5 (fix: pass e.g. segment_share=0.03)"


def test_subset_where_gives_a_boolean_mask_and_the_strategy_spends_at_most_its_budget():
    frame = pd.DataFrame({"flag": [0, 2, 0, 1]})
    mask = segment_mask(np.zeros((4, 1)), where="flag", frame=frame)
    assert mask.dtype == bool and mask.tolist() == [False, True, False, True]
    inp = AttackInput(X=np.arange(20.0)[:, None], y=np.r_[np.zeros(10, int), np.ones(10, int)], classes=np.array([0, 1]),
                      budget=0, rng=np.random.default_rng(0))
    positions, new, note = subset_flips(inp, segment_share=0.5)
    assert (positions.tolist(), new.tolist(), note) == ([], [], "")
    positions, new, note = subset_flips(AttackInput(**{**inp.__dict__, "budget": 2}), segment_share=0.5)
    assert len(positions) == 2 and set(positions) <= set(range(10, 20)) and note == ""


# ---------------------------------------------------------------- flip_labels and the strategy contract


def test_continuous_labels_are_refused_with_the_fix():
    df = make_reviews(20, seed=1)
    df["label"] = df["label"] + 0.5
    with pytest.raises(BadInput) as err:
        flip_labels(df, ColumnSpec(), attack="random", rate=0.1, seed=0)
    assert str(err.value) == "label column 'label' holds continuous values (fix: label flipping needs a categorical label column)"


def test_the_declared_classes_may_hold_one_the_data_lacks():
    df = make_reviews(100, seed=4)  # labels 0 and 1 only
    res = flip_labels(df, THREE, attack="random", rate=0.3, seed=0)
    assert set(res.flipped["new"]) == {0, 1, 2}


def test_new_labels_take_the_label_column_dtype():
    df = make_reviews(40, seed=2)
    df["label"] = df["label"].astype(float)
    res = flip_labels(df, ColumnSpec(), attack="random", rate=0.05, seed=0)
    assert res.flipped["new"].dtype == np.float64
    assert [f["new"] for f in json.loads(res.truth_json())["flipped"]] == [1 - f["old"] for f in res.truth()["flipped"]]
    assert all(isinstance(f["new"], float) for f in res.truth()["flipped"])


def test_a_strategy_finding_nothing_may_return_empty_lists(monkeypatch):
    _strategy(monkeypatch, "none", lambda inp: ([], []))
    res = flip_labels(make_reviews(20, seed=1), ColumnSpec(), attack="none", rate=0.1, seed=0)
    assert (len(res.flipped), res.note) == (0, "spent 0 of 2 flips: the strategy found no more")


@pytest.mark.parametrize("positions", [[3, 3], [1, 2, 3, 4, 5]])
def test_repeated_rows_or_more_than_the_budget_break_the_strategy_contract(monkeypatch, positions):
    _strategy(monkeypatch, "bad", lambda inp: (np.array(positions), 1 - inp.y[positions]))
    with pytest.raises(AssertionError) as err:
        flip_labels(make_reviews(40, seed=1), ColumnSpec(), attack="bad", rate=0.1, seed=0)
    assert str(err.value) == "attack 'bad' broke the strategy contract"


# ---------------------------------------------------------------- which rows cluster and farthest pick


def _frame(n: int = 200, seed: int = 9) -> tuple[pd.DataFrame, np.ndarray]:
    df = make_reviews(n, separation=1.5, seed=seed)
    return df, df[["polarity", "intensity"]].to_numpy()


def test_cluster_flips_the_rows_nearest_its_anchor():
    df, X = _frame()
    res = flip_labels(df, ColumnSpec(), attack="cluster", rate=0.1, seed=4)
    Z = _standardize(X)
    anchor = Z[np.random.default_rng(4).integers(len(Z))]  # the strategy's first draw
    nearest = np.argsort(np.linalg.norm(Z - anchor, axis=1))[:20]
    assert sorted(res.flipped_ids) == sorted(df["review_id"].to_numpy()[nearest])


def test_farthest_flips_correctly_classified_rows_of_largest_margin_first():
    from sklearn.linear_model import LogisticRegression

    df, X = _frame()
    y = df["label"].to_numpy()
    Z = _standardize(X)
    proba = LogisticRegression(max_iter=1000).fit(Z, y).predict_proba(Z)
    margin = proba[np.arange(len(y)), y] - proba[np.arange(len(y)), 1 - y]
    correct = np.flatnonzero(margin >= 0)
    assert len(correct) > 20
    expected = correct[np.argsort(-margin[correct])][:20]
    res = flip_labels(df, ColumnSpec(), attack="farthest", rate=0.1, seed=4)
    assert sorted(res.flipped_ids) == sorted(df["review_id"].to_numpy()[expected])


def test_greedy_gives_the_same_flips_for_a_seed_as_before():
    """Pinned (published drills quote seeds): 24 flips in 10 batches of 2-3, each batch refitted on the labels so far."""
    df = make_reviews(120, n_classes=3, separation=1.5, seed=9)
    res = flip_labels(df, ColumnSpec(classes=(0, 1, 2)), attack="greedy", rate=0.2, seed=4)
    assert res.flipped.to_dict("list") == PINNED_GREEDY


PINNED_GREEDY = {
    "id": [f"rev-{i:07d}" for i in (3, 4, 25, 27, 33, 41, 46, 47, 56, 69, 71, 73, 76, 77, 80, 88, 93, 95, 96, 104, 107, 111, 115, 116)],
    "old": [0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0],
    "new": [2, 2, 1, 0, 2, 2, 2, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 2, 2, 2],
}


@pytest.mark.parametrize("where", ["polarity > @x", "polarity.__class__ == 1"])
def test_a_segment_predicate_reaching_beyond_the_columns_is_refused_word_for_word(where):
    """Either an ``@`` name or a ``__`` attribute alone is refused, in one line with its fix (``segment_mask`` 11-21 of
    the fifteenth session's fresh-clone run: the refusal had no test in attacks' selection)."""
    frame = pd.DataFrame({"polarity": [1.0, 4.0, 5.0]})
    with pytest.raises(BadInput) as err:
        attacks.segment_mask(frame.to_numpy(), where=where, frame=frame)
    assert str(err.value) == (f"segment predicate {where!r} reaches beyond the data's columns ('@' names or '__' attributes) "
                              "(fix: write a pandas query over the feature columns, e.g. \"polarity > 3\")")


def test_beyond_the_class_offers_the_class_s_own_rows_unless_told_fewer():
    """Without ``most`` the largest budget is the rows the class holds: 5 of 100 rows, rate 0.05; with ``most=3``,
    0.03 (``beyond_the_class`` 2 of the fresh-clone attacks run)."""
    assert str(attacks.beyond_the_class(0, 10, 5, 100)) == (
        "targeted needs 10 rows of class 0 but only 5 are available "
        "(fix: pass --rate 0.05 or lower (5 flips of 100 rows), or choose another source class)")
    assert str(attacks.beyond_the_class("cat", 10, 5, 100, most=3)) == (
        "targeted needs 10 rows of class 'cat' but only 5 are available "
        "(fix: pass --rate 0.03 or lower (3 flips of 100 rows), or choose another source class)")
