"""Guard behaviour that the fresh seed-11 mutation sample of tasks/guards.py (issue 13, fourth
session) found untested, through the guards' public functions: the tolerance pass over a list whose
first guard carries its own tolerance, the one-class refusal's result as a whole, and the detail
line of exactly four classes (all shown, no "worst" clause)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from labelguard.tasks import guards
from labelguard.tasks.guards import GuardContext, GuardResult, apply_tolerance
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.synthetic import make_reviews

SPEC = ColumnSpec()


def _labelled(labels, seed: int = 0):
    frame = make_reviews(len(labels), seed=seed)
    frame["label"] = np.asarray(labels, dtype="int64")
    return frame


def test_a_guard_with_its_own_tolerance_does_not_stop_the_others_being_judged():
    """The model gate comes first here: the flip-rate guards after it are still marked inconclusive."""
    gate = GuardResult("model_gate", True, "d", power=0.03, tolerance=0.02)
    loose = GuardResult("class_balance", True, "d", power=0.4)
    tight = GuardResult("class_conditional", True, "d", power=0.01)
    out = apply_tolerance([gate, loose, tight], 0.05)
    assert [g.verdict for g in out] == ["pass", "inconclusive", "pass"]


def test_one_class_present_is_a_class_balance_result_by_name():
    res = guards.run_guards(GuardContext(frame=_labelled([0] * 30), spec=SPEC, reference=_labelled([0, 1] * 15)), ["class_balance"])[0]
    assert (res.name, res.verdict, res.detail, res.metrics) == ("class_balance", "fired", "only one class present", {"observed": {"0": 30, "1": 0}})
    assert res.to_dict()["name"] == "class_balance"


def test_class_balance_with_four_classes_shows_all_four_and_no_worst_clause():
    spec = ColumnSpec(classes=(0, 1, 2, 3))
    counts, ref_counts = [100, 100, 130, 70], [100, 100, 100, 100]
    res = guards.class_balance_guard(GuardContext(frame=_labelled(np.repeat(np.arange(4), counts)), spec=spec,
                                                  reference=_labelled(np.repeat(np.arange(4), ref_counts), seed=1)))
    p = [stats.fisher_exact([[counts[c], 400 - counts[c]], [100, 300]])[1] for c in range(4)]
    shown = ", ".join(f"class {c}: {counts[c] / 400:.1%} vs 25.0% (p={p[c]:.2g})" for c in range(4))
    assert res.detail.startswith(f"{shown}; fires below {1e-3 / 4:.2g} per class; power: ")


def test_the_model_gate_without_reference_skill_is_skipped_under_its_own_name():
    from labelguard.tasks.detectors import paired_gate

    rng = np.random.default_rng(21)
    frame, reference, holdout = (make_reviews(120, seed=s) for s in (21, 22, 23))
    for f in (frame, reference, holdout):
        f["label"] = rng.integers(0, 2, size=len(f))  # labels independent of the features
    res = guards.run_guards(GuardContext(frame=frame, spec=SPEC, reference=reference, holdout=holdout), ["model_gate"])[0]
    g = paired_gate(frame, reference, holdout, SPEC)
    no_info = holdout["label"].value_counts(normalize=True).max()
    assert (res.name, res.verdict) == ("model_gate", "skipped")
    assert res.detail == (f"skipped: the reference model has no skill on this holdout (predictions independent of the labels, "
                          f"p={g['reference_skill_p']:.2g}; accuracy {g['reference_accuracy']:.3f} vs {no_info:.3f} by always predicting the commonest class)")
