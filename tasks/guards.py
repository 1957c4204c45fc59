"""Guards (blue team): each inspects the candidate training data and returns a structured verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency

from labelguard.errors import UnknownName
from labelguard.schemas.reviews import validate_reviews
from labelguard.tasks.dataset import IntegrityReport
from labelguard.tasks.manifest import ColumnSpec, label_histogram, to_py as _py
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

    def reference_class_counts(self) -> dict[str, int] | None:
        return label_histogram(self.reference, self.spec.label_col) if self.reference is not None else None


@dataclass
class GuardResult:
    name: str
    passed: bool
    detail: str
    suspect_ids: list | None = None
    skipped: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return "skipped" if self.skipped else ("pass" if self.passed else "FIRED")

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "passed": self.passed, "skipped": self.skipped, "detail": self.detail, "metrics": self.metrics}
        if self.suspect_ids is not None:
            out["suspect_ids"] = [_py(i) for i in self.suspect_ids]
        return out


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


def run_guards(ctx: GuardContext, names: list[str] | None = None) -> list[GuardResult]:
    return [get_guard(n).fn(ctx) for n in (names or list(REGISTRY))]


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
    suspects = sorted(changed.tolist() + added.tolist(), key=str)
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
    _, failures = validate_reviews(ctx.frame, ctx.spec)
    if failures is None:
        return GuardResult("schema", True, f"{len(ctx.frame)} rows valid", suspect_ids=[])
    idx = pd.to_numeric(failures["index"], errors="coerce").dropna().astype(int).unique()
    ids = ctx.frame[ctx.spec.id_col].iloc[idx[idx < len(ctx.frame)]].tolist() if ctx.spec.id_col in ctx.frame else []
    checks = sorted({f"{c}:{k}" for c, k in zip(failures["column"].astype(str), failures["check"].astype(str))})
    return GuardResult("schema", False, f"{len(failures)} failure(s) ({'; '.join(checks)}) in rows {_ids_preview(ids)}", suspect_ids=ids, metrics={"failures": len(failures)})


@register_guard("class_balance")
def class_balance_guard(ctx: GuardContext, *, alpha: float = 1e-3) -> GuardResult:
    """Class shares against a trusted reference, by a chi-square test sized to both samples."""
    reference_counts = ctx.reference_class_counts()
    if not reference_counts:
        return _skip("class_balance", "no reference class counts")
    alpha = float(ctx.options.get("class_balance_alpha", alpha))
    observed = label_histogram(ctx.frame, ctx.spec.label_col)
    keys = sorted({*observed, *reference_counts})
    table = np.array([[observed.get(k, 0) for k in keys], [reference_counts.get(k, 0) for k in keys]])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return GuardResult("class_balance", False, "only one class present", metrics={"observed": observed})
    p_value = float(chi2_contingency(table)[1])
    shares = {k: observed.get(k, 0) / max(1, sum(observed.values())) for k in keys}
    ref_total = max(1, sum(reference_counts.values()))
    ref_shares = {k: reference_counts.get(k, 0) / ref_total for k in keys}
    shown = ", ".join(f"class {k}: {shares[k]:.1%} vs {ref_shares[k]:.1%}" for k in keys)
    passed = p_value >= alpha
    return GuardResult(
        "class_balance",
        passed,
        f"{shown} (chi-square p={p_value:.2g}, fires below {alpha:g})",
        metrics={"p_value": p_value, "shares": shares, "reference_shares": ref_shares},
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
    return ctx.frame[ctx.spec.id_col].to_numpy()[mask].tolist()


def _fraction_verdict(name: str, ctx: GuardContext, mask: np.ndarray, ref_mask: np.ndarray | None, what: str) -> GuardResult:
    ids = _ids(ctx, mask)
    k, n = int(mask.sum()), len(mask)
    if ref_mask is None:
        return GuardResult(name, True, f"{k} of {n} rows {what} ({k / max(1, n):.1%}); no reference, so no dataset verdict", suspect_ids=ids, metrics={"suspect_fraction": k / max(1, n)})
    p = _excess(k, n, int(ref_mask.sum()), len(ref_mask))
    passed = p >= ALPHA
    return GuardResult(
        name, passed,
        f"{k} of {n} rows {what} ({k / max(1, n):.1%} vs {ref_mask.mean():.1%} on the reference; one-sided p={p:.2g}, fires below {ALPHA:g})",
        suspect_ids=ids, metrics={"suspect_fraction": k / max(1, n), "reference_fraction": float(ref_mask.mean()), "p_value": p},
    )


@register_guard("class_conditional")
def class_conditional_guard(ctx: GuardContext) -> GuardResult:
    """Per-class feature means against the reference (Hotelling T²): flips move them even when the prior stays put."""
    from labelguard.tasks.detectors import class_conditional_shift

    if ctx.reference is None:
        return _skip("class_conditional", "no trusted reference rows")
    per_class = class_conditional_shift(ctx.frame, ctx.spec, ctx.reference)
    if not per_class:
        return _skip("class_conditional", "too few rows per class")
    threshold = ALPHA / len(per_class)
    worst = min(per_class, key=lambda c: per_class[c]["p_value"])
    passed = all(v["p_value"] >= threshold for v in per_class.values())
    shown = ", ".join(f"class {c}: mean shift {v['shift']:.3g} (p={v['p_value']:.2g})" for c, v in per_class.items())
    return GuardResult("class_conditional", passed, f"{shown}; fires below {threshold:.2g} (Bonferroni)", metrics={"per_class": per_class, "worst": worst})


@register_guard("duplicate_conflicts")
def duplicate_conflicts_guard(ctx: GuardContext) -> GuardResult:
    """Identical feature rows that carry different labels: the minority label of each group is suspect."""
    from labelguard.tasks.detectors import duplicate_conflicts

    mask = duplicate_conflicts(ctx.frame, ctx.spec)
    ids = _ids(ctx, mask)
    if ctx.reference is not None:
        ref = duplicate_conflicts(ctx.reference, ctx.spec)
        from scipy.stats import fisher_exact

        k, n, kr, nr = int(mask.sum()), len(mask), int(ref.sum()), len(ref)
        p = float(fisher_exact([[k, n - k], [kr, nr - kr]], alternative="greater")[1]) if k else 1.0
        return GuardResult("duplicate_conflicts", p >= ALPHA, f"{k} conflicting duplicate row(s) vs {kr} in the reference (Fisher p={p:.2g})", suspect_ids=ids, metrics={"conflicts": k, "p_value": p})
    return GuardResult("duplicate_conflicts", not ids, f"{len(ids)} conflicting duplicate row(s)", suspect_ids=ids, metrics={"conflicts": len(ids)})


def _self_contained(name: str, ctx: GuardContext, detector, min_rows: int, what: str) -> GuardResult:
    """Run a self-contained detector on the candidate, and on the reference for the verdict's baseline rate."""
    if len(ctx.frame) < min_rows:
        return _skip(name, f"fewer than {min_rows} rows")
    found = detector(ctx.frame, ctx.spec).suspect
    ref = detector(ctx.reference, ctx.spec).suspect if ctx.reference is not None and len(ctx.reference) >= min_rows else None
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

    return _self_contained("knn_consistency", ctx, knn_consistency, 20, "disagree with their neighbourhood")


@register_guard("reference_model")
def reference_model_guard(ctx: GuardContext) -> GuardResult:
    """Reference-anchored: a model fitted on the trusted reference scores each label; EM estimates the flip rate."""
    from labelguard.tasks.detectors import reference_anchored, reference_disagreement

    if ctx.reference is None:
        return _skip("reference_model", "no trusted reference rows")
    res = reference_anchored(ctx.frame, ctx.spec, ctx.reference)
    k, n, k_ref, n_ref = reference_disagreement(ctx.frame, ctx.spec, ctx.reference)
    p = _excess(k, n, k_ref, n_ref)
    ids = _ids(ctx, res.suspect)
    return GuardResult(
        "reference_model", p >= ALPHA,
        f"estimated flip rate {res.estimate:.1%}, {len(ids)} suspect row(s); labels disagree with the reference model on "
        f"{k / max(1, n):.1%} of rows vs {k_ref / max(1, n_ref):.1%} out of fold on the reference (one-sided p={p:.2g}, fires below {ALPHA:g})",
        suspect_ids=ids, metrics={"estimated_flip_rate": res.estimate, "disagreement": k / max(1, n), "reference_disagreement": k_ref / max(1, n_ref), "p_value": p},
    )


@register_guard("model_gate")
def model_gate_guard(ctx: GuardContext, *, min_accuracy_drop: float = 0.02, min_share_shift: float = 0.03) -> GuardResult:
    """A model trained on the candidate must match the reference model on the trusted holdout (accuracy, positive share)."""
    from labelguard.tasks.detectors import paired_gate

    if ctx.reference is None or ctx.holdout is None:
        return _skip("model_gate", "needs a trusted reference and a golden holdout")
    g = paired_gate(ctx.frame, ctx.reference, ctx.holdout, ctx.spec, in_sample=ctx.reference is ctx.holdout)
    acc_bad = g["accuracy_p"] < ALPHA and g["reference_accuracy"] - g["accuracy"] > min_accuracy_drop
    share_bad = g["share_p"] < ALPHA and abs(g["positive_share"] - g["reference_positive_share"]) > min_share_shift
    return GuardResult(
        "model_gate", not (acc_bad or share_bad),
        f"holdout accuracy {g['accuracy']:.3f} vs reference {g['reference_accuracy']:.3f} (p={g['accuracy_p']:.2g}); "
        f"positive share {g['positive_share']:.1%} vs {g['reference_positive_share']:.1%} (p={g['share_p']:.2g}); "
        f"fires when p<{ALPHA:g} and the gap exceeds {min_accuracy_drop:.0%} / {min_share_shift:.0%}",
        metrics=g,
    )
