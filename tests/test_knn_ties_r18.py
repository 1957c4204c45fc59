"""knn_consistency on data with ties (break-it r18 F1): duplicated rows and zero-inflated counts.

"The 10 nearest" is not defined where hundreds of rows are equally near; the search returned the same first ten for
every one of them, so the verdict of a whole tied cell rested on ten rows, and the rule run on the trusted rows alone
(a smaller pool) was not the candidate's clean rate: clean counts fired the guard at p=7.7e-11.
"""

import numpy as np
import pandas as pd

from labelguard.tasks.detectors import knn_consistency
from labelguard.tasks.guards import GuardContext, knn_consistency_guard
from labelguard.tasks.manifest import ColumnSpec

SPEC = ColumnSpec(id_col="id", label_col="label", feature_cols=("n0", "n1", "n2", "n3"), timestamp_col=None, classes=(0, 1))


def _counts(rows: int, seed: int) -> pd.DataFrame:
    """Zero-inflated counts (60 % structural zeros: an eighth of the rows are all zero), labels from a logistic rule."""
    rng = np.random.default_rng(seed)
    X = rng.poisson(rng.gamma(2, 1.5, size=(rows, 4))) * (rng.random((rows, 4)) > 0.6)
    y = (rng.random(rows) < 1 / (1 + np.exp(-(0.5 * X[:, 0] - 0.4 * X[:, 1] + 0.2 * X[:, 2] - 0.3)))).astype(int)
    return pd.DataFrame({"id": [f"s{seed}-{i}" for i in range(rows)], "label": y, **{f"n{j}": X[:, j].astype(float) for j in range(4)}})


def _cells(rows: int, seed: int, flip: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
    """Four categorical features (48 distinct rows), the label a rule of the cell; ``flip`` of the rows relabelled."""
    rng = np.random.default_rng(seed)
    C = np.column_stack([rng.integers(0, k, rows) for k in (3, 2, 4, 2)]).astype(float)
    y = ((C[:, 0] + C[:, 2]) % 2 == C[:, 1]).astype(int)
    flipped = np.sort(rng.choice(rows, int(flip * rows), replace=False)) if flip else np.array([], dtype=int)
    y[flipped] = 1 - y[flipped]
    frame = pd.DataFrame({"id": [f"c{seed}-{i:05d}" for i in range(rows)], "label": y, **{f"n{j}": C[:, j] for j in range(4)}})
    return frame, flipped


def test_clean_zero_inflated_counts_do_not_fire_knn_consistency():
    res = knn_consistency_guard(GuardContext(frame=_counts(2000, 18202), spec=SPEC, reference=_counts(500, 19202)))
    # before: "478 of 2000 rows disagree with their neighbourhood (23.9% vs 10.8% on the reference; one-sided p=7.7e-11, …)", fired
    assert res.verdict == "pass"
    # 201, not 203, since distinct lattice points tied at the tenth distance beyond the search's k + 1 are counted too
    assert res.detail == ("201 of 2000 rows disagree with their neighbourhood (10.1% vs 8.8% of the trusted rows, each scored "
                          "against these rows; one-sided p=0.2, fires below 0.001)")


def test_a_tied_cell_is_judged_by_all_of_its_rows():
    from labelguard.tasks.detectors import neighbourhood_disagreement

    Z = np.zeros((100, 2))
    codes = np.array([1] * 80 + [0] * 20)
    share = neighbourhood_disagreement(Z, codes)
    # every other row of the cell counts: a 1 sees 20 of 99 others disagree, a 0 sees 80 of 99 (before: the same first ten for all)
    assert np.allclose(share[:80], 20 / 99) and np.allclose(share[80:], 80 / 99)
    assert np.allclose(neighbourhood_disagreement(Z, codes, Z_query=np.zeros((2, 2)), codes_query=np.array([0, 1])), [0.8, 0.2])


def test_without_ties_the_rule_is_unchanged():
    rng = np.random.default_rng(18300)
    frame = pd.DataFrame({"id": range(300), "label": rng.integers(0, 2, 300), **{f"n{j}": rng.normal(size=300) for j in range(4)}})
    from labelguard.tasks.detectors import _xy, feature_scaler, other_neighbours

    X, codes, _ = _xy(frame, SPEC)
    idx = other_neighbours(feature_scaler().fit_transform(X), 10)
    assert np.array_equal(knn_consistency(frame, SPEC).score, (codes[idx] != codes[:, None]).mean(axis=1))


def test_flips_in_duplicated_rows_still_fire_and_are_named():
    frame, flipped = _cells(2000, 18301, flip=0.1)
    res = knn_consistency_guard(GuardContext(frame=frame, spec=SPEC, reference=_cells(500, 18302)[0]))
    assert res.verdict == "fired"
    assert res.detail.startswith("200 of 2000 rows disagree with their neighbourhood (10.0% vs 0.0% of the trusted rows")
    assert res.suspect_ids == frame["id"].to_numpy()[flipped].tolist()
