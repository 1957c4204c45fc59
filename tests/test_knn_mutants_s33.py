"""The kNN guard's new code (break-it r18 F1) pinned where the mutation run of the twentieth session found it untested.

Each test names the mutants of ``bench/mutation.py --functions`` it kills (detectors: neighbourhood_disagreement;
guards: knn_consistency_guard, _fraction_verdict).
"""

import numpy as np
import pandas as pd
import pytest

from labelguard.tasks.detectors import _digest, _xy, feature_scaler, neighbourhood_disagreement
from labelguard.tasks.guards import GuardContext, _fraction_verdict, knn_consistency_guard
from labelguard.tasks.manifest import ColumnSpec

SPEC = ColumnSpec(id_col="id", label_col="label", feature_cols=("n0", "n1"), timestamp_col=None, classes=(0, 1))


def _frame(rows: int, seed: int) -> pd.DataFrame:
    """Two normal features (no ties), labels from the sign of the first."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 2))
    return pd.DataFrame({"id": [f"r{seed}-{i:03d}" for i in range(rows)], "label": (X[:, 0] > 0).astype(int), "n0": X[:, 0], "n1": X[:, 1]})


def test_one_neighbour_counts_a_duplicate_alone_and_the_share_is_of_the_rows_counted():
    # k=1: a row with a duplicate is judged by that duplicate alone (share 0); the far row by both duplicates (share 1).
    # kills detectors neighbourhood_disagreement 6 (k at least 2: 0.5 for the duplicates) and 143 (divided by at least 2)
    Z = np.array([[0.0], [0.0], [9.0]])
    assert neighbourhood_disagreement(Z, np.array([0, 0, 1]), k=1).tolist() == [0.0, 0.0, 1.0]


def test_trusted_rows_of_a_class_the_candidate_lacks_disagree_with_all_their_neighbours():
    # the candidate's rows all carry class 0 (duplicated), a trusted row of class 1 among them disagrees with every one;
    # kills detectors neighbourhood_disagreement 50 (the classes counted from the candidate's codes only: IndexError)
    Z = np.zeros((5, 1))
    share = neighbourhood_disagreement(Z, np.zeros(5, dtype=int), Z_query=np.zeros((2, 1)), codes_query=np.array([1, 0]))
    assert share.tolist() == [1.0, 0.0]


def test_twenty_rows_and_twenty_trusted_rows_are_enough_for_the_trusted_rows_to_be_scored_against_the_candidates():
    # kills guards knn_consistency_guard 4 and 5 (20 candidate rows sent to the self-contained rule, "on the reference")
    res = knn_consistency_guard(GuardContext(frame=_frame(20, 3301), spec=SPEC, reference=_frame(20, 3302)))
    assert (res.verdict, res.suspect_ids) == ("pass", ["r3301-003"])
    assert res.detail == ("1 of 20 rows disagree with their neighbourhood (5.0% vs 0.0% of the trusted rows, each scored "
                          "against these rows; one-sided p=0.16, fires below 0.001)")


def test_the_guard_leaves_its_neighbour_search_in_the_memo_for_the_flip_posterior():
    # the memo shares the candidate's search with verify's flip posterior (self_neighbours: minutes on 100,000 rows);
    # kills guards knn_consistency_guard 26 and 29 (knn_consistency run without the context's memo)
    frame = _frame(60, 3303)
    ctx = GuardContext(frame=frame, spec=SPEC, reference=_frame(40, 3304))
    knn_consistency_guard(ctx)
    X, _, _ = _xy(frame, SPEC)
    assert list(ctx.memo) == [("neighbours", _digest(feature_scaler().fit_transform(X)), 10)]


def test_the_share_of_a_single_row_is_its_own_count():
    # "1 of 1 rows" is 100 %, with and without a reference; kills guards _fraction_verdict 27, 35, 63 and 71 (max(2, n))
    ctx = GuardContext(frame=pd.DataFrame({"id": ["only"], "label": [0], "n0": [0.0], "n1": [0.0]}), spec=SPEC)
    alone = _fraction_verdict("knn_consistency", ctx, np.array([True]), None, "disagree")
    assert alone.detail == "1 of 1 rows disagree (100.0%); no reference, so no dataset verdict"
    assert (alone.metrics, alone.suspect_ids) == ({"suspect_fraction": 1.0}, ["only"])
    judged = _fraction_verdict("knn_consistency", ctx, np.array([True]), np.array([False, False]), "disagree")
    assert judged.detail.startswith("1 of 1 rows disagree (100.0% vs 0.0% on the reference; one-sided p=")
    assert judged.metrics["suspect_fraction"] == 1.0


@pytest.mark.parametrize("ones", [(0, 1), (4, 5), (0, 11)])
def test_distinct_points_tied_at_the_kth_distance_are_all_counted_whoever_the_search_returns_first(ones):
    """Twelve distinct lattice points at distance 5 around a centre (more than the k + 1 = 11 the search returns), two of
    them labelled 1: the centre's share is 2 of 12 wherever the two sit. Counting only the points the search returned
    gave 0.1 or 0.2 by which two (mutation survivors 74, 84, 86 of neighbourhood_disagreement, twentieth session)."""
    import numpy as np

    from labelguard.tasks.detectors import neighbourhood_disagreement

    ring = [(5, 0), (-5, 0), (0, 5), (0, -5), (3, 4), (4, 3), (-3, 4), (-4, 3), (3, -4), (4, -3), (-3, -4), (-4, -3)]
    Z = np.array([(0, 0), *ring, (100, 100), (100, 100)], float)  # a duplicated pair: the tie-counting path
    codes = np.zeros(len(Z), int)
    codes[[1 + i for i in ones]] = 1
    assert neighbourhood_disagreement(Z, codes, k=10)[0] == pytest.approx(2 / 12, abs=1e-12)
    query = neighbourhood_disagreement(Z[1:], codes[1:], k=10, Z_query=np.zeros((1, 2)), codes_query=np.zeros(1, int))
    assert query.tolist() == pytest.approx([2 / 12], abs=1e-12)


def test_a_trusted_row_judged_by_its_single_nearest_candidate_point():
    """k = 1 for trusted rows: the search returns one point a row, and the tie check reads that last column (mutants 133,
    134 of the radius fix read another column and raise IndexError). The query at 1.4 is nearest to 1 (labelled 0 twice
    and 1 once: a share of 1/3 away from its 0); the query at 0.5 is as near to 0 as to 1, so all four rows count."""
    Z = np.array([[0.0], [1.0], [1.0], [1.0], [5.0]])
    codes = np.array([1, 0, 0, 1, 1])
    got = neighbourhood_disagreement(Z, codes, k=1, Z_query=np.array([[1.4], [0.5]]), codes_query=np.array([0, 0]))
    assert got.tolist() == pytest.approx([1 / 3, 2 / 4], abs=1e-12)
