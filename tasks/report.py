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
    verdict: str | None = None  # the dataset verdict, as ``verify`` reaches it: pass, fired or inconclusive
    verdict_detail: str = ""
    before: dict[str, Any] | None = None  # the same model's metrics on the rows before the transform (pipeline, when it flipped)
    model_name: str | None = None  # the registered model trained (`--model`): report.json names it (break-it r16 F1)

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
            "model": self.model_name,
            "rate": self.rate,
            "seed": self.seed,
            "observe": self.observe,
            "ok": self.ok,
            "fired": self.fired,
            "verdict": self.verdict,
            "verdict_detail": self.verdict_detail,
            "trained": self.metrics is not None,
            "flipped": None if self.truth is None else len(self.truth.flipped),
            "guards": [g.to_dict() for g in self.guards],
            "metrics": self.metrics,
            "before_transform": self.before,
        }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def rate_text(rate: float) -> str:
    """A flip rate as a person wrote it: 20%, 0.5%, 2.5% (``:.0%`` showed 0.005 as 0%, beside 24 flips; break-it r10 F3)."""
    return f"{rate * 100:.3g}%"


def summary_rows(runs: dict[str, RunResult]) -> list[dict[str, Any]]:
    """One row per run: the figures both the terminal table and the report show."""
    rows = []
    for label, run in runs.items():
        m = run.metrics or {}
        rows.append(
            {
                "run": label,
                "transform": run.transform if not run.rate else f"{run.transform} {rate_text(run.rate)}",
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


def macro_averaged(metrics: dict[str, Any] | None) -> bool:
    """Precision, recall and F1 are macro averages over the classes: no positive class is named (see :func:`labelguard.tasks.train.evaluate`)."""
    return bool(metrics) and metrics.get("positive_class") is None


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


def before_sentence(run: RunResult) -> str:
    """What the transform itself cost: the same model trained on the rows before it, beside the run's (break-it r11 F6).

    The run's own sentence compares its model with the truth, so it counts the model's own error on clean rows as damage;
    this one says how much of the gap was there before the flips. Empty when there is no such model.
    """
    m, b = run.metrics, run.before
    if not m or not b:
        return ""
    lead = "Before the transform (the same rows as verified, the same model)"
    pred, bpred, true = m.get("predicted_positive_share"), b.get("predicted_positive_share"), m.get("true_positive_share")
    if pred is not None and bpred is not None:
        # a named class, of two or more: its move is the cost the attack aimed at, and recall/F1 are that class's, as in the
        # table; with 3+ classes this said "macro F1" of the named class's F1 and spoke of another class (break-it r15 F13)
        many = len(m.get("class_shares") or {}) > 2
        pos = "positive reviews" if is_reviews(run.spec) and not many else repr(m["positive_class"])
        own, was = (pred - bpred) * 100, (bpred - true) * 100  # the transform's move; the model's own error before it
        error = (f"the model's own error before it: {abs(was):.1f} points {'under' if was < 0 else 'over'}" if abs(was) >= MATCH_POINTS
                 else f"before it the model matched it within {MATCH_POINTS} points")
        effect = (f"the transform moved it {abs(own):.1f} points {'down' if own < 0 else 'up'}, to {pred:.1%}, against a true {true:.1%} ({error})"
                  if abs(own) >= MATCH_POINTS else f"the transform itself did not move it (within {MATCH_POINTS} points; {error})")
        whose = f" of {pos}" if many else ""
        return (f"{lead}, the model predicts {pos} for {bpred:.1%} of the trusted holdout (accuracy {b['accuracy']:.3f}, recall{whose} "
                f"{b['recall']:.3f}, F1{whose} {b['f1']:.3f}; after it {m['accuracy']:.3f}, {m['recall']:.3f}, {m['f1']:.3f}): {effect}.")
    shift = b.get("largest_shift") or {}
    was = (f"its largest shift was {shift['class']!r}, {'understated' if shift['points'] < 0 else 'overstated'} by {abs(shift['points']):.1f} points"
           if abs(shift.get("points", 0.0)) >= MATCH_POINTS else f"every class's share matched within {MATCH_POINTS} points")
    return (f"{lead}, accuracy {b['accuracy']:.3f} and macro F1 {b['f1']:.3f} (after it {m['accuracy']:.3f}, {m['f1']:.3f}); {was}.")


def with_before_rows(rows: list[dict[str, Any]], runs: dict[str, RunResult]) -> list[dict[str, Any]]:
    """``rows`` (:func:`summary_rows`) with a ``before`` row first for a run that trained the same model on the rows
    before its transform (break-it r11 F6): the console's table and report.md's show the same rows (r12 F9)."""
    for run in runs.values():
        if run.before:
            b = run.before
            rows.insert(0, {"run": "before", "transform": "(none)", "flipped": 0, "guards fired": "—", "accuracy": b.get("accuracy"),
                            "precision": b.get("precision"), "recall": b.get("recall"), "f1": b.get("f1"),
                            "predicted positive": b.get("predicted_positive_share"), "true positive": b.get("true_positive_share")})
    return rows


def render_markdown(runs: dict[str, RunResult], title: str = "labelguard report", plot: str | None = None) -> str:
    lines = [f"# {title}", ""]
    for run in runs.values():
        if before := before_sentence(run):
            lines.append(f"- {before}")
        lines.append(f"- {business_sentence(run)}")
    first = next(iter(runs.values()), None)
    plus = share_label(first.spec, first.metrics) if first is not None else "positive"
    lines += ["", "## Impact on the model (trusted holdout)", ""]
    m = "macro " if first is not None and macro_averaged(first.metrics) else ""
    lines.append(f"| run | transform | flipped | guards fired | accuracy | {m}precision | {m}recall | {m}F1 | predicted share of {plus} | true share |")
    lines.append("|---|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in with_before_rows(summary_rows(runs), runs):
        fmt = lambda v: "—" if v is None else f"{v:.3f}"  # noqa: E731
        lines.append(
            f"| {r['run']} | {r['transform']} | {r['flipped']} | {r['guards fired']} | {fmt(r['accuracy'])} | "
            f"{fmt(r['precision'])} | {fmt(r['recall'])} | {fmt(r['f1'])} | {_pct(r['predicted positive'])} | {_pct(r['true positive'])} |"
        )
    for label, run in runs.items():
        lines += ["", f"## Guards: {label} run (`{run.transform}`)", ""]
        if run.verdict:
            lines += [f"Dataset verdict: **{run.verdict}** — {run.verdict_detail}", ""]
        lines += ["| guard | verdict | detail |", "|---|---|---|"]
        for g in run.guards:
            lines.append(f"| {g.name} | {g.verdict} | {g.detail.replace('|', '/')} |")
        if run.metrics:
            cm = run.metrics["confusion_matrix"]
            classes = run.metrics["classes"]
            # a table with the class names, not one line of code: 15 classes made a 900-character line (break-it r13 F3)
            names = [str(c).replace("|", "/") for c in classes]
            lines += ["", "Confusion matrix (holdout rows; rows: true class, columns: predicted class):", "",
                      "| true \\ predicted | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
            lines += [f"| {n} | " + " | ".join(str(int(v)) for v in row) + " |" for n, row in zip(names, cm)]
            shares = run.metrics.get("class_shares") or {}
            if len(shares) > 2:
                lines += ["", "| class | predicted share | true share | shift (points) |", "|---|---:|---:|---:|"]
                for c, v in shares.items():
                    lines.append(f"| {c} | {v['predicted']:.1%} | {v['true']:.1%} | {100 * (v['predicted'] - v['true']):+.1f} |")
    if plot:
        first = next(iter(runs.values()))
        if len(first.spec.feature_cols) == 2 and not first.spec.text_cols:
            lines += ["", "## Data and decision boundaries", "", f"![decision boundaries]({plot})"]
        else:
            lines += [
                "", "## Data and model predictions (2-D projection)", "",
                "A projection, not the data's own axes: the first two principal components of the standardized feature matrix; "
                "shading is each model's prediction on that plane, flipped rows are ringed.",
                "", f"![2-D PCA projection with flipped rows and both models' predictions]({plot})",
            ]
    return "\n".join(lines) + "\n"


# Okabe & Ito (2008) colour-blind-safe palette; each class also gets its own marker shape. Nine markers against eight
# colours: class i is drawn as (colour i mod 8, marker i mod 9), a pair no other of the first 72 classes has (with eight
# of each, class i and class i+8 were drawn alike: 'animaux' and 'rare_a' as the same orange circles).
OKABE_ITO = ("#E69F00", "#0072B2", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h")
LEGEND_INSIDE = 10  # classes; beyond that the legend goes below the plot, in columns, not over the data
MAX_POINTS = 4000  # points drawn per panel (a seeded sample beyond that)


_FONTS: list | None = None  # the fonts matplotlib would draw text in (its family and their fallbacks), loaded once


def _drawing_fonts() -> list:
    """The fonts matplotlib draws default text with: each name of ``font.family`` (a generic family stands for its
    list, e.g. ``font.sans-serif``), as found on this machine; its fallback font when none is."""
    global _FONTS
    if _FONTS is None:
        from matplotlib import font_manager, ft2font, rcParams

        names = []
        for family in rcParams["font.family"]:
            names += list(rcParams.get(f"font.{family}", [family])) if f"font.{family}" in rcParams else [family]
        paths = []
        for name in names:
            try:
                found = font_manager.findfont(font_manager.FontProperties(family=name), fallback_to_default=False)
            except ValueError:  # not installed
                continue
            if found not in paths:
                paths.append(found)
        paths = paths or [font_manager.findfont(font_manager.FontProperties())]
        _FONTS = [ft2font.FT2Font(p) for p in paths]
    return _FONTS


_DRAWABLE: dict[str, bool] = {}


def _can_draw(ch: str) -> bool:
    """Whether some font matplotlib would use (:func:`_drawing_fonts`) has a glyph for ``ch`` (white space always)."""
    if ch not in _DRAWABLE:
        _DRAWABLE[ch] = ch.isspace() or ch.isascii() or any(f.get_char_index(ord(ch)) for f in _drawing_fonts())
    return _DRAWABLE[ch]


def drawable_text(s: str) -> str:
    """``s`` with each character no installed font draws written as a ``\\uXXXX`` (``\\UXXXXXXXX``) escape."""
    return "".join(ch if _can_draw(ch) else f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}" for ch in s)


def escape_undrawable(fig) -> list[str]:
    """Write each character of ``fig``'s texts that no font matplotlib would use can draw as an escape (:func:`drawable_text`).

    A class named in a script the installed fonts lack (CJK on a machine with DejaVu only) was drawn as empty boxes,
    every such class alike (break-it r15 F3); an escape at least tells them apart and can be looked up. Returns the
    words that held such characters (a class name as the legend quotes it, without the quotes), as they were, in the
    order met, each once; [] when every character can be drawn.
    """
    from matplotlib.text import Text

    words = []
    for text in fig.findobj(Text):
        s = text.get_text()
        if all(_can_draw(ch) for ch in s):
            continue
        text.set_text(drawable_text(s))
        for word in s.split():
            word = word.strip("'\"()[]{},.:;")
            if not all(_can_draw(ch) for ch in word) and word not in words:
                words.append(word)
    return words


def plot_boundaries(runs: dict[str, RunResult], path: Path) -> list[str] | None:
    """Each run's training data over its model's predicted classes; flipped rows ringed.

    Two numeric features are drawn as they are. More features, or text, are drawn on a 2-D
    projection (PCA of the standardized feature matrix, fitted on the clean run's rows), labelled; the
    shading is each model's prediction on the projection plane (through the data's mean). Colours
    are Okabe–Ito and every class also has its own marker, so the plot reads without colour vision.
    Returns None when no run trained a model, else the words (class names) whose characters no installed font draws, written in the
    image as escapes (:func:`escape_undrawable`; usually []).
    """
    from labelguard.tasks.features import feature_matrix
    from labelguard.tasks.manifest import to_py
    from labelguard.tasks.train import data_plane, decision_grid

    drawable = {k: r for k, r in runs.items() if r.model is not None and r.frame is not None}
    if not drawable:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    clean = next((r for r in drawable.values() if r.truth is None), next(iter(drawable.values())))
    spec = clean.spec
    classes = list(spec.classes)
    colours = [OKABE_ITO[i % len(OKABE_ITO)] for i in range(len(classes))]
    plane = data_plane(feature_matrix(clean.frame, spec), spec)
    projected = {k: plane.to_plane(feature_matrix(r.frame, r.spec)) for k, r in drawable.items()}
    everything = np.vstack(list(projected.values()))
    clean_grid = decision_grid(clean.model, plane, everything)

    def codes(labels) -> np.ndarray:
        from labelguard.tasks.classes import class_codes

        return class_codes(classes, labels).astype(float)

    many = len(classes) > LEGEND_INSIDE
    # three columns of entries (classes, flipped, the boundaries) while the names are short; long names (a 70-character
    # class name) in fewer columns, and the saved image grows to its legend: 25 such names ran off both edges and the
    # bottom, one row of 10 left readable (break-it r15 F2)
    longest = max(len(drawable_text(f"labelled {to_py(c)!r}")) for c in classes)  # as drawn: an escape is six characters
    columns = 3 if longest <= 32 else 2 if longest <= 48 else 1
    legend_rows = -(-(len(classes) + 3) // columns) if many else 0
    fig, axes = plt.subplots(1, len(drawable), figsize=(6.2 * len(drawable), 5.6 + 0.16 * legend_rows), squeeze=False, sharex=True, sharey=True)
    levels = np.arange(len(classes) + 1) - 0.5
    for ax, (label, run) in zip(axes[0], drawable.items()):
        frame, P = run.frame, projected[label]
        grid = clean_grid if run is clean else decision_grid(run.model, plane, everything)
        ax.contourf(grid.xx, grid.yy, codes(grid.zz.ravel()).reshape(grid.xx.shape), levels=levels, colors=colours, alpha=0.18)
        ax.contour(grid.xx, grid.yy, codes(grid.zz.ravel()).reshape(grid.xx.shape), levels=levels[1:-1], colors="k", linewidths=1)
        extra = [Line2D([], [], color="k", linewidth=1, label="this model's boundary")]
        if run is not clean:
            # the clean model's boundary, for comparison: how far the poisoning moved it
            ax.contour(clean_grid.xx, clean_grid.yy, codes(clean_grid.zz.ravel()).reshape(clean_grid.xx.shape), levels=levels[1:-1], colors="#555555", linewidths=1.2, linestyles="--")
            extra.append(Line2D([], [], color="#555555", linestyle="--", label="clean model's boundary"))
        show = np.arange(len(frame))
        if len(show) > MAX_POINTS:
            show = np.sort(np.random.default_rng(0).choice(show, MAX_POINTS, replace=False))
        labels = frame[run.spec.label_col].to_numpy()
        for i, c in enumerate(classes):
            rows = show[labels[show] == c]
            ax.scatter(P[rows, 0], P[rows, 1], s=9, c=colours[i], marker=MARKERS[i % len(MARKERS)], alpha=0.6, linewidths=0, label=f"labelled {to_py(c)!r}")
        if run.truth is not None and len(run.truth.flipped):
            flipped = frame[run.spec.id_col].isin(run.truth.flipped["id"]).to_numpy()
            rows = show[flipped[show]]
            ax.scatter(P[rows, 0], P[rows, 1], s=30, facecolors="none", edgecolors="k", linewidths=0.7, label=f"flipped ({int(flipped.sum())})")
        m = run.metrics or {}
        shown = f", predicted {share_label(run.spec, m)} {m['predicted_positive_share']:.1%}" if m.get("predicted_positive_share") is not None else ""
        ax.set_title(
            f"{label}: {run.transform}" + (f" {rate_text(run.rate)}" if run.rate else "")
            + (f"\nholdout acc {m['accuracy']:.3f}{shown}" if m else ""),
            fontsize=10,
        )
        ax.set_xlabel(plane.axes[0])
        ax.set_ylabel(plane.axes[1])
        handles, _ = ax.get_legend_handles_labels()
        if many:  # 40 classes ran the legend off the image's bottom, over a fifth of the data
            ax.legend(handles=handles + extra, loc="upper center", bbox_to_anchor=(0.5, -0.11), ncol=columns, fontsize=7, markerscale=1.5, frameon=False)
        else:
            ax.legend(handles=handles + extra, loc="best", fontsize=7, markerscale=1.5, framealpha=0.85)
    if plane.projected:
        what = f"{plane.dims}-column feature matrix" + (f" (text {', '.join(spec.text_cols)} as TF-IDF + SVD)" if spec.text_cols else "")
        import textwrap

        # wrapped to the figure's width: one panel's line ran off both edges (break-it r8 F4); ~13 characters an inch at 9 pt
        fig.suptitle(textwrap.fill(
            f"2-D projection: first two principal components of the standardized {what}. "
            "Shading: each model's predicted class on that plane.", width=int(13 * fig.get_figwidth())),
            fontsize=9,
        )
    escaped = escape_undrawable(fig)  # before the layout: an escape is longer than the glyph it stands for
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight" if many else None)  # the legend below the plot is part of the image
    plt.close(fig)
    return escaped


def write_report(runs: dict[str, RunResult], out_dir: Path, *, extra: dict[str, Any] | None = None, title: str = "labelguard report") -> dict[str, Path]:
    """Write ``report.md`` (headed ``title``), ``report.json`` and ``boundaries.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out_dir / "report.md", "json": out_dir / "report.json", "plot": out_dir / "boundaries.png"}
    escaped = plot_boundaries(runs, paths["plot"])
    if escaped is None:
        paths.pop("plot")
    markdown = render_markdown(runs, title=title, plot="boundaries.png" if escaped is not None else None)
    if escaped:
        markdown += ("\nNo font installed here draws " + ", ".join(escaped) + ": the plot writes their characters as \\u escapes "
                     "(fix: install a font that has them, e.g. Noto Sans CJK, and run again).\n")
    paths["markdown"].write_text(markdown)
    doc = {"runs": {k: r.summary() for k, r in runs.items()}, **(extra or {})}
    if escaped:
        doc["plot_escaped_text"] = escaped
    paths["json"].write_text(json.dumps(doc, indent=2, default=_json_default))
    return paths


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (Path, pd.Timestamp)):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
