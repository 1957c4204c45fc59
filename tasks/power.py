"""Per-class tests whose null does not depend on sample sizes, and the power of each: the smallest flip rate a test would see.

A guard's *power* here is a minimum detectable flip rate: the smallest share ``r`` of one class's
rows relabelled (to another class) that the guard's test would flag with probability
:data:`POWER` at its significance level. It is computed from the sample sizes and the rates the
reference shows, before looking at whether the test fired, so a pass can be read as "no flips of
at least this rate" — or, when that rate is above the user's tolerance, as "cannot tell".
"""

from __future__ import annotations

import numpy as np
from scipy import stats

POWER = 0.8  # detection probability behind every minimum detectable flip rate
# rounded to its step: linspace's 0.47000000000000003 was above a --tolerate 0.47 the user had been told would do
RATE_GRID = np.round(np.linspace(0.005, 1.0, 200), 3)
UNDETECTABLE = 1.0  # reported when not even flipping every row of the class would be seen


def _z(alpha: float) -> float:
    return float(stats.norm.isf(alpha))


def detectable_rate(p0: float, n: float, n_ref: float, effect: float, alpha: float, *, power: float = POWER) -> float:
    """Smallest flip rate ``r`` at which a one-sided two-proportion test sees a rate move from ``p0`` to ``p0 + effect * r``.

    Parameters
    ----------
    p0
        The rate on clean data (estimated from the reference), in [0, 1].
    n, n_ref
        Rows behind the candidate's rate and the reference's rate.
    effect
        How far the rate moves per unit flip rate (signed; the magnitude is used).
    alpha
        One-sided significance level of the test (after any Bonferroni split).
    power
        Detection probability required.

    Returns
    -------
    float
        The rate in (0, 1]; :data:`UNDETECTABLE` (1.0) when no rate up to 1 reaches the power.
        Normal approximation (Fleiss, *Statistical Methods for Rates and Proportions*, 3rd ed., §4.2).
    """
    if n < 1 or n_ref < 1 or effect == 0:
        return UNDETECTABLE
    p0 = float(np.clip(p0, 0.5 / (n_ref + 1), 1 - 0.5 / (n_ref + 1)))  # a rate of 0 on a small reference is not certainty
    p1 = np.clip(p0 + abs(effect) * RATE_GRID * np.sign(effect), 1e-9, 1 - 1e-9)
    pbar = (n * p1 + n_ref * p0) / (n + n_ref)
    null_sd = np.sqrt(pbar * (1 - pbar) * (1 / n + 1 / n_ref))
    alt_sd = np.sqrt(p1 * (1 - p1) / n + p0 * (1 - p0) / n_ref)
    achieved = stats.norm.sf((_z(alpha) * null_sd - np.abs(p1 - p0)) / alt_sd)
    ok = np.flatnonzero(achieved >= power)
    return float(RATE_GRID[ok[0]]) if len(ok) else UNDETECTABLE


def fisher_greater(k: int, n: int, k_ref: int, n_ref: int) -> float:
    """One-sided Fisher exact p-value: is the candidate's rate k/n above the reference's k_ref/n_ref?"""
    if n == 0 or n_ref == 0:
        return 1.0
    return float(stats.fisher_exact([[k, n - k], [k_ref, n_ref - k_ref]], alternative="greater")[1])


def share_tests(counts: np.ndarray, ref_counts: np.ndarray, alpha: float) -> list[dict]:
    """Per class: is the class's share in the candidate different from the reference's? (Fisher exact, two-sided).

    Parameters
    ----------
    counts, ref_counts
        Rows per class, shape (K,), same class order.
    alpha
        Family-wise level; each class is tested at ``alpha / K`` (Bonferroni).

    Returns
    -------
    list of dict
        Per class: ``share``, ``reference_share``, ``p_value``, ``power`` (smallest rate of the
        class's rows flipped away that the test sees: the share drops by ``share * r``).
    """
    n, n_ref = int(counts.sum()), int(ref_counts.sum())
    k = len(counts)
    out = []
    for c in range(k):
        a, b = int(counts[c]), int(ref_counts[c])
        p = float(stats.fisher_exact([[a, n - a], [b, n_ref - b]])[1]) if n and n_ref else 1.0
        share_ref = b / max(1, n_ref)
        out.append({
            "share": a / max(1, n), "reference_share": share_ref, "p_value": p,
            "power": detectable_rate(share_ref, n, n_ref, -share_ref, alpha / k / 2),
        })
    return out


def disagreement_tests(pred: np.ndarray, codes: np.ndarray, pred_ref: np.ndarray, codes_ref: np.ndarray, k: int, alpha: float) -> dict:
    """Do labels disagree with a trusted model more often on the candidate than out of fold on the reference?

    One test over all rows and one per predicted class (rows the model assigns to class ``c``): flips
    out of class ``c`` raise the disagreement among the rows predicted ``c``, so a shift confined to a
    1 % class is tested on that class's rows instead of being averaged away. Every test is one-sided
    Fisher exact at ``alpha / (K + 1)`` (Bonferroni).

    Parameters
    ----------
    pred, codes
        Model predictions and observed labels on the candidate, class codes, shape (n,).
    pred_ref, codes_ref
        Out-of-fold predictions and labels on the reference, shape (n_ref,).
    k
        Number of classes.
    alpha
        Family-wise level.

    Returns
    -------
    dict
        ``overall`` and ``per_class`` (code -> dict) entries with ``rate``, ``reference_rate``,
        ``p_value``, ``rows``, ``power``; ``p_min`` (smallest p-value) and ``level`` (per-test level).
    """
    level = alpha / (k + 1)
    dis, dis_ref = pred != codes, pred_ref != codes_ref

    def one(mask, mask_ref, effect_scale):
        kk, n, kr, nr = int(dis[mask].sum()), int(mask.sum()), int(dis_ref[mask_ref].sum()), int(mask_ref.sum())
        e = kr / max(1, nr)
        # a flipped row the model got right now disagrees; a flipped row it got wrong may now agree
        effect = effect_scale * max(0.0, 1 - e - e / max(1, k - 1))
        return {"rate": kk / max(1, n), "reference_rate": e, "p_value": fisher_greater(kk, n, kr, nr), "rows": n, "reference_rows": nr,
                "power": detectable_rate(e, n, nr, effect, level)}

    overall = one(np.ones(len(codes), bool), np.ones(len(codes_ref), bool), 1.0)
    per_class = {}
    for c in range(k):
        res = one(pred == c, pred_ref == c, 1.0)
        share = float(np.mean(codes_ref == c)) if len(codes_ref) else 0.0
        # flips confined to class c move the overall rate by share_c * r: the overall test covers c too
        via_overall = overall["power"] / share if share > 0 else UNDETECTABLE
        res["power"] = float(min(res["power"], via_overall, UNDETECTABLE))
        per_class[c] = res
    p_min = min([overall["p_value"]] + [v["p_value"] for v in per_class.values()])
    return {"overall": overall, "per_class": per_class, "p_min": p_min, "level": level}


def cell_label_test(key: np.ndarray, codes: np.ndarray, key_ref: np.ndarray, codes_ref: np.ndarray, k: int, alpha: float) -> dict:
    """Per-class Cochran–Mantel–Haenszel test of labels within feature cells the candidate shares with the reference.

    Rows with identical feature vectors form a cell. Within each cell that both samples contain,
    the candidate's label counts given the cell's totals are hypergeometric under "same label
    distribution per cell", whatever the two sample sizes; summing observed minus expected over
    cells gives a size-free test per class (Mantel & Haenszel 1959, J. Natl Cancer Inst. 22:719).
    Conflicting duplicates that occur naturally (coarse features) do not move it; flips do.

    Parameters
    ----------
    key, key_ref
        A hash of each row's feature vector, shape (n,) and (n_ref,).
    codes, codes_ref
        Class codes of the labels.
    k
        Number of classes.
    alpha
        Family-wise level, split over classes (two-sided, Bonferroni).

    Returns
    -------
    dict
        ``matched_rows`` (candidate rows in shared cells), ``per_class`` (code -> ``observed``,
        ``expected``, ``z``, ``p_value``, ``power``), ``p_min`` and ``level``.
    """
    level = alpha / k
    shared = np.intersect1d(np.unique(key), np.unique(key_ref))
    m = np.isin(key, shared)
    mr = np.isin(key_ref, shared)
    cells, inv = np.unique(np.concatenate([key[m], key_ref[mr]]), return_inverse=True)
    nc = int(m.sum())
    inv_a, inv_b = inv[:nc], inv[nc:]
    s = len(cells)
    a_tot = np.bincount(inv_a, minlength=s).astype(float)
    b_tot = np.bincount(inv_b, minlength=s).astype(float)
    tot = a_tot + b_tot
    per_class = {}
    for c in range(k):
        a_c = np.bincount(inv_a, weights=(codes[m] == c).astype(float), minlength=s)
        b_c = np.bincount(inv_b, weights=(codes_ref[mr] == c).astype(float), minlength=s)
        col = a_c + b_c
        expected = a_tot * col / np.maximum(tot, 1)
        var = a_tot * b_tot * col * (tot - col) / np.maximum(tot**2 * (tot - 1), 1)
        V = float(var.sum())
        O, E = float(a_c.sum()), float(expected.sum())
        z = (O - E) / np.sqrt(V) if V > 0 else 0.0
        p = float(2 * stats.norm.sf(abs(z))) if V > 0 else 1.0
        # flipping r of the class's matched rows away lowers O by r * E (in expectation)
        power = float(min(UNDETECTABLE, (_z(level / 2) + _z(1 - POWER)) * np.sqrt(V) / E)) if V > 0 and E > 0 else UNDETECTABLE
        per_class[c] = {"observed": O, "expected": E, "z": float(z), "p_value": p, "power": power}
    p_min = min((v["p_value"] for v in per_class.values()), default=1.0)
    return {"matched_rows": nc, "cells": s, "per_class": per_class, "p_min": p_min, "level": level}


def hotelling_power(mean_gap: np.ndarray, pooled_cov: np.ndarray, n_class: float, n_source: float, n_ref_class: float, alpha: float) -> float:
    """Smallest share of a source class's rows flipped into a class that a Hotelling T² test of that class's mean sees.

    Flipping ``r`` of ``n_source`` rows into a class of ``n_class`` rows moves its mean by
    ``w = r n_source / (n_class + r n_source)`` times the gap between the two class means; the T²
    statistic is then non-central F with non-centrality ``n_a n_b / (n_a + n_b) * w² gap' S⁻¹ gap``.

    Parameters
    ----------
    mean_gap
        Source-class mean minus receiving-class mean, shape (d,).
    pooled_cov
        Within-class covariance, shape (d, d).
    n_class, n_source, n_ref_class
        Candidate rows in the receiving class and the source class; reference rows in the receiving class.
    alpha
        Level of this class's test.

    Returns
    -------
    float
        The rate in (0, 1], or :data:`UNDETECTABLE`.
    """
    d = len(mean_gap)
    if n_class + n_ref_class - d - 1 <= 0:
        return UNDETECTABLE
    maha = float(mean_gap @ np.linalg.pinv(pooled_cov) @ mean_gap)
    na = n_class + RATE_GRID * n_source
    w = RATE_GRID * n_source / na
    ncp = na * n_ref_class / (na + n_ref_class) * w**2 * maha
    df2 = na + n_ref_class - d - 1
    crit = stats.f.isf(alpha, d, df2)
    achieved = stats.ncf.sf(crit, d, df2, ncp)
    ok = np.flatnonzero(achieved >= POWER)
    return float(RATE_GRID[ok[0]]) if len(ok) else UNDETECTABLE


VOUCH_ALPHA = 0.05  # a pass vouches with 95 % confidence that the damage is below the gate's practical gap


def _tango_score(x: int, y: int, n: int, delta: float) -> float:
    """Tango's score statistic for ``H0: p_x - p_y = delta`` from paired counts (see :func:`paired_difference_bounds`)."""
    a = 2.0 * n
    b = -x - y + (2.0 * n - x + y) * delta
    c = -y * delta * (1.0 - delta)
    p_y = (np.sqrt(max(0.0, b * b - 4.0 * a * c)) - b) / (2.0 * a)  # the constrained MLE of p_y
    var = n * (2.0 * p_y + delta * (1.0 - delta))
    if var <= 0:
        return 0.0 if x - y == n * delta else float(np.sign(x - y - n * delta)) * np.inf
    return float((x - y - n * delta) / np.sqrt(var))


def paired_difference_bounds(x: int, y: int, n: int, alpha: float = VOUCH_ALPHA) -> tuple[float, float]:
    """One-sided ``1 - alpha`` lower and upper confidence bounds on ``p_x - p_y`` from paired counts.

    ``x`` rows fall on one side only (e.g. the reference model right, the candidate's wrong), ``y``
    on the other, ``n - x - y`` on both or neither; the difference ``p_x - p_y`` is then the drop in
    accuracy (or the move of a predicted share) between the two. The bounds invert Tango's score
    test, which stays exact enough with zero or few discordant rows (unlike the Wald interval, it
    does not claim certainty when the two models never disagree: with ``x = y = 0`` the upper bound
    is about ``z² / n``).

    Source: T. Tango (1998), "Equivalence test and confidence interval for the difference in
    proportions for the paired-sample design", *Statistics in Medicine* 17:891-908 (Newcombe 1998,
    *Stat. Med.* 17:2635-2650, method 10, finds it among the best-covering intervals).

    Parameters
    ----------
    x, y
        Discordant counts (non-negative, ``x + y <= n``).
    n
        Paired rows (holdout rows).
    alpha
        One-sided level of each bound.

    Returns
    -------
    tuple of float
        (lower, upper), each in [-1, 1], as proportions of ``n`` (0.02 = 2 points).
    """
    if n <= 0:
        return -1.0, 1.0
    z = _z(alpha)
    est = (x - y) / n

    def solve(target: float, lo: float, hi: float) -> float:
        # the score decreases in delta: bisect for score(delta) = target
        for _ in range(60):
            mid = (lo + hi) / 2
            if _tango_score(x, y, n, mid) > target:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    upper = 1.0 if _tango_score(x, y, n, 1.0 - 1e-12) > -z else solve(-z, est, 1.0 - 1e-12)
    lower = -1.0 if _tango_score(x, y, n, -1.0 + 1e-12) < z else solve(z, -1.0 + 1e-12, est)
    return float(lower), float(upper)
