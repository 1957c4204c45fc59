"""Guards (blue team): each inspects the candidate training data and returns a structured verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd

from labelguard.errors import UnknownName
from labelguard.tasks.dataset import IntegrityReport, sort_ids
from labelguard.tasks.manifest import ColumnSpec, label_histogram, to_py as _py

if TYPE_CHECKING:  # scipy, pandera and the attack library load where a guard needs them: integrity-only verify stays light
    from labelguard.tasks.transforms import TransformSpec

MAX_LISTED_IDS = 10


@dataclass
class GuardContext:
    """Everything a guard may look at; a guard whose inputs are absent reports itself skipped."""

    frame: pd.DataFrame
    spec: ColumnSpec
    integrity: IntegrityReport | None = None
    before: pd.DataFrame | None = None
    transform: TransformSpec | None = None
    reference: pd.DataFrame | None = None  # trusted rows (a signed baseline, or the trusted holdout)
    holdout: pd.DataFrame | None = None  # trusted golden holdout for the model gate
    options: dict[str, Any] = field(default_factory=dict)
    # fits and neighbour searches shared by the guards (and verify's flip posterior) on the same rows:
    # keyed by the rows' bytes, so only identical inputs share (labelguard.tasks.detectors._fold_fits)
    memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def reference_class_counts(self) -> dict[str, int] | None:
        return label_histogram(self.reference, self.spec.label_col) if self.reference is not None else None


@dataclass
class GuardResult:
    """One guard's verdict on the candidate.

    ``verdict`` is one of ``pass``, ``fired``, ``inconclusive``, ``skipped``. ``passed`` is kept for
    compatibility and means "did not fire" (``verdict != "fired"``): an inconclusive guard has
    ``passed=True``; read ``verdict`` to tell it from a pass. ``power`` is the smallest flip rate
    the guard would detect (see :mod:`labelguard.tasks.power`; the worst class), ``class_power`` the
    same per class; both are None for guards that do not test a flip rate.
    """

    name: str
    passed: bool
    detail: str
    suspect_ids: list | None = None
    skipped: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)
    power: float | None = None
    class_power: dict[str, float] | None = None
    inconclusive: bool = False
    tolerance: float | None = None  # the guard's own tolerance in its power's units (model gate: accuracy points); None: the user's flip rate

    @property
    def verdict(self) -> str:
        if self.skipped:
            return "skipped"
        if not self.passed:
            return "fired"
        return "inconclusive" if self.inconclusive else "pass"

    @property
    def fired(self) -> bool:
        return self.verdict == "fired"

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "verdict": self.verdict, "passed": self.passed, "skipped": self.skipped, "detail": self.detail,
               "power": output_rate(self.power), "class_power": output_rate(self.class_power), "metrics": self.metrics}
        if self.suspect_ids is not None:
            out["suspect_ids"] = [_py(i) for i in self.suspect_ids]
        return out


def output_rate(value):
    """A rate (or a dict of rates) as written for people and JSON: 4 decimals, so a power on its 0.005 grid reads 0.47,
    not 0.47000000000000003. Decisions use the unrounded values; only what is written out is rounded."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {k: output_rate(v) for k, v in value.items()}
    return round(float(value), 4)


def apply_tolerance(results: list[GuardResult], tolerate: float) -> list[GuardResult]:
    """Mark every pass whose power is above its tolerance inconclusive, in place.

    The tolerance is ``tolerate``, a flip rate per class, for every guard whose power is one. A
    guard with its own ``tolerance`` (the model gate: a 2-point accuracy drop, the material damage)
    has already decided pass or inconclusive from a confidence bound on the damage itself, which no
    flip tolerance changes.
    """
    for g in results:
        if g.tolerance is not None:  # its own criterion (the model gate: its upper bound on the damage), decided by the guard
            continue
        if g.verdict == "pass" and g.power is not None and g.power > tolerate + 1e-12:
            g.inconclusive = True
    return results


def _power_text(power: float | None) -> str:
    if power is None:
        return ""
    return "; power: cannot see a flip of every row of some class" if power >= 1.0 else f"; power: sees a flip of {power:.0%} of any class"


Guard = Callable[[GuardContext], GuardResult]


@dataclass(frozen=True)
class GuardSpec:
    name: str
    fn: Guard
    description: str


REGISTRY: dict[str, GuardSpec] = {}


def register_guard(name: str):
    def decorate(fn: Guard) -> Guard:
        REGISTRY[name] = GuardSpec(name, fn, (fn.__doc__ or name).strip().splitlines()[0])
        return fn

    return decorate


def get_guard(name: str) -> GuardSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownName("guard", name, list(REGISTRY)) from None


@dataclass(frozen=True)
class GuardProgress:
    """One step of :func:`run_guards` for a progress display: a guard starting, or done (``done``).

    ``index`` counts from 1 to ``total``; ``seconds`` is the step's wall time (0.0 when starting);
    ``rows`` the rows of the data checked (a display may stay quiet on small data). No verdict: the
    caller's tolerance and the holdout overlap may still turn a pass inconclusive.
    """

    index: int
    total: int
    name: str
    done: bool = False
    seconds: float = 0.0
    rows: int = 0


def run_guards(ctx: GuardContext, names: list[str] | None = None, *, on_progress: Callable[[GuardProgress], None] | None = None) -> list[GuardResult]:
    """Run the named guards (default: every registered one) in order.

    Parameters
    ----------
    ctx
        What the guards look at.
    names
        Registered guard names, run in this order.
    on_progress
        Called with a :class:`GuardProgress` as each guard starts and when it is done (a CI gate on
        100,000 rows runs for minutes; the caller decides whether and where to show it).

    Returns
    -------
    list of GuardResult, one per name, in order. The model-based guards (:data:`MODEL_BASED`) share
    one model family, chosen on the trusted reference rows by
    :func:`labelguard.tasks.detectors.choose_model_family` (kept in ``ctx.memo["detector_model"]``).
    """
    from contextlib import nullcontext

    chosen = names or list(REGISTRY)
    rows = 0 if ctx.frame is None else len(ctx.frame)
    results = []
    family = nullcontext()
    if set(chosen) & MODEL_BASED and ctx.frame is not None and rows:
        from labelguard.tasks.detectors import detector_model

        # one model family for every model-based guard of this check, chosen on the trusted rows (ctx.memo keeps it)
        family = detector_model(ctx.frame, ctx.spec, ctx.reference, ctx.memo)
    with family:
        _run_each(ctx, chosen, rows, results, on_progress)
    return results


# guards whose verdict rests on a fitted model's probabilities (the family is chosen per dataset:
# labelguard.tasks.detectors.choose_model_family)
MODEL_BASED = {"confident_learning", "reference_model", "model_gate"}


def _run_each(ctx: GuardContext, chosen: list[str], rows: int, results: list, on_progress) -> None:
    import time

    for i, name in enumerate(chosen, 1):
        guard = get_guard(name)
        if on_progress is not None:
            on_progress(GuardProgress(i, len(chosen), name, rows=rows))
        started = time.perf_counter()
        results.append(guard.fn(ctx))
        if on_progress is not None:
            on_progress(GuardProgress(i, len(chosen), name, True, time.perf_counter() - started, rows))


def _skip(name: str, why: str) -> GuardResult:
    return GuardResult(name, passed=True, detail=f"skipped: {why}", skipped=True)


def _ids_preview(ids: list) -> str:
    shown = ", ".join(map(str, ids[:MAX_LISTED_IDS]))
    return shown + (f", … (+{len(ids) - MAX_LISTED_IDS})" if len(ids) > MAX_LISTED_IDS else "")


@register_guard("manifest")
def manifest_guard(ctx: GuardContext) -> GuardResult:
    """Signed manifest: trusted key, valid signature, pinned version, object digest, rows, labels digest."""
    if ctx.integrity is None:
        return _skip("manifest", "no stored dataset to verify")
    rep = ctx.integrity
    suspects = [] if rep.ok else rep.suspect_ids
    return GuardResult("manifest", rep.ok, f"{rep.code}: {rep.detail}", suspect_ids=suspects, metrics={"code": rep.code, **rep.observed})


@register_guard("label_contract")
def label_contract_guard(ctx: GuardContext) -> GuardResult:
    """A transform not declared to change labels must leave every (id, label) pair as it was."""
    if ctx.before is None or ctx.transform is None:
        return _skip("label_contract", "no transform input to compare with")
    s = ctx.spec
    if ctx.transform.changes_labels:
        return _skip("label_contract", f"transform {ctx.transform.name!r} declares that it changes labels")
    before = ctx.before.set_index(s.id_col)[s.label_col]
    after = ctx.frame.set_index(s.id_col)[s.label_col]
    common = after.index.intersection(before.index)
    changed = common[before.loc[common].to_numpy() != after.loc[common].to_numpy()]
    added = after.index.difference(before.index)
    suspects = sort_ids(changed.tolist() + added.tolist())
    if not suspects:
        return GuardResult("label_contract", True, f"transform {ctx.transform.name!r}: {len(common)} labels unchanged", suspect_ids=[])
    detail = f"transform {ctx.transform.name!r} changed {len(changed)} label(s)"
    if len(added):
        detail += f" and added {len(added)} row(s)"
    detail += f": {_ids_preview(suspects)}"
    return GuardResult("label_contract", False, detail, suspect_ids=suspects, metrics={"changed": len(changed), "added": len(added)})


@register_guard("schema")
def schema_guard(ctx: GuardContext) -> GuardResult:
    """The pandera review schema, validated lazily: ids unique, features finite, labels in the class set."""
    from labelguard.schemas.reviews import validate_reviews

    _, failures = validate_reviews(ctx.frame, ctx.spec)
    if failures is None:
        return GuardResult("schema", True, f"{len(ctx.frame)} rows valid", suspect_ids=[])
    # pandera reports each failing row by its index label (not its position): a frame indexed 5..24 or by text must name the same rows
    bad = ctx.frame.index.isin(failures["index"].dropna())
    ids = sort_ids(ctx.frame.loc[bad, ctx.spec.id_col].tolist()) if ctx.spec.id_col in ctx.frame else []
    checks = sorted({f"{c}:{k}" for c, k in zip(failures["column"].astype(str), failures["check"].astype(str))})
    # rows by id; without an id column by position; a check of a whole column (a missing column) names no rows
    where = f" in rows {_ids_preview(ids)}" if ids else (f" at 0-based row positions {_ids_preview(np.flatnonzero(bad).tolist())}" if bad.any() else "")
    return GuardResult("schema", False, f"{len(failures)} failure(s) ({'; '.join(checks)}){where}", suspect_ids=ids, metrics={"failures": len(failures)})


def _class_names(spec: ColumnSpec) -> list[str]:
    return [str(c.item() if isinstance(c, np.generic) else c) for c in spec.classes]


def _codes(frame: pd.DataFrame, spec: ColumnSpec) -> np.ndarray:
    from labelguard.tasks.classes import class_codes

    return class_codes(spec.classes, frame[spec.label_col].to_numpy())


def _worst(per_class: dict[str, dict], shown: int = 4) -> list[str]:
    return sorted(per_class, key=lambda c: per_class[c]["p_value"])[:shown]


@register_guard("class_balance")
def class_balance_guard(ctx: GuardContext, *, alpha: float = 1e-3) -> GuardResult:
    """Each class's share against a trusted reference (Fisher exact per class, Bonferroni): a 1 % class is tested on its own."""
    from labelguard.tasks.power import share_tests

    if ctx.reference is None or not len(ctx.reference):
        return _skip("class_balance", "no reference class counts")
    alpha = float(ctx.options.get("class_balance_alpha", alpha))
    names = _class_names(ctx.spec)
    k = len(names)
    counts = np.bincount(_codes(ctx.frame, ctx.spec), minlength=k)[:k]
    ref_counts = np.bincount(_codes(ctx.reference, ctx.spec), minlength=k)[:k]
    if (counts > 0).sum() < 2:
        return GuardResult("class_balance", False, "only one class present", metrics={"observed": dict(zip(names, counts.tolist()))})
    tests = dict(zip(names, share_tests(counts, ref_counts, alpha)))
    level = alpha / k
    fired = [c for c, t in tests.items() if t["p_value"] < level]
    shown = ", ".join(f"class {c}: {tests[c]['share']:.1%} vs {tests[c]['reference_share']:.1%} (p={tests[c]['p_value']:.2g})"
                      for c in (names if k <= 4 else _worst(tests)))
    class_power = {c: t["power"] for c, t in tests.items()}
    power = max(class_power.values())
    return GuardResult(
        "class_balance", not fired,
        f"{shown}{'' if k <= 4 else f' (worst {min(4, k)} of {k})'}; fires below {level:.2g} per class{_power_text(power)}",
        metrics={"p_value": min(t["p_value"] for t in tests.values()), "per_class": tests, "fired_classes": fired,
                 "shares": {c: t["share"] for c, t in tests.items()}, "reference_shares": {c: t["reference_share"] for c, t in tests.items()}},
        power=power, class_power=class_power,
    )


ALPHA = 1e-3  # every dataset-level test: calibrated in bench/calibrate.py to <= 1 % false alarms


def _excess(k: int, n: int, k_ref: int, n_ref: int) -> float:
    """One-sided two-proportion z-test: is the candidate's rate k/n above the reference's k_ref/n_ref?"""
    from scipy.stats import norm

    p, p_ref = k / max(1, n), k_ref / max(1, n_ref)
    pooled = (k + k_ref) / max(1, n + n_ref)
    se = np.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / max(1, n) + 1 / max(1, n_ref)))
    return float(norm.sf((p - p_ref) / se))


def _ids(ctx: GuardContext, mask: np.ndarray) -> list:
    return sort_ids(ctx.frame[ctx.spec.id_col].to_numpy()[mask].tolist())


def _fraction_verdict(name: str, ctx: GuardContext, mask: np.ndarray, ref_mask: np.ndarray | None, what: str,
                      ref_what: str = "on the reference") -> GuardResult:
    ids = _ids(ctx, mask)
    k, n = int(mask.sum()), len(mask)
    if ref_mask is None:
        return GuardResult(name, True, f"{k} of {n} rows {what} ({k / max(1, n):.1%}); no reference, so no dataset verdict", suspect_ids=ids, metrics={"suspect_fraction": k / max(1, n)})
    p = _excess(k, n, int(ref_mask.sum()), len(ref_mask))
    passed = p >= ALPHA
    return GuardResult(
        name, passed,
        f"{k} of {n} rows {what} ({k / max(1, n):.1%} vs {ref_mask.mean():.1%} {ref_what}; one-sided p={p:.2g}, fires below {ALPHA:g})",
        suspect_ids=ids, metrics={"suspect_fraction": k / max(1, n), "reference_fraction": float(ref_mask.mean()), "p_value": p},
    )


@register_guard("class_conditional")
def class_conditional_guard(ctx: GuardContext) -> GuardResult:
    """Per-class feature means against the reference (Hotelling T²): flips move them even when the prior stays put."""
    from labelguard.tasks.detectors import class_conditional_shift

    if ctx.reference is None:
        return _skip("class_conditional", "no trusted reference rows")
    per_class = class_conditional_shift(ctx.frame, ctx.spec, ctx.reference, alpha=ALPHA)
    if not per_class:
        return _skip("class_conditional", "too few rows per class")
    threshold = ALPHA / len(per_class)
    passed = all(v["p_value"] >= threshold for v in per_class.values())
    class_power = {c: float(v["power"]) for c, v in per_class.items()}
    power = max(class_power.values())
    shown = ", ".join(f"class {c}: mean shift {per_class[c]['shift_sd']:.2g} sd (p={per_class[c]['p_value']:.2g})"
                      for c in (per_class if len(per_class) <= 4 else _worst(per_class)))
    untested = [c for c in map(str, _class_names(ctx.spec)) if c not in per_class]
    if untested:  # a 1 % class of a 99:1 set can have fewer rows than features: say so rather than leave it out
        # the matrix's width, text components included: "the 3 features" of a 53-column text matrix (break-it r9 F4)
        width = next(iter(per_class.values()))["features"]
        shown += (f"; not tested (no more rows than the {width} features in the data or the reference): "
                  + ", ".join(f"class {c}" for c in untested[:4]) + (f" and {len(untested) - 4} more" if len(untested) > 4 else ""))
    return GuardResult("class_conditional", passed, f"{shown}; fires below {threshold:.2g} (Bonferroni){_power_text(power)}",
                       metrics={"per_class": per_class, "worst": _worst(per_class, 1)[0]}, power=power, class_power=class_power)


@register_guard("duplicate_conflicts")
def duplicate_conflicts_guard(ctx: GuardContext) -> GuardResult:
    """Identical feature rows that carry different labels: the minority label of each group is suspect.

    The verdict compares labels within the feature cells the candidate shares with the reference
    (a per-class Cochran–Mantel–Haenszel test), whose null does not grow with sample size; counting
    conflicts would (a larger sample has more rows that share a cell with another label).
    """
    from labelguard.tasks.detectors import duplicate_conflicts, feature_cells
    from labelguard.tasks.power import cell_label_test

    mask = duplicate_conflicts(ctx.frame, ctx.spec)
    ids = _ids(ctx, mask)
    k_conf = len(ids)
    if ctx.reference is None:
        return GuardResult("duplicate_conflicts", True, f"{k_conf} conflicting duplicate row(s); no reference to tell natural conflicts from flips",
                           suspect_ids=ids, metrics={"conflicts": k_conf})
    names = _class_names(ctx.spec)
    test = cell_label_test(feature_cells(ctx.frame, ctx.spec), _codes(ctx.frame, ctx.spec),
                           feature_cells(ctx.reference, ctx.spec), _codes(ctx.reference, ctx.spec), len(names), ALPHA)
    metrics = {"conflicts": k_conf, "matched_rows": test["matched_rows"], "p_value": test["p_min"]}
    if test["matched_rows"] == 0:
        return GuardResult("duplicate_conflicts", True, f"{k_conf} conflicting duplicate row(s); no feature cell shared with the reference, so no verdict",
                           suspect_ids=ids, metrics=metrics)
    per_class = {names[c]: v for c, v in test["per_class"].items()}
    class_power = {c: v["power"] for c, v in per_class.items()}
    power = max(class_power.values())
    worst = min(per_class, key=lambda c: per_class[c]["p_value"])
    w = per_class[worst]
    return GuardResult(
        "duplicate_conflicts", test["p_min"] >= test["level"],
        f"{k_conf} conflicting duplicate row(s); within the {test['cells']} feature cells shared with the reference "
        f"({test['matched_rows']} rows) class {worst} has {w['observed']:.0f} rows vs {w['expected']:.1f} expected "
        f"(CMH p={w['p_value']:.2g}, fires below {test['level']:.2g}){_power_text(power)}",
        suspect_ids=ids, metrics={**metrics, "per_class": per_class}, power=power, class_power=class_power,
    )


def _self_contained(name: str, ctx: GuardContext, detector, min_rows: int, what: str) -> GuardResult:
    """Run a self-contained detector on the candidate, and on the reference for the verdict's baseline rate."""
    if len(ctx.frame) < min_rows:
        return _skip(name, f"fewer than {min_rows} rows")
    found = detector(ctx.frame, ctx.spec, memo=ctx.memo).suspect
    ref = detector(ctx.reference, ctx.spec, memo=ctx.memo).suspect if ctx.reference is not None and len(ctx.reference) >= min_rows else None
    return _fraction_verdict(name, ctx, found, ref, what)


@register_guard("confident_learning")
def confident_learning_guard(ctx: GuardContext) -> GuardResult:
    """Self-contained: cleanlab's confident learning on out-of-fold logistic-regression probabilities."""
    from labelguard.tasks.detectors import confident_learning

    return _self_contained("confident_learning", ctx, confident_learning, 50, "look mislabelled to confident learning")


@register_guard("knn_consistency")
def knn_consistency_guard(ctx: GuardContext) -> GuardResult:
    """Self-contained: a row is suspect when 70 % of its 10 nearest neighbours carry another label."""
    from labelguard.tasks.detectors import knn_consistency

    if ctx.reference is None or len(ctx.frame) < 20 or len(ctx.reference) < 20:
        return _self_contained("knn_consistency", ctx, knn_consistency, 20, "disagree with their neighbourhood")
    # the trusted rows are scored against the candidate's rows, as each candidate row is: the rule's rate depends on how
    # many rows the neighbours are drawn from (ties, duplicates, the neighbours' distance), so the rule run on the trusted
    # rows alone, a smaller pool, is not the candidate's clean rate (break-it r18 F1)
    from labelguard.tasks.detectors import KNN_ETA, _xy, feature_scaler, neighbourhood_disagreement

    X, codes, _ = _xy(ctx.frame, ctx.spec)
    Xr, codes_r, _ = _xy(ctx.reference, ctx.spec)
    scaler = feature_scaler().fit(X)
    Z = scaler.transform(X)  # knn_consistency's own scaling of the candidate, made once for both sides
    found = neighbourhood_disagreement(Z, codes, memo=ctx.memo) >= KNN_ETA
    ref = neighbourhood_disagreement(Z, codes, Z_query=scaler.transform(Xr), codes_query=codes_r) >= KNN_ETA
    return _fraction_verdict("knn_consistency", ctx, found, ref, "disagree with their neighbourhood",
                             ref_what="of the trusted rows, each scored against these rows")


EVIDENCE_ALPHA = 0.05  # reference_model: below it (Bonferroni-corrected as its firing level) an excess disagreement is evidence of flips


@register_guard("reference_model")
def reference_model_guard(ctx: GuardContext) -> GuardResult:
    """Reference-anchored: a model fitted on the trusted reference scores each label; per-class disagreement tests."""
    from labelguard.tasks.detectors import reference_anchored, reference_predictions
    from labelguard.tasks.power import disagreement_tests

    if ctx.reference is None:
        return _skip("reference_model", "no trusted reference rows")
    res = reference_anchored(ctx.frame, ctx.spec, ctx.reference, memo=ctx.memo)
    names = _class_names(ctx.spec)
    pred, codes, pred_ref, codes_ref = reference_predictions(ctx.frame, ctx.spec, ctx.reference, memo=ctx.memo)
    t = disagreement_tests(pred, codes, pred_ref, codes_ref, len(names), ALPHA)
    per_class = {names[c]: v for c, v in t["per_class"].items()}
    class_power = {c: v["power"] for c, v in per_class.items()}
    power = max(class_power.values())
    ids = _ids(ctx, res.suspect)
    o = t["overall"]
    worst = min(per_class, key=lambda c: per_class[c]["p_value"])
    w = per_class[worst]
    test = f"labels disagree with the reference model on {o['rate']:.1%} of rows vs {o['reference_rate']:.1%} out of fold on the reference (p={o['p_value']:.2g})"
    # EM's flip rate reads a weak reference model's own errors as flips (clean 40-class data, 25 trusted rows a class: 29.2 %,
    # 1,294 rows); where none of the guard's disagreement tests (overall, per class) shows an excess at the conventional
    # 0.05 with the guard's own Bonferroni correction, the figure is not evidence of flips and is not given as an estimate
    # (a guard that fires always shows one: its level is the same correction at ALPHA)
    evidence = t["p_min"] < t["level"] * EVIDENCE_ALPHA / ALPHA
    head = (f"estimated flip rate {res.estimate:.1%}, {len(ids)} suspect row(s); {test}" if evidence else
            f"no evidence of flips: {test}; EM's flip rate {res.estimate:.1%} ({len(ids)} row(s) ranked) is within the model's own errors")
    return GuardResult(
        "reference_model", t["p_min"] >= t["level"],
        f"{head}; worst class {worst}: {w['rate']:.1%} vs {w['reference_rate']:.1%} (p={w['p_value']:.2g}); fires below {t['level']:.2g}{_power_text(power)}",
        suspect_ids=ids,
        metrics={"estimated_flip_rate": res.estimate, "disagreement": o["rate"], "reference_disagreement": o["reference_rate"],
                 "p_value": t["p_min"], "per_class": per_class},
        power=power, class_power=class_power,
    )


GATE_ALPHA = ALPHA
SKILL_ALPHA = 0.05  # below it the reference model's predictions depend on the labels: the gate runs (share test: below GATE_ALPHA)


@register_guard("model_gate")
def model_gate_guard(ctx: GuardContext, *, min_accuracy_drop: float = 0.02, min_share_shift: float = 0.02,
                     min_recall_drop: float | None = None) -> GuardResult:
    """A model trained on the candidate must match the reference model's holdout accuracy and each class's true holdout share.

    The reference model never scores a holdout row it was trained on (rows shared by reference and
    holdout are cross-fitted). It fires on a significant drop (sign test at :data:`GATE_ALPHA`) or
    share gap larger than its practical gap (2 points: the material damage). It *passes* only when
    the holdout shows the accuracy drop is below that gap: the one-sided 95 % upper bound on the
    candidate model's accuracy drop against the reference model's, from the rows where the two
    disagree (:func:`~labelguard.tasks.power.paired_difference_bounds`), must be under 2 points. A
    bound that straddles the gap is ``inconclusive``: the holdout cannot tell material damage from
    none. This needs no power calculation and no tolerance: when the two models barely disagree,
    even a small holdout excludes a 2-point drop.

    The same bound on each class's predicted share (candidate vs reference model) is reported
    (``share_move_upper``) but by default does not decide a pass: two clean models fitted on
    different samples of overlapping classes differ in predicted share by several points (a
    64 %-accuracy problem, 1,000 holdout rows: 3.3 points), so a share bound would make most clean
    datasets "cannot tell" (measured on 60 clean runs of the regime grid, 500-row holdouts: passes
    fall from 75 % to 22 %); significant share gaps still fire. ``ctx.options["share_gap"]`` (a
    share in (0, 1], e.g. 0.02) makes the bound decide as well, for users whose business figure is a
    class's predicted share: the gate then passes only when the holdout also rules out a move of
    that size. ``power`` (holdout accuracy points) is the drop the sign test sees 80 % of the time
    (:func:`gate_power`), reported for information.

    Each class's recall is judged on that class's holdout rows alone (:func:`class_recall_damage`):
    a 1 % class can lose all of its recall while accuracy and shares move a point. The gate fires
    on a significant recall drop of more than ``min_recall_drop`` (default :data:`RECALL_GAP`) and
    passes only when every class's bound on it is below that gap (``ctx.options["recall_gap"]``,
    verify's ``--recall-gap``, sets it when the keyword is not given); ``metrics["per_class_recall"]``
    gives each class's rows, drop, bound, p-value and power.
    """
    from labelguard.tasks.detectors import paired_gate
    from labelguard.tasks.power import VOUCH_ALPHA, paired_difference_bounds

    if ctx.reference is None or ctx.holdout is None:
        return _skip("model_gate", "needs a trusted reference and a golden holdout")
    if min_recall_drop is None:  # verify's --recall-gap, else the default
        min_recall_drop = ctx.options.get("recall_gap") or RECALL_GAP
    g = paired_gate(ctx.frame, ctx.reference, ctx.holdout, ctx.spec, memo=ctx.memo)
    n_h = max(1, g["holdout_rows"])
    no_info = float(ctx.holdout[ctx.spec.label_col].value_counts(normalize=True).max())
    skill_p = g["reference_skill_p"]
    if skill_p > SKILL_ALPHA:
        # the trusted model's predictions are independent of the labels: there is no accuracy the
        # holdout can show a model losing, and a clean candidate collapsed onto the commonest class
        # would look like a moved class share
        return _skip(
            "model_gate",
            f"the reference model has no skill on this holdout (predictions independent of the labels, p={skill_p:.2g}; "
            f"accuracy {g['reference_accuracy']:.3f} vs {no_info:.3f} by always predicting the commonest class)",
        )
    acc_bad = g["accuracy_p"] < GATE_ALPHA and g["reference_accuracy"] - g["accuracy"] > min_accuracy_drop
    # the share test measures the candidate against the reference model's own share bias: it needs a
    # reference whose skill is established at the gate's level, the accuracy test does not
    share_bad = g["share_p"] < GATE_ALPHA and g["share_gap"] > min_share_shift and skill_p < GATE_ALPHA
    power = gate_power(n_h, 2 * g["discordant_better"], GATE_ALPHA, floor=min_accuracy_drop)
    # what the holdout vouches for: an upper bound on the accuracy drop (and, reported only, on every class's share move)
    drop_upper = paired_difference_bounds(g["discordant_worse"], g["discordant_better"], n_h, VOUCH_ALPHA)[1]
    moves = []
    for c, (alone_cand, alone_ref) in enumerate(g.pop("share_moves")):
        lo, hi = paired_difference_bounds(alone_cand, alone_ref, n_h, VOUCH_ALPHA)
        moves.append((max(hi, -lo), c))
    share_upper, share_c = max(moves)
    g["accuracy_drop_upper"], g["share_move_upper"] = drop_upper, share_upper
    g["share_move_class"] = _py(ctx.spec.classes[share_c])
    share_gap = ctx.options.get("share_gap")
    share_vouched = share_gap is None or share_upper < share_gap
    recall = class_recall_damage(g.pop("recall_moves", None), [_py(c) for c in ctx.spec.classes], min_recall_drop,
                                 skilled=skill_p < GATE_ALPHA, accuracy_gap=min_accuracy_drop)
    if recall is not None:
        g["per_class_recall"], g["recall_drop_upper"], g["recall_drop_class"] = recall["per_class"], recall["upper"], recall["class"]
        g["recall_gap"] = min_recall_drop
    recall_bad = recall is not None and bool(recall["fired"])
    recall_vouched = recall is None or not recall["blind"]
    vouched = drop_upper < min_accuracy_drop and share_vouched and recall_vouched
    fired = acc_bad or share_bad or recall_bad
    if share_gap is not None:
        g["share_move_tolerance"] = float(share_gap)  # ("share_gap" is the observed gap of the share test)
    bound = (f"95 % bound on the accuracy drop {drop_upper:.1%}" + ("" if drop_upper < min_accuracy_drop or fired else f" (cannot rule out {min_accuracy_drop:.0%})")
             + f", on a share move {share_upper:.1%} (class {g['share_move_class']}"
             + ("" if share_vouched or fired else f"; cannot rule out {share_gap * 100:g}%") + ")")
    return GuardResult(
        "model_gate", not fired,
        f"holdout accuracy {g['accuracy']:.3f} vs reference {g['reference_accuracy']:.3f} (p={g['accuracy_p']:.2g}); "
        f"class {g['share_class']} predicted {g['share']:.1%} vs {g['true_share']:.1%} true (p={g['share_p']:.2g}); "
        f"fires when p<{GATE_ALPHA:g} and the gap exceeds {min_accuracy_drop:.0%} / {min_share_shift:.0%}; {bound} on {n_h} holdout rows"
        + ("" if recall is None or not (recall["fired"] or recall["blind"]) else f"; {recall['text']}"),
        metrics=g, power=power, inconclusive=not (vouched or fired), tolerance=min_accuracy_drop,
    )


def _recall_power(y: int, n: int, level: float, gap: float) -> float | None:
    """Smallest recall drop of a class of ``n`` holdout rows that McNemar's exact test fires on at ``level``.

    The drop is ``x`` more rows lost than won, with the ``y`` rows the candidate alone gets right
    kept as they are and matched by ``y`` more lost (the discordance a clean pair of models shows):
    the smallest ``x`` with ``P(Bin(x + 2y, 1/2) >= x + y) < level``, as a share of ``n``, at least
    ``gap``; None when no ``x <= n - y`` reaches the level (a class too small for the test: it was 1.0, read as
    "a drop the test sees: 100%" on a class of 7 rows that had lost every one of them and did not fire).
    """
    from scipy import stats

    for x in range(1, max(0, n - y) + 1):
        if stats.binom.sf(x + y - 1, x + 2 * y, 0.5) < level:
            return float(max(gap, x / n))
    return None


def recall_power_text(power: float | None, rows: int, seen: str = "a drop the test sees") -> str:
    """The class's power as the gate's lines say it: the smallest recall drop its test fires on, or that none can."""
    return f"{seen}: {power:.0%}" if power is not None else f"no drop of its {rows} row{'' if rows == 1 else 's'} reaches the test's level"


RECALL_GAP = 0.2  # a class losing a fifth of its recall is material damage to it, however small the class (the default --tolerate)


def class_recall_damage(moves: list[tuple] | None, names: list, gap: float = RECALL_GAP, *, skilled: bool = True,
                        accuracy_gap: float = 0.02) -> dict | None:
    """Per class, the candidate model's recall on the holdout rows of that class against the reference model's.

    Accuracy and predicted shares are averages over the holdout, so a 1 % class can lose all of its
    recall while neither moves 2 points (issue 9: 99:1, recall 1.0 -> 0.0, every guard passed). The
    classes judged are those the accuracy rule cannot see: a class of share ``s`` of the holdout
    that loses ``gap`` of its recall moves accuracy by ``s * gap``, so classes with
    ``s * gap >= accuracy_gap`` (10 % of the holdout and more, at the defaults) are left to the
    accuracy bound (their material damage is its 2 points; a loss offset by another class's gain
    is a share move, which the gate reports and ``--share-gap`` gates). A judged class is judged on
    its own rows, paired: ``x`` rows of the class only the reference model gets right, ``y`` only
    the candidate's. The class's recall drop is ``(x - y) / n``.

    - fired: an observed drop larger than ``gap`` that is significant at ``GATE_ALPHA / K``
      (Bonferroni over the K classes) by both McNemar's exact test (McNemar 1947, *Psychometrika*
      12:153: the one-sided binomial sign test on the ``x + y`` discordant rows, ``p_value``) and a
      one-sided z-test of the drop against the holdout's sampling error and both models' training
      variability (``sd``: the bootstrap sd of each model's recall of the class; ``p_training``):
      two clean logistic regressions fitted on different samples of a 90:10 problem differ in the
      small class's recall by 28 points (McNemar p = 0.0002, tests/test_power.py's seed 1142), so
      McNemar alone, which holds the two fitted models fixed, is no test of flips. Only with a
      reference model whose skill is established at ``GATE_ALPHA`` (``skilled``), as the share test;
    - vouched: the one-sided 95 % upper bound on the drop (Tango's paired score bound,
      :func:`~labelguard.tasks.power.paired_difference_bounds`) is below ``gap``; a class whose bound
      is not (too few holdout rows of it to rule out the drop) makes the gate ``inconclusive``: with
      no discordant row at all, a class needs more than ``z²(1 - gap)/gap`` ≈ 11 holdout rows;
    - power: the smallest recall drop the exact test fires on for that class (:func:`_recall_power`),
      never below ``gap``; 1.0 when even losing every row of the class would not reach the level.

    Parameters
    ----------
    moves
        Per class code: (x, y, n, sd) as :func:`labelguard.tasks.detectors.paired_gate` returns them
        (``recall_moves``; ``sd`` may be left out: 0); None: not available (nothing judged).
    names
        Class names in code order.
    gap
        The recall drop that is material damage to a class (a share of its rows, in (0, 1]).
    skilled
        The reference model's skill is established at ``GATE_ALPHA``; without it nothing fires.
    accuracy_gap
        The gate's accuracy gap: classes for which ``gap`` of their recall is that much accuracy are not judged here.

    Returns
    -------
    dict or None
        ``per_class`` (name -> ``rows``, ``drop``, ``drop_upper``, ``p_value``, ``power``), ``upper``
        and ``class`` (the largest bound and its class), ``fired`` and ``blind`` (lists of class
        names), ``text`` (one clause for the gate's detail); None when no class is judged.
    """
    from scipy import stats

    from labelguard.tasks.power import VOUCH_ALPHA, paired_difference_bounds

    if not moves:
        return None
    k = len(moves)
    rows = sum(m[2] for m in moves)
    per_class = {}
    for name, (x, y, n, *rest) in zip(names, moves):
        if n <= 0 or n / rows * gap >= accuracy_gap - 1e-12:  # no row to judge it on, or the accuracy bound speaks for it
            continue
        sd_train = float(rest[0]) if rest else 0.0
        p = float(stats.binomtest(x, x + y, 0.5, alternative="greater").pvalue) if x + y else 1.0
        sd = float(np.sqrt((x + y) / n**2 + sd_train**2))
        p_training = float(stats.norm.sf((x - y) / n / sd)) if sd > 0 else (0.0 if x > y else 1.0)
        per_class[str(name)] = {"rows": int(n), "drop": (x - y) / n, "drop_upper": paired_difference_bounds(x, y, n, VOUCH_ALPHA)[1],
                                "p_value": p, "p_training": p_training, "training_sd": sd_train, "power": _recall_power(y, n, GATE_ALPHA / k, gap)}
    if not per_class:
        return None
    fired = [c for c, v in per_class.items()
             if skilled and v["p_value"] < GATE_ALPHA / k and v["p_training"] < GATE_ALPHA / k and v["drop"] > gap]
    blind = [c for c, v in per_class.items() if v["drop_upper"] >= gap]
    worst = max(per_class, key=lambda c: (per_class[c]["drop_upper"], c))
    w = per_class[worst]
    if fired:
        f = max(fired, key=lambda c: per_class[c]["drop"])
        text = (f"class {f}'s recall fell {per_class[f]['drop']:.0%} of its {holdout_rows_text(per_class[f]['rows'])} "
                f"(McNemar p={per_class[f]['p_value']:.2g}, with training variability p={per_class[f]['p_training']:.2g}; "
                f"fires below {GATE_ALPHA / k:.2g} beyond a {gap:.0%} drop)")
    else:  # (the gate's detail carries it only when it decides: fired or not vouched for)
        text = (f"worst class recall bound: class {worst}'s drop {w['drop_upper']:.1%} on its {holdout_rows_text(w['rows'])}"
                + (f" (cannot rule out {gap:.0%}; {recall_power_text(w['power'], w['rows'])})" if blind else f" (below {gap:.0%})"))
    return {"per_class": per_class, "upper": w["drop_upper"], "class": worst, "fired": fired, "blind": blind, "text": text}


def holdout_rows_text(n: int) -> str:
    """``"1 holdout row"`` / ``"14 holdout rows"``: a class's holdout size as the gate's lines print it."""
    return f"{n} holdout row{'' if n == 1 else 's'}"


def gate_power(holdout_rows: int, null_discordant: float, alpha: float, *, floor: float = 0.0) -> float:
    """Smallest holdout accuracy drop the gate's one-sided sign test sees with probability :data:`~labelguard.tasks.power.POWER`.

    A drop of ``d`` adds ``x = d * holdout_rows`` rows the candidate gets wrong and the reference
    right, on top of ``null_discordant`` rows where the two models disagree either way (estimated as
    twice the rows the candidate wins: under no drop both directions are equally likely). The sign
    test's z is ``x / sqrt(D0 + x)``; solving ``x / sqrt(D0 + x) = z_alpha + z_power`` gives
    ``x = (c² + sqrt(c⁴ + 4 c² D0)) / 2`` (normal approximation to the binomial).

    Parameters
    ----------
    holdout_rows
        Rows of the trusted holdout.
    null_discordant
        Expected disagreeing rows between the two models without a drop.
    alpha
        The test's one-sided level.
    floor
        The smallest drop the gate counts at all (its practical gap).

    Returns
    -------
    float
        Accuracy points in (0, 1].
    """
    from labelguard.tasks.power import POWER, _z

    c = _z(alpha) + _z(1 - POWER)
    x = (c**2 + np.sqrt(c**4 + 4 * c**2 * max(0.0, null_discordant))) / 2
    return float(min(1.0, max(x / max(1, holdout_rows), floor)))
