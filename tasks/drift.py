"""Daily partitions and drift checks: each day's labels against the signed reference and the recent clean days."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date as Date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from labelguard.errors import BadInput, DatasetExists, DatasetMissing, UntrustedInput
from labelguard.tasks.manifest import ColumnSpec, DatasetRef, SignedManifest, key_id, to_py

if TYPE_CHECKING:
    import pandas as pd
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    from labelguard.tasks.storage import Store

PART_KEY = "part-00000.parquet"
RECORDS = "_drift"  # one JSON record per checked day, beside the partitions
REFERENCE = "holdout"
_PART = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")

# Thresholds, chosen for a reason rather than fitted to a simulation (see check_day):
ALPHA = 0.05  # family-wise false-alarm probability over HORIZON_DAYS daily checks
HORIZON_DAYS = 30  # the family: a month of daily checks shares ALPHA (Bonferroni over tests x days)
WINDOW = 14  # recent clean days whose day-to-day variation sets each test's null
MIN_DAYS = 5  # clean days (the reference counts as one) before a test runs: its t has m - 2 >= 3 degrees of freedom
TOLERATE = 0.2  # the flip rate a day must be able to show (verify's --tolerate default): fewer rows cannot tell (min_rows)
POWER = 0.8  # ... with this probability
LOCK_KEY = "lock.json"  # _drift/lock.json: the drift run that holds the lake (drift_lock)
STALE_LOCK_SECONDS = 6 * 3600  # a lock this old, or of a dead process on this host, is taken over


# ---------------------------------------------------------------- partitions


def parse_date(value: str, flag: str = "--partition") -> str:
    """``YYYY-MM-DD`` (or ``date=YYYY-MM-DD``) as a checked ISO date string.

    Raises
    ------
    BadInput
        Not a calendar date.
    """
    text = str(value).strip()
    text = text[5:] if text.startswith("date=") else text
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        return Date.fromisoformat(text).isoformat()
    except ValueError:
        form = "date=YYYY-MM-DD, e.g. date=2026-01-31" if flag == "--partition" else "YYYY-MM-DD, e.g. 2026-01-31"
        raise BadInput(f"{flag} {value!r} is not a date", f"write {flag} {form}") from None


def part_name(day: str) -> str:
    return f"date={day}"


def partition_dates(root: Store) -> list[str]:
    """Dates of every ``date=YYYY-MM-DD/`` folder under the dataset root (with or without a manifest), sorted."""
    days = set()
    for key in root.list():
        head = key.split("/", 1)[0]
        m = _PART.match(head)
        if m and "/" in key:
            days.add(m.group(1))
    return sorted(days)


def dataset_id_at(root: Store) -> str | None:
    """The dataset id the root's reference or partitions are bound to (read, not trusted: verification checks it)."""
    from labelguard.tasks.dataset import MANIFEST_KEY

    for part in [REFERENCE] + [part_name(d) for d in partition_dates(root)]:
        raw = root.child(part).head(MANIFEST_KEY) and root.child(part).get(MANIFEST_KEY)
        if raw:
            try:
                return str(SignedManifest.from_bytes(raw).payload["dataset"]["id"])
            except (BadInput, KeyError, TypeError):
                continue
    return None


def ingest_partition(
    root: Store,
    frame: pd.DataFrame,
    spec: ColumnSpec,
    key: Ed25519PrivateKey,
    *,
    day: str,
    source: dict[str, Any],
    holdout_fraction: float = 0.0,
    seed: int = 0,
    dataset_id: str | None = None,
    ledger=None,
) -> dict[str, SignedManifest]:
    """Write one day's rows as ``root/date=DAY/part-00000.parquet`` with its own signed manifest.

    The manifest is bound to the dataset id and the date (role ``partition``, part ``date=DAY``),
    so a partition copied under another date or dataset fails verification as ``wrong-dataset``.
    The first partition of a dataset may also carve off the trusted reference (``root/holdout``,
    role ``holdout``) that drift checks compare against.

    Parameters
    ----------
    root
        The dataset root (the URI given to ``ingest --dest``).
    frame
        The day's rows, shape (n_rows, n_columns).
    day
        ISO date of the partition.
    holdout_fraction
        Share carved off as the reference when the dataset has none yet; 0 keeps every row.
    dataset_id
        Id of a new dataset; an existing dataset's id is read from its manifests.

    Returns
    -------
    dict
        ``{"partition": manifest}`` and, when written, ``{"holdout": manifest}``.

    Raises
    ------
    DatasetExists
        The partition exists already (create-only), or ``dataset_id`` names another dataset than the one at ``root``.
    """
    from labelguard.tasks.dataset import MANIFEST_KEY, write_dataset, writing_dataset
    from labelguard.tasks.manifest import new_dataset_id
    from labelguard.tasks.sources import split_holdout

    part = part_name(parse_date(day))
    target = root.child(part)
    # the first day into a bucket that does not exist yet: nothing to read (reading it was "no dataset at …: bucket
    # does not exist (fix: … or ingest a dataset there first)" to the very ingest that makes one); ensure_writable makes it
    fresh = not root.exists()
    if not fresh and target.list(limit=1):
        raise DatasetExists(f"partition {part} already exists under {root.uri}", "partitions are create-only: ingest a new date")
    existing = None if fresh else dataset_id_at(root)
    if existing and dataset_id and dataset_id != existing:
        raise DatasetExists(f"{root.uri} holds dataset {existing}, not {dataset_id}", f"drop --dataset-id or pass {existing}")
    ds_id = existing or dataset_id or new_dataset_id(root.uri)
    written: dict[str, SignedManifest] = {}
    has_reference = not fresh and root.child(REFERENCE).head(MANIFEST_KEY) is not None
    if holdout_fraction and not has_reference:
        frame, holdout = split_holdout(frame, spec, holdout_fraction, seed)
    else:
        holdout = None
    # the day (and its reference) as a whole: ledger lines only once both are written, a failure removes both and the folders made
    with writing_dataset(root, ledger=ledger, ledger_uri=root.uri, key=key) as parts:
        root.ensure_writable()
        if holdout is not None:
            written["holdout"] = parts.add(root.child(REFERENCE), write_dataset(
                root.child(REFERENCE), holdout, spec, key, source={**source, "part": REFERENCE, "date": day},
                dataset=DatasetRef(ds_id, role="holdout", part=REFERENCE),
            ))
        written["partition"] = parts.add(target, write_dataset(
            target, frame, spec, key, source={**source, "part": part, "date": day},
            dataset=DatasetRef(ds_id, role="partition", part=part), data_key=PART_KEY,
        ), PART_KEY)
    return written


# ---------------------------------------------------------------- statistics


@dataclass
class Reference:
    """What every day is compared with, fitted once on the signed reference rows."""

    spec: ColumnSpec
    model: Any  # scikit-learn classifier fitted on the reference
    directions: np.ndarray  # (K, n_features): each class's Fisher direction, unit within-class sd
    thresholds: np.ndarray  # (K,): each class's mean out-of-fold self-confidence on the reference (confident learning's t_j)
    stats: dict[str, Any]  # the reference's own day statistics (disagreement out of fold)
    dataset_id: str
    uri: str
    day: str | None = None  # the partition date the reference was carved from, if any


def _features(frame: pd.DataFrame, spec: ColumnSpec) -> np.ndarray:
    from labelguard.tasks.features import feature_matrix

    return feature_matrix(frame, spec)


def _codes(frame: pd.DataFrame, spec: ColumnSpec) -> np.ndarray:
    from labelguard.tasks.classes import class_codes

    return class_codes(spec.classes, frame[spec.label_col].to_numpy())


def fit_reference(frame: pd.DataFrame, spec: ColumnSpec, *, dataset_id: str = "", uri: str = "") -> Reference:
    """Fit the reference model and each class's discriminant direction on trusted rows.

    The direction of class ``c`` is Fisher's ``Σ⁻¹(μ_c − μ_rest)`` (Σ the pooled within-class
    covariance), scaled to unit within-class standard deviation, so a mean shift along it is in
    standard deviations of the class.
    """
    from labelguard.tasks.detectors import _logreg, oof_proba

    X, codes = _features(frame, spec), _codes(frame, spec)
    k = len(spec.classes)
    if len(np.unique(codes)) < 2:
        raise BadInput(f"the reference holds a single class ({len(frame)} rows)", "ingest a reference with every class")
    model = _logreg().fit(X, codes)
    centred = X - np.stack([X[codes == c].mean(axis=0) if (codes == c).any() else X.mean(axis=0) for c in range(k)])[codes]
    cov = np.cov(centred, rowvar=False).reshape(X.shape[1], X.shape[1]) + 1e-9 * np.eye(X.shape[1])
    directions = np.zeros((k, X.shape[1]))
    for c in range(k):
        if (codes == c).any() and (codes != c).any():
            w = np.linalg.solve(cov, X[codes == c].mean(axis=0) - X[codes != c].mean(axis=0))
            directions[c] = w / np.sqrt(max(float(w @ cov @ w), 1e-12))
    proba_oof = oof_proba(X, codes, k)
    thresholds = _thresholds(codes, proba_oof, k)
    confident = confident_class(proba_oof, thresholds)
    return Reference(spec, model, directions, thresholds, _stats(X, codes, proba_oof.argmax(axis=1), confident, directions, k), dataset_id, uri)


def _thresholds(codes: np.ndarray, proba: np.ndarray, k: int) -> np.ndarray:
    """Each class's mean predicted probability over the rows labelled with it (Northcutt et al. 2021's per-class threshold)."""
    return np.array([proba[codes == c, c].mean() if (codes == c).any() else 1.0 for c in range(k)])


def confident_class(proba: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Each row's confidently predicted class, or -1 when no class reaches its threshold, shape (n_rows,).

    Confident learning (Northcutt, Jiang & Chuang 2021, *JAIR* 70:1373, the confident joint of
    ``cleanlab.count.compute_confident_joint``): a row counts for class ``j`` when ``p_j >= t_j``
    (the most probable such class). A flipped row deep inside another class is counted; a clean
    row near the boundary, where benign drift moves rows across a stale model's boundary, is not.
    """
    above = proba >= thresholds[None, :]
    masked = np.where(above, proba, -np.inf)
    out = masked.argmax(axis=1)
    return np.where(above.any(axis=1), out, -1)


def _stats(X: np.ndarray, codes: np.ndarray, pred: np.ndarray, confident: np.ndarray, directions: np.ndarray, k: int) -> dict[str, Any]:
    """A day's statistics per class: rows, share, mean and variance along the class direction, disagreements
    (``disagree``: the model's most probable class is another; ``confident``: another class reaches its threshold)."""
    n = len(codes)
    out = {"rows": int(n), "classes": []}
    for c in range(k):
        mask = codes == c
        proj = X[mask] @ directions[c]
        out["classes"].append({
            "rows": int(mask.sum()),
            "share": float(mask.mean()) if n else 0.0,
            "shift": float(proj.mean()) if mask.any() else 0.0,
            "shift_var": float(proj.var(ddof=1)) if mask.sum() > 1 else 1.0,
            "disagree": int((pred[mask] != c).sum()),
            "confident": int(((confident[mask] != c) & (confident[mask] >= 0)).sum()),
        })
    return out


def day_stats(frame: pd.DataFrame, ref: Reference) -> tuple[dict[str, Any], np.ndarray]:
    """The day's statistics and each row's confidently predicted class code (-1: none), shape (n_rows,)."""
    X, codes = _features(frame, ref.spec), _codes(frame, ref.spec)
    proba = ref.model.predict_proba(X) if len(X) else np.zeros((0, len(ref.spec.classes)))
    confident = confident_class(proba, ref.thresholds)
    return _stats(X, codes, proba.argmax(axis=1), confident, ref.directions, len(ref.spec.classes)), confident


def overdispersed_test(x: float, v: float, history: list[tuple[float, float]], *, side: str, level: float) -> dict[str, float]:
    """Is today's value ``x`` (sampling variance ``v``) out of line with the clean days' values?

    A random-effects null: each clean day ``i`` shows ``x_i = μ + u_i + e_i`` with sampling
    variance ``v_i`` and day-to-day variation ``u_i ~ N(0, τ²)``. τ² is estimated as in
    DerSimonian & Laird (1986, *Controlled Clinical Trials* 7:177) from Cochran's
    ``Q = Σ (x_i − x̄_w)² / v_i``: ``τ² = max(0, (Q − (m − 1)) / (Σw − Σw² / Σw))``. Then
    ``z = (x − μ̂) / sqrt(v + τ² + Var μ̂)`` with ``μ̂`` the ``1 / (v_i + τ²)``-weighted mean,
    referred to Student's t with ``m − 2`` degrees of freedom: the prediction interval for a new
    study of Higgins, Thompson & Spiegelhalter (2009, *J. R. Stat. Soc. A* 172:137), whose t
    carries the looseness of τ² estimated from a few days (so ``m >= 3``).

    Parameters
    ----------
    x, v
        Today's value and its sampling variance.
    history
        ``(x_i, v_i)`` of the clean days and the reference (at least one entry).
    side
        ``"greater"`` (one-sided: only a rise is evidence) or ``"two-sided"``.
    level
        The per-test significance level (after the multiple-testing split).

    Returns
    -------
    dict
        ``z`` (signed for one-sided, absolute for two-sided), ``p_value``, ``threshold`` (the z
        the test fires above), ``expected`` (μ̂), ``sd`` (the null standard deviation of ``x``),
        ``tau`` (the between-day standard deviation used).
    """
    from scipy import stats

    xs = np.array([h[0] for h in history], dtype=float)
    vs = np.maximum(np.array([h[1] for h in history], dtype=float), 1e-18)
    m = len(xs)
    tau2 = 0.0
    if m >= 2:
        w = 1 / vs
        xw = float((w * xs).sum() / w.sum())
        q = float((w * (xs - xw) ** 2).sum())
        c = float(w.sum() - (w**2).sum() / w.sum())
        tau2 = max(0.0, (q - (m - 1)) / c) if c > 0 else 0.0
    w_star = 1 / (vs + tau2)
    mean = float((w_star * xs).sum() / w_star.sum())
    sd = float(np.sqrt(max(v + tau2 + 1 / w_star.sum(), 1e-18)))
    z = (x - mean) / sd
    if m < 3:
        raise ValueError(f"a prediction interval needs at least 3 clean days, got {m}")
    ref = stats.t(m - 2)
    if side == "greater":
        p, threshold, shown = float(ref.sf(z)), float(ref.isf(level)), z
    else:
        p, threshold, shown = float(2 * ref.sf(abs(z))), float(ref.isf(level / 2)), abs(z)
    return {"z": float(shown), "p_value": p, "threshold": threshold, "expected": mean, "sd": sd, "tau": float(np.sqrt(tau2))}


def anscombe(k: float, n: float) -> tuple[float, float]:
    """A binomial rate ``k / n`` on the variance-stabilized scale and its sampling variance.

    ``arcsin(sqrt((k + 3/8) / (n + 3/4)))`` has variance ``1 / (4n + 2)`` whatever the rate
    (Anscombe 1948, *Biometrika* 35:246), so rates near 0 (a model's disagreements on clean
    days) need no normal approximation at the rate and a few rows more or less do not look like
    day-to-day variation.
    """
    return float(np.arcsin(np.sqrt((k + 0.375) / (n + 0.75)))), 1.0 / (4 * n + 2)


def _rate_history(days: list[dict], c: int, key: str) -> list[tuple[float, float, float]]:
    """Class ``c``'s rate on each day with rows: (rate, transformed rate, its sampling variance)."""
    out = []
    for d in days:
        if key not in d["classes"][c]:  # a record from before the statistic existed
            continue
        k, n = _count(d, c, key)
        if n > 0:
            out.append((k / n, *anscombe(k, n)))
    return out


def _count(day: dict, c: int, key: str) -> tuple[float, float]:
    if key == "share":
        return round(day["classes"][c]["share"] * day["rows"]), float(day["rows"])
    return float(day["classes"][c][key]), float(day["classes"][c]["rows"])


def _rate_test(today: dict, days: list[dict], c: int, key: str, *, side: str, level: float) -> tuple[float, float, dict]:
    """Today's rate of class ``c``, the clean days' mean rate, and the test on the Anscombe scale."""
    hist = _rate_history(days, c, key)
    k, n = _count(today, c, key)
    x, v = anscombe(k, n)
    t = overdispersed_test(x, v, [(h[1], h[2]) for h in hist], side=side, level=level)
    expected = float(np.sin(t["expected"]) ** 2)
    return k / max(n, 1.0), expected, t


# ---------------------------------------------------------------- drift guards (registry)


@dataclass
class DriftTest:
    """One test of one guard on one day (one class, or the whole day)."""

    guard: str
    subject: str  # "class 0", "day"
    value: float
    expected: float
    z: float
    threshold: float
    p_value: float
    fired: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: to_py(v) for k, v in self.__dict__.items()}


DriftGuard = Callable[[dict, list[dict], "Reference", float], list[DriftTest]]
DRIFT_GUARDS: dict[str, tuple[DriftGuard, str, Callable[[int], int]]] = {}


def register_drift_guard(name: str, tests: Callable[[int], int]):
    """Register ``fn(today, clean_days, reference, level) -> [DriftTest]``; ``tests(K)`` says how many tests it runs for K classes."""

    def decorate(fn: DriftGuard) -> DriftGuard:
        DRIFT_GUARDS[name] = (fn, (fn.__doc__ or name).strip().splitlines()[0], tests)
        return fn

    return decorate


def tests_per_day(k: int) -> int:
    return sum(t(k) for _, _, t in DRIFT_GUARDS.values())


def _classes(ref: Reference) -> list[str]:
    return [str(to_py(c)) for c in ref.spec.classes]


@register_drift_guard("label_prior", lambda k: 1 if k == 2 else k)
def label_prior(today: dict, days: list[dict], ref: Reference, level: float) -> list[DriftTest]:
    """Each class's share of the day against the clean days (two-sided, day-to-day variation in the null)."""
    names = _classes(ref)
    out = []
    for c in range(1 if len(names) == 2 else len(names)):
        c = len(names) - 1 if len(names) == 2 else c  # two classes: one test, on the second class's share
        x, expected, t = _rate_test(today, days, c, "share", side="two-sided", level=level)
        out.append(DriftTest("label_prior", f"class {names[c]}", x, expected, t["z"], t["threshold"], t["p_value"], t["p_value"] < level,
                             f"class {names[c]}'s share {x:.1%} vs {expected:.1%} on clean days (z={t['z']:.1f}, day-to-day sd {t['tau']:.3f} on the arcsine scale)"))
    return out


@register_drift_guard("class_conditional", lambda k: k)
def class_conditional(today: dict, days: list[dict], ref: Reference, level: float) -> list[DriftTest]:
    """Each class's feature mean along its discriminant direction against the clean days (one-sided: flipped rows drag it toward the other classes).

    The direction points from the other classes to the class, so rows flipped into the class can
    only lower the mean; a rise is benign drift, which the clean days' variation covers anyway.
    """
    names = _classes(ref)
    out = []
    for c, name in enumerate(names):
        t_c = today["classes"][c]
        if t_c["rows"] < 2:
            continue
        hist = [(d["classes"][c]["shift"], d["classes"][c]["shift_var"] / max(d["classes"][c]["rows"], 1)) for d in days if d["classes"][c]["rows"] > 1]
        t = overdispersed_test(-t_c["shift"], t_c["shift_var"] / t_c["rows"], [(-x, v) for x, v in hist], side="greater", level=level)
        t["expected"] = -t["expected"]
        out.append(DriftTest("class_conditional", f"class {name}", t_c["shift"], t["expected"], t["z"], t["threshold"], t["p_value"], t["p_value"] < level,
                             f"class {name}'s mean along its direction {t_c['shift']:+.3f} vs {t['expected']:+.3f} ± {t['sd']:.3f} sd"))
    return out


@register_drift_guard("noise_rate", lambda k: k)
def noise_rate(today: dict, days: list[dict], ref: Reference, level: float) -> list[DriftTest]:
    """Share of each class's rows the reference model confidently assigns to another class, against the clean days (one-sided): the suite's noise estimate.

    A row counts when another class reaches its confident-learning threshold
    (:func:`confident_class`): flipped rows deep inside another class do, clean rows near the
    boundary (which benign drift moves across a stale model's boundary) do not. ``days[0]`` is
    the reference, whose rate is out of fold on fewer rows (biased up, not comparable with the
    fitted model's): the null comes from the clean partitions once MIN_DAYS of them exist; before
    that each class is compared with the reference alone (:func:`reference_noise_test`).

    Bridge: while the clean-day null rests on fewer than :data:`WINDOW` partitions, Student's t
    with ``m - 2`` degrees of freedom can be weak (14.8 at 3.3e-4 with five partitions), and a
    day right after the warm-up could hide a flip the reference alone shows plainly. Until the
    window is full, each class runs whichever of the two tests would show the smaller flip
    (:func:`_bridge`, from the row counts and the history alone, before today's
    disagreements are counted), at the full level: a choice that does not depend on today's
    disagreements leaves each test's false-alarm rate as it was, with no split of the level.
    From then on only the clean days' test runs (Fisher's null of no day-to-day variation is
    safest near the reference's date, before benign drift accumulates).
    """
    names = _classes(ref)
    out = []
    for c, name in enumerate(names):
        t_c = today["classes"][c]
        if not t_c["rows"]:
            continue
        own = len([d for d in days[1:] if d["classes"][c]["rows"] and "confident" in d["classes"][c]])
        if own < MIN_DAYS:
            out.append(reference_noise_test(today, ref, c, level))
            continue
        x, expected, t = _rate_test(today, days[1:], c, "confident", side="greater", level=level)
        # a flipped row the model had right now disagrees; one it had wrong may now agree
        flip_estimate = max(0.0, (x - expected) / max(1e-9, 1 - 2 * expected))
        test = DriftTest("noise_rate", f"class {name}", x, expected, t["z"], t["threshold"], t["p_value"], t["p_value"] < level,
                         f"{x:.1%} of rows labelled {name} confidently disagree with the reference model vs {expected:.1%} on clean days (z={t['z']:.1f}); "
                         f"estimated flip rate into {name}: {flip_estimate:.1%}")
        if own < WINDOW:
            test = _bridge(test, today, ref, c, level, t, own)
        out.append(test)
    return out


def _bridge(days_test: DriftTest, today: dict, ref: Reference, c: int, level: float, t: dict, own: int) -> DriftTest:
    """The clean-day test of class ``c``, or the reference test when it would show a smaller flip (see :func:`noise_rate`).

    Both flips are measured from the clean days' rate (what the day shows without flips): the
    clean-day test's threshold on the rate scale, and the fewest disagreements Fisher's test
    against the reference would fire on (:func:`fisher_threshold`), as rates above it.
    """
    n = int(today["classes"][c]["rows"])
    k_r, n_r = int(ref.stats["classes"][c]["confident"]), int(ref.stats["classes"][c]["rows"])
    if not n_r:
        return days_test
    base = days_test.expected
    on_days = float(np.sin(min(float(np.arcsin(np.sqrt(base))) + t["threshold"] * t["sd"], np.pi / 2)) ** 2) - base
    on_ref = fisher_threshold(n, k_r, n_r, level) / n - base
    if on_ref >= on_days:
        return days_test
    r = reference_noise_test(today, ref, c, level)
    name = _classes(ref)[c]
    return replace(r, detail=(
        f"{r.value:.1%} of rows labelled {name} confidently disagree with the reference model vs {r.expected:.1%} in the reference "
        f"(Fisher's exact test, p={r.p_value:.2g}), the test chosen while the clean days' null rests on {own} of {WINDOW} partitions: "
        f"it fires {on_ref:.1%} above the clean days' {base:.1%}, the clean days' test {on_days:.1%} above (z={days_test.z:.1f} there)"))


def fisher_threshold(n: int, k_r: int, n_r: int, level: float) -> int:
    """The fewest of ``n`` rows that must disagree for Fisher's exact test (one-sided, against ``k_r`` of ``n_r`` in the
    reference; :func:`reference_noise_test`) to fire at ``level``; ``n + 1`` when none would.

    The p-value falls as the count rises, so a bisection over ``0..n`` finds it (about log2(n) tests).
    """
    from scipy import stats

    def fires(k: int) -> bool:
        return float(stats.fisher_exact([[k, n - k], [k_r, n_r - k_r]], alternative="greater")[1]) < level

    if n <= 0 or not fires(n):
        return n + 1
    lo, hi = 0, n  # fires(hi) holds; find the least such k
    while lo < hi:
        mid = (lo + hi) // 2
        if fires(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def reference_noise_test(today: dict, ref: Reference, c: int, level: float) -> DriftTest:
    """Class ``c``'s confident-disagreement count against the signed reference's alone: Fisher's exact test, one-sided.

    Used while too few clean days exist to estimate day-to-day variation. Its null is that the
    day and the reference share one rate (no day-to-day variation beyond sampling), which the
    confident count makes plausible (benign drift moves boundary rows, which it does not count),
    and the reference's rate is out of fold (from models fitted on 4/5 of its rows), so it errs
    high, toward no alarm. ``z`` is the normal quantile of the exact p-value (0 when p >= 0.5).
    """
    from scipy import stats

    name = _classes(ref)[c]
    k, n = int(today["classes"][c]["confident"]), int(today["classes"][c]["rows"])
    k_r, n_r = int(ref.stats["classes"][c]["confident"]), int(ref.stats["classes"][c]["rows"])
    p = float(stats.fisher_exact([[k, n - k], [k_r, n_r - k_r]], alternative="greater")[1]) if n and n_r else 1.0
    z, threshold = float(stats.norm.isf(min(max(p, 1e-300), 0.5))), float(stats.norm.isf(level))  # one-sided: no excess (p >= 0.5) reads z = 0
    expected = k_r / n_r if n_r else 0.0
    return DriftTest("noise_rate", f"class {name}", k / n if n else 0.0, expected, z, threshold, p, p < level,
                     f"{k / max(n, 1):.1%} of rows labelled {name} confidently disagree with the reference model vs {expected:.1%} in the signed reference "
                     f"(Fisher's exact test, p={p:.2g}; day-to-day variation is not known yet)")


# ---------------------------------------------------------------- records


@dataclass
class DayResult:
    """The outcome of checking one partition."""

    date: str
    uri: str
    rows: int
    integrity: str  # "ok" or the manifest failure code
    integrity_detail: str
    tests: list[DriftTest] = field(default_factory=list)
    suspect_ids: list = field(default_factory=list)
    clean_days: list[str] = field(default_factory=list)  # the window the null was estimated from
    warming_up: bool = False  # fewer than MIN_DAYS independent clean days: only the manifest and noise_rate vs the reference run
    level: float = 0.0
    stats: dict[str, Any] | None = None
    manifest_sha256: str | None = None
    checked_at: str = ""
    schema_problems: list[str] = field(default_factory=list)  # columns or labels that do not fit the signed reference (schema guard)
    cannot_tell: str = ""  # why the day's rows cannot show a tolerated flip (too few): not an alarm, and never a clean day
    repeat_of: str = ""  # an earlier partition holding exactly these rows (a re-run export): not an independent clean day
    missing_before: list[str] = field(default_factory=list)  # dates between the previous partition and this one with none

    @property
    def fired(self) -> list[str]:
        names = ["manifest"] if self.integrity != "ok" else []
        names += ["schema"] if self.schema_problems else []
        return names + sorted({t.guard for t in self.tests if t.fired}, key=list(DRIFT_GUARDS).index)

    @property
    def alarm(self) -> bool:
        return bool(self.fired)

    def guard_summary(self) -> dict[str, dict[str, Any]]:
        """Per guard: the largest z of its tests, its threshold, whether it fired, and the worst test's detail."""
        out: dict[str, dict[str, Any]] = {
            "manifest": {"fired": self.integrity != "ok", "detail": self.integrity_detail if self.integrity != "ok" else "signature, identity and digests verified"},
            "schema": {"fired": bool(self.schema_problems),
                       "detail": "; ".join(self.schema_problems) if self.schema_problems else "columns and class set fit the signed reference"},
        }
        for name in DRIFT_GUARDS:
            mine = [t for t in self.tests if t.guard == name]
            if not mine:
                why = (f"warm-up: {len(self.clean_days) + 1} of {MIN_DAYS} clean days (the reference counts as one), "
                       f"manifest checked; this guard needs {MIN_DAYS}" if self.warming_up else "not run")
                out[name] = {"fired": False, "z": None, "threshold": None, "detail": why}
                continue
            worst = max(mine, key=lambda t: t.z)
            out[name] = {"fired": any(t.fired for t in mine), "z": worst.z, "threshold": worst.threshold, "p_value": worst.p_value,
                         "subject": worst.subject, "detail": worst.detail}
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date, "uri": self.uri, "rows": self.rows, "alarm": self.alarm, "fired": self.fired,
            "integrity": self.integrity, "integrity_detail": self.integrity_detail,
            "guards": self.guard_summary(), "tests": [t.to_dict() for t in self.tests],
            "suspect_ids": [to_py(i) for i in self.suspect_ids], "clean_days": self.clean_days, "level": self.level,
            "stats": self.stats, "manifest_sha256": self.manifest_sha256, "checked_at": self.checked_at, "warming_up": self.warming_up,
            "schema_problems": self.schema_problems, "status": self.status, "cannot_tell": self.cannot_tell,
            "repeat_of": self.repeat_of, "missing_before": self.missing_before,
        }

    @property
    def status(self) -> str:
        """One phrase for the alarm column: ``ALARM`` (``ALARM: not signed, not checked`` for a day without a manifest),
        ``cannot tell: …`` (too few rows), ``no alarm``, or what a warm-up day was (and was not) checked for."""
        if self.alarm:
            return "ALARM: not signed, not checked" if self.integrity == "missing-manifest" else "ALARM"
        if self.cannot_tell:
            return f"cannot tell: {self.cannot_tell}"
        if self.repeat_of:
            return f"no alarm; the rows of {self.repeat_of} again: not a clean day"
        return warmup_status(len(self.clean_days)) if self.warming_up else "no alarm"


def record_key(day: str) -> str:
    return f"{part_name(day)}.json"


RECORD_KIND = "labelguard.drift.day"


def read_records(root: Store, verify_key: Ed25519PublicKey, *, dataset_id: str | None = None) -> dict[str, dict]:
    """Every stored day record under ``root/_drift``, by date, each verified before it is used.

    A record decides whether its day is checked again and whether the day joins the clean
    baseline, so a forged one could hide a poisoned day or poison the null: every record must
    carry a valid signature of the verify key, name its own date and (when given) the dataset.

    Raises
    ------
    UntrustedInput
        A record that is not signed JSON, fails its signature, or is bound to another date or dataset.
    """
    return dict(_signed_records(root.child(RECORDS), verify_key, RECORD_KIND, dataset_id))


def _signed_records(store: Store, verify_key: Ed25519PublicKey, kind: str, dataset_id: str | None):
    """Yield ``(date, payload)`` of every ``date=YYYY-MM-DD.json`` under ``store`` of this ``kind``, each verified first.

    Raises
    ------
    UntrustedInput
        A record that is not signed JSON, fails its signature, or is bound to another kind, date or dataset.
    """
    from labelguard.tasks.manifest import SignedManifest, signature_valid

    for key in sorted(store.list()):
        m = re.fullmatch(r"date=(\d{4}-\d{2}-\d{2})\.json", key)
        if not m:
            continue
        day, where = m.group(1), f"{store.uri.rstrip('/')}/{key}"
        try:
            signed = SignedManifest.from_bytes(store.get(key))
        except BadInput:
            raise _untrusted_record(where, "unsigned (not a signed labelguard record)") from None
        if not signature_valid(signed, verify_key):
            raise _untrusted_record(where, "bad-signature")
        payload = signed.payload
        if payload.get("kind") != kind or payload.get("date") != day:
            raise _untrusted_record(where, f"wrong-date (the record is for {payload.get('date')!r})")
        if dataset_id and payload.get("dataset") != dataset_id:
            raise _untrusted_record(where, f"wrong-dataset (the record is for dataset {payload.get('dataset')!r}, the reference {dataset_id!r})")
        yield day, payload


def _untrusted_record(where: str, code: str) -> UntrustedInput:
    return UntrustedInput(["day-record"], f"the drift record {where} failed verification: {code}",
                          fix="find out who wrote it, then delete it so the day is checked again (or restore the signed record)", uri=where)


def untrusted_days(exc: UntrustedInput) -> list[dict[str, Any]]:
    """``drift --json`` when a trusted input (the reference, a day record) fails its verification: no day was checked,
    so the list holds one entry for the refusal — ``alarm`` true, ``fired`` the failed input's role (``day-record``,
    ``reference``), ``status`` ``untrusted input``, ``untrusted_input`` {``role``, ``uri``, ``detail``} — and the day
    fields a reader of checked days expects, empty (``rows`` null, ``guards`` and ``tests`` empty)."""
    day = re.search(r"date=(\d{4}-\d{2}-\d{2})\.json$", exc.uri or "")
    return [{"date": day.group(1) if day else None, "uri": exc.uri, "rows": None, "alarm": True, "fired": list(exc.failed),
             "integrity": "untrusted-input", "integrity_detail": exc.detail, "guards": {}, "tests": [], "suspect_ids": [],
             "status": "untrusted input", "untrusted_input": {"role": ", ".join(exc.failed), "uri": exc.uri, "detail": exc.detail}}]


def write_record(root: Store, result: DayResult, signing_key: Ed25519PrivateKey, *, dataset_id: str) -> bool:
    """Sign and store the day's result (create-only: a day is recorded once; a re-check of a recorded day is reported, not stored).

    The payload is the day's result plus ``kind``, ``dataset`` and ``date`` bindings, signed like a
    manifest (Ed25519 over canonical JSON), so :func:`read_records` refuses an edited, forged or moved record.
    """
    from labelguard.tasks.manifest import sign_manifest

    payload = json.loads(json.dumps({"kind": RECORD_KIND, "dataset": dataset_id, **result.to_dict()}, default=str))
    try:
        root.child(RECORDS).put(record_key(result.date), sign_manifest(payload, signing_key).to_bytes())
        return True
    except DatasetExists:
        return False


# ---------------------------------------------------------------- the check


def load_reference(root: Store, verify_key: Ed25519PublicKey, *, reference_uri: str | None = None, endpoint_url: str | None = None, ledger=None) -> Reference:
    """Verify and fit the signed reference (default ``root/holdout``).

    Raises
    ------
    DatasetMissing
        No reference there.
    UntrustedInput
        The reference fails its signature, digests or identity (exit 1: it cannot be vouched for).
    """
    from labelguard.tasks.dataset import MANIFEST_KEY
    from labelguard.tasks.storage import open_store
    from labelguard.tasks.verify import load_trusted

    store = open_store(reference_uri, endpoint_url=endpoint_url) if reference_uri else root.child(REFERENCE)
    if store.head(MANIFEST_KEY) is None and not store.list(limit=1):
        raise DatasetMissing(f"no signed reference at {store.uri}", "ingest the first partition with --holdout-fraction 0.2, or pass --reference a signed baseline")
    rep = load_trusted(store, verify_key, "reference", endpoint_url, ledger=ledger)
    ds_id, ref_day = reference_origin(root, rep.manifest, given=reference_uri)
    ref = fit_reference(rep.frame, rep.manifest.spec, dataset_id=ds_id, uri=store.uri)
    ref.day = ref_day
    return ref


def run_guards(stats: dict, clean: list[dict], ref: Reference, *, alpha: float = ALPHA, horizon_days: int = HORIZON_DAYS) -> tuple[list[DriftTest], bool, float]:
    """Every registered drift guard on one day's statistics: ``(tests, warming_up, per-test level)``.

    Parameters
    ----------
    stats
        The day's statistics (:func:`day_stats`).
    clean
        The statistics of the recent clean days, oldest first (not the reference's own day).
    """
    level = alpha / (tests_per_day(len(ref.spec.classes)) * horizon_days)
    history = [ref.stats] + list(clean)
    if len(history) < MIN_DAYS:  # warm-up: only what the signed reference alone can test
        return noise_rate(stats, history, ref, level), True, level
    tests: list[DriftTest] = []
    for fn, _, _ in DRIFT_GUARDS.values():
        tests.extend(fn(stats, history, ref, level))
    return tests, False, level


def check_day(day: str, root: Store, ref: Reference, verify_key: Ed25519PublicKey, clean: list[tuple[str, dict]], *,
              alpha: float = ALPHA, horizon_days: int = HORIZON_DAYS, ledger=None) -> DayResult:
    """Verify one partition and test it against the reference and the recent clean days.

    Each test runs at ``alpha / (tests per day × horizon_days)`` (Bonferroni over every guard's
    tests and a horizon of daily checks), so the chance of any false alarm over ``horizon_days``
    clean days is at most ``alpha``. The null of each test is the clean days' mean with their
    day-to-day variation (:func:`overdispersed_test`); the signed reference always counts as one
    clean day. Until :data:`MIN_DAYS` clean days exist the day is warming up (a partition of the
    reference's own date is not independent of it and is not counted): with fewer, Student's t of
    the prediction interval has too few degrees of freedom to fire on anything, so only the
    manifest and ``noise_rate`` against the signed reference alone (:func:`reference_noise_test`) run.

    Parameters
    ----------
    clean
        ``(date, statistics)`` of the recent clean days, oldest first.
    """
    import hashlib

    from labelguard.tasks.dataset import MANIFEST_KEY, load_verified, sort_ids
    from labelguard.tasks.ledger import manifest_digest

    store = root.child(part_name(day))
    level = alpha / (tests_per_day(len(ref.spec.classes)) * horizon_days)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        rep = load_verified(store, verify_key, roles=("partition",), ledger=ledger)
    except DatasetMissing:
        return DayResult(day, store.uri, 0, "missing-manifest", f"nothing readable at {store.uri}", level=level, checked_at=now)
    if rep.code == "missing-manifest":  # objects without a manifest: say how many rows went unchecked, never "0 rows"
        rows, parts = unsigned_rows(store)
        return DayResult(day, store.uri, rows, "missing-manifest",
                         f"no signed manifest: {rows} row(s) in {parts} Parquet object(s) are not signed, so the day was not checked", level=level, checked_at=now)
    digest = manifest_digest(rep.manifest) if rep.manifest is not None else (hashlib.sha256(store.get(MANIFEST_KEY)).hexdigest() if store.head(MANIFEST_KEY) else None)
    result = DayResult(day, store.uri, 0, rep.code, rep.detail, level=level, manifest_sha256=digest, checked_at=now,
                       suspect_ids=list(rep.suspect_ids or []), clean_days=[d for d, _ in clean])
    if rep.ok and rep.manifest.payload["dataset"]["id"] != ref.dataset_id:
        result.integrity, result.integrity_detail = "wrong-dataset", f"partition is bound to dataset {rep.manifest.payload['dataset']['id']}, the reference to {ref.dataset_id}"
    if rep.ok and rep.manifest.payload["dataset"].get("part") != part_name(day):
        result.integrity, result.integrity_detail = "wrong-dataset", f"the manifest is for part {rep.manifest.payload['dataset'].get('part')!r}, found at {part_name(day)}"
    frame = rep.frame
    if frame is None:  # not decoded (another dataset's files, a part gone): the rows that are there, never a bare 0
        result.rows = unsigned_rows(store)[0]
        return result
    if not len(frame):
        return result
    result.rows = len(frame)
    result.schema_problems, bad_ids = schema_problems(frame, ref.spec)
    if result.schema_problems:  # the day does not fit the signed reference: an alarm, and its statistics cannot be computed
        result.suspect_ids = result.suspect_ids or sort_ids(bad_ids)
        return result
    need = min_rows(level)
    if len(frame) < need:  # its statistics could not show a tolerated flip: "cannot tell", and it never joins the clean window
        result.cannot_tell = f"{len(frame)} row(s), too few to tell (a day needs {need} for a {TOLERATE:.0%} flip to show at the per-test level)"
        return result
    stats, confident = day_stats(frame, ref)
    stats["rows_digest"] = rows_digest(frame)
    result.rows, result.stats = stats["rows"], stats
    # the partition the reference was carved from is the same day as the reference: count it once
    clean = [(d, s) for d, s in clean if d != ref.day]
    result.clean_days = [d for d, _ in clean]
    result.tests, result.warming_up, _ = run_guards(stats, [s for _, s in clean], ref, alpha=alpha, horizon_days=horizon_days)
    if not result.suspect_ids:
        fired_classes = {t.subject.removeprefix("class ") for t in result.tests if t.fired and t.guard in ("noise_rate", "class_conditional")}
        if fired_classes:
            codes = _codes(frame, ref.spec)
            names = np.array(_classes(ref))
            mask = (confident != codes) & (confident >= 0) & np.isin(names[codes], list(fired_classes))
            result.suspect_ids = sort_ids(frame[ref.spec.id_col].to_numpy()[mask].tolist())
    return result


def check_partitions(
    uri: str,
    verify_key: Ed25519PublicKey,
    *,
    signing_key: Ed25519PrivateKey,
    since: str | None = None,
    until: str | None = None,
    reference_uri: str | None = None,
    alpha: float = ALPHA,
    horizon_days: int = HORIZON_DAYS,
    window: int = WINDOW,
    endpoint_url: str | None = None,
    ledger=None,
    on_day: Callable[[DayResult], None] | None = None,
) -> list[DayResult]:
    """Check the newest unchecked partitions (or every partition from ``since`` to ``until``) in date order.

    Each checked day is recorded under ``URI/_drift/`` (create-only, signed with ``signing_key``),
    so the next run knows what is unchecked and which days were clean; the null of each day's
    tests comes from the signed reference and the ``window`` most recent clean days before it.
    Every record is verified before it is used (:func:`read_records`).

    Raises
    ------
    BadInput
        No partitions under ``uri``, none in the date range, or a signing key of another key pair.
    DatasetMissing, UntrustedInput
        No reference, a reference failing verification, or a day record failing verification.
    """
    from labelguard.tasks.storage import open_store

    root = open_store(uri, endpoint_url=endpoint_url)
    days = partition_dates(root)
    if not days:
        raise BadInput(f"no partitions (date=YYYY-MM-DD/) under {root.uri}", "ingest one with `labelguard ingest --dest URI --partition date=YYYY-MM-DD`")
    if key_id(signing_key.public_key()) != key_id(verify_key):
        raise BadInput("the signing key does not belong to the verify key", "pass the dataset's own key pair (--signing-key and --verify-key)")
    if since or until:
        lo, hi = since or days[0], until or days[-1]
        targets = [d for d in days if lo <= d <= hi]
        if not targets:
            raise BadInput(f"no partition between {lo} and {hi} under {root.uri} (have {days[0]} to {days[-1]})", "widen --since/--until")
    ref = load_reference(root, verify_key, reference_uri=reference_uri, endpoint_url=endpoint_url, ledger=ledger)
    with drift_lock(root):  # two runs at once would check the same days against records the other is writing
        return _check_locked(root, days, ref, verify_key, signing_key=signing_key, since=since, until=until, alpha=alpha, horizon_days=horizon_days,
                             window=window, ledger=ledger, on_day=on_day)


def _check_locked(root: Store, days: list[str], ref: Reference, verify_key: Ed25519PublicKey, *, signing_key: Ed25519PrivateKey, since, until,
                  alpha: float, horizon_days: int, window: int, ledger, on_day) -> list[DayResult]:
    if since or until:
        lo, hi = since or days[0], until or days[-1]
        targets = [d for d in days if lo <= d <= hi]
    records = read_records(root, verify_key, dataset_id=ref.dataset_id)
    later_alarms(root, verify_key, records, dataset_id=ref.dataset_id)
    if not (since or until):
        targets = [d for d in days if d not in records]
    stats_cache: dict[str, dict] = {}
    # the clean days every target may lean on are verified again (at-rest edits after their check): a failing one alarms and leaves the window
    results = recheck_clean_window(root, ref, verify_key, records, days, targets, window=window, signing_key=signing_key,
                                   alpha=alpha, horizon_days=horizon_days, ledger=ledger)
    if on_day is not None:
        for res in results:
            on_day(res)
    targets = [d for d in targets if d not in {r.date for r in results}]
    for day in targets:
        clean = []
        for prev in reversed([d for d in days if d < day]):
            rec = records.get(prev)
            if not is_clean(rec):
                continue
            clean.append((prev, rec["stats"]))
            if len(clean) >= window:
                break
        res = check_day(day, root, ref, verify_key, list(reversed(clean)), alpha=alpha, horizon_days=horizon_days, ledger=ledger)
        mark_repeats_and_gaps(res, days, records)
        if day not in records:
            write_record(root, res, signing_key, dataset_id=ref.dataset_id)
            records[day] = res.to_dict()
        elif res.alarm and is_clean(records[day]):  # a re-check (--since/--until) alarms on a day recorded clean: it leaves the window
            write_later_alarm(root, res, signing_key, dataset_id=ref.dataset_id)
            records[day] = {**records[day], "alarm": True}
        stats_cache[day] = res.stats
        results.append(res)
        if on_day is not None:
            on_day(res)
    return results


def rows_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a day's rows regardless of their order: each row's pandas hash (every column, values and order
    of columns), sorted. Two partitions with one digest hold the same rows (ids, labels and features)."""
    import hashlib

    import pandas as pd

    hashes = np.sort(pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64))
    return hashlib.sha256(hashes.tobytes()).hexdigest()


def mark_repeats_and_gaps(res: DayResult, days: list[str], records: dict[str, dict]) -> None:
    """Set ``res.repeat_of`` (the latest earlier checked day whose rows digest equals this day's: a re-run export under
    a new date, which would count one day's variation twice) and ``res.missing_before`` (dates with no partition between
    the previous partition and this one)."""
    digest = (res.stats or {}).get("rows_digest")
    if digest:
        res.repeat_of = next((d for d in sorted(records, reverse=True)
                              if d < res.date and ((records[d].get("stats") or {}).get("rows_digest") == digest)), "")
    before = [d for d in days if d < res.date]
    if before:
        gap = (Date.fromisoformat(res.date) - Date.fromisoformat(before[-1])).days
        res.missing_before = [(Date.fromisoformat(before[-1]) + timedelta(days=i)).isoformat() for i in range(1, gap)]


def day_notes(days: list[dict]) -> list[str]:
    """One line per checked day that repeats an earlier day's rows or follows dates with no partition (records as dicts)."""
    lines = []
    for d in days:
        if d.get("repeat_of"):
            lines.append(f"{d['date']}: its {d['rows']} rows are the rows of {d['repeat_of']} again (same ids, labels and features): "
                         f"a re-run export? it was checked but does not count as a clean day (delete the partition if it is a copy)")
        missing = d.get("missing_before") or []
        if missing:
            span = missing[0] if len(missing) == 1 else f"{missing[0]} to {missing[-1]} ({len(missing)} days)"
            lines.append(f"{d['date']}: no partition for {span} before it (ingest a late day with --partition date={missing[0]} "
                         f"and run drift again: unchecked days are checked)")
    return lines


def min_rows(level: float, *, tolerate: float = TOLERATE, power: float = POWER) -> int:
    """The fewest rows a day needs before its checks can tell anything: with fewer, even a flip of
    ``tolerate`` of its rows moves its class shares (by up to ``tolerate``) less than their sampling
    error hides, in a two-sided test at ``level`` with probability ``power``.

    A necessary condition, not a sufficient one: the day-to-day variation of the clean days widens
    every null further. The share's standard error is at most 0.5 / sqrt(n), so
    ``n >= ((z_(1 - level/2) + z_power) * 0.5 / tolerate) ** 2``; 123 rows at the default level
    (0.05 over 5 tests and 30 days) for two classes.

    Parameters
    ----------
    level : float
        Per-test level (``alpha / (tests per day × horizon days)``).

    Returns
    -------
    int
        Rows.
    """
    from scipy.stats import norm

    return int(np.ceil(((norm.isf(level / 2) + norm.isf(1 - power)) * 0.5 / tolerate) ** 2))


def unsigned_rows(store: Store) -> tuple[int, int]:
    """Rows and Parquet objects in a partition folder without a manifest (Parquet footers only; unreadable objects count 0 rows)."""
    import io

    import pyarrow.parquet as pq

    from labelguard.tasks.lake import is_data_part

    rows = parts = 0
    for key in store.list():
        if not is_data_part(store, key):  # a Parquet file named without .parquet (Hive's 000000_0) counts too
            continue
        parts += 1
        try:
            rows += pq.ParquetFile(io.BytesIO(store.get(key))).metadata.num_rows
        except Exception:  # noqa: BLE001 - a broken object is still unsigned; its rows are unknown
            continue
    return rows, parts


@contextmanager
def drift_lock(root: Store, *, stale_after: float = STALE_LOCK_SECONDS):
    """Hold ``root/_drift/lock.json`` (create-only) while a drift run checks ``root``.

    Day records are create-only, so two runs at once cannot overwrite each other, but each would
    check the same days against a clean window the other is still writing, and the loser's
    results would differ from the stored record. A lock of a process that is gone (same host) or
    older than ``stale_after`` seconds is taken over.

    Raises
    ------
    BadInput
        Another drift run holds the lake (exit 2: nothing was checked).
    """
    import os
    import socket
    import uuid

    store = root.child(RECORDS)
    mine = {"pid": os.getpid(), "host": socket.gethostname(), "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "token": uuid.uuid4().hex}
    for attempt in (0, 1):
        try:
            store.put(LOCK_KEY, json.dumps(mine).encode())
            break
        except DatasetExists:
            try:
                held = json.loads(store.get(LOCK_KEY))
            except (DatasetMissing, ValueError):
                held = {}
            if attempt == 0 and _stale(held, stale_after):
                store.delete(LOCK_KEY)
                continue
            raise BadInput(f"another drift run holds {root.uri} (pid {held.get('pid', '?')} on {held.get('host', '?')}, since {held.get('started', '?')})",
                           f"wait for it to finish; if it died, delete {store.uri.rstrip('/')}/{LOCK_KEY}") from None
    try:
        yield
    finally:
        try:
            if json.loads(store.get(LOCK_KEY)).get("token") == mine["token"]:
                store.delete(LOCK_KEY)
        except (DatasetMissing, ValueError):
            pass


def _stale(held: dict, stale_after: float) -> bool:
    import os
    import socket

    try:
        age = (datetime.now(timezone.utc) - datetime.fromisoformat(held["started"])).total_seconds()
    except (KeyError, TypeError, ValueError):
        return False  # unreadable: a lock being written this instant; never taken over
    if age > stale_after:
        return True
    if held.get("host") == socket.gethostname() and isinstance(held.get("pid"), int):
        try:
            os.kill(held["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


def warmup_note(days: list[dict]) -> str:
    """One line on the warm-up days among ``days`` (records as dicts): what was and was not checked; '' when none."""
    warm = [d for d in days if d.get("warming_up")]
    if not warm:
        return ""
    span = warm[0]["date"] if len(warm) == 1 else f"{warm[0]['date']} to {warm[-1]['date']}"
    waiting = ", ".join(n for n in DRIFT_GUARDS if n != "noise_rate")
    # noise_rate's clean-day null leaves the reference out (its rate is out of fold, not comparable), so it
    # compares with the reference alone one clean day longer than the other guards wait
    alone = [d["date"] for d in days if "in the signed reference" in (((d.get("guards") or {}).get("noise_rate") or {}).get("detail") or "")]
    longer = (f" (noise_rate until {alone[-1]}: its clean-day null leaves the reference out and needs {MIN_DAYS} clean partitions)"
              if alone and alone[-1] > warm[-1]["date"] else "")
    return (f"warm-up {span}: fewer than {MIN_DAYS} clean days (the reference counts as one), so the manifest was checked and noise_rate "
            f"compared with the signed reference alone{longer}; {waiting} need {MIN_DAYS} clean days")


def markdown_table(results: list[DayResult]) -> str:
    """The days as a markdown table: date, rows, alarm, what fired, each guard's worst z against its threshold."""
    names = ["manifest", *DRIFT_GUARDS]
    lines = ["| date | rows | alarm | " + " | ".join(names) + " |", "|" + "---|" * (3 + len(names))]
    for r in results:
        g = r.guard_summary()
        cells = ["FIRED" if g["manifest"]["fired"] else "ok"]
        for n in DRIFT_GUARDS:
            s = g[n]
            cells.append(("warm-up" if r.warming_up else "—") if s.get("z") is None else f"{'**FIRED** ' if s['fired'] else ''}z={s['z']:.1f} / {s['threshold']:.1f}")
        lines.append(f"| {r.date} | {r.rows} | {r.status} | " + " | ".join(cells) + " |")
    dicts = [r.to_dict() for r in results]
    note = warmup_note(dicts)
    notes = "".join(f"\n\n{line}." for line in day_notes(dicts))
    return "\n".join(lines) + (f"\n\n{note}." if note else "") + notes


# ---------------------------------------------------------------- orchestration: schema, re-checks, warm-up, references


def schema_problems(frame: pd.DataFrame, spec: ColumnSpec) -> tuple[list[str], list]:
    """What in a partition does not fit the signed reference: one phrase per missing column or unknown label.

    Parameters
    ----------
    frame
        The partition's rows, shape (n_rows, n_columns).
    spec
        The signed reference's columns and class set.

    Returns
    -------
    tuple
        ``(problems, ids)``: phrases such as ``column intensity missing`` or
        ``label 'neg' not in the class set (0, 1): 250 rows``, and the ids of the rows whose label is
        outside the class set (empty when the id column is missing). No problems: ``([], [])``.
    """
    import pandas as pd

    needed = (spec.id_col, spec.label_col, *spec.feature_cols, *spec.text_cols)
    problems = [f"column {c} missing" for c in dict.fromkeys(needed) if c not in frame.columns]
    if spec.label_col not in frame.columns:
        return problems, []
    known = {to_py(c) for c in spec.classes}
    labels = frame[spec.label_col]
    # a label's type matters: 'neg' is not 0, and the string '1' is not the class 1
    outside = labels.map(lambda v: pd.isna(v) or to_py(v) not in known or isinstance(to_py(v), str) != isinstance(next(iter(known), 0), str))
    if not outside.any():
        return problems, []
    classes = ", ".join(repr(to_py(c)) for c in spec.classes)
    counts = labels[outside].astype(object).map(lambda v: "a missing label" if pd.isna(v) else f"label {to_py(v)!r}").value_counts()
    for what in sorted(counts.index):
        problems.append(f"{what} not in the class set ({classes}): {counts[what]} row{'s' if counts[what] != 1 else ''}")
    ids = frame.loc[outside.to_numpy(), spec.id_col].tolist() if spec.id_col in frame.columns else []
    return problems, [to_py(i) for i in ids]


def is_clean(rec: dict | None) -> bool:
    """Whether a day record may serve in the clean window: checked, no alarm, statistics present, not the rows of an
    earlier day again, and, if it was a warm-up day, checked against the signed reference (noise_rate ran) rather than
    only its manifest."""
    if rec is None or rec.get("alarm") or rec.get("stats") is None or rec.get("cannot_tell") or rec.get("repeat_of"):
        return False
    return not rec.get("warming_up") or any(t.get("guard") == "noise_rate" for t in rec.get("tests") or [])


def warmup_status(clean_days: int) -> str:
    """The alarm column of a warm-up day: ``warming up (k of N clean days): manifest checked, ...`` (the reference counts as one)."""
    return f"warming up ({clean_days + 1} of {MIN_DAYS} clean days): manifest checked"


LATER = "alarms"  # _drift/alarms/date=DAY.json: a later, signed alarm on a day recorded clean (records are create-only)


def write_later_alarm(root: Store, result: DayResult, signing_key: Ed25519PrivateKey, *, dataset_id: str) -> bool:
    """Sign and store a later alarm on a day whose record says clean (``_drift/alarms/date=DAY.json``, create-only).

    The day's own record is never rewritten; :func:`later_alarms` reads this one back so the day
    leaves the clean window of every later run.
    """
    from labelguard.tasks.manifest import sign_manifest

    payload = json.loads(json.dumps({"kind": RECORD_KIND + ".alarm", "dataset": dataset_id, **result.to_dict()}, default=str))
    try:
        root.child(RECORDS).child(LATER).put(record_key(result.date), sign_manifest(payload, signing_key).to_bytes())
        return True
    except DatasetExists:
        return False


def later_alarms(root: Store, verify_key: Ed25519PublicKey, records: dict[str, dict], *, dataset_id: str | None = None) -> dict[str, dict]:
    """Apply the signed later alarms (:func:`write_later_alarm`) to ``records`` in place: such a day reads as alarmed.

    Raises
    ------
    UntrustedInput
        A later alarm that is not signed by the verify key or names another date or dataset.
    """
    found = dict(_signed_records(root.child(RECORDS).child(LATER), verify_key, RECORD_KIND + ".alarm", dataset_id))
    for day, payload in found.items():
        if day in records:
            records[day] = {**records[day], "alarm": True, "later_alarm": payload.get("fired")}
    return found


def recheck_clean_window(root: Store, ref: Reference, verify_key: Ed25519PublicKey, records: dict[str, dict], days: list[str], targets: list[str], *,
                         window: int, signing_key: Ed25519PrivateKey, alpha: float = ALPHA, horizon_days: int = HORIZON_DAYS, ledger=None) -> list[DayResult]:
    """Verify the manifests of the recorded clean days the targets' windows (or the next day's) draw on, again.

    A day checked clean yesterday may have been edited at rest since; its digests no longer match.
    Such a day is checked again (:func:`check_day`, which names the changed rows), a signed later
    alarm is stored (:func:`write_later_alarm`) and ``records`` marks it alarmed, so it leaves the
    clean window. Cheap: one manifest and digest check per day, at most ``window`` days before the
    first target plus the recorded days after it.

    Returns
    -------
    list of DayResult
        The re-checked days that now alarm, in date order (empty when every manifest verifies).
    """
    from labelguard.tasks.dataset import load_verified

    first = min(targets) if targets else "9999-12-31"
    # a day recorded clean whose partition folder is gone counts too: deleting a signed day is an edit at rest (break-it r9 F3)
    known = sorted(set(days) | {d for d in records if is_clean(records.get(d))})
    before = [d for d in known if d < first and is_clean(records.get(d))][-window:]
    after = [d for d in known if d >= first and d not in targets and is_clean(records.get(d))]
    out = []
    for day in before + after:
        if day not in days:
            res = DayResult(day, root.child(part_name(day)).uri, 0, "object-missing",
                            f"changed since it was checked clean at {records[day].get('checked_at')}: the partition {part_name(day)} is gone "
                            "(its signed clean record remains)", checked_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
            write_later_alarm(root, res, signing_key, dataset_id=ref.dataset_id)
            records[day] = {**records[day], "alarm": True}
            out.append(res)
            continue
        try:
            rep = load_verified(root.child(part_name(day)), verify_key, roles=("partition",), ledger=ledger)
            ok = rep.ok and rep.manifest is not None and records[day].get("manifest_sha256") in (None, manifest_sha(rep.manifest))
        except DatasetMissing:
            ok = False
        if ok:
            continue
        clean = [(d, records[d]["stats"]) for d in days if d < day and is_clean(records.get(d))][-window:]
        res = check_day(day, root, ref, verify_key, clean, alpha=alpha, horizon_days=horizon_days, ledger=ledger)
        if res.integrity != "ok":
            res.integrity_detail = f"changed since it was checked clean at {records[day].get('checked_at')}: {res.integrity_detail}"
        if not res.alarm:  # verified on a second read, or re-signed since the record: say so rather than pass silently
            res.integrity, res.integrity_detail = "re-signed", (f"the manifest of {part_name(day)} changed since the day was checked clean "
                                                               f"(sha256 {str(records[day].get('manifest_sha256'))[:12]}…): its rows were re-signed")
        write_later_alarm(root, res, signing_key, dataset_id=ref.dataset_id)
        records[day] = {**records[day], "alarm": True}
        out.append(res)
    return out


def manifest_sha(manifest: SignedManifest) -> str:
    from labelguard.tasks.ledger import manifest_digest

    return manifest_digest(manifest)


def reference_origin(root: Store, manifest: SignedManifest, *, given: str | None) -> tuple[str, str | None]:
    """The dataset a verified reference speaks for, and the partition date it was carved from (if any).

    The lake's own ``holdout`` is bound to the lake's dataset id. A signed baseline (``labelguard
    baseline``) carries its own id and, signed inside it, the dataset it was derived from
    (``source.from_dataset``): derived from this lake (its holdout or a partition), it is accepted
    for the lake's dataset.

    Raises
    ------
    BadInput
        ``--reference`` belongs to another dataset than the partitions (a configuration mistake, exit 2, not an alarm).
    """
    payload = manifest.payload
    own = str(payload["dataset"]["id"])
    origin = (payload.get("source") or {}).get("from_dataset") or {}
    lake = dataset_id_at(root)
    day = (payload.get("source") or {}).get("date")
    if lake is None or lake == own:
        return own, day
    if origin.get("id") == lake:
        if origin.get("role") == "holdout":  # the baseline of the lake's holdout: the same day as the holdout
            from labelguard.tasks.dataset import MANIFEST_KEY

            try:
                day = (SignedManifest.from_bytes(root.child(REFERENCE).get(MANIFEST_KEY)).payload.get("source") or {}).get("date")
            except Exception:  # only decides which day is not counted twice; the holdout itself is not used
                day = None
        elif str(origin.get("part", "")).startswith("date="):
            day = str(origin["part"])[5:]
        return lake, day
    where = f"--reference {given}" if given else "the reference"
    raise BadInput(f"{where} belongs to dataset {origin.get('id') or own}, the partitions to {lake}",
                   "pass a reference of this dataset: its holdout, or `labelguard baseline URI/holdout --out DIR`")
