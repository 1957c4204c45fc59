"""Guards and detectors value by value, through their public functions: each statistic recomputed
independently (scipy, brute force, the formula a docstring states) on small data built so the
answer is known, each verdict on both sides of its threshold, each detail line exactly.

Written for `make mutation` on tasks/guards.py and tasks/detectors.py (issue 13), against what a
two-sided verdict contract alone does not pin down: the levels, the Bonferroni split, the power
and tolerance bookkeeping, the rows a detector names, the wording a person reads.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from labelguard.errors import UnknownName
from labelguard.tasks import detectors, guards, transforms
from labelguard.tasks.guards import ALPHA, GuardContext, GuardResult, apply_tolerance, gate_power
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.power import POWER, paired_difference_bounds
from labelguard.tasks.synthetic import make_reviews

SPEC = ColumnSpec()


def _labelled(labels, seed: int = 0) -> pd.DataFrame:
    """Reviews whose labels are exactly ``labels`` (the features do not matter to label-count guards)."""
    frame = make_reviews(len(labels), seed=seed)
    frame["label"] = np.asarray(labels, dtype="int64")
    return frame


# ---------------------------------------------------------------- results, verdicts, tolerance


def test_verdicts_and_tolerance_bookkeeping():
    def r(passed=True, **kw):
        return GuardResult("g", passed, "d", **kw)

    loose, exact, fired, skipped, no_power, gate = (
        r(power=0.5), r(power=0.05 + 1e-13), r(passed=False, power=0.5), r(skipped=True, power=0.9), r(power=None), r(power=0.03, tolerance=0.02))
    out = apply_tolerance([loose, exact, fired, skipped, no_power, gate], 0.05)
    assert [g.verdict for g in out] == ["inconclusive", "pass", "fired", "skipped", "pass", "pass"]
    assert [g.passed for g in out] == [True, True, False, True, True, True]
    assert [g.fired for g in out] == [False, False, True, False, False, False]
    assert (gate.tolerance, loose.tolerance) == (0.02, None)  # a guard with its own tolerance keeps it: --tolerate is a flip rate
    assert apply_tolerance([r(power=0.051)], 0.05)[0].verdict == "inconclusive"
    # the model gate decided pass or inconclusive from its own bound: no flip tolerance changes that either way
    assert apply_tolerance([r(power=0.03, tolerance=0.02)], 0.01)[0].verdict == "pass"
    assert apply_tolerance([r(power=0.03, tolerance=0.02, inconclusive=True)], 0.5)[0].verdict == "inconclusive"


def test_result_as_json():
    res = GuardResult("g", False, "x", suspect_ids=[np.int64(3), "a"], metrics={"m": 1}, power=0.2, class_power={"0": 0.2})
    d = res.to_dict()
    assert d == {"name": "g", "verdict": "fired", "passed": False, "skipped": False, "detail": "x", "power": 0.2,
                 "class_power": {"0": 0.2}, "metrics": {"m": 1}, "suspect_ids": [3, "a"]}
    assert type(d["suspect_ids"][0]) is int and json.loads(json.dumps(d)) == d
    assert "suspect_ids" not in GuardResult("g", True, "x").to_dict()
    assert GuardResult("g", True, "x", skipped=True).to_dict()["verdict"] == "skipped"


def test_unknown_guard_lists_the_registered_ones():
    with pytest.raises(UnknownName) as err:
        guards.get_guard("nope")
    assert err.value.problem == "unknown guard 'nope'"
    assert err.value.fix == "choose one of: " + ", ".join(sorted(guards.REGISTRY))
    assert guards.get_guard("schema").name == "schema" and guards.get_guard("schema").fn is guards.schema_guard


def test_registry_descriptions_are_the_docstrings_first_lines():
    for name, spec in guards.REGISTRY.items():
        assert spec.name == name and spec.description == spec.fn.__doc__.strip().splitlines()[0]


def test_run_guards_runs_the_names_given_in_order():
    ctx = GuardContext(frame=make_reviews(30, seed=1), spec=SPEC)
    assert [g.name for g in guards.run_guards(ctx, ["schema", "manifest"])] == ["schema", "manifest"]
    assert [g.name for g in guards.run_guards(ctx)] == list(guards.REGISTRY)


# ---------------------------------------------------------------- label contract


def test_label_contract_detail_lists_ten_ids_then_the_count():
    before = make_reviews(200, seed=2)
    after = before.copy()
    flip = [3, 17, 40, 41, 42, 77, 90, 120, 150, 151, 180, 199]
    after.loc[flip, "label"] = 1 - after.loc[flip, "label"]
    after = pd.concat([after, before.iloc[[5, 6]].assign(review_id=["zz-new-1", "aa-new-0"])], ignore_index=True)
    honest = transforms.get_transform(transforms.HONEST)
    res = guards.label_contract_guard(GuardContext(frame=after, spec=SPEC, before=before, transform=honest))
    named = sorted(before.loc[flip, "review_id"].tolist() + ["zz-new-1", "aa-new-0"])
    assert not res.passed and res.suspect_ids == named and res.metrics == {"changed": 12, "added": 2}
    assert res.detail == f"transform 'honest' changed 12 label(s) and added 2 row(s): {', '.join(named[:10])}, … (+4)"
    three = before.copy()
    three.loc[flip[9:], "label"] = 1 - three.loc[flip[9:], "label"]
    few = guards.label_contract_guard(GuardContext(frame=three, spec=SPEC, before=before, transform=honest))
    assert few.detail == f"transform 'honest' changed 3 label(s): {', '.join(sorted(before.loc[flip[9:], 'review_id']))}"
    ok = guards.label_contract_guard(GuardContext(frame=before, spec=SPEC, before=before, transform=honest))
    assert (ok.passed, ok.detail, ok.suspect_ids) == (True, "transform 'honest': 200 labels unchanged", [])
    relabel = transforms.TransformSpec(name="relabel", fn=transforms.get_transform(transforms.HONEST).fn, changes_labels=True, description="")
    declared = guards.label_contract_guard(GuardContext(frame=after, spec=SPEC, before=before, transform=relabel))
    assert declared.skipped and declared.detail == "skipped: transform 'relabel' declares that it changes labels"
    assert transforms.get_transform("random").changes_labels is False  # a compromised transform claims to be honest


# ---------------------------------------------------------------- class balance: Fisher exact per class


def test_class_balance_p_values_are_fishers_and_the_level_is_split_over_classes():
    frame = _labelled([0] * 620 + [1] * 380)
    reference = _labelled([0] * 500 + [1] * 500, seed=1)
    res = guards.class_balance_guard(GuardContext(frame=frame, spec=SPEC, reference=reference))
    p0 = stats.fisher_exact([[620, 380], [500, 500]])[1]
    p1 = stats.fisher_exact([[380, 620], [500, 500]])[1]
    per = res.metrics["per_class"]
    assert per["0"]["p_value"] == pytest.approx(p0, rel=1e-12) and per["1"]["p_value"] == pytest.approx(p1, rel=1e-12)
    assert res.metrics["p_value"] == pytest.approx(min(p0, p1), rel=1e-12)
    assert res.metrics["shares"] == {"0": 0.62, "1": 0.38} and res.metrics["reference_shares"] == {"0": 0.5, "1": 0.5}
    assert not res.passed and res.metrics["fired_classes"] == ["0", "1"]  # p ~ 1e-7: below 1e-3 / 2
    assert res.detail.startswith(f"class 0: 62.0% vs 50.0% (p={p0:.2g}), class 1: 38.0% vs 50.0% (p={p1:.2g}); fires below 0.0005 per class")
    assert res.power == max(res.class_power.values()) and set(res.class_power) == {"0", "1"}


def test_class_balance_bonferroni_level_decides_between_alpha_over_k_and_alpha():
    # a shift whose p-value falls between alpha/2 and alpha: it passes at alpha/2 per class
    reference = _labelled([0] * 1000 + [1] * 1000, seed=1)
    for a in range(1080, 1200):
        p = stats.fisher_exact([[a, 2000 - a], [1000, 1000]])[1]
        if 5e-4 < p < 1e-3:
            break
    else:
        pytest.fail("no count between the levels")
    res = guards.class_balance_guard(GuardContext(frame=_labelled([0] * a + [1] * (2000 - a)), spec=SPEC, reference=reference))
    assert res.passed and res.metrics["fired_classes"] == []
    loose = guards.class_balance_guard(GuardContext(frame=_labelled([0] * a + [1] * (2000 - a)), spec=SPEC, reference=reference,
                                                    options={"class_balance_alpha": 2e-3}))
    assert not loose.passed and loose.metrics["fired_classes"] == ["0", "1"] and "fires below 0.001 per class" in loose.detail


def test_class_balance_with_one_class_present_fires_and_without_reference_skips():
    res = guards.class_balance_guard(GuardContext(frame=_labelled([1] * 50), spec=SPEC, reference=_labelled([0, 1] * 25)))
    assert (res.passed, res.detail, res.metrics) == (False, "only one class present", {"observed": {"0": 0, "1": 50}})
    skip = guards.class_balance_guard(GuardContext(frame=_labelled([0, 1] * 25), spec=SPEC, reference=_labelled([0, 1] * 25).iloc[:0]))
    assert skip.skipped and skip.detail == "skipped: no reference class counts"


def test_class_balance_names_the_worst_four_of_many_classes():
    spec = ColumnSpec(classes=tuple(range(6)))
    counts, ref_counts = [100, 100, 100, 100, 160, 40], [100] * 6
    frame = _labelled(np.repeat(np.arange(6), counts))
    reference = _labelled(np.repeat(np.arange(6), ref_counts), seed=1)
    res = guards.class_balance_guard(GuardContext(frame=frame, spec=spec, reference=reference))
    assert not res.passed and res.metrics["fired_classes"] == ["4", "5"]
    p = {c: stats.fisher_exact([[counts[c], 600 - counts[c]], [100, 500]])[1] for c in range(6)}
    worst = sorted(p, key=p.get)[:4]
    assert [s.split(":")[0] for s in res.detail.split("; ")[0].split(", ")] == [f"class {c}" for c in worst]
    assert f"(worst 4 of 6); fires below {ALPHA / 6:.2g} per class" in res.detail


# ---------------------------------------------------------------- the self-contained detectors' dataset verdict


def _pooled_z_sf(k, n, k_ref, n_ref):
    p, q = k / n, k_ref / n_ref
    pooled = (k + k_ref) / (n + n_ref)
    return stats.norm.sf((p - q) / np.sqrt(pooled * (1 - pooled) * (1 / n + 1 / n_ref)))


@pytest.mark.parametrize("name, detector", [("knn_consistency", detectors.knn_consistency), ("confident_learning", detectors.confident_learning)])
def test_fraction_verdict_is_a_one_sided_two_proportion_z_test(name, detector):
    clean = make_reviews(600, separation=2.5, seed=3)
    reference = make_reviews(600, separation=2.5, seed=4)
    flipped = clean.copy()
    flipped.loc[::6, "label"] = 1 - flipped.loc[::6, "label"]  # 100 flips: far above the reference's rate
    for frame, fires in ((clean, False), (flipped, True)):
        res = guards.get_guard(name).fn(GuardContext(frame=frame, spec=SPEC, reference=reference))
        mask = detector(frame, SPEC).suspect
        if name == "knn_consistency":  # the trusted rows scored against the candidate's rows, as each of those is (break-it r18 F1)
            X, codes, _ = detectors._xy(frame, SPEC)
            Xr, codes_r, _ = detectors._xy(reference, SPEC)
            scaler = detectors.feature_scaler().fit(X)
            ref_mask = detectors.neighbourhood_disagreement(scaler.transform(X), codes, Z_query=scaler.transform(Xr), codes_query=codes_r) >= detectors.KNN_ETA
            where = "of the trusted rows, each scored against these rows"
        else:
            ref_mask, where = detector(reference, SPEC).suspect, "on the reference"
        k, k_ref = int(mask.sum()), int(ref_mask.sum())
        p = _pooled_z_sf(k, 600, k_ref, 600)
        assert res.suspect_ids == frame["review_id"][mask].tolist()
        assert res.metrics == pytest.approx({"suspect_fraction": k / 600, "reference_fraction": k_ref / 600, "p_value": p}, rel=1e-9)
        assert res.passed is (not fires) and bool(p < ALPHA) is fires
        assert res.detail.endswith(f"({k / 600:.1%} vs {k_ref / 600:.1%} {where}; one-sided p={p:.2g}, fires below 0.001)")
        assert res.detail.startswith(f"{k} of 600 rows ")


def test_fraction_verdict_without_a_usable_reference_names_rows_but_never_fires():
    frame = make_reviews(300, separation=2.0, seed=5)
    frame.loc[::5, "label"] = 1 - frame.loc[::5, "label"]
    mask = detectors.knn_consistency(frame, SPEC).suspect
    k = int(mask.sum())
    for reference in (None, make_reviews(19, seed=6)):  # 19 rows: below knn's 20
        res = guards.knn_consistency_guard(GuardContext(frame=frame, spec=SPEC, reference=reference))
        assert res.passed and res.suspect_ids == frame["review_id"][mask].tolist() and k > 30
        assert res.detail == f"{k} of 300 rows disagree with their neighbourhood ({k / 300:.1%}); no reference, so no dataset verdict"
        assert res.metrics == {"suspect_fraction": k / 300}


@pytest.mark.parametrize("name, rows", [("knn_consistency", 20), ("confident_learning", 50)])
def test_self_contained_guards_skip_below_their_minimum_rows(name, rows):
    small = guards.get_guard(name).fn(GuardContext(frame=make_reviews(rows - 1, seed=7), spec=SPEC))
    assert small.skipped and small.detail == f"skipped: fewer than {rows} rows"
    assert not guards.get_guard(name).fn(GuardContext(frame=make_reviews(rows, seed=7), spec=SPEC)).skipped


# ---------------------------------------------------------------- detectors, recomputed


def test_knn_consistency_is_the_share_of_the_k_nearest_standardized_neighbours_with_another_label():
    rng = np.random.default_rng(8)
    frame = make_reviews(60, seed=8)
    frame["polarity"] = rng.normal(size=60) * 100.0  # scales differ: standardizing matters
    frame["intensity"] = rng.normal(size=60)
    frame["label"] = rng.integers(0, 2, size=60)
    X = frame[["polarity", "intensity"]].to_numpy()
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    dist = np.linalg.norm(Z[:, None, :] - Z[None, :, :], axis=2)
    np.fill_diagonal(dist, np.inf)
    labels = frame["label"].to_numpy()
    for k, eta in ((10, 0.7), (5, 0.5)):
        nearest = np.argsort(dist, axis=1)[:, :k]
        disagree = (labels[nearest] != labels[:, None]).mean(axis=1)
        res = detectors.knn_consistency(frame, SPEC, k=k, eta=eta)
        np.testing.assert_allclose(res.score, disagree)
        assert (res.suspect == (disagree >= eta)).all() and res.estimate == pytest.approx((disagree >= eta).mean())
    tiny = detectors.knn_consistency(frame.iloc[:4], SPEC)  # k shrinks to the rows there are
    nearest = np.argsort(dist[:4, :4], axis=1)[:, :3]
    np.testing.assert_allclose(tiny.score, (labels[:4][nearest] != labels[:4, None]).mean(axis=1))


def test_duplicate_conflicts_names_each_groups_minority_and_every_row_of_a_tie():
    frame = make_reviews(12, seed=9)
    cells = [(1.0, 1.0)] * 3 + [(2.0, 2.0)] * 2 + [(3.0, 3.0)] * 2 + [(4.0, 4.0)] * 5
    frame[["polarity", "intensity"]] = np.array(cells)
    spec = ColumnSpec(classes=(0, 1, 2))
    frame["label"] = [0, 0, 1, 0, 1, 1, 1, 0, 0, 1, 1, 2]
    #                 A: 1 odd  B: tie  C: same  D: 0,0,1,1 tie at the top, 2 the minority
    mask = detectors.duplicate_conflicts(frame, spec)
    assert mask.tolist() == [False, False, True, True, True, False, False, False, False, False, False, True]
    res = guards.duplicate_conflicts_guard(GuardContext(frame=frame, spec=spec))
    assert res.passed and res.suspect_ids == frame["review_id"][mask].tolist() and res.metrics == {"conflicts": 4}
    assert res.detail == "4 conflicting duplicate row(s); no reference to tell natural conflicts from flips"
    assert not detectors.duplicate_conflicts(make_reviews(50, seed=9), SPEC).any()


def test_duplicate_conflicts_without_a_shared_cell_gives_no_verdict():
    frame = make_reviews(40, seed=10)
    frame.loc[1, ["polarity", "intensity"]] = frame.loc[0, ["polarity", "intensity"]].to_numpy()
    frame.loc[1, "label"] = 1 - frame.loc[0, "label"]
    res = guards.duplicate_conflicts_guard(GuardContext(frame=frame, spec=SPEC, reference=make_reviews(40, seed=11)))
    assert res.passed and res.metrics["matched_rows"] == 0 and res.metrics["conflicts"] == 2
    assert res.detail == "2 conflicting duplicate row(s); no feature cell shared with the reference, so no verdict"


def _hotelling_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Hotelling T² (pooled covariance) and its F tail, written out from the textbook."""
    na, nb, d = len(a), len(b), a.shape[1]
    diff = a.mean(axis=0) - b.mean(axis=0)
    s = ((na - 1) * np.cov(a.T) + (nb - 1) * np.cov(b.T)) / (na + nb - 2)
    t2 = na * nb / (na + nb) * diff @ np.linalg.solve(s, diff)
    return float(stats.f.sf(t2 * (na + nb - d - 1) / (d * (na + nb - 2)), d, na + nb - d - 1))


def test_class_conditional_shift_is_hotellings_t2_per_class():
    frame = make_reviews(400, seed=12)
    reference = make_reviews(300, seed=13)
    frame.loc[frame["label"] == 1, "polarity"] += 1.0  # class 1's mean moves; class 0's does not
    out = detectors.class_conditional_shift(frame, SPEC, reference)
    for c in (0, 1):
        a = frame.loc[frame["label"] == c, ["polarity", "intensity"]].to_numpy()
        b = reference.loc[reference["label"] == c, ["polarity", "intensity"]].to_numpy()
        assert out[str(c)]["p_value"] == pytest.approx(_hotelling_p(a, b), rel=1e-6, abs=1e-300)
        assert out[str(c)]["shift"] == pytest.approx(np.linalg.norm(a.mean(axis=0) - b.mean(axis=0)), rel=1e-12)
        pooled = ((len(a) - 1) * np.cov(a, rowvar=False) + (len(b) - 1) * np.cov(b, rowvar=False)) / (len(a) + len(b) - 2)
        diff = a.mean(axis=0) - b.mean(axis=0)  # Mahalanobis length: the shift in within-class standard deviations
        assert out[str(c)]["shift_sd"] == pytest.approx(np.sqrt(diff @ np.linalg.inv(pooled) @ diff), rel=1e-9)
        assert out[str(c)]["rows"] == len(a) and 0 < out[str(c)]["power"] <= 1
    res = guards.class_conditional_guard(GuardContext(frame=frame, spec=SPEC, reference=reference))
    assert not res.passed and res.metrics["worst"] == "1" and out["1"]["p_value"] < ALPHA / 2 <= out["0"]["p_value"]
    assert res.power < 1 and res.detail == (
        f"class 0: mean shift {out['0']['shift_sd']:.2g} sd (p={out['0']['p_value']:.2g}), class 1: mean shift {out['1']['shift_sd']:.2g} sd "
        f"(p={out['1']['p_value']:.2g}); fires below 0.0005 (Bonferroni); power: sees a flip of {res.power:.0%} of any class")
    assert res.power == max(res.class_power.values()) == max(v["power"] for v in out.values())
    calm = guards.class_conditional_guard(GuardContext(frame=make_reviews(400, seed=14), spec=SPEC, reference=reference))
    assert calm.passed


def test_class_conditional_needs_more_rows_than_features_per_class():
    frame, reference = make_reviews(40, seed=15), make_reviews(40, seed=16)
    out = detectors.class_conditional_shift(frame.assign(label=[0] * 38 + [1] * 2), SPEC, reference)
    assert list(out) == ["0"]  # two rows of class 1 cannot estimate a 2-feature covariance with the reference's
    res = guards.class_conditional_guard(GuardContext(frame=frame.assign(label=[0] * 38 + [1] * 2), spec=SPEC, reference=reference))
    assert res.detail.startswith(f"class 0: mean shift {out['0']['shift_sd']:.2g} sd (p={out['0']['p_value']:.2g}); "
                                 "not tested (no more rows than the 2 features in the data or the reference): class 1; fires below 0.001 (Bonferroni)")
    few = guards.class_conditional_guard(GuardContext(frame=frame.iloc[:2], spec=SPEC, reference=reference.iloc[:2]))
    assert few.skipped and few.detail == "skipped: too few rows per class"
    assert guards.class_conditional_guard(GuardContext(frame=frame, spec=SPEC)).detail == "skipped: no trusted reference rows"


def test_confident_learning_is_cleanlabs_choice_on_out_of_fold_probabilities():
    from cleanlab.filter import find_label_issues

    frame = make_reviews(300, separation=2.0, seed=17)
    frame.loc[::10, "label"] = 1 - frame.loc[::10, "label"]
    proba = detectors.out_of_fold_proba(frame, SPEC)
    labels = frame["label"].to_numpy()
    res = detectors.confident_learning(frame, SPEC)
    np.testing.assert_array_equal(res.suspect, find_label_issues(labels=labels, pred_probs=proba))
    np.testing.assert_allclose(res.score, 1 - proba[np.arange(300), labels])
    assert res.estimate == res.suspect.mean() and res.suspect[::10].mean() > 0.5


def test_reference_anchored_suspects_are_the_top_rows_at_the_best_expected_f1():
    frame = make_reviews(600, separation=2.0, seed=18)
    frame.loc[::8, "label"] = 1 - frame.loc[::8, "label"]
    res = detectors.reference_anchored(frame, SPEC, make_reviews(400, separation=2.0, seed=19))
    flip = res.score
    assert res.estimate == pytest.approx(flip.mean()) and ((0 <= flip) & (flip <= 1)).all()
    order = np.argsort(-flip, kind="stable")
    f1 = [2 * flip[order[:n]].sum() / (n + flip.sum()) for n in range(1, 601)]
    best = int(np.argmax(f1)) + 1
    assert sorted(np.flatnonzero(res.suspect)) == sorted(order[:best]) and best > 40
    assert res.suspect[::8].mean() > 0.6


def test_out_of_fold_probabilities_with_rare_classes():
    X = np.random.default_rng(20).normal(size=(23, 2))
    only_one = detectors.oof_proba(X, np.array([0] * 22 + [1]), 3)
    np.testing.assert_array_equal(only_one, np.full((23, 3), 1 / 3))  # one usable class: uniform
    X[20:, 0] += 5
    codes = np.array([0] * 20 + [1] * 3)
    proba = detectors.oof_proba(X, codes, 3)
    assert proba.shape == (23, 3) and (proba[:, 2] == 0).all() and np.allclose(proba.sum(axis=1), 1)
    assert (proba[:20, 0] > 0.5).all()


# ---------------------------------------------------------------- the model gate


def test_gate_power_solves_the_sign_tests_equation():
    c = stats.norm.isf(1e-3) + stats.norm.isf(1 - POWER)
    for n, d0 in ((1000, 40.0), (300, 0.0), (5000, 250.0)):
        drop = gate_power(n, d0, 1e-3)
        x = drop * n
        assert x / np.sqrt(d0 + x) == pytest.approx(c, rel=1e-9)  # z of the sign test at that drop
    assert gate_power(1000, 40.0, 1e-3, floor=0.5) == 0.5
    assert gate_power(10, 40.0, 1e-3) == 1.0
    assert gate_power(0, 0.0, 1e-3) == 1.0 and gate_power(1000, -5.0, 1e-3) == gate_power(1000, 0.0, 1e-3)


def test_model_gate_steps_aside_when_the_reference_model_has_no_skill():
    rng = np.random.default_rng(21)
    frame, reference, holdout = (make_reviews(300, seed=s) for s in (21, 22, 23))
    for f in (frame, reference, holdout):
        f["label"] = rng.integers(0, 2, size=len(f))  # labels independent of the features
    res = guards.model_gate_guard(GuardContext(frame=frame, spec=SPEC, reference=reference, holdout=holdout))
    assert res.skipped and res.detail.startswith("skipped: the reference model has no skill on this holdout (predictions independent of the labels, p=")
    assert guards.model_gate_guard(GuardContext(frame=frame, spec=SPEC, reference=reference)).detail == "skipped: needs a trusted reference and a golden holdout"


def test_model_gate_reports_its_numbers_and_power_on_clean_data():
    frame, reference, holdout = make_reviews(1500, separation=2.0, seed=24), make_reviews(800, separation=2.0, seed=25), make_reviews(800, separation=2.0, seed=26)
    res = guards.model_gate_guard(GuardContext(frame=frame, spec=SPEC, reference=reference, holdout=holdout))
    g = res.metrics
    assert res.verdict == "pass" and res.tolerance == 0.02
    assert g["holdout_rows"] == 800 and g["reference_skill_p"] < 1e-10
    assert res.power == gate_power(800, 2 * g["discordant_better"], 1e-3, floor=0.02)
    # the pass is vouched: the 95 % upper bound on the accuracy drop, from the disagreeing rows, is under 2 points
    assert g["accuracy_drop_upper"] == paired_difference_bounds(g["discordant_worse"], g["discordant_better"], 800, 0.05)[1]
    assert g["accuracy_drop_upper"] < 0.02 and 0 < g["share_move_upper"] < 0.1  # the share bound is reported, it does not decide
    assert res.detail == (
        f"holdout accuracy {g['accuracy']:.3f} vs reference {g['reference_accuracy']:.3f} (p={g['accuracy_p']:.2g}); "
        f"class {g['share_class']} predicted {g['share']:.1%} vs {g['true_share']:.1%} true (p={g['share_p']:.2g}); "
        f"fires when p<0.001 and the gap exceeds 2% / 2%; 95 % bound on the accuracy drop {g['accuracy_drop_upper']:.1%}, "
        f"on a share move {g['share_move_upper']:.1%} (class {g['share_move_class']}) on 800 holdout rows"
    )
    # the same candidate judged on 100 of those holdout rows: too few to rule out a 2-point drop
    small = guards.model_gate_guard(GuardContext(frame=frame, spec=SPEC, reference=reference, holdout=holdout.iloc[:100]))
    assert small.verdict == "inconclusive" and small.metrics["accuracy_drop_upper"] > 0.02
    assert "(cannot rule out 2%)" in small.detail
    worse, better = g["discordant_worse"], g["discordant_better"]
    p = stats.binomtest(worse, worse + better, 0.5, alternative="greater").pvalue if worse + better else 1.0
    assert g["accuracy_p"] == pytest.approx(p)


def _power_words(power):
    return "cannot see a flip of every row of some class" if power >= 1.0 else f"sees a flip of {power:.0%} of any class"


def test_context_reference_class_counts():
    assert GuardContext(frame=make_reviews(10), spec=SPEC).reference_class_counts() is None
    ctx = GuardContext(frame=make_reviews(10), spec=SPEC, reference=_labelled([0] * 3 + [1] * 7))
    assert ctx.reference_class_counts() == {"0": 3, "1": 7}


def test_duplicate_conflicts_and_reference_model_detail_lines_carry_their_numbers(tmp_path, keys):
    from tests.test_guard_contracts import FIRING

    ctx, _, _ = FIRING["duplicate_conflicts"](tmp_path, keys, "binary")
    res = guards.duplicate_conflicts_guard(ctx)
    m = res.metrics
    worst = min(m["per_class"], key=lambda c: m["per_class"][c]["p_value"])
    w = m["per_class"][worst]
    assert not res.passed and m["conflicts"] == len(res.suspect_ids) == 120 and m["p_value"] == w["p_value"]
    assert res.power == max(res.class_power.values()) and res.class_power == {c: v["power"] for c, v in m["per_class"].items()}
    assert res.detail.startswith(f"120 conflicting duplicate row(s); within the ")
    assert res.detail.endswith(f" feature cells shared with the reference ({m['matched_rows']} rows) class {worst} has {w['observed']:.0f} rows "
                               f"vs {w['expected']:.1f} expected (CMH p={w['p_value']:.2g}, fires below 0.0005); power: {_power_words(res.power)}")

    ctx, truth, _ = FIRING["reference_model"](tmp_path, keys, "binary")
    res = guards.reference_model_guard(ctx)
    m = res.metrics
    worst = min(m["per_class"], key=lambda c: m["per_class"][c]["p_value"])
    w = m["per_class"][worst]
    scores = detectors.reference_anchored(ctx.frame, SPEC, ctx.reference)
    assert not res.passed and res.suspect_ids == ctx.frame["review_id"][scores.suspect].tolist()
    assert m["estimated_flip_rate"] == scores.estimate and m["p_value"] <= min(v["p_value"] for v in m["per_class"].values()) and m["p_value"] < 1e-6
    assert res.power == max(res.class_power.values())
    assert res.detail == (
        f"estimated flip rate {scores.estimate:.1%}, {len(res.suspect_ids)} suspect row(s); labels disagree with the reference model on "
        f"{m['disagreement']:.1%} of rows vs {m['reference_disagreement']:.1%} out of fold on the reference (p={res.detail.split('(p=')[1].split(')')[0]}); "
        f"worst class {worst}: {w['rate']:.1%} vs {w['reference_rate']:.1%} (p={w['p_value']:.2g}); fires below {res.detail.split('fires below ')[1].split(';')[0]}; "
        f"power: {_power_words(res.power)}")
    skip = guards.reference_model_guard(GuardContext(frame=ctx.frame, spec=SPEC))
    assert skip.skipped and skip.detail == "skipped: no trusted reference rows"


def test_model_gate_fires_on_either_gap_alone_and_not_below_its_practical_gaps(tmp_path, keys):
    """The targeted 25 % case moves both accuracy and the class share: each test alone must fire it."""
    from tests.test_guard_contracts import FIRING

    ctx, _, _ = FIRING["model_gate"](tmp_path, keys, "binary")
    both = guards.model_gate_guard(ctx)
    g = both.metrics
    assert g["accuracy_p"] < 1e-3 and g["reference_accuracy"] - g["accuracy"] > 0.02
    assert g["share_p"] < 1e-3 and g["share_gap"] > 0.02 and g["reference_skill_p"] < 1e-3
    accuracy_only = guards.model_gate_guard(ctx, min_share_shift=1.0)
    share_only = guards.model_gate_guard(ctx, min_accuracy_drop=1.0)
    neither = guards.model_gate_guard(ctx, min_accuracy_drop=1.0, min_share_shift=1.0, min_recall_drop=1.0)  # (and no class's recall gap)
    assert [r.verdict for r in (both, accuracy_only, share_only, neither)] == ["fired", "fired", "fired", "pass"]
    assert "the gap exceeds 100% / 2%" in share_only.detail and share_only.tolerance == 1.0 and share_only.power == 1.0
    drop = g["reference_accuracy"] - g["accuracy"]
    # (no class's recall gap either: with a wider accuracy gap the per-class recall rule judges larger classes)
    just_above = guards.model_gate_guard(ctx, min_accuracy_drop=drop + 1e-9, min_share_shift=g["share_gap"] + 1e-9, min_recall_drop=1.0)
    just_below = guards.model_gate_guard(ctx, min_accuracy_drop=drop - 1e-9, min_share_shift=g["share_gap"] + 1e-9, min_recall_drop=1.0)
    # just above the observed drop it does not fire, and cannot vouch either: the bound on the drop exceeds the drop
    assert (just_above.verdict, just_below.verdict) == ("inconclusive", "fired")
    assert just_above.metrics["accuracy_drop_upper"] > drop + 1e-9


def test_schema_guard_line_names_each_check_and_row():
    frame = make_reviews(20, seed=1)
    frame.loc[3, "polarity"] = np.inf
    frame.loc[5, "intensity"] = np.nan
    frame.loc[7, "label"] = 9
    frame.loc[9, "review_id"] = frame.loc[8, "review_id"]  # both rows of a repeated id are named
    res = guards.schema_guard(GuardContext(frame=frame, spec=SPEC))
    assert not res.passed and res.metrics == {"failures": 5}
    assert sorted(res.suspect_ids) == ["rev-0000003", "rev-0000005", "rev-0000007", "rev-0000008", "rev-0000008"]
    assert res.detail == ("5 failure(s) (intensity:not_nullable; label:isin([0, 1]); polarity:finite; review_id:field_uniqueness) in rows "
                          + ", ".join(res.suspect_ids))
    ok = guards.schema_guard(GuardContext(frame=make_reviews(20, seed=1), spec=SPEC))
    assert (ok.passed, ok.detail, ok.suspect_ids) == (True, "20 rows valid", [])


def test_manifest_guard_passes_the_integrity_report_on(tmp_path, keys):
    from labelguard.tasks.dataset import DATA_KEY, load_verified, to_parquet_bytes, write_dataset
    from labelguard.tasks.manifest import load_signing_key, load_verify_key
    from labelguard.tasks.storage import LocalStore

    store = LocalStore(tmp_path / "ds")
    frame = make_reviews(50, seed=3)
    write_dataset(store, frame, SPEC, load_signing_key(keys[0]), source={})
    rep = load_verified(store, load_verify_key(keys[1]))
    res = guards.manifest_guard(GuardContext(frame=rep.frame, spec=SPEC, integrity=rep))
    assert (res.passed, res.detail, res.suspect_ids, res.metrics) == (True, f"ok: {rep.detail}", [], {"code": "ok", **rep.observed})
    edited = frame.copy()
    edited.loc[[4, 9], "label"] = 1 - edited.loc[[4, 9], "label"]
    store.put(DATA_KEY, to_parquet_bytes(edited), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    res = guards.manifest_guard(GuardContext(frame=rep.frame, spec=SPEC, integrity=rep))
    assert (res.passed, res.suspect_ids, res.metrics["code"]) == (False, ["rev-0000004", "rev-0000009"], "digest-mismatch")
    assert res.detail == f"digest-mismatch: {rep.detail}"
    assert guards.manifest_guard(GuardContext(frame=frame, spec=SPEC)).detail == "skipped: no stored dataset to verify"


def test_reference_anchored_names_the_single_flip_of_a_tiny_candidate():
    """Twelve rows, one flipped: the posterior sums to about one row, and that row is the suspect set."""
    reference = make_reviews(300, seed=30)
    frame = make_reviews(12, seed=31)
    frame.loc[5, "label"] = 1 - frame.loc[5, "label"]
    res = detectors.reference_anchored(frame, SPEC, reference)
    assert 0.5 <= res.score.sum() < 1.5
    assert np.flatnonzero(res.suspect).tolist() == [5] and res.score.argmax() == 5 and res.score[5] > 0.5


def test_feature_cells_match_whole_numbers_stored_as_int_or_float():
    """A star rating stored as 4 in one table and 4.0 in another is the same feature cell."""
    frame = make_reviews(6, seed=32)
    frame["polarity"] = [1, 2, 3, 4, 5, 4]
    as_int = frame.assign(polarity=frame["polarity"].astype("int64"))
    as_float = frame.assign(polarity=frame["polarity"].astype("float64"))
    assert (detectors.feature_cells(as_int, SPEC) == detectors.feature_cells(as_float, SPEC)).all()
    moved = as_float.assign(polarity=as_float["polarity"] + 1e-9)
    assert not (detectors.feature_cells(moved, SPEC) == detectors.feature_cells(as_float, SPEC)).any()


def test_class_conditional_power_with_a_single_testable_class_is_undetectable():
    frame, reference = make_reviews(40, seed=15), make_reviews(40, seed=16)
    out = detectors.class_conditional_shift(frame.assign(label=[0] * 38 + [1] * 2), SPEC, reference)
    assert list(out) == ["0"] and out["0"]["power"] == 1.0  # no other class to flip into that could be tested
    res = guards.class_conditional_guard(GuardContext(frame=frame.assign(label=[0] * 38 + [1] * 2), spec=SPEC, reference=reference))
    assert res.power == 1.0 and res.detail.endswith("; fires below 0.001 (Bonferroni); power: cannot see a flip of every row of some class")


def test_reference_model_never_scores_a_holdout_row_it_trained_on():
    """One indicator feature per row: a model that saw a row remembers its label, one that did not cannot.

    With the reference equal to the holdout, an in-sample reference model would score about 1.0;
    cross-fitted (the documented behaviour) it can only guess, so its accuracy stays near chance.
    """
    n = 40
    rng = np.random.default_rng(33)
    feats = [f"f{i:02d}" for i in range(n)]
    rows = pd.DataFrame(np.eye(n), columns=feats)
    rows.insert(0, "review_id", [f"r{i:02d}" for i in range(n)])
    rows.insert(1, "label", rng.permutation([0, 1] * (n // 2)))
    spec = ColumnSpec(feature_cols=tuple(feats), timestamp_col=None)
    g = detectors.paired_gate(rows, rows, rows, spec)
    assert g["reference_accuracy"] <= 0.6 and g["holdout_rows"] == n
    apart = rows.assign(review_id=[f"other-{i:02d}" for i in range(n)])  # same rows under other ids: not recognised as shared
    assert detectors.paired_gate(rows, apart, rows, spec)["reference_accuracy"] >= 0.9


GATE_KEYS = {"accuracy", "reference_accuracy", "accuracy_p", "holdout_rows", "discordant_worse", "discordant_better", "share_class", "share",
             "true_share", "reference_share", "share_gap", "share_p", "positive_share", "reference_positive_share", "reference_skill_p",
             "share_moves", "recall_moves"}


def _gate_identities(g):
    """What the gate's numbers must satisfy whatever the data: accuracy gap = discordant balance; a
    class's |false positives - false negatives| / n = |predicted share - true share|."""
    n = g["holdout_rows"]
    assert g["reference_accuracy"] - g["accuracy"] == pytest.approx((g["discordant_worse"] - g["discordant_better"]) / n)
    assert g["discordant_worse"] + g["discordant_better"] <= n * (2 - g["accuracy"] - g["reference_accuracy"]) + 1e-9
    assert g["share_gap"] == pytest.approx(max(0.0, abs(g["share"] - g["true_share"]) - abs(g["reference_share"] - g["true_share"])))
    # each class's rows predicted by the candidate alone, minus those by the reference alone, is the share difference
    c = [str(k) for k in range(len(g["share_moves"]))].index(g["share_class"])
    alone_cand, alone_ref = g["share_moves"][c]
    assert (alone_cand - alone_ref) / n == pytest.approx(g["share"] - g["reference_share"])


def test_paired_gate_numbers_hang_together(tmp_path, keys):
    from tests.test_guard_contracts import FIRING

    clean = [make_reviews(r, separation=2.0, seed=s) for r, s in ((1500, 40), (800, 41), (800, 42))]
    g = detectors.paired_gate(*clean, SPEC)
    assert set(g) == GATE_KEYS and g["reference_accuracy"] > 0.75 and abs(g["reference_accuracy"] - g["accuracy"]) < 0.02
    _gate_identities(g)
    assert g["positive_share"] == pytest.approx(g["share"] if g["share_class"] == "1" else 1 - g["share"])
    ctx, _, _ = FIRING["model_gate"](tmp_path, keys, "binary")
    fired = detectors.paired_gate(ctx.frame, ctx.reference, ctx.holdout, SPEC)
    _gate_identities(fired)
    assert fired["share_gap"] > 0.02 and fired["discordant_worse"] > fired["discordant_better"]
    same = detectors.paired_gate(clean[0], clean[0].assign(review_id=lambda f: "ref-" + f["review_id"]), clean[2], SPEC)
    # trained on the same rows, the two models agree everywhere: no gap, no accuracy test
    assert (same["discordant_worse"], same["discordant_better"], same["accuracy_p"]) == (0, 0, 1.0) and same["share_gap"] == pytest.approx(0, abs=1e-12)
    # roles swapped: a clean candidate against a poisoned reference is nearer every true share than
    # the reference model, so there is no excess to test and the share p-value is 1
    swapped = detectors.paired_gate(ctx.reference, ctx.frame, ctx.holdout, SPEC)
    _gate_identities(swapped)
    assert swapped["share"] != swapped["true_share"] and (swapped["share_gap"], swapped["share_p"]) == (0.0, 1.0)


def test_out_of_fold_probabilities_are_decided_by_the_seed():
    frame = make_reviews(200, separation=1.5, seed=43)
    a, b, c = (detectors.out_of_fold_proba(frame, SPEC, seed=s) for s in (3, 3, 4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(detectors.confident_learning(frame, SPEC).score, detectors.confident_learning(frame, SPEC).score)
