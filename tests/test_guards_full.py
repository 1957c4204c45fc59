"""Guard behaviour that the full mutation run of tasks/guards.py (issue 13, tenth session) found
untested: skipped results under their own names, the boundaries of the tolerance and of each
level ("fires below"), the detail lines of many classes, and the exact results a person reads.

Small data, through the guards' public functions; expected values worked out independently
(the detectors' own outputs, scipy, or by hand)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from labelguard.tasks import detectors, guards, transforms
from labelguard.tasks.guards import ALPHA, GuardContext, GuardResult, apply_tolerance
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.synthetic import make_reviews
from tests.test_guard_contracts_mutation import _labelled  # reviews whose labels are exactly the ones given

SPEC = ColumnSpec()


# ---------------------------------------------------------------- tolerance


def test_a_power_of_exactly_the_tolerance_plus_its_margin_still_passes():
    """The tolerance compares with a 1e-12 margin for rounding: a power at the margin itself is not above it."""
    at = GuardResult("g", True, "d", power=0.05 + 1e-12)
    over = GuardResult("g", True, "d", power=0.05 + 1e-11)
    assert [g.verdict for g in apply_tolerance([at, over], 0.05)] == ["pass", "inconclusive"]


# ---------------------------------------------------------------- label contract


def test_label_contract_skips_under_its_own_name_when_either_input_is_missing():
    frame = make_reviews(20, seed=1)
    honest = transforms.get_transform(transforms.HONEST)
    for ctx in (GuardContext(frame=frame, spec=SPEC, before=None, transform=honest),
                GuardContext(frame=frame, spec=SPEC, before=frame, transform=None)):
        res = guards.label_contract_guard(ctx)
        assert (res.name, res.verdict, res.detail) == ("label_contract", "skipped", "skipped: no transform input to compare with")
    relabel = transforms.TransformSpec(name="relabel", fn=honest.fn, changes_labels=True, description="")
    res = guards.label_contract_guard(GuardContext(frame=frame, spec=SPEC, before=frame, transform=relabel))
    assert (res.name, res.verdict) == ("label_contract", "skipped")


def test_label_contract_firing_result_is_a_plain_false():
    before = make_reviews(20, seed=2)
    after = before.copy()
    after.loc[[3, 8], "label"] = 1 - after.loc[[3, 8], "label"]
    res = guards.label_contract_guard(GuardContext(frame=after, spec=SPEC, before=before, transform=transforms.get_transform(transforms.HONEST)))
    assert res.passed is False and res.to_dict()["passed"] is False and res.verdict == "fired"
    assert res.suspect_ids == ["rev-0000003", "rev-0000008"]


# ---------------------------------------------------------------- class balance


def test_class_balance_against_a_reference_without_the_last_class():
    """The reference has no row of class 1: its count is 0, not missing (the candidate's 10 % of class 1 is tested against 0 %)."""
    frame = _labelled([0] * 90 + [1] * 10)
    reference = _labelled([0] * 100, seed=1)
    res = guards.class_balance_guard(GuardContext(frame=frame, spec=SPEC, reference=reference))
    p = stats.fisher_exact([[10, 90], [0, 100]])[1]
    assert res.metrics["shares"] == {"0": 0.9, "1": 0.1} and res.metrics["reference_shares"] == {"0": 1.0, "1": 0.0}
    assert res.metrics["per_class"]["1"]["p_value"] == pytest.approx(p, rel=1e-12)
    assert res.verdict == "pass" and res.metrics["fired_classes"] == []  # p = 0.0015: above 1e-3 / 2


def test_class_balance_counts_a_class_with_a_single_row_as_present():
    frame = _labelled([0] * 99 + [1])
    res = guards.class_balance_guard(GuardContext(frame=frame, spec=SPEC, reference=_labelled([0] * 50 + [1] * 50, seed=1)))
    assert res.detail != "only one class present"
    assert res.metrics["shares"] == {"0": 0.99, "1": 0.01} and res.verdict == "fired"


# ---------------------------------------------------------------- class conditional


def _classes_frame(counts: list[int], seed: int, shift: dict[int, float] | None = None) -> pd.DataFrame:
    """Rows of classes 0, 1, ... in the given counts, two noise features; ``shift`` moves a class's polarity."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(counts)), counts)
    frame = _labelled(labels, seed=seed)
    frame["polarity"] = rng.normal(size=len(labels))
    frame["intensity"] = rng.normal(size=len(labels))
    for c, s in (shift or {}).items():
        frame.loc[frame["label"] == c, "polarity"] += s
    return frame


def _conditional_line(out: dict, shown: list[str], untested: str = "") -> str:
    return ", ".join(f"class {c}: mean shift {out[c]['shift_sd']:.2g} sd (p={out[c]['p_value']:.2g})" for c in shown) + untested


def _power_words(power: float) -> str:
    return "; power: cannot see a flip of every row of some class" if power >= 1.0 else f"; power: sees a flip of {power:.0%} of any class"


@pytest.mark.parametrize("n_classes", [4, 5, 6])
def test_class_conditional_shows_every_class_up_to_four_then_the_worst_four(n_classes):
    """Class 3 moved: with four classes all four are shown in class order, with more only the four of smallest p, smallest first."""
    spec = ColumnSpec(classes=tuple(range(n_classes)))
    frame = _classes_frame([40] * n_classes, seed=50, shift={3: 1.5})
    reference = _classes_frame([40] * n_classes, seed=51)
    out = detectors.class_conditional_shift(frame, spec, reference)
    res = guards.class_conditional_guard(GuardContext(frame=frame, spec=spec, reference=reference))
    names = [str(c) for c in range(n_classes)]
    by_p = sorted(names, key=lambda c: out[c]["p_value"])
    assert by_p[0] == "3" and by_p[:4] != names[:4]
    shown = names if n_classes <= 4 else by_p[:4]
    power = max(v["power"] for v in out.values())
    assert res.detail == f"{_conditional_line(out, shown)}; fires below {ALPHA / n_classes:.2g} (Bonferroni){_power_words(power)}"
    assert res.metrics == {"per_class": out, "worst": "3"} and res.verdict == "fired"


@pytest.mark.parametrize("untested", [4, 5])
def test_class_conditional_lists_four_untested_classes_then_how_many_more(untested):
    """Classes with no more rows than features are named as not tested: the first four, then "and N more"."""
    n_classes = 2 + untested
    spec = ColumnSpec(classes=tuple(range(n_classes)))
    counts = [40, 40] + [2] * untested
    frame, reference = _classes_frame(counts, seed=52), _classes_frame(counts, seed=53)
    out = detectors.class_conditional_shift(frame, spec, reference)
    assert list(out) == ["0", "1"]
    res = guards.class_conditional_guard(GuardContext(frame=frame, spec=spec, reference=reference))
    listed = "class 2, class 3, class 4, class 5" + (" and 1 more" if untested == 5 else "")
    power = max(v["power"] for v in out.values())
    assert res.detail == (f"{_conditional_line(out, ['0', '1'])}; not tested (no more rows than the 2 features in the data or the reference): "
                          f"{listed}; fires below {ALPHA / 2:.2g} (Bonferroni){_power_words(power)}")


def test_class_conditional_skips_under_its_own_name():
    frame, reference = make_reviews(40, seed=15), make_reviews(40, seed=16)
    few = guards.class_conditional_guard(GuardContext(frame=frame.iloc[:2], spec=SPEC, reference=reference.iloc[:2]))
    none = guards.class_conditional_guard(GuardContext(frame=frame, spec=SPEC))
    assert [(r.name, r.verdict) for r in (few, none)] == [("class_conditional", "skipped")] * 2


def test_class_conditional_a_p_value_at_the_level_does_not_fire(monkeypatch):
    """"fires below" the Bonferroni level: a class whose p-value is exactly the level passes."""
    per_class = {"0": {"p_value": ALPHA / 2, "shift": 0.1, "shift_sd": 0.1, "rows": 50, "power": 0.2},
                 "1": {"p_value": 0.5, "shift": 0.0, "shift_sd": 0.0, "rows": 50, "power": 0.3}}
    monkeypatch.setattr(detectors, "class_conditional_shift", lambda *a, **k: per_class)
    res = guards.class_conditional_guard(GuardContext(frame=make_reviews(20, seed=1), spec=SPEC, reference=make_reviews(20, seed=2)))
    assert res.verdict == "pass" and res.power == 0.3
    per_class["0"]["p_value"] = np.nextafter(ALPHA / 2, 0)
    assert guards.class_conditional_guard(GuardContext(frame=make_reviews(20, seed=1), spec=SPEC, reference=make_reviews(20, seed=2))).verdict == "fired"


def test_class_balance_with_five_classes_shows_the_worst_four():
    spec = ColumnSpec(classes=tuple(range(5)))
    counts, ref_counts = [100, 100, 130, 100, 70], [100] * 5
    frame = _labelled(np.repeat(np.arange(5), counts))
    reference = _labelled(np.repeat(np.arange(5), ref_counts), seed=1)
    res = guards.class_balance_guard(GuardContext(frame=frame, spec=spec, reference=reference))
    p = {c: stats.fisher_exact([[counts[c], 500 - counts[c]], [100, 400]])[1] for c in range(5)}
    worst = sorted(range(5), key=lambda c: p[c])[:4]
    assert worst[:2] == [4, 2] or worst[:2] == [2, 4]
    shown = ", ".join(f"class {c}: {counts[c] / 500:.1%} vs 20.0% (p={p[c]:.2g})" for c in worst)
    assert res.detail == f"{shown} (worst 4 of 5); fires below {ALPHA / 5:.2g} per class{_power_words(res.power)}"


def test_class_balance_a_p_value_at_the_level_does_not_fire(monkeypatch):
    """"fires below" alpha / K: a class whose p-value is exactly the level is not fired."""
    from labelguard.tasks import power

    tests = [{"share": 0.6, "reference_share": 0.5, "p_value": ALPHA / 2, "power": 0.2},
             {"share": 0.4, "reference_share": 0.5, "p_value": np.nextafter(ALPHA / 2, 0), "power": 0.2}]
    monkeypatch.setattr(power, "share_tests", lambda *a, **k: tests)
    res = guards.class_balance_guard(GuardContext(frame=_labelled([0, 1] * 10), spec=SPEC, reference=_labelled([0, 1] * 10, seed=1)))
    assert res.metrics["fired_classes"] == ["1"] and res.verdict == "fired"


def test_label_contract_names_exactly_ten_changes_without_a_remainder():
    before = make_reviews(30, seed=3)
    after = before.copy()
    flip = list(range(0, 30, 3))
    after.loc[flip, "label"] = 1 - after.loc[flip, "label"]
    res = guards.label_contract_guard(GuardContext(frame=after, spec=SPEC, before=before, transform=transforms.get_transform(transforms.HONEST)))
    assert res.detail == "transform 'honest' changed 10 label(s): " + ", ".join(f"rev-{i:07d}" for i in flip)


# ---------------------------------------------------------------- duplicate conflicts: CMH within shared cells

SPEC3 = ColumnSpec(classes=(0, 1, 2))


def _coarse(rows: int, seed: int) -> pd.DataFrame:
    """Three classes on a 5 x 5 grid of whole-number features: many rows share a cell, labels follow the cell."""
    rng = np.random.default_rng(seed)
    frame = make_reviews(rows, seed=seed)
    frame["polarity"] = rng.integers(0, 5, size=rows).astype(float)
    frame["intensity"] = rng.integers(0, 5, size=rows).astype(float)
    base = ((frame["polarity"] + frame["intensity"]) // 3).clip(upper=2).astype(int).to_numpy()
    noisy = rng.random(rows) < 0.3
    frame["label"] = np.where(noisy, rng.integers(0, 3, size=rows), base)
    return frame


def _cmh_line(frame, reference, spec):
    from labelguard.tasks.power import cell_label_test

    classes = np.asarray(spec.classes)
    t = cell_label_test(detectors.feature_cells(frame, spec), np.searchsorted(classes, frame["label"].to_numpy()),
                        detectors.feature_cells(reference, spec), np.searchsorted(classes, reference["label"].to_numpy()), 3, ALPHA)
    worst = min(t["per_class"], key=lambda c: t["per_class"][c]["p_value"])
    w = t["per_class"][worst]
    power = max(v["power"] for v in t["per_class"].values())
    mask = detectors.duplicate_conflicts(frame, spec)
    line = (f"{int(mask.sum())} conflicting duplicate row(s); within the {t['cells']} feature cells shared with the reference "
            f"({t['matched_rows']} rows) class {worst} has {w['observed']:.0f} rows vs {w['expected']:.1f} expected "
            f"(CMH p={w['p_value']:.2g}, fires below {t['level']:.2g}){_power_words(power)}")
    return t, str(worst), line


def test_duplicate_conflicts_names_the_class_of_smallest_p_and_passes_clean_cells():
    reference = _coarse(600, seed=60)
    clean = _coarse(600, seed=61)
    flipped = clean.copy()
    ones = flipped.index[flipped["label"] == 1][:60]
    flipped.loc[ones, "label"] = 2  # class 1 loses rows to class 2 within cells the reference shares
    t, worst, line = _cmh_line(flipped, reference, SPEC3)
    res = guards.duplicate_conflicts_guard(GuardContext(frame=flipped, spec=SPEC3, reference=reference))
    assert worst in ("1", "2") and t["p_min"] < t["level"]
    assert (res.verdict, res.passed, res.detail) == ("fired", False, line)
    t, worst, line = _cmh_line(clean, reference, SPEC3)
    res = guards.duplicate_conflicts_guard(GuardContext(frame=clean, spec=SPEC3, reference=reference))
    assert t["p_min"] >= t["level"] and t["matched_rows"] == 600
    assert (res.verdict, res.passed, res.detail) == ("pass", True, line)


def test_duplicate_conflicts_a_p_value_at_the_level_does_not_fire(monkeypatch):
    from labelguard.tasks import power

    frame = _coarse(60, seed=62)
    per = {c: {"observed": 10.0, "expected": 10.0, "z": 0.0, "p_value": 0.5, "power": 0.4} for c in range(3)}
    out = {"matched_rows": 60, "cells": 25, "per_class": per, "p_min": ALPHA / 3, "level": ALPHA / 3}
    monkeypatch.setattr(power, "cell_label_test", lambda *a, **k: out)
    assert guards.duplicate_conflicts_guard(GuardContext(frame=frame, spec=SPEC3, reference=frame)).verdict == "pass"
    out["p_min"] = np.nextafter(ALPHA / 3, 0)
    assert guards.duplicate_conflicts_guard(GuardContext(frame=frame, spec=SPEC3, reference=frame)).verdict == "fired"


# ---------------------------------------------------------------- run_guards: progress and the shared model family


def test_run_guards_reports_progress_with_the_rows_checked():
    from labelguard.tasks.guards import GuardProgress

    import time

    frame = make_reviews(30, seed=4)
    seen = []
    started = time.perf_counter()
    guards.run_guards(GuardContext(frame=frame, spec=SPEC), ["schema", "manifest"], on_progress=seen.append)
    elapsed = time.perf_counter() - started
    assert [(p.index, p.total, p.name, p.done, p.rows) for p in seen] == [
        (1, 2, "schema", False, 30), (1, 2, "schema", True, 30), (2, 2, "manifest", False, 30), (2, 2, "manifest", True, 30)]
    assert seen[0].seconds == 0.0 and 0.0 <= seen[1].seconds <= elapsed and 0.0 <= seen[3].seconds <= elapsed  # a duration, within the call
    no_rows = []
    guards.run_guards(GuardContext(frame=None, spec=SPEC), ["manifest"], on_progress=no_rows.append)
    assert no_rows == [GuardProgress(1, 1, "manifest", rows=0), GuardProgress(1, 1, "manifest", True, no_rows[1].seconds, 0)]


def test_run_guards_chooses_a_model_family_only_for_model_based_guards():
    frame = make_reviews(80, seed=5)
    plain = GuardContext(frame=frame, spec=SPEC)
    guards.run_guards(plain, ["schema", "class_balance"])
    assert "detector_model" not in plain.memo  # no model-based guard: no family chosen (no fits)
    model = GuardContext(frame=frame, spec=SPEC)  # no reference: the family is chosen on the candidate's 80 rows
    assert guards.run_guards(model, ["reference_model"])[0].verdict == "skipped"
    with detectors.detector_model(frame, SPEC, None) as expected:
        pass
    assert model.memo["detector_model"] == expected and (expected.rows, expected.measured_on) == (80, "candidate")
    reference = make_reviews(60, seed=6)  # enough trusted rows: the family is chosen on them
    anchored = GuardContext(frame=frame, spec=SPEC, reference=reference)
    guards.run_guards(anchored, ["model_gate"])
    assert (anchored.memo["detector_model"].rows, anchored.memo["detector_model"].measured_on) == (60, "reference")


# ---------------------------------------------------------------- schema


def test_schema_guard_without_the_id_column_fires_naming_no_rows():
    frame = make_reviews(20, seed=1).drop(columns="review_id")
    res = guards.schema_guard(GuardContext(frame=frame, spec=SPEC))
    assert (res.passed, res.verdict, res.suspect_ids, res.metrics) == (False, "fired", [], {"failures": 1})
    assert res.detail == "1 failure(s) (reviews:column_in_dataframe)"  # a whole-column check: no rows to name
    assert res.to_dict()["passed"] is False


# ---------------------------------------------------------------- reference model


def test_reference_model_a_p_value_at_the_level_does_not_fire(monkeypatch):
    """The verdict alone, on the detector's numbers: "fires below" the level, so p equal to it passes."""
    from types import SimpleNamespace

    from labelguard.tasks import power

    frame = make_reviews(10, seed=7)
    per = {c: {"rate": 0.1, "reference_rate": 0.1, "p_value": 0.5, "power": 0.3} for c in (0, 1)}
    t = {"per_class": per, "overall": {"rate": 0.1, "reference_rate": 0.1, "p_value": 0.5}, "p_min": ALPHA / 2, "level": ALPHA / 2}
    monkeypatch.setattr(detectors, "reference_anchored", lambda *a, **k: SimpleNamespace(estimate=0.0, suspect=np.zeros(10, bool)))
    monkeypatch.setattr(detectors, "reference_predictions", lambda *a, **k: (None, None, None, None))
    monkeypatch.setattr(power, "disagreement_tests", lambda *a, **k: t)
    assert guards.reference_model_guard(GuardContext(frame=frame, spec=SPEC, reference=frame)).verdict == "pass"
    t["p_min"] = np.nextafter(ALPHA / 2, 0)
    assert guards.reference_model_guard(GuardContext(frame=frame, spec=SPEC, reference=frame)).verdict == "fired"


def test_confident_learning_detail_line_says_what_the_rows_look_like():
    frame = make_reviews(60, separation=1.0, seed=8)
    mask = detectors.confident_learning(frame, SPEC).suspect
    k = int(mask.sum())
    res = guards.confident_learning_guard(GuardContext(frame=frame, spec=SPEC))
    assert k > 0 and res.suspect_ids == frame["review_id"][mask].tolist()
    assert res.detail == f"{k} of 60 rows look mislabelled to confident learning ({k / 60:.1%}); no reference, so no dataset verdict"


@pytest.mark.parametrize("index", ["shifted", "text"])
def test_schema_guard_names_failing_rows_by_label_whatever_the_index(index):
    """pandera reports index labels: a frame indexed 5..24 (a slice) or by text names the failing rows themselves."""
    frame = make_reviews(25, seed=9).iloc[5:]
    if index == "text":
        frame = frame.set_axis([f"row{i}" for i in range(5, 25)])
    frame.loc[frame.index[2], "polarity"] = np.inf  # rev-0000007
    frame.loc[frame.index[15], "label"] = 9  # rev-0000020: its label is the frame's length
    res = guards.schema_guard(GuardContext(frame=frame, spec=SPEC))
    assert res.suspect_ids == ["rev-0000007", "rev-0000020"]
    assert res.detail == "2 failure(s) (label:isin([0, 1]); polarity:finite) in rows rev-0000007, rev-0000020"


# ---------------------------------------------------------------- numbers written out, the gate's power


def test_rates_are_written_to_four_decimals():
    assert guards.output_rate({"a": 0.47000000000000003, "b": 0.123456, "c": 1}) == {"a": 0.47, "b": 0.1235, "c": 1.0}
    assert guards.output_rate(None) is None


def test_gate_power_on_one_holdout_row_is_the_sign_tests_row_count_over_one():
    """With no disagreement expected, x = c² rows (c = z_alpha + z_power); over one row it is x itself unless capped at 1."""
    from labelguard.tasks.guards import gate_power
    from labelguard.tasks.power import POWER

    c2 = (stats.norm.isf(0.5) + stats.norm.isf(1 - POWER)) ** 2  # alpha 0.5: z_alpha = 0, c² = 0.708
    assert gate_power(1, 0.0, 0.5) == pytest.approx(c2, rel=1e-12) and gate_power(2, 0.0, 0.5) == pytest.approx(c2 / 2, rel=1e-12)
    assert gate_power(0, 0.0, 0.5) == pytest.approx(c2, rel=1e-12)  # no rows: counted as one


def test_self_contained_verdict_a_p_value_at_alpha_does_not_fire(monkeypatch):
    """"fires below 0.001": the two-proportion test's p equal to ALPHA passes, just below it fires."""
    frame, reference = make_reviews(40, seed=10), make_reviews(40, seed=11)
    monkeypatch.setattr(guards, "_excess", lambda *a: ALPHA)
    assert guards.knn_consistency_guard(GuardContext(frame=frame, spec=SPEC, reference=reference)).verdict == "pass"
    monkeypatch.setattr(guards, "_excess", lambda *a: np.nextafter(ALPHA, 0))
    assert guards.knn_consistency_guard(GuardContext(frame=frame, spec=SPEC, reference=reference)).verdict == "fired"


def test_a_reference_of_exactly_the_minimum_rows_gives_a_dataset_verdict():
    frame, reference = make_reviews(40, seed=12), make_reviews(20, seed=13)  # knn_consistency needs 20 rows
    res = guards.knn_consistency_guard(GuardContext(frame=frame, spec=SPEC, reference=reference))
    # the trusted rows scored against the candidate's rows, as each candidate row is (break-it r18 F1)
    X, codes, _ = detectors._xy(frame, SPEC)
    Xr, codes_r, _ = detectors._xy(reference, SPEC)
    scaler = detectors.feature_scaler().fit(X)
    ref_mask = detectors.neighbourhood_disagreement(scaler.transform(X), codes, Z_query=scaler.transform(Xr), codes_query=codes_r) >= detectors.KNN_ETA
    assert set(res.metrics) == {"suspect_fraction", "reference_fraction", "p_value"}
    assert res.metrics["reference_fraction"] == ref_mask.mean() and "of the trusted rows, each scored against these rows; one-sided p=" in res.detail


# ---------------------------------------------------------------- the model gate's levels, on the detector's numbers


def _gate(monkeypatch, **over):
    """The model gate on fixed paired-gate numbers (a copy per call: the guard pops ``share_moves``)."""
    base = {"holdout_rows": 1000, "reference_skill_p": 1e-9, "reference_accuracy": 0.9, "accuracy": 0.9, "accuracy_p": 0.5,
            "discordant_worse": 10, "discordant_better": 10, "share_class": "1", "share": 0.5, "true_share": 0.5,
            "share_gap": 0.0, "share_p": 0.5, "share_moves": [(5, 5), (5, 5)]}
    monkeypatch.setattr(detectors, "paired_gate", lambda *a, **k: {**base, **over, "share_moves": list(over.get("share_moves", base["share_moves"]))})
    frame = make_reviews(20, seed=14)
    kw = {k: over.pop(k) for k in ("min_accuracy_drop", "min_share_shift") if k in over}
    options = over.pop("options", {})
    return guards.model_gate_guard(GuardContext(frame=frame, spec=SPEC, reference=frame, holdout=frame, options=options), **kw)


def test_model_gate_levels_fire_strictly_beyond_them(monkeypatch):
    """Each comparison the gate documents is strict: a p equal to its level, a gap equal to its practical gap, does not fire."""
    assert _gate(monkeypatch, reference_skill_p=guards.SKILL_ALPHA).verdict != "skipped"  # skipped only above 0.05
    assert _gate(monkeypatch, reference_skill_p=np.nextafter(guards.SKILL_ALPHA, 1)).verdict == "skipped"
    drop = {"reference_accuracy": 0.95, "accuracy": 0.85, "discordant_worse": 150, "discordant_better": 50}
    assert _gate(monkeypatch, **drop, accuracy_p=guards.GATE_ALPHA).verdict != "fired"
    assert _gate(monkeypatch, **drop, accuracy_p=np.nextafter(guards.GATE_ALPHA, 0)).verdict == "fired"
    assert _gate(monkeypatch, **drop, accuracy_p=1e-9, min_accuracy_drop=0.95 - 0.85).verdict != "fired"
    share = {"share_gap": 0.1, "share": 0.6, "share_moves": [(5, 105), (105, 5)]}
    assert _gate(monkeypatch, **share, share_p=guards.GATE_ALPHA).verdict != "fired"
    assert _gate(monkeypatch, **share, share_p=1e-9).verdict == "fired"
    assert _gate(monkeypatch, **share, share_p=1e-9, min_share_shift=0.1).verdict != "fired"
    assert _gate(monkeypatch, **share, share_p=1e-9, reference_skill_p=guards.GATE_ALPHA).verdict != "fired"  # share test needs skill below 0.001


def test_model_gate_on_a_one_row_holdout_counts_one_row(monkeypatch):
    res = _gate(monkeypatch, holdout_rows=1, discordant_worse=0, discordant_better=0, share_moves=[(0, 0), (0, 0)])
    assert res.detail.endswith(" on 1 holdout rows") and res.verdict == "inconclusive"


def test_model_gate_share_gap_option_makes_the_share_bound_decide(monkeypatch):
    """Class 0 predicted 10 points less often (5 rows alone vs 105): its bound is the larger, on the negative side."""
    from labelguard.tasks.power import paired_difference_bounds

    lo, hi = paired_difference_bounds(5, 105, 1000)
    upper = max(hi, -lo)
    moves = {"share_moves": [(5, 105), (5, 5)]}
    plain = _gate(monkeypatch, **moves)
    assert (plain.verdict, plain.metrics["share_move_class"], plain.metrics["share_move_upper"]) == ("pass", 0, upper) and upper > 0.1
    assert "share_move_tolerance" not in plain.metrics and ", on a share move " + f"{upper:.1%} (class 0) on 1000 holdout rows" in plain.detail
    strict = _gate(monkeypatch, **moves, options={"share_gap": 0.02})
    assert strict.verdict == "inconclusive" and strict.metrics["share_move_tolerance"] == 0.02
    assert f", on a share move {upper:.1%} (class 0; cannot rule out 2%) on 1000 holdout rows" in strict.detail
    assert _gate(monkeypatch, **moves, options={"share_gap": upper}).verdict == "inconclusive"  # the bound must be below it
    assert _gate(monkeypatch, **moves, options={"share_gap": np.nextafter(upper, 1)}).verdict == "pass"


def test_model_gate_vouches_only_for_a_bound_below_the_practical_gap(monkeypatch):
    from labelguard.tasks.power import paired_difference_bounds

    drop_upper = paired_difference_bounds(10, 10, 1000)[1]
    at = _gate(monkeypatch, min_accuracy_drop=drop_upper)
    assert at.verdict == "inconclusive" and f"95 % bound on the accuracy drop {drop_upper:.1%} (cannot rule out {drop_upper:.0%})" in at.detail
    assert _gate(monkeypatch, min_accuracy_drop=np.nextafter(drop_upper, 1)).verdict == "pass"


# ---------------------------------------------------------------- fifteenth session: the fresh-clone run's survivors


def test_a_skipped_guard_did_not_fire_anywhere_its_result_is_read():
    """A skipped result is ``passed=True`` (did not fire): the JSON says ``true`` and a pipeline run holding it is ok.
    With ``passed`` None or False the verdict still reads "skipped", but the report's ``fired`` list (``not g.passed``)
    named the skipped guard and the run failed on a guard that never ran (``_skip`` 2, 9)."""
    from labelguard.tasks.report import RunResult

    res = guards.label_contract_guard(GuardContext(frame=make_reviews(20, seed=1), spec=SPEC, before=None, transform=None))
    assert (res.verdict, res.passed, res.to_dict()["passed"]) == ("skipped", True, True)
    report = RunResult(dataset="d", transform="honest", rate=0.0, seed=0, observe=False, spec=SPEC, guards=[res])
    assert (report.fired, report.ok) == ([], True)


def test_recall_power_is_the_smallest_loss_mcnemar_sees_within_the_class_s_rows():
    """McNemar's exact one-sided test at 0.001 on x rows lost and y won, y more lost beside them: by hand,
    P(Bin(x + 2y, 1/2) >= x + y) first falls below 0.001 at x = 10 for y = 0 (2^-10) and at x = 14 for y = 2.
    The loss may use every row the candidate does not already win (x <= n - y) and no more (``_recall_power`` 4, 6, 12, 13)."""
    from math import comb

    def sign_p(x: int, y: int) -> float:
        n = x + 2 * y
        return sum(comb(n, k) for k in range(x + y, n + 1)) / 2**n

    assert [x for x in range(1, 20) if sign_p(x, 0) < 0.001][0] == 10 and [x for x in range(1, 20) if sign_p(x, 2) < 0.001][0] == 14
    assert guards._recall_power(0, 11, 0.001, 0.2) == 10 / 11  # x = 10 = n - y - 1 is within reach
    assert guards._recall_power(0, 10, 0.001, 0.2) == 1.0  # x = 10 = n: every row lost
    assert guards._recall_power(2, 16, 0.001, 0.2) == 14 / 16  # x = 14 = n - y
    assert guards._recall_power(2, 15, 0.001, 0.2) is None  # x = 14 > n - y = 13: the class is too small (break-it r13 F7: not 1.0)
    assert guards._recall_power(0, 100, 0.001, 0.2) == 0.2  # 10 of 100 rows, below the gap: the gap
    assert guards._recall_power(0, 20, 2**-10, 0.2) == 11 / 20  # p = 2^-10 exactly is not below a level of 2^-10: x = 11


def _norm_sf(z: float) -> float:
    import math

    return 0.5 * math.erfc(z / math.sqrt(2))


def test_class_recall_damage_judges_only_the_small_classes_each_on_its_own_rows():
    """Five classes on 941 holdout rows (gap 0.2, accuracy gap 0.02): class 0 (800 rows) is the accuracy bound's
    (800/941 * 0.2 >= 0.02) and comes first, class 4 has no row; classes 1, 2 and 3 (50, 90 and 1 rows) are judged.
    Expected values by hand: McNemar p = 2^-20 for 20 lost and none won, P(Bin(4, 1/2) >= 3) = 5/16; the training z of
    class 1 is 0.4 / sqrt(20/50^2), of class 2 (2/90) / sqrt(4/90^2 + 0.02^2); Tango's bound with no discordant row of
    1 row is z^2 / (1 + z^2) (z = 1.6449); the level is 0.001 / 5 (``class_recall_damage`` 1, 7, 13-17, 21, 23, 24,
    27, 29, 30, 39, 44, 45, 49, 51-55 of the fresh-clone guards run)."""
    import math

    from labelguard.tasks.power import paired_difference_bounds

    moves = [(30, 10, 800, 0.01), (20, 0, 50, 0.0), (3, 1, 90, 0.02), (0, 0, 1), (0, 0, 0)]
    res = guards.class_recall_damage(moves, [0, 1, 2, 3, 4])
    z = 1.6448536269514722
    assert list(res["per_class"]) == ["1", "2", "3"]
    one, two, three = (res["per_class"][c] for c in ("1", "2", "3"))
    assert (one["rows"], one["drop"], one["p_value"], one["training_sd"], one["power"]) == (50, 0.4, 2**-20, 0.0, 13 / 50)
    assert one["p_training"] == pytest.approx(_norm_sf(0.4 / math.sqrt(20 / 50**2)), rel=1e-9)
    assert one["drop_upper"] == paired_difference_bounds(20, 0, 50, 0.05)[1]
    assert (two["rows"], two["drop"], two["p_value"], two["training_sd"], two["power"]) == (90, 2 / 90, 5 / 16, 0.02, 0.2)
    assert two["p_training"] == pytest.approx(_norm_sf((2 / 90) / math.sqrt(4 / 90**2 + 0.02**2)), rel=1e-9)
    assert two["drop_upper"] == paired_difference_bounds(3, 1, 90, 0.05)[1]
    assert (three["rows"], three["drop"], three["p_value"], three["p_training"], three["training_sd"], three["power"]) == (1, 0.0, 1.0, 1.0, 0.0, None)
    assert three["drop_upper"] == pytest.approx(z**2 / (1 + z**2), rel=1e-6)
    assert (res["upper"], res["class"], res["fired"], res["blind"]) == (three["drop_upper"], "3", ["1"], ["1", "3"])
    assert res["text"] == ("class 1's recall fell 40% of its 50 holdout rows (McNemar p=9.5e-07, with training variability "
                           "p=3.9e-06; fires below 0.0002 beyond a 20% drop)")
    # without a skilled reference model nothing fires, and the detail is the worst bound
    res = guards.class_recall_damage(moves, [0, 1, 2, 3, 4], skilled=False)
    assert (res["fired"], res["blind"]) == ([], ["1", "3"])
    assert res["text"] == "worst class recall bound: class 3's drop 73.0% on its 1 holdout row (cannot rule out 20%; no drop of its 1 row reaches the test's level)"
    # only class 2 judged, its bound below the gap
    res = guards.class_recall_damage([(30, 10, 900, 0.01), (3, 1, 90, 0.02)], ["a", "b"])
    assert (list(res["per_class"]), res["fired"], res["blind"], res["class"]) == (["b"], [], [], "b")
    assert res["text"] == "worst class recall bound: class b's drop 7.1% on its 90 holdout rows (below 20%)"
    assert guards.class_recall_damage(None, []) is None and guards.class_recall_damage([], []) is None
    # as many rows won as lost: McNemar's one-sided p is P(Bin(4, 1/2) >= 2) = 11/16, not 1
    assert guards.class_recall_damage([(0, 0, 900), (2, 2, 30)], [0, 1])["per_class"]["1"]["p_value"] == 11 / 16
    assert guards.class_recall_damage([(30, 10, 800, 0.01), (0, 0, 0)], [0, 1]) is None  # nothing judged


def test_class_recall_damage_leaves_a_class_exactly_at_the_accuracy_gap_to_the_accuracy_bound():
    """A class whose gap is exactly the accuracy gap in accuracy (1 of 2 rows * 0.25 = 0.125) is not judged; one a
    hair below it is. The comparison allows 1e-12 for rounding, and no more (``class_recall_damage`` 18, 19, 2)."""
    moves = [(0, 0, 1), (0, 0, 1)]
    assert guards.class_recall_damage(moves, ["a", "b"], 0.25, accuracy_gap=0.125) is None
    assert guards.class_recall_damage(moves, ["a", "b"], 0.25, accuracy_gap=0.125 + 1e-12) is None  # 0.125 >= (0.125 + 1e-12) - 1e-12
    assert list(guards.class_recall_damage(moves, ["a", "b"], 0.25, accuracy_gap=0.125 + 2e-12)["per_class"]) == ["a", "b"]
    # the default accuracy gap is the gate's 2 points: a class of 10 % of the holdout at a 0.2 gap is not judged
    assert guards.class_recall_damage([(0, 0, 90), (0, 0, 10)], [0, 1]) is None


def test_class_recall_damage_fires_beyond_the_gap_not_at_it():
    """20 of a 200-row class lost and none won, at a 0.1 gap: a drop of exactly 0.1 does not fire, 21 rows lost does
    (McNemar 2^-20 and 2^-21, training z 0.1 / sqrt(20/200^2) = 4.47, both far below 0.001 / 2)."""
    big = (0, 0, 2000)
    assert guards.class_recall_damage([big, (20, 0, 200)], [0, 1], 0.1)["fired"] == []
    assert guards.class_recall_damage([big, (21, 0, 200)], [0, 1], 0.1)["fired"] == ["1"]


def test_class_recall_damage_names_the_largest_drop_and_the_largest_bound_not_the_last_class():
    """Three classes fired, the middle one losing most: the detail names it (not the last name, not the first);
    the worst bound is class a's (1 row), not the last name's (``class_recall_damage`` 130, 132, 139, 141, 142)."""
    big = (0, 0, 20000)
    res = guards.class_recall_damage([big, (30, 0, 100), (50, 0, 100), (40, 0, 100)], [0, 1, 2, 3], 0.1)
    assert res["fired"] == ["1", "2", "3"]
    assert res["text"].startswith("class 2's recall fell 50% of its 100 holdout rows")
    res = guards.class_recall_damage([(0, 0, 900), (0, 0, 1), (3, 1, 90, 0.02)], [0, "a", "b"])
    assert (res["class"], list(res["per_class"])) == ("a", ["a", "b"])


def test_class_recall_damage_fires_only_when_both_tests_are_below_the_level_over_k():
    """Two classes, so the level is 0.001 / 2 (not 0.001 * 2). 16 rows lost and 2 won of 100: McNemar p = 0.000656
    (not below 0.0005) while the z-test's is 0.000484; 20 lost of 100 with a training sd of 0.047: McNemar p = 2^-20,
    the z-test's about 0.001 (``class_recall_damage`` 116, 120)."""
    big = (0, 0, 2000)
    res = guards.class_recall_damage([big, (16, 2, 100)], [0, 1], 0.1)
    one = res["per_class"]["1"]
    assert one["p_value"] == pytest.approx(0.0006561279296875, rel=1e-12) and one["p_training"] == pytest.approx(0.000483714, rel=1e-5)
    assert res["fired"] == []
    res = guards.class_recall_damage([big, (20, 0, 100, 0.047)], [0, 1], 0.1)
    one = res["per_class"]["1"]
    assert one["p_value"] == 2**-20 and 0.0005 < one["p_training"] < 0.002
    assert res["fired"] == []


def test_a_class_whose_recall_bound_equals_the_gap_cannot_be_vouched_for():
    """The gap set to exactly class 1's Tango bound (3 lost, 1 won of 90): the bound does not rule the gap out, so the
    class is blind, and the detail says so (``class_recall_damage`` 127: ``>`` for ``>=``)."""
    from labelguard.tasks.power import paired_difference_bounds

    gap = paired_difference_bounds(3, 1, 90, 0.05)[1]
    res = guards.class_recall_damage([(0, 0, 9000), (3, 1, 90)], [0, 1], gap)
    assert res["per_class"]["1"]["drop_upper"] == gap and res["blind"] == ["1"]
    # the power by hand: P(Bin(x + 2, 1/2) >= x + 1) = (x + 3) / 2^(x + 2) first below 0.001 / 2 at x = 13: 13/90
    assert res["text"] == "worst class recall bound: class 1's drop 7.1% on its 90 holdout rows (cannot rule out 7%; a drop the test sees: 14%)"


# ---------------------------------------------------------------- sixteenth session: model_gate_guard's recall gate


def _recall_gate(monkeypatch, moves, **over):
    """The model gate on fixed paired-gate numbers with per-class recall moves (x lost, y won, rows, training sd)."""
    return _gate(monkeypatch, recall_moves=moves, **over)


# class 0: 950 holdout rows (0.95 * 0.2 >= 0.02: left to the accuracy bound); class 1: 50 rows, 30 lost, none won
SMALL_CLASS_LOST = [(5, 5, 950, 0.0), (30, 0, 50, 0.0)]


def test_model_gate_fires_on_a_small_class_s_recall_and_reports_its_numbers(monkeypatch):
    """Accuracy and shares clean, class 1's recall down 60 % of its 50 rows: McNemar p = 2^-30, the z-test's p from
    sd = sqrt(30) / 50, both below 0.001 / 2; the gate fires on recall alone and reports that class's numbers."""
    from labelguard.tasks.power import paired_difference_bounds

    res = _recall_gate(monkeypatch, SMALL_CLASS_LOST)
    upper = paired_difference_bounds(30, 0, 50)[1]
    assert (res.verdict, res.passed) == ("fired", False)
    m = res.metrics
    assert (m["recall_drop_class"], m["recall_drop_upper"], m["recall_gap"]) == ("1", upper, 0.2)
    assert list(m["per_class_recall"]) == ["1"] and "recall_moves" not in m
    one = m["per_class_recall"]["1"]
    assert (one["rows"], one["drop"], one["p_value"], one["drop_upper"]) == (50, 0.6, 2.0**-30, upper)
    assert one["p_training"] == stats.norm.sf(0.6 / (30**0.5 / 50))
    assert res.detail.endswith("; class 1's recall fell 60% of its 50 holdout rows (McNemar p=9.3e-10, with training variability "
                               "p=2.2e-08; fires below 0.0005 beyond a 20% drop)")


def test_model_gate_recall_needs_a_reference_skilled_below_the_gate_s_level(monkeypatch):
    """At a skill p of exactly 0.001 (the gate runs: below 0.05) the reference is not skilled enough for the recall
    test to fire; the class's bound is above 20 %, so the gate cannot vouch: inconclusive, naming that class."""
    for skill_p in (guards.GATE_ALPHA, 0.01):
        res = _recall_gate(monkeypatch, SMALL_CLASS_LOST, reference_skill_p=skill_p)
        assert (res.verdict, res.metrics["recall_drop_class"]) == ("inconclusive", "1")
        assert "; worst class recall bound: class 1's drop " in res.detail
    assert _recall_gate(monkeypatch, SMALL_CLASS_LOST, reference_skill_p=np.nextafter(guards.GATE_ALPHA, 0)).verdict == "fired"


def test_model_gate_recall_gap_option_sets_the_material_drop(monkeypatch):
    """verify's --recall-gap reaches the gate through ctx.options: class 1 (20 of 1,000 rows: judged at either gap) lost
    13 of its 20 rows, a 65 % drop, beyond the default 20 % and significant, not beyond a 70 % gap."""
    moves = [(5, 5, 980, 0.0), (13, 0, 20, 0.0)]
    assert _recall_gate(monkeypatch, moves).verdict == "fired"
    res = _recall_gate(monkeypatch, moves, options={"recall_gap": 0.7})
    assert (res.verdict, res.metrics["recall_gap"], list(res.metrics["per_class_recall"])) == ("inconclusive", 0.7, ["1"])
    assert "fires below" not in res.detail and "(cannot rule out 70%; " in res.detail


def test_model_gate_judges_recall_against_its_own_accuracy_gap(monkeypatch):
    """A class of 15 % of the holdout: at the default 2-point accuracy gap its 20 % recall gap is 3 points of accuracy,
    left to the accuracy bound (not judged); with a 5-point accuracy gap it is judged, and its lost recall fires."""
    moves = [(5, 5, 850, 0.0), (100, 0, 150, 0.0)]
    assert "per_class_recall" not in _recall_gate(monkeypatch, moves).metrics
    res = _recall_gate(monkeypatch, moves, min_accuracy_drop=0.05)
    assert (res.verdict, list(res.metrics["per_class_recall"]), res.metrics["recall_drop_class"]) == ("fired", ["1"], "1")


def test_recall_power_text_says_the_smallest_drop_or_that_none_reaches_the_level():
    """The class's power as the gate's lines say it; a class too small for the test is named by its rows, one row singular."""
    from labelguard.tasks.guards import recall_power_text

    assert recall_power_text(0.35, 7) == "a drop the test sees: 35%"
    assert recall_power_text(0.2, 50, seen="power") == "power: 20%"
    assert recall_power_text(None, 7) == "no drop of its 7 rows reaches the test's level"
    assert recall_power_text(None, 1) == "no drop of its 1 row reaches the test's level"
    assert recall_power_text(None, 0) == "no drop of its 0 rows reaches the test's level"
