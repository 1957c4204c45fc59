"""The drill's report: report.json (every cell), report.md and a self-contained report.html with embedded plots."""

from __future__ import annotations

import base64
import html
import io
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from labelguard.tasks.drill import CLEAN, DrillPlan
from labelguard.tasks.report import rate_text
from labelguard.tasks.manifest import to_py

# Okabe–Ito, as the pipeline report uses
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
UNCAUGHT_COLOR = "#B00020"  # a silent pass
CANNOT_TELL_COLOR = "#4D4D4D"  # inconclusive: the guards could not vouch


def json_default(value: Any) -> Any:
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    return to_py(value) if not isinstance(value, (dict, list)) else value


def _ok(cells):
    return [c for c in cells if "error" not in c and "not_applicable" not in c]


def not_applicable_lines(cells) -> list[str]:
    """One entry per attack and rate the data could not hold (first model only), e.g.
    ``targeted at 0.05: only 81 rows of class 'platinum', 96 flips needed (3 seeds x 2 vectors)``."""
    groups: dict[tuple, list] = defaultdict(list)
    first_model = next((c["model"] for c in cells), None)
    for c in cells:
        if "not_applicable" in c and c["model"] == first_model:
            groups[(c["attack"], c["rate"], c["not_applicable"])].append(c)
    return [f"{a} at {r:g}: {why} ({len({c['seed'] for c in cs})} seed(s) x {len({c['vector'] for c in cs})} vector(s))"
            for (a, r, why), cs in groups.items()]


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return float(np.mean(xs)) if xs else None


def summarize(cells: list[dict[str, Any]], certificates: list[dict[str, Any]], plan: DrillPlan) -> dict[str, Any]:
    """Aggregate the cells: false alarms of the clean controls, the worst case over attacks, uncaught
    cells with material damage at rates of 5 % or more, and the certificate beside the guards.

    Returns
    -------
    dict with ``cells``, ``errors``, ``not_applicable`` (cells the data cannot hold, with
    ``not_applicable_examples``), ``controls`` (runs; passed, inconclusive and fired by the
    dataset verdict; false_alarm_rate = fired / runs; could_not_vouch_rate = inconclusive / runs: the
    gate fails closed, so a clean control that reads "cannot tell" is not a quiet one; by guard),
    ``worst`` (the attack × rate × model whose mean accuracy loss is largest), ``worst_by_rate``
    (per model and rate: the lowest mean accuracy over attacks, the robustness leaderboard's
    number), ``uncaught_material`` (list: each cell's verdict, its reason and its damage),
    ``caught_share`` per vector (material cells at rates >= 5 %: caught, cannot_tell, silent; see
    :func:`uncaught_counts`), ``certificate_sentence``.
    """
    ok = _ok(cells)
    errors = [c for c in cells if "error" in c]
    beyond = [c for c in cells if "not_applicable" in c]
    controls = [c for c in ok if c["attack"] == CLEAN and c["model"] == plan.models[0]]
    fired_by = Counter(g for c in controls for g in c["fired"])
    attacked = [c for c in ok if c["attack"] != CLEAN]
    groups: dict[tuple, list] = defaultdict(list)
    for c in attacked:
        groups[(c["attack"], c["rate"], c["model"])].append(c)
    agg = []
    for (a, r, m), cs in groups.items():
        agg.append({
            "attack": a, "rate": r, "model": m,
            "clean_accuracy": _mean(c["clean"]["accuracy"] for c in cs),
            "accuracy": _mean(c["poisoned"]["accuracy"] for c in cs),
            "accuracy_min": min(c["poisoned"]["accuracy"] for c in cs), "accuracy_max": max(c["poisoned"]["accuracy"] for c in cs),
            "accuracy_points": _mean(c["damage"]["accuracy_points"] for c in cs),
            "share_points": _mean(c["damage"]["share_points"] for c in cs),
            # which class moved, and a class's lost recall: without a positive class "share moved -6.2" named no class,
            # and a class losing every holdout row's recall (the small-class rule's damage) was in report.json alone
            "share_class": Counter(str(c["damage"].get("share_class", "")) for c in cs).most_common(1)[0][0],
            **_recall_loss(cs),
            "cells": len(cs), **uncaught_counts(cs),
        })
    worst = max(agg, key=lambda g: (g["accuracy_points"], abs(g["share_points"]), g["rate"])) if agg else None
    worst_by_rate = []
    for m in plan.models:
        for r in plan.rates:
            rows = [g for g in agg if g["model"] == m and g["rate"] == r]
            if rows:
                w = min(rows, key=lambda g: g["accuracy"])
                worst_by_rate.append({"model": m, "rate": r, "attack": w["attack"], "accuracy": w["accuracy"], "clean_accuracy": w["clean_accuracy"]})
    uncaught = [
        {k: c[k] for k in ("attack", "rate", "seed", "model", "vector", "flips", "verdict")}
        | {"accuracy_points": c["damage"]["accuracy_points"], "share_points": c["damage"]["share_points"], "share_class": c["damage"]["share_class"],
           "verdict_detail": c.get("verdict_detail", "")}
        for c in attacked if c["rate"] >= 0.05 and c["damage"]["material"] and not c["caught"]
    ]
    caught_share = {}
    for v in plan.vectors:
        rel = [c for c in attacked if c["vector"] == v and c["rate"] >= 0.05 and c["damage"]["material"]]
        caught_share[v] = {"material_cells": len(rel)} | uncaught_counts(rel)
    sentence = certificate_sentence(certificates, attacked, worst)
    return {
        "cells": len(cells), "errors": len(errors), "error_examples": [c["error"] for c in errors[:3]],
        "not_applicable": len(beyond), "not_applicable_examples": not_applicable_lines(beyond),
        "controls": control_counts(controls) | {"by_guard": dict(fired_by)},
        "worst": worst, "worst_by_rate": worst_by_rate, "by_attack": sorted(agg, key=lambda g: (g["model"], g["attack"], g["rate"])),
        "uncaught_material": uncaught, "caught_share": caught_share, "certificate_sentence": sentence,
        "summary_cells": sum(1 for c in attacked if c["rate"] >= 0.05),
    }


def no_summary_cells(summary: dict[str, Any], plan: DrillPlan) -> str | None:
    """The caught-per-vector summary counts attacked cells at rates of 5 % or more. A drill that ran none (a 1 % class
    holds no more for ``targeted``) read "0 of 0 … caught" and "every cell … was caught": say instead that it counts
    none, naming the rates that ran (break-it r10 F2). None when some cell counts, or nothing was attacked."""
    if summary.get("summary_cells", 1) or not summary.get("by_attack"):
        return None
    return (f"no attacked cell ran at a rate of 5 % or more (rates: {', '.join(f'{r:g}' for r in plan.rates)}), so this summary counts none: "
            "each attack's damage and verdicts are under \"Every attack\"")


UNCAUGHT_LABELS = {"inconclusive": "cannot tell", "pass": "silent pass"}


def uncaught_counts(cells: list[dict[str, Any]]) -> dict[str, int]:
    """Attacked cells by the dataset verdict: ``caught`` (fired), ``cannot_tell`` (inconclusive: the
    suite said it could not vouch for the data; the gate fails closed, so the pipeline would stop, but
    no guard named the attack) and ``silent`` (pass: the attack went through unnoticed)."""
    by = Counter(c["verdict"] for c in cells)
    return {"caught": by["fired"], "cannot_tell": by["inconclusive"], "silent": by["pass"]}


def control_counts(controls: list[dict[str, Any]]) -> dict[str, Any]:
    """Clean controls by their dataset verdict: passed, inconclusive (the suite could not vouch for
    clean data: the gate fails closed, so the pipeline would stop) and fired (a false alarm)."""
    n = len(controls)
    by = Counter(c["verdict"] for c in controls)
    counts = {"runs": n, "passed": by["pass"], "inconclusive": by["inconclusive"], "fired": by["fired"]}
    return counts | {"false_alarm_rate": by["fired"] / n if n else None, "could_not_vouch_rate": by["inconclusive"] / n if n else None}


def controls_line(ctl: dict[str, Any]) -> str:
    """One line: ``clean controls 9: passed 8, inconclusive 1, fired 0 (false-alarm rate 0.0%, could not vouch 11.1%)``."""
    return (f"clean controls {ctl['runs']}: passed {ctl['passed']}, inconclusive {ctl['inconclusive']}, fired {ctl['fired']} "
            f"(false-alarm rate {_pct(ctl['false_alarm_rate'])}, could not vouch {_pct(ctl['could_not_vouch_rate'])})")


def certificate_sentence(certificates, attacked, worst) -> str:
    if not certificates:
        return ""
    c = certificates[0]
    half = c["median_radius"]
    survive = f"half the holdout's predictions of the certified {c['model']} ({c['method'].upper()}, {c['voters']} voters) survive {half} flipped label{'s' if half != 1 else ''}" if half >= 0 else f"fewer than half the holdout's predictions of the certified {c['model']} are right to begin with"
    if worst is None:
        return survive[0].upper() + survive[1:] + "."
    named = [x["suspects"]["count"] for x in attacked if (x["attack"], x["rate"], x["model"]) == (worst["attack"], worst["rate"], worst["model"])]
    flips = [x["flips"] for x in attacked if (x["attack"], x["rate"], x["model"]) == (worst["attack"], worst["rate"], worst["model"])]
    return (survive[0].upper() + survive[1:] + f"; in the worst case ({worst['attack']} at {rate_text(worst['rate'])}, {int(np.median(flips))} flips) "
            f"the guards named {int(np.median(named))} suspect rows (median over its cells).")


def summary_table(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One small row per cell for a Prefect table artifact (JSON-safe, no rows of data)."""
    out = []
    for c in _ok(cells):
        out.append({"attack": c["attack"], "rate": c["rate"], "seed": c["seed"], "model": c["model"], "vector": c["vector"],
                    "flips": c["flips"], "verdict": c["verdict"], "caught": c["caught"], "first_guard": c["first_guard"] or "",
                    "accuracy": round(c["poisoned"]["accuracy"], 4), "accuracy_points": round(c["damage"]["accuracy_points"], 2),
                    "suspect_f1": None if c["suspects"]["f1"] is None else round(c["suspects"]["f1"], 3)})
    return out


def fmt_points(x: float, signed: bool = False) -> str:
    """Points to one decimal (with a sign when ``signed``); a value that rounds to nothing reads 0.0, never -0.0."""
    v = round(float(x), 1)
    v = v if v else 0.0
    return f"{v:+.1f}" if signed else f"{v:.1f}"


def _pct(x):
    return "—" if x is None else f"{x:.1%}"


def render_markdown(summary: dict[str, Any], plan: DrillPlan, plots: dict[str, str] | None = None) -> str:
    """The report a person reads first: headline, false alarms, uncaught damage, certificate."""
    lines = ["# labelguard drill", ""]
    ctl = summary["controls"]
    lines += [f"**{headline(summary)}**", "", f"**{controls_line(ctl)[0].upper() + controls_line(ctl)[1:]}.**", ""]
    lines += [f"- data: {plan.data}; attacks: {', '.join(plan.attacks)}; rates: {', '.join(f'{r:g}' for r in plan.rates)}; seeds: {len(plan.seeds)}; models: {', '.join(plan.models)}; vectors: {', '.join(plan.vectors)}",
              f"- cells: {summary['cells']} ({summary['errors']} errored, {summary.get('not_applicable', 0)} not applicable)",
              *[f"- not applicable (the data holds too few rows for the exact flip budget; not run, not counted): {x}" for x in summary.get("not_applicable_examples", [])],
              f"- {controls_line(ctl)}; inconclusive: the suite could not vouch for clean data (the gate fails closed: the pipeline would stop)" + (f"; fired by guard: {ctl['by_guard']}" if ctl["by_guard"] else ""),
              f"- certificate: {summary['certificate_sentence']}", ""]
    lines += ["## Material damage at rates ≥ 5 %, caught per vector", "",
              "Not caught splits in two: *cannot tell* (verdict inconclusive: the guards said they could not vouch for the data, "
              "so a fail-closed pipeline stops, but no guard named the attack) and *silent pass* (verdict pass: the attack went through unnoticed).", "",
              "| vector | cells with material damage | caught | cannot tell | silent pass |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {v} | {s['material_cells']} | {s['caught']} | {s['cannot_tell']} | {s['silent']} |" for v, s in summary["caught_share"].items()]
    lines += ["", "## Uncaught cells with material damage", ""]
    if none_counted := no_summary_cells(summary, plan):
        lines += [none_counted[0].upper() + none_counted[1:] + "."]
    elif summary["uncaught_material"]:
        lines += ["| attack | rate | seed | model | vector | flips | verdict | accuracy lost (points) | share moved (points) |", "|---|---:|---:|---|---|---:|---|---:|---:|"]
        lines += [f"| {u['attack']} | {u['rate']:g} | {u['seed']} | {u['model']} | {u['vector']} | {u['flips']} | {UNCAUGHT_LABELS.get(u['verdict'], u['verdict'])} | {fmt_points(u['accuracy_points'])} | {fmt_points(u['share_points'], signed=True)} ({u['share_class']}) |" for u in summary["uncaught_material"]]
    else:
        lines += ["none: every cell at ≥ 5 % with material damage was caught by at least one guard."]
    lines += ["", "## Worst case per rate (lowest mean holdout accuracy over attacks)", "", "| model | rate | attack | accuracy | clean |", "|---|---:|---|---:|---:|"]
    lines += [f"| {w['model']} | {w['rate']:g} | {w['attack']} | {w['accuracy']:.3f} | {w['clean_accuracy']:.3f} |" for w in summary["worst_by_rate"]]
    lines += ["", "## Every attack (mean over seeds and vectors)", "", "| model | attack | rate | accuracy (min–max) | accuracy lost | share moved | recall lost | caught | cannot tell | silent pass |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {g['model']} | {g['attack']} | {g['rate']:g} | {g['accuracy']:.3f} ({g['accuracy_min']:.3f}–{g['accuracy_max']:.3f}) | {fmt_points(g['accuracy_points'])} | {_share_cell(g)} | {_recall_cell(g)} | {g['caught']}/{g['cells']} | {g['cannot_tell']} | {g['silent']} |" for g in summary["by_attack"]]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{k}]({v})" for k, v in plots.items()]
    return "\n".join(lines) + "\n"


def _recall_loss(cells: list[dict]) -> dict[str, Any]:
    """The largest material recall loss among the cells: its class and points (empty when none was material)."""
    lost = [c["damage"] for c in cells if c["damage"].get("recall_material")]
    if not lost:
        return {"recall_class": None, "recall_points": None}
    worst = max(lost, key=lambda d: d["recall_points"])
    return {"recall_class": worst["recall_class"], "recall_points": worst["recall_points"]}


def _share_cell(g: dict[str, Any]) -> str:
    return fmt_points(g["share_points"], signed=True) + (f" ({g['share_class']})" if g.get("share_class") else "")


def _recall_cell(g: dict[str, Any]) -> str:
    return f"{fmt_points(g['recall_points'])} ({g['recall_class']})" if g.get("recall_class") is not None else "—"


def _share_and_recall(g: dict[str, Any]) -> str:
    text = f"predicted share moved {fmt_points(g['share_points'], signed=True)} points" + (f" ({g['share_class']})" if g.get("share_class") else "")
    if g.get("recall_class") is not None:
        text += f"; class {g['recall_class']} lost {fmt_points(g['recall_points'])} points of its recall"
    return text


def headline(summary: dict[str, Any]) -> str:
    w = summary["worst"]
    if w is None:
        return "No attacked cell finished."
    return (f"Worst case over all attacks: {w['attack']} at {rate_text(w['rate'])} takes {w['model']} from {w['clean_accuracy']:.3f} to {w['accuracy']:.3f} holdout accuracy "
            f"({fmt_points(w['accuracy_points'])} points; {_share_and_recall(w)}), caught in {w['caught']} of {w['cells']} cells"
            + (f" ({', '.join(f'{n} {UNCAUGHT_LABELS[k]}' for k, n in (('inconclusive', w['cannot_tell']), ('pass', w['silent'])) if n)})" if w["caught"] < w["cells"] else "") + ".")


# ------------------------------------------------------------------ plots (matplotlib, embedded as PNG)


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def plot_accuracy(cells, plan: DrillPlan) -> str:
    import matplotlib.pyplot as plt

    attacked = [c for c in _ok(cells) if c["attack"] != CLEAN]
    fig, axes = plt.subplots(1, len(plan.models), figsize=(5.2 * len(plan.models), 3.8), squeeze=False, sharey=True)
    for ax, m in zip(axes[0], plan.models):
        clean = [c["clean"]["accuracy"] for c in attacked if c["model"] == m]
        if clean:
            ax.axhline(np.mean(clean), color="grey", ls=":", lw=1, label="clean")
        for i, a in enumerate(plan.attacks):
            xs, mean, lo, hi = [], [], [], []
            for r in plan.rates:
                acc = [c["poisoned"]["accuracy"] for c in attacked if c["model"] == m and c["attack"] == a and c["rate"] == r]
                if acc:
                    xs.append(r), mean.append(np.mean(acc)), lo.append(min(acc)), hi.append(max(acc))
            if xs:
                ax.plot(xs, mean, marker="osD^vP*X"[i % 8], color=PALETTE[i % len(PALETTE)], label=a)
                ax.fill_between(xs, lo, hi, color=PALETTE[i % len(PALETTE)], alpha=0.15)
        ax.set_title(f"{m}: holdout accuracy vs flip rate (band: seed spread)", fontsize=9)
        ax.set_xticks(list(plan.rates), [f"{r:g}" for r in plan.rates], fontsize=8)
        ax.set_xlabel("flip rate")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy on the trusted holdout")
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))  # outside: never over a curve
    return _png(fig)


def missed_figures(missed: list[dict[str, Any]]) -> str:
    """The figures an uncaught heat-map cell shows, in the tables' words and signs: the worst missed
    seed's accuracy lost (points; negative when the poisoned model scored higher) and its predicted
    share moved (signed points), both from that one seed, e.g. ``acc lost 0.5\nshare +0.5``."""
    worst = max(missed, key=lambda c: (max(c["damage"]["accuracy_points"], abs(c["damage"]["share_points"])), c["seed"]))
    return f"acc lost {fmt_points(worst['damage']['accuracy_points'])}\nshare {fmt_points(worst['damage']['share_points'], signed=True)}"


def heatmap_figure(cells, plan: DrillPlan):
    """The heat map of :func:`plot_heatmap` as a matplotlib figure (constrained layout, legend below the x-axis labels)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    attacked = [c for c in _ok(cells) if c["attack"] != CLEAN and c["model"] == plan.models[0]]
    firsts = sorted({c["first_guard"] for c in attacked if c["first_guard"]})
    colors = [UNCAUGHT_COLOR, CANNOT_TELL_COLOR] + [PALETTE[i % len(PALETTE)] for i in range(len(firsts))]
    cmap = ListedColormap(colors)
    fig, axes = plt.subplots(1, len(plan.vectors), figsize=(4.2 * len(plan.vectors) + 1.5, 0.5 * len(plan.attacks) + 2.2), squeeze=False, layout="constrained")
    for ax, v in zip(axes[0], plan.vectors):
        grid = np.full((len(plan.attacks), len(plan.rates)), np.nan)
        for i, a in enumerate(plan.attacks):
            for j, r in enumerate(plan.rates):
                cs = [c for c in attacked if c["vector"] == v and c["attack"] == a and c["rate"] == r]
                if not cs:
                    if any("not_applicable" in c and c["attack"] == a and c["rate"] == r and c["vector"] == v for c in cells):
                        # a blank square read like a broken plot (break-it r8 F3): say why it holds nothing
                        ax.text(j, i, "not\napplicable", ha="center", va="center", fontsize=6, color="#555555")
                    continue
                missed = [c for c in cs if not c["caught"]]
                if missed:
                    silent = any(c["verdict"] == "pass" for c in missed)
                    grid[i, j] = 0 if silent else 1
                    word = "silent" if silent else "can't tell"
                    ax.text(j, i, f"{word} {len(missed)}/{len(cs)}\n{missed_figures(missed)}", ha="center", va="center", fontsize=6, color="white", fontweight="bold")
                else:
                    first = Counter(c["first_guard"] for c in cs).most_common(1)[0][0]
                    grid[i, j] = 2 + firsts.index(first)
                    ax.text(j, i, first.replace("_", "\n"), ha="center", va="center", fontsize=6, color="white")
        ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=-0.5, vmax=len(colors) - 0.5, aspect="auto")
        ax.set_xticks(range(len(plan.rates)), [f"{r:g}" for r in plan.rates], fontsize=8)
        ax.set_yticks(range(len(plan.attacks)), plan.attacks, fontsize=8)
        ax.set_xlabel("flip rate")
        ax.set_title(f"vector: {v}", fontsize=9)
    from matplotlib.patches import Patch

    handles = [Patch(color=UNCAUGHT_COLOR, label="silent pass: seeds missed / run; the worst missed seed's accuracy lost and share moved (points, as in the tables)"),
               Patch(color=CANNOT_TELL_COLOR, label="cannot tell (inconclusive): the same figures")]
    handles += [Patch(color=colors[i + 2], label=f"first: {g}") for i, g in enumerate(firsts)]
    if any("not_applicable" in c for c in cells):
        handles.append(Patch(facecolor="white", edgecolor="#555555", label="not applicable: the data holds too few rows for the flips (not run)"))
    # "outside" with the constrained layout reserves room under the axes: the legend never covers an x-axis label
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=7)
    return fig


def plot_heatmap(cells, plan: DrillPlan) -> str:
    """Attack × rate per vector, coloured by the guard that fired first; uncaught cells in plain sight:
    red where some seed's attack passed silently, dark grey where the guards could only say "cannot
    tell" (inconclusive), with how many seeds were missed and the worst missed seed's damage
    (:func:`missed_figures`), as a base64 PNG."""
    return _png(heatmap_figure(cells, plan))


def plot_localization(cells, plan: DrillPlan) -> str:
    import matplotlib.pyplot as plt

    attacked = [c for c in _ok(cells) if c["attack"] != CLEAN and c["model"] == plan.models[0] and c["flips"]]
    # each guard over the cells where it fired and named rows (a guard that stays silent localizes nothing)
    named = lambda n: [c for c in attacked if c["guards"][n]["verdict"] == "fired" and c["guards"][n].get("suspects")]  # noqa: E731
    names = [n for n in (attacked[0]["guards"] if attacked else {}) if named(n)]
    prec = [_mean(c["guards"][n].get("precision") for c in named(n)) or 0 for n in names]
    rec = [_mean(c["guards"][n].get("recall") for c in named(n)) or 0 for n in names]
    suite_p = _mean(c["suspects"]["precision"] for c in attacked) or 0
    suite_r = _mean(c["suspects"]["recall"] for c in attacked) or 0
    names, prec, rec = names + ["suite"], prec + [suite_p], rec + [suite_r]
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(names) + 2), 3.4))
    x = np.arange(len(names))
    ax.bar(x - 0.2, prec, 0.4, color=PALETTE[0], label="precision")
    ax.bar(x + 0.2, rec, 0.4, color=PALETTE[1], label="recall", hatch="//")
    ax.set_xticks(x, names, rotation=25, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    if not any(prec) and not any(rec):  # empty bars would read as a broken plot
        ax.text(0.5, 0.5, "no guard named suspect rows in any attacked cell", transform=ax.transAxes, ha="center", va="center", fontsize=9, color="#555")
    ax.set_title("localization: named suspect rows vs the flipped rows (mean over the cells where each guard fired)", fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # outside: never over a bar
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def plot_business(cells, plan: DrillPlan) -> str:
    import matplotlib.pyplot as plt

    attacked = [c for c in _ok(cells) if c["attack"] != CLEAN and c["model"] == plan.models[0]]
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    for i, a in enumerate(plan.attacks):
        xs, ys = [], []
        for r in plan.rates:
            s = [c["damage"]["share_points"] for c in attacked if c["attack"] == a and c["rate"] == r]
            if s:
                xs.append(r), ys.append(np.mean(s))
        if xs:
            ax.plot(xs, ys, marker="osD^vP*X"[i % 8], color=PALETTE[i % len(PALETTE)], label=a)
    ax.axhline(0, color="grey", lw=1)
    ax.set_xticks(list(plan.rates), [f"{r:g}" for r in plan.rates], fontsize=8)
    ax.set_xlabel("flip rate")
    ax.set_ylabel("predicted share moved (points)")
    ax.set_title(f"business figure: {plan.models[0]}'s predicted share of the positive class\n(else the class that moved most) vs the clean model", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
    ax.grid(alpha=0.3)
    return _png(fig)


def plot_certificate(certificates, summary) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    for i, c in enumerate(certificates):
        xs = [p["flips"] for p in c["curve"]]
        ys = [p["certified_accuracy"] for p in c["curve"]]
        ax.step(xs, ys, where="post", color=PALETTE[i % len(PALETTE)], lw=2 if len(xs) < 20 else 1.2, marker="o" if len(xs) < 20 else None, ms=3,
                label=f"{c['model']} ({c['method']}, {c['voters']} voters)")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # flips are whole numbers
    ax.set_xlabel("label flips anywhere in the training data")
    ax.set_ylabel("certified accuracy on the holdout")
    ax.set_ylim(0, 1.02)
    ax.set_title("certificate: predictions provably unchanged by that many flips", fontsize=9)
    if certificates:  # a bare run with no certificate draws empty axes: no legend to place
        ax.legend(fontsize=7, loc="lower left")  # the curves start high: the lower left is free
    ax.grid(alpha=0.3)
    return _png(fig)


def decision_panels(setup, plan: DrillPlan, cells) -> dict[str, Any] | None:
    """Clean vs. worst-case poisoned model of the first model on the data plane (2-D or PCA), as a PNG."""
    import matplotlib.pyplot as plt

    from labelguard.tasks.attacks import flip_labels
    from labelguard.tasks.features import feature_matrix
    from labelguard.tasks.train import data_plane, decision_grid, train_model

    summary = summarize(cells, [], plan)
    w = summary["worst"]
    if w is None:
        return None
    model = plan.models[0]
    poisoned = flip_labels(setup.train, setup.spec, attack=w["attack"], rate=w["rate"], seed=setup.seed)
    X = feature_matrix(setup.train, setup.spec)
    plane = data_plane(X, setup.spec, seed=setup.seed)
    P = plane.to_plane(X)
    rng = np.random.default_rng(setup.seed)
    show = rng.choice(len(P), size=min(1500, len(P)), replace=False)
    flipped = np.isin(setup.train[setup.spec.id_col].astype(str).to_numpy(), poisoned.flipped["id"].astype(str).to_numpy())
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharex=True, sharey=True)
    classes = list(setup.spec.classes)
    for ax, (title, frame) in zip(axes, (("clean", setup.train), (f"{w['attack']} {rate_text(w['rate'])}", poisoned.frame))):
        fitted = train_model(frame, setup.spec, model=model, seed=setup.seed)
        b = decision_grid(fitted, plane, P, steps=120)
        codes = np.vectorize({c: i for i, c in enumerate(classes)}.get)(b.zz)
        ax.contourf(b.xx, b.yy, codes, levels=np.arange(len(classes) + 1) - 0.5, colors=PALETTE[: len(classes)], alpha=0.18)
        y = frame[setup.spec.label_col].to_numpy()
        for i, c in enumerate(classes):
            sel = show[y[show] == c]
            ax.scatter(P[sel, 0], P[sel, 1], s=6, color=PALETTE[i % len(PALETTE)], marker="os^Dv"[i % 5], label=f"label {to_py(c)}", alpha=0.7)
        if title != "clean":
            sel = show[flipped[show]]
            ax.scatter(P[sel, 0], P[sel, 1], s=30, facecolors="none", edgecolors="black", linewidths=0.7, label="flipped")
        ax.set_title(f"{model} trained on {title}", fontsize=9)
        ax.set_xlabel(plane.axes[0], fontsize=8)
    axes[0].set_ylabel(plane.axes[1], fontsize=8)
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))  # outside: never over the flipped rows
    fig.suptitle("decision regions" + (" on a 2-D projection (PCA of the standardized features)" if plane.projected else ""), fontsize=9)
    return {"png": _png(fig), "attack": w["attack"], "rate": w["rate"], "projected": plane.projected}


def write_drill_report(cells, certificates, plan: DrillPlan, out_dir: Path, *, panels=None, seconds: float | None = None, data_source=None, timing=None,
                       command_seconds: float | None = None) -> dict[str, Path]:
    """Write report.json (one entry per cell), report.md and a self-contained report.html.

    ``seconds`` is the drill flow's wall time up to the report; ``command_seconds`` (when the
    ``labelguard drill`` command ran it) the command's wall time up to the report, which also counts
    checking the data and starting Prefect and S3 (report.json keeps both; see :func:`timing_note`).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(cells, certificates, plan)
    paths = {"json": out_dir / "report.json", "markdown": out_dir / "report.md", "html": out_dir / "report.html"}
    payload = {"plan": plan.to_dict(), "data_source": data_source, "seconds": seconds, "command_seconds": command_seconds, "timing": timing, "summary": summary, "certificates": certificates, "cells": cells}
    paths["json"].write_text(json.dumps(payload, indent=1, default=json_default))
    paths["markdown"].write_text(render_markdown(summary, plan))
    plots = {
        "accuracy vs flip rate": plot_accuracy(cells, plan),
        "first guard that caught each attack": plot_heatmap(cells, plan),
        "localization per guard": plot_localization(cells, plan),
        "business figure": plot_business(cells, plan),
        "certificate": plot_certificate(certificates, summary),
    }
    if panels:
        plots["decision regions"] = panels["png"]
    paths["html"].write_text(render_html(summary, plan, plots, timing_note(seconds, command_seconds)))
    return paths


def timing_note(seconds: float | None, command_seconds: float | None = None) -> str:
    """The report's one line on time, saying which clock it read: the command's wall time up to the
    report when known (the console's ``done in`` is the same clock, a few seconds later), and the
    drill flow's share of it; else the flow's wall time alone, named as such."""
    if not seconds:
        return ""
    if command_seconds:
        return (f"wall time: this report was written {command_seconds:.0f} s after `labelguard drill` started, {seconds:.0f} s of it in the drill flow "
                f"(the rest: checking the data, starting Prefect and S3)")
    return f"wall time of the drill flow: {seconds:.0f} s to this report (checking the data and starting Prefect before it not counted)"


def render_html(summary, plan: DrillPlan, plots: dict[str, str], note: str = "") -> str:
    import markdown_it  # noqa: F401 - rich ships markdown-it-py

    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("table")
    text = render_markdown(summary, plan)
    # the long per-attack table goes after the plots: the page leads with what a person reads first
    head, _, table = text.partition("## Every attack")
    body = md.render(head)
    tail = md.render("## Every attack" + table) if table else ""
    figs = []
    for title, png in plots.items():
        extra = ""
        if title == "certificate":
            extra = f"<p class='note'>{html.escape(summary['certificate_sentence'])}</p>"
        figs.append(f"<figure><figcaption>{html.escape(title)}</figcaption><img alt='{html.escape(title)}' src='data:image/png;base64,{png}'>{extra}</figure>")
    took = f"<p class='note'>{html.escape(note)}</p>" if note else ""
    style = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px}"
             "figure{margin:1.5em 0}figcaption{font-weight:600;margin-bottom:.3em}img{max-width:100%}.note{color:#555;font-size:13px}")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>labelguard drill</title><style>{style}</style></head>"
            f"<body>{body}<h2>Plots</h2>{''.join(figs)}{tail}{took}</body></html>")
