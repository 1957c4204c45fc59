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
from labelguard.tasks.manifest import ColumnSpec, label_histogram
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
    reference_counts: dict[str, int] | None = None
    options: dict[str, Any] = field(default_factory=dict)


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


def _py(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


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
    return GuardResult("manifest", rep.ok, f"{rep.code}: {rep.detail}", metrics={"code": rep.code, **rep.observed})


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
    if not ctx.reference_counts:
        return _skip("class_balance", "no reference class counts")
    alpha = float(ctx.options.get("class_balance_alpha", alpha))
    observed = label_histogram(ctx.frame, ctx.spec.label_col)
    keys = sorted({*observed, *ctx.reference_counts})
    table = np.array([[observed.get(k, 0) for k in keys], [ctx.reference_counts.get(k, 0) for k in keys]])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return GuardResult("class_balance", False, "only one class present", metrics={"observed": observed})
    p_value = float(chi2_contingency(table)[1])
    shares = {k: observed.get(k, 0) / max(1, sum(observed.values())) for k in keys}
    ref_total = max(1, sum(ctx.reference_counts.values()))
    ref_shares = {k: ctx.reference_counts.get(k, 0) / ref_total for k in keys}
    shown = ", ".join(f"class {k}: {shares[k]:.1%} vs {ref_shares[k]:.1%}" for k in keys)
    passed = p_value >= alpha
    return GuardResult(
        "class_balance",
        passed,
        f"{shown} (chi-square p={p_value:.2g}, fires below {alpha:g})",
        metrics={"p_value": p_value, "shares": shares, "reference_shares": ref_shares},
    )
