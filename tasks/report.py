"""Run results and the report a person reads: Markdown, JSON, and the decision-boundary plot."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labelguard.tasks.attacks import FlipResult
from labelguard.tasks.guards import GuardResult
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.train import decision_grid


@dataclass
class RunResult:
    """One pipeline run: what went in, what the guards said, what the model learned."""

    dataset: str
    transform: str
    rate: float
    seed: int
    observe: bool
    spec: ColumnSpec
    guards: list[GuardResult] = field(default_factory=list)
    metrics: dict[str, Any] | None = None
    truth: FlipResult | None = None
    frame: pd.DataFrame | None = None
    model: Any = None

    @property
    def fired(self) -> list[str]:
        return [g.name for g in self.guards if not g.passed]

    @property
    def ok(self) -> bool:
        return not self.fired

    def summary(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "transform": self.transform,
            "rate": self.rate,
            "seed": self.seed,
            "observe": self.observe,
            "ok": self.ok,
            "fired": self.fired,
            "trained": self.metrics is not None,
            "flipped": None if self.truth is None else len(self.truth.flipped),
            "guards": [g.to_dict() for g in self.guards],
            "metrics": self.metrics,
        }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def summary_rows(runs: dict[str, RunResult]) -> list[dict[str, Any]]:
    """One row per run: the figures both the terminal table and the report show."""
    rows = []
    for label, run in runs.items():
        m = run.metrics or {}
        rows.append(
            {
                "run": label,
                "transform": run.transform if not run.rate else f"{run.transform} {run.rate:.0%}",
                "flipped": 0 if run.truth is None else len(run.truth.flipped),
                "guards fired": ", ".join(run.fired) or "none",
                "accuracy": m.get("accuracy"),
                "precision": m.get("precision"),
                "recall": m.get("recall"),
                "f1": m.get("f1"),
                "predicted positive": m.get("predicted_positive_share"),
                "true positive": m.get("true_positive_share"),
            }
        )
    return rows


MATCH_POINTS = 0.05  # a gap below this reads as "matches", never as "0.0 points"


def is_reviews(spec: ColumnSpec) -> bool:
    """Customer reviews (the synthetic source, or ``--domain reviews``): the report may speak of satisfaction."""
    return (spec.domain or "").lower() == "reviews"


def share_label(spec: ColumnSpec, metrics: dict[str, Any] | None = None) -> str:
    """What the "+" share counts, in the data's own words: "positive reviews" or "class 'satisfied'"."""
    from labelguard.tasks.classes import positive_class
    from labelguard.tasks.manifest import to_py

    pos = (metrics or {}).get("positive_class", positive_class(spec))
    if pos is None:
        return "the positive class (none named)"
    if is_reviews(spec) and len(spec.classes) == 2:
        return "positive reviews"
    return f"class {to_py(pos)!r}"


def _gap_words(gap_points: float, what: str) -> str:
    if abs(gap_points) < MATCH_POINTS:
        return f"it matches {what} (within {MATCH_POINTS} points)"
    return f"it {'understates' if gap_points < 0 else 'overstates'} {what} by {abs(gap_points):.1f} points"


def business_sentence(run: RunResult) -> str:
    """The damage in one sentence, in the data's own class names.

    Two classes with a known positive one: its predicted vs. true share (for reviews, the seed's
    sentence about customer satisfaction). Otherwise every class's predicted vs. true share and the
    largest shift.
    """
    m = run.metrics
    if not m:
        return f"The {run.transform} run did not train (guards stopped it)."
    lead = f"Trained after the `{run.transform}` transform"
    shares = m.get("class_shares") or {}
    pred, true = m.get("predicted_positive_share"), m.get("true_positive_share")
    if pred is not None and len(shares) <= 2:
        gap = (pred - true) * 100
        if is_reviews(run.spec):
            return f"{lead}, the model reports {pred:.1%} positive reviews where the trusted holdout has {true:.1%}: {_gap_words(gap, 'customer satisfaction')}."
        pos = m["positive_class"]
        return (
            f"{lead}, the model predicts {pos!r} for {pred:.1%} of the trusted holdout, where the true share of {pos!r} "
            f"is {true:.1%}: {_gap_words(gap, f'the share of {pos!r}')}."
        )
    listed = ", ".join(f"{c!r} {v['predicted']:.1%} vs {v['true']:.1%}" for c, v in shares.items())
    shift = m["largest_shift"]
    if abs(shift["points"]) < MATCH_POINTS:
        tail = f"every class's share matches within {MATCH_POINTS} points"
    else:
        tail = f"the largest shift is {shift['class']!r}, {'understated' if shift['points'] < 0 else 'overstated'} by {abs(shift['points']):.1f} points"
    return f"{lead}, the model's predicted vs. true class shares on the trusted holdout are {listed}: {tail}."


def render_markdown(runs: dict[str, RunResult], title: str = "labelguard drill report", plot: str | None = None) -> str:
    lines = [f"# {title}", ""]
    for run in runs.values():
        lines.append(f"- {business_sentence(run)}")
    first = next(iter(runs.values()), None)
    plus = share_label(first.spec, first.metrics) if first is not None else "positive"
    lines += ["", "## Impact on the model (trusted holdout)", ""]
    lines.append(f"| run | transform | flipped | guards fired | accuracy | precision | recall | F1 | predicted share of {plus} | true share |")
    lines.append("|---|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in summary_rows(runs):
        fmt = lambda v: "—" if v is None else f"{v:.3f}"  # noqa: E731
        lines.append(
            f"| {r['run']} | {r['transform']} | {r['flipped']} | {r['guards fired']} | {fmt(r['accuracy'])} | "
            f"{fmt(r['precision'])} | {fmt(r['recall'])} | {fmt(r['f1'])} | {_pct(r['predicted positive'])} | {_pct(r['true positive'])} |"
        )
    for label, run in runs.items():
        lines += ["", f"## Guards: {label} run (`{run.transform}`)", "", "| guard | verdict | detail |", "|---|---|---|"]
        for g in run.guards:
            lines.append(f"| {g.name} | {g.verdict} | {g.detail.replace('|', '/')} |")
        if run.metrics:
            cm = run.metrics["confusion_matrix"]
            classes = run.metrics["classes"]
            lines += ["", f"Confusion matrix (rows true, columns predicted; classes {classes}): `{cm}`"]
            shares = run.metrics.get("class_shares") or {}
            if len(shares) > 2:
                lines += ["", "| class | predicted share | true share | shift (points) |", "|---|---:|---:|---:|"]
                for c, v in shares.items():
                    lines.append(f"| {c} | {v['predicted']:.1%} | {v['true']:.1%} | {100 * (v['predicted'] - v['true']):+.1f} |")
    if plot:
        lines += ["", "## Data and decision boundaries", "", f"![decision boundaries]({plot})"]
    return "\n".join(lines) + "\n"


def plot_boundaries(runs: dict[str, RunResult], path: Path) -> bool:
    """Scatter each run's training data over its model's decision regions; flipped rows ringed."""
    drawable = {k: r for k, r in runs.items() if r.model is not None and r.frame is not None and len(r.spec.feature_cols) == 2}
    if not drawable:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, len(drawable), figsize=(6 * len(drawable), 5.2), squeeze=False, sharex=True, sharey=True)
    clean = next((r for r in drawable.values() if r.truth is None), None)
    for ax, (label, run) in zip(axes[0], drawable.items()):
        s = run.spec
        frame = run.frame
        grid = decision_grid(run.model, frame, s)
        pos = s.classes[-1]
        extra_handles = []
        if clean is not None and run is not clean:
            # the clean model's boundary, for comparison: how far the poisoning moved it
            cg = decision_grid(clean.model, frame, s)
            ax.contour(cg.xx, cg.yy, (cg.zz == pos).astype(float), levels=[0.5], colors="#555555", linewidths=1.2, linestyles="--")
            extra_handles.append(Line2D([], [], color="#555555", linestyle="--", label="clean model's boundary"))
        if grid is not None:
            ax.contourf(grid.xx, grid.yy, (grid.zz == pos).astype(float), levels=[-0.5, 0.5, 1.5], colors=["#f4c7c3", "#c6e2c3"], alpha=0.6)
            ax.contour(grid.xx, grid.yy, (grid.zz == pos).astype(float), levels=[0.5], colors="k", linewidths=1)
        x, y = frame[s.feature_cols[0]], frame[s.feature_cols[1]]
        is_pos = (frame[s.label_col] == pos).to_numpy()
        ax.scatter(x[~is_pos], y[~is_pos], s=4, c="#c0392b", alpha=0.5, label="labelled negative")
        ax.scatter(x[is_pos], y[is_pos], s=4, c="#1e8449", alpha=0.5, label="labelled positive")
        if run.truth is not None and len(run.truth.flipped):
            flipped = frame[s.id_col].isin(run.truth.flipped["id"]).to_numpy()
            ax.scatter(x[flipped], y[flipped], s=14, facecolors="none", edgecolors="k", linewidths=0.5, label=f"flipped ({flipped.sum()})")
        m = run.metrics or {}
        ax.set_title(
            f"{label}: {run.transform}" + (f" {run.rate:.0%}" if run.rate else "")
            + (f"\nholdout acc {m['accuracy']:.3f}, predicted positive {m['predicted_positive_share']:.1%}" if m else "")
        )
        ax.set_xlabel(s.feature_cols[0])
        ax.set_ylabel(s.feature_cols[1])
        handles, _ = ax.get_legend_handles_labels()
        ax.legend(handles=handles + extra_handles, loc="upper left", fontsize=8, markerscale=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_report(runs: dict[str, RunResult], out_dir: Path, *, extra: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write ``report.md``, ``report.json`` and ``boundaries.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out_dir / "report.md", "json": out_dir / "report.json", "plot": out_dir / "boundaries.png"}
    has_plot = plot_boundaries(runs, paths["plot"])
    if not has_plot:
        paths.pop("plot")
    paths["markdown"].write_text(render_markdown(runs, plot="boundaries.png" if has_plot else None))
    doc = {"runs": {k: r.summary() for k, r in runs.items()}, **(extra or {})}
    paths["json"].write_text(json.dumps(doc, indent=2, default=_json_default))
    return paths


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (Path, pd.Timestamp)):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
