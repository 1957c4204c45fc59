"""noise_rate right after the warm-up: until the window is full, each class runs whichever of the clean-day test (Student's t,
m - 2 df) and Fisher's test against the reference would fire on the smaller flip, so a plainly poisoned day just after the
warm-up alarms (`simulate --days 8 --poison-day 7` passed it: z 13.9 against 14.8)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from labelguard.tasks import drift
from labelguard.tasks.attacks import flip_labels
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.simulate import DayPlan, make_day
from labelguard.tasks.sources import split_holdout

SPEC = ColumnSpec(positive_class=1)


def _run(days: int, poison_day: int | None, *, seed: int = 3, rate: float = 0.2):
    """Days 1..days as `simulate` draws them (day 1 carves the reference), checked in memory; ``{day: (tests, warming_up, level)}``."""
    rng = np.random.default_rng([seed, 11])
    direction = np.array([1.0, 0.0])
    ref, clean, out = None, [], {}
    for i in range(1, days + 1):
        day = (date(2026, 3, 1) + timedelta(days=i - 1)).isoformat()
        frame = make_day(i - 1, day, rng, direction, DayPlan(rows=800))
        if i == poison_day:
            frame = flip_labels(frame, SPEC, attack="random", rate=rate, seed=seed).frame
        if i == 1:
            frame, holdout = split_holdout(frame, SPEC, 0.3, seed)
            ref = drift.fit_reference(holdout, SPEC)
            ref.day = day
        stats, _ = drift.day_stats(frame, ref)
        window = [s for d, s in clean if d != ref.day][-drift.WINDOW:]
        tests, warming, level = drift.run_guards(stats, window, ref)
        out[i] = (tests, warming, level)
        if not any(t.fired for t in tests):
            clean.append((day, stats))
    return out


def test_a_poisoned_day_right_after_the_warm_up_alarms_through_the_reference_test():
    days = _run(8, poison_day=7)
    tests, warming, level = days[7]
    assert not warming
    noise = [t for t in tests if t.guard == "noise_rate"]
    assert len(noise) == 2 and any(t.fired for t in noise)
    fired = next(t for t in noise if t.fired)
    assert fired.p_value < level and fired.threshold == pytest.approx(3.40, abs=0.01)  # the reference test: a normal quantile at level
    assert "in the reference (Fisher's exact test" in fired.detail
    assert "the test chosen while the clean days' null rests on 5 of 14 partitions" in fired.detail
    # the clean-day test (five partitions: t with 3 df) would not have fired
    days_z = float(fired.detail.split("(z=")[-1].split(" there)")[0])
    assert days_z < drift.overdispersed_test(0.0, 1.0, [(0.0, 1.0)] * 5, side="greater", level=level)["threshold"]
    # the clean days around it stay clean
    assert not any(t.fired for i in (2, 3, 4, 5, 6, 8) for t in days[i][0])


def test_the_bridge_ends_when_the_window_is_full():
    days = _run(drift.WINDOW + 3, poison_day=None)
    own = {i: next(t for t in days[i][0] if t.guard == "noise_rate") for i in days}
    # day 6 has four clean partitions before it (day 1 is the reference's own day): the reference alone, as in the warm-up
    assert "in the signed reference (Fisher" in own[6].detail
    chosen = {i for i in range(7, drift.WINDOW + 2) if "the test chosen while" in own[i].detail}
    assert 7 in chosen  # five partitions: t(3) is weaker than the reference
    for i in (drift.WINDOW + 2, drift.WINDOW + 3):  # fourteen clean partitions: the clean days' test alone
        assert "reference (Fisher" not in own[i].detail and "on clean days" in own[i].detail
    assert not any(t.fired for i in days for t in days[i][0])


def test_fisher_threshold_is_the_fewest_disagreements_that_fire():
    from scipy import stats

    def p(k, n, k_r, n_r):
        return stats.fisher_exact([[k, n - k], [k_r, n_r - k_r]], alternative="greater")[1]

    for n, k_r, n_r, level in [(400, 1, 120, 3.3e-4), (250, 0, 60, 3.3e-4), (800, 7, 240, 1e-3)]:
        k = drift.fisher_threshold(n, k_r, n_r, level)
        assert p(k, n, k_r, n_r) < level <= p(k - 1, n, k_r, n_r), (n, k_r, n_r)
    assert drift.fisher_threshold(400, 1, 120, 3.3e-4) == 38
    assert drift.fisher_threshold(5, 0, 10, 1e-4) == 6  # five rows can never fire at 1e-4: n + 1
    assert drift.fisher_threshold(0, 0, 10, 0.05) == 1
