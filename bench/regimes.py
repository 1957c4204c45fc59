"""Regime grid: suspect-set F1 (suite, each guard, cleanlab), verdicts, damage and clean false alarms across data regimes.

Run: .venv/bin/python bench/regimes.py [--clean-seeds 50] [--attack-seeds 1] [--jobs 2] [--out bench/results/regimes.md]

A full factorial (classes x balance x feature kind x width x rows x datasets) is out of reach on two
cores, so the grid varies one factor at a time around a base regime (2 classes, 50:50, continuous,
10 features, 2,000 candidate rows), plus the synthetic reviews and scikit-learn's four real datasets.
Every regime is split as `labelguard ingest` splits: 80 % candidate, 20 % trusted holdout, which
`verify` uses as reference and model-gate holdout by default.

Held out: the pooled flip posterior and the per-class tests were developed on seeds 100-101 of
the reviews (separation 2.8) and breast cancer (bench scratch runs); the prior on its pooling
weights (a unit normal around equal weights: a convention, not a fitted constant) was checked on
seeds 100-101 of wine, iris and breast cancer and seed 100 of base, 90:10 and 100 features. Every
number in the results uses seeds >= 1000. No threshold was fitted to any cell.

Clean runs compute no suspect set (there is nothing to find; the verdict needs no noise estimate
when a reference is there), so the clean false-alarm figure costs the guards only.
"""

from __future__ import annotations

import argparse
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one BLAS thread per worker: 2-8x faster on two shared cores than oversubscribed
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from _common import write_result
from labelguard.errors import BadInput
from labelguard.tasks import attacks, drill, guards
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.posterior import flip_posterior
from labelguard.tasks.train import evaluate, train_model
from labelguard.tasks.verify import dataset_verdict

RATES = (0.01, 0.05, 0.10, 0.20, 0.40)
STAT = ["schema", "class_balance", "class_conditional", "duplicate_conflicts", "confident_learning", "knn_consistency", "reference_model", "model_gate"]
LOCALIZERS = ["confident_learning", "knn_consistency", "reference_model", "duplicate_conflicts"]
TOLERATE = 0.2
COLUMNS = (["regime", "seed", "attack", "rate", "flips", "verdict", "suite_f1", "suite_wf1", "suite_set", "secs"] + [f"v_{g}" for g in STAT]
           + [f"f1_{g}" for g in LOCALIZERS] + ["cleanlab_f1", "cleanlab_wf1", "damage", "error",
              "recall_damage", "recall_class", "recall_material", "noise95", "recall_noise95"])
SPREAD_FITS = 20  # bootstrap refits of the clean model per regime and seed: the damage figure's own variability
BASE = dict(classes=2, balance=None, kind="continuous", features=10, rows=2000)
REGIMES: dict[str, dict] = {
    "base (2 classes, 50:50, continuous, 10 feat, 2,000 rows)": BASE,
    "3 classes": {**BASE, "classes": 3},
    "10 classes": {**BASE, "classes": 10},
    "40 classes (4,000 rows)": {**BASE, "classes": 40, "rows": 4000},
    "90:10": {**BASE, "balance": 0.9},
    "99:1 (5,000 rows)": {**BASE, "balance": 0.99, "rows": 5000},
    "discrete features": {**BASE, "kind": "discrete"},
    "mixed features": {**BASE, "kind": "mixed"},
    "2 features": {**BASE, "features": 2},
    "100 features": {**BASE, "features": 100},
    "300 rows": {**BASE, "rows": 300},
    "10,000 rows": {**BASE, "rows": 10000},
    "reviews (separation 2.8)": {"dataset": "reviews"},
    "breast cancer": {"dataset": "breast_cancer"},
    "wine": {"dataset": "wine"},
    "digits": {"dataset": "digits"},
    "iris": {"dataset": "iris"},
}


def make_regime(cfg: dict, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, ColumnSpec]:
    """Candidate (80 %) and trusted holdout (20 %) for one regime and seed."""
    rng = np.random.default_rng(seed)
    name = cfg.get("dataset")
    if name == "reviews":
        from labelguard.tasks.synthetic import make_reviews

        frame = make_reviews(2500, separation=2.8, seed=seed).drop(columns=["created_at"], errors="ignore")
        feats = ("polarity", "intensity")
    elif name:
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{name}")()
        X, y = bunch.data, bunch.target
        feats = tuple(f"f{i}" for i in range(X.shape[1]))
        frame = pd.DataFrame(X, columns=feats)
        frame["label"] = y
    else:
        from sklearn.datasets import make_classification

        k, d = cfg["classes"], cfg["features"]
        informative = min(d, max(2, int(np.ceil(np.log2(k))) + 2))
        weights = None if cfg["balance"] is None else [cfg["balance"], 1 - cfg["balance"]]
        X, y = make_classification(n_samples=int(cfg["rows"] * 1.25), n_features=d, n_informative=informative, n_redundant=0,
                                   n_classes=k, n_clusters_per_class=1, weights=weights, flip_y=0, class_sep=1.0, random_state=seed)
        if cfg["kind"] in ("discrete", "mixed"):
            cols = range(d) if cfg["kind"] == "discrete" else range(0, d, 2)
            for j in cols:  # coarse buckets, like star ratings: equal feature rows become common
                X[:, j] = np.digitize(X[:, j], np.quantile(X[:, j], [0.2, 0.4, 0.6, 0.8]))
        feats = tuple(f"f{i}" for i in range(d))
        frame = pd.DataFrame(X, columns=feats)
        frame["label"] = y
    frame["review_id"] = np.arange(len(frame))
    classes = tuple(sorted(np.unique(frame["label"]).tolist()))
    spec = ColumnSpec(feature_cols=feats, timestamp_col=None, classes=classes)
    idx = rng.permutation(len(frame))
    cut = int(round(0.8 * len(frame)))
    return frame.iloc[idx[:cut]].reset_index(drop=True), frame.iloc[idx[cut:]].reset_index(drop=True), spec


def _f1(found: np.ndarray, truth: np.ndarray) -> float:
    return float(2 * (found & truth).sum() / max(1, found.sum() + truth.sum()))


def _weighted_f1(found: np.ndarray, truth: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(truth, found, average="weighted", zero_division=0))


def _scores(frame: pd.DataFrame, holdout: pd.DataFrame, spec: ColumnSpec) -> dict | None:
    """The drill's holdout metrics (accuracy, class shares, per-class recall) of a model fitted on ``frame``; None: it cannot be fitted."""
    try:
        return drill.with_per_class(evaluate(train_model(frame, spec), holdout, spec))
    except BadInput:
        return None


def _points(clean: dict, other: dict) -> float:
    """The 2-point rule's figure: largest move, in points, of holdout accuracy or any class's predicted share (0.02 = 2 points)."""
    acc = abs(clean["accuracy"] - other["accuracy"])
    return max(acc, max(abs(clean["class_shares"][c]["predicted"] - other["class_shares"][c]["predicted"]) for c in clean["class_shares"]))


def _damage(clean: dict, frame: pd.DataFrame, holdout: pd.DataFrame, spec: ColumnSpec) -> dict:
    """What the attack cost on the holdout, by both rules: the 2-point figure (``damage``) and the drill's per-class
    recall rule (``recall_damage``: the largest recall loss of a class, a share of its rows; ``recall_material``)."""
    other = _scores(frame, holdout, spec)
    if other is None:  # the attack left a single class: nothing can be learnt
        return {"damage": 1.0, "recall_damage": 1.0, "recall_class": None, "recall_material": True}
    d = drill.damage(clean, other)
    return {"damage": _points(clean, other), "recall_damage": d["recall_points"] / 100, "recall_class": d["recall_class"],
            "recall_material": d["recall_material"]}


def _clean_spread(clean: dict, frame: pd.DataFrame, holdout: pd.DataFrame, spec: ColumnSpec, seed: int) -> dict:
    """The damage figures between the clean model and the same model refitted on bootstrap resamples of the same
    clean rows (:data:`SPREAD_FITS`): how far another equally clean training sample moves them. ``noise95`` and
    ``recall_noise95`` are their 95th percentiles; an attack's figure at or under it is within the clean model's own
    variability on this holdout."""
    rng = np.random.default_rng([seed, 95])
    pts, rec = [], []
    for _ in range(SPREAD_FITS):
        other = _scores(frame.iloc[rng.integers(0, len(frame), len(frame))], holdout, spec)
        if other is not None:
            pts.append(_points(clean, other))
            rec.append(drill.damage(clean, other)["recall_points"] / 100)
    return {"noise95": float(np.quantile(pts, 0.95)) if pts else None, "recall_noise95": float(np.quantile(rec, 0.95)) if rec else None}


def run_cell(task: tuple) -> list[dict]:
    """One regime and seed: the clean run (false alarms), then every attack at every rate."""
    regime, cfg, seed, with_attacks = task
    cand, holdout, spec = make_regime(cfg, seed)
    rows = []
    runs = [("clean", 0.0, cand, np.zeros(len(cand), bool))]
    if with_attacks:
        runs += [(name, rate, res.frame, truth) for name, rate, res, truth in attacked_runs(cand, spec, seed)]
    clean = spread = None
    if with_attacks:  # the damage figures compare each attacked model with this one, and with the clean model's own spread
        clean = _scores(cand, holdout, spec)
        spread = _clean_spread(clean, cand, holdout, spec, seed)
    for attack, rate, frame, truth in runs:
        try:
            rows.append(_evaluate(regime, seed, attack, rate, frame, truth, clean, spread, holdout, spec))
        except Exception as exc:  # a crash is a result too: counted, never silently dropped
            rows.append({"regime": regime, "seed": seed, "attack": attack, "rate": rate, "error": f"{type(exc).__name__}: {exc}"[:200]})
    return rows


def attacked_runs(cand, spec, seed: int):
    """Every registered attack at every grid rate on ``cand``: ``(attack, rate, result, truth)``, truth a boolean mask of
    the flipped rows; an attack that refuses the data (``BadInput``) or flips nothing is left out."""
    for name in attacks.REGISTRY:
        for rate in RATES:
            try:
                res = attacks.flip_labels(cand, spec, attack=name, rate=rate, seed=seed)
            except BadInput:
                continue
            if len(res.flipped_ids):
                yield name, rate, res, res.frame[spec.id_col].isin(res.flipped_ids).to_numpy()


def _evaluate(regime, seed, attack, rate, frame, truth, clean, spread, holdout, spec) -> dict:
    if True:
        t0 = time.perf_counter()
        ctx = guards.GuardContext(frame=frame, spec=spec, reference=holdout, holdout=holdout)
        results = guards.apply_tolerance(guards.run_guards(ctx, STAT), TOLERATE)
        # a clean run needs no suspect set (nothing to find) and the verdict needs no noise estimate when a reference is there
        # seed 0 as in verify: the suite's set is the one verify reports, and cleanlab's (seed 0 too) uses the same folds
        post = flip_posterior(frame, spec, holdout) if truth.any() else None
        verdict, _, _ = dataset_verdict(results, TOLERATE, None if post is None else post.noise_rate)
        ids = frame[spec.id_col].to_numpy()
        found = post.suspect if post is not None else np.zeros(len(frame), bool)
        row = {"regime": regime, "seed": seed, "attack": attack, "rate": rate, "flips": int(truth.sum()), "verdict": verdict,
               "suite_f1": _f1(found, truth), "suite_wf1": _weighted_f1(found, truth),
               "suite_set": None if post is None else post.chosen, "secs": time.perf_counter() - t0}
        for g in results:
            row[f"v_{g.name}"] = g.verdict
            if g.name in LOCALIZERS and g.suspect_ids is not None:
                row[f"f1_{g.name}"] = _f1(np.isin(ids, g.suspect_ids), truth)
        cl = np.isin(ids, next(g for g in results if g.name == "confident_learning").suspect_ids or [])
        row["cleanlab_f1"], row["cleanlab_wf1"] = _f1(cl, truth), _weighted_f1(cl, truth)
        row["damage"] = 0.0
        if attack != "clean":
            row.update(_damage(clean, frame, holdout, spec), **spread)
        return row


def summarize(df: pd.DataFrame, clean_seeds: int, attack_seeds: int, secs: float, first_seed: int = 1000) -> str:
    df = df.reindex(columns=list(dict.fromkeys([*df.columns, *COLUMNS])))  # a CSV of an older grid lacks the newer columns
    errors = df[df["error"].notna()] if "error" in df else df.iloc[:0]
    df = df[df["error"].isna()] if "error" in df else df
    att = df[df.attack != "clean"].copy()
    clean = df[df.attack == "clean"]
    cells = att.groupby(["regime", "attack", "rate"], sort=False).agg(
        suite=("suite_f1", "mean"), cleanlab=("cleanlab_f1", "mean"), suite_w=("suite_wf1", "mean"), cleanlab_w=("cleanlab_wf1", "mean"),
        damage=("damage", "mean"), fired=("verdict", lambda v: (v == "fired").mean()), unsure=("verdict", lambda v: (v == "inconclusive").mean()),
    ).reset_index()
    cells["gain"] = cells.suite - cells.cleanlab
    rules = _rules(att)
    material = att[rules["either"]]
    silent = material[material.verdict == "pass"]

    measured = att["recall_material"].notna().any() if len(att) else False

    def counted(mask) -> str:
        if mask is not rules["points"] and not measured:
            return "not measured (a CSV written before the per-class rule and the clean spread were recorded)"
        m = att[mask]
        return (f"{len(m)}; fired {(m.verdict == 'fired').sum()}, inconclusive {(m.verdict == 'inconclusive').sum()}, "
                f"**silent pass {(m.verdict == 'pass').sum()}**")
    lines = [
        f"Clean seeds per regime: {clean_seeds} (seeds {first_seed}+); attack seeds per cell: {attack_seeds}; tolerance {TOLERATE:.0%}; "
        f"{len(att)} attacked runs, {len(clean)} clean runs; wall time {secs / 60:.1f} min on 2 cores shared with other work"
        f"{' (this summary only: --summarize)' if secs < 60 else ''}.",
        "",
        "## Summary",
        "",
        f"- suspect-set F1, mean over {len(cells)} cells: suite **{cells.suite.mean():.3f}**, cleanlab **{cells.cleanlab.mean():.3f}** "
        f"(mean gain {cells.gain.mean():+.3f}); weighted F1 suite {cells.suite_w.mean():.3f}, cleanlab {cells.cleanlab_w.mean():.3f}",
        f"- cells where the suite is more than 0.01 below cleanlab: {(cells.gain < -0.01).sum()} of {len(cells)}",
        f"- attacked runs with material damage by the 2-point rule (>= 2 points of accuracy or a class's predicted share): {counted(rules['points'])}",
        f"- by the per-class rule (a class losing >= {guards.RECALL_GAP:.0%} of its recall on the holdout, the drill's `damage`): {counted(rules['recall'])}",
        f"- by either rule: {counted(rules['either'])}",
        f"- of these, beyond the clean model's own variability (the figure above the 95th percentile of the same figure between the clean "
        f"model and {SPREAD_FITS} bootstrap refits of it on the clean rows): {counted(rules['beyond'])}",
        f"- runs that raised: {len(errors)}" + ("".join(f"; {r.regime} {r.attack} {r.rate:.0%}: {r.error}" for r in errors.head(5).itertuples())),
        "",
        "## Worst cells (suite minus cleanlab)",
        "",
        "| regime | attack | rate | suite F1 | cleanlab F1 | gain | damage | fired | inconclusive |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in cells.nsmallest(12, "gain").itertuples():
        lines.append(f"| {r.regime} | {r.attack} | {r.rate:.0%} | {r.suite:.3f} | {r.cleanlab:.3f} | {r.gain:+.3f} | {r.damage:.3f} | {r.fired:.0%} | {r.unsure:.0%} |")
    if len(silent):
        lines += ["", "## Material damage that passed silently", "",
                  "| regime | seed | attack | rate | flips | damage (2-point) | clean spread (95th pct) | recall loss | its spread | suite F1 |",
                  "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in silent.itertuples():
            lines.append(f"| {r.regime} | {r.seed} | {r.attack} | {r.rate:.0%} | {r.flips} | {r.damage:.3f} | {_num(r.noise95)} | "
                         f"{_num(r.recall_damage)} | {_num(r.recall_noise95)} | {r.suite_f1:.3f} |")
    lines += ["", "## Per regime", "", "| regime | suite F1 | cleanlab F1 | gain | worst cell gain | " + " | ".join(f"{g} F1" for g in LOCALIZERS) +
              " | fired | inconclusive | pass |", "|---|" + "---:|" * (7 + len(LOCALIZERS))]
    for regime, g in att.groupby("regime", sort=False):
        c = cells[cells.regime == regime]
        per = " | ".join(f"{g[f'f1_{n}'].mean():.3f}" if f"f1_{n}" in g else "—" for n in LOCALIZERS)
        lines.append(f"| {regime} | {g.suite_f1.mean():.3f} | {g.cleanlab_f1.mean():.3f} | {c.gain.mean():+.3f} | {c.gain.min():+.3f} | {per} | "
                     f"{(g.verdict == 'fired').mean():.0%} | {(g.verdict == 'inconclusive').mean():.0%} | {(g.verdict == 'pass').mean():.0%} |")
    lines += ["", "## Material damage per regime, by rule", "",
              "| regime | attacked runs | 2-point | per-class recall | either | fired | inconclusive | silent pass | beyond clean spread | "
              "its silent passes | suite F1 | cleanlab F1 |", "|---|" + "---:|" * 11]
    for regime, g in att.groupby("regime", sort=False):
        r = {k: v[g.index] for k, v in rules.items()}
        e = g[r["either"]]
        lines.append(f"| {regime} | {len(g)} | {r['points'].sum()} | {r['recall'].sum()} | {len(e)} | {(e.verdict == 'fired').sum()} | "
                     f"{(e.verdict == 'inconclusive').sum()} | {(e.verdict == 'pass').sum()} | {r['beyond'].sum()} | "
                     f"{(g[r['beyond']].verdict == 'pass').sum()} | {g.suite_f1.mean():.3f} | {g.cleanlab_f1.mean():.3f} |")
    guard_cols = [c for c in clean.columns if c.startswith("v_")]
    lines += ["", "## Clean false alarms per guard (fired / runs)", "", "| regime | runs | " + " | ".join(c[2:] for c in guard_cols) + " | suite verdict fired | inconclusive |",
              "|---|---:|" + "---:|" * (len(guard_cols) + 2)]
    for regime, g in clean.groupby("regime", sort=False):
        cellsf = " | ".join(f"{(g[c] == 'fired').mean():.1%}" if (g[c] != "skipped").any() else "skip" for c in guard_cols)
        lines.append(f"| {regime} | {len(g)} | {cellsf} | {(g.verdict == 'fired').mean():.1%} | {(g.verdict == 'inconclusive').mean():.0%} |")
    lines += ["", "## Every cell", "", "| regime | attack | rate | suite F1 | cleanlab F1 | suite wF1 | cleanlab wF1 | damage | fired | inconclusive |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in cells.itertuples():
        lines.append(f"| {r.regime} | {r.attack} | {r.rate:.0%} | {r.suite:.3f} | {r.cleanlab:.3f} | {r.suite_w:.3f} | {r.cleanlab_w:.3f} | {r.damage:.3f} | {r.fired:.0%} | {r.unsure:.0%} |")
    return "\n".join(lines) + "\n"


def _rules(att: pd.DataFrame) -> dict[str, pd.Series]:
    """Which attacked runs did material damage: ``points`` (the 2-point rule), ``recall`` (the drill's per-class recall
    rule), ``either``, and ``beyond``: material by a rule whose figure is also above the clean model's own 95th
    percentile (runs of CSVs written before these columns count as not measured: False)."""
    cols = {c: att[c] if c in att else pd.Series(np.nan, index=att.index) for c in ("recall_material", "noise95", "recall_noise95", "recall_damage")}
    points = att.damage >= 0.02
    recall = cols["recall_material"].astype(str).isin(["True", "1", "1.0"])
    beyond = (points & (att.damage > cols["noise95"])) | (recall & (cols["recall_damage"] > cols["recall_noise95"]))
    return {"points": points, "recall": recall, "either": points | recall, "beyond": beyond}


def _num(v) -> str:
    return "—" if v is None or pd.isna(v) else f"{float(v):.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clean-seeds", type=int, default=50)
    ap.add_argument("--attack-seeds", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--first-seed", type=int, default=1000, help="seeds run from here up (e.g. 1001 to add attack seeds to a grid that has 1000)")
    ap.add_argument("--regimes", default="", help="comma- (or semicolon-) separated substrings of regime names (default: all)")
    ap.add_argument("--out", type=Path, default=Path("bench/results/regimes.md"))
    ap.add_argument("--summarize", action="store_true", help="only summarize the rows already in OUT.csv (e.g. after stopping a long run)")
    ap.add_argument("--reuse", type=Path, action="append", default=[],
                    help="CSV of clean runs measured at the same code: its clean rows for the picked regimes and seeds are copied "
                         "into OUT.csv and those clean-only tasks are not run again (repeatable)")
    args = ap.parse_args()
    csv = args.out.with_suffix(".csv")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if not args.summarize:
        tokens = args.regimes.split(";" if ";" in args.regimes else ",")  # ';' when a name holds a comma ("10,000 rows")
        if any(args.regimes in k for k in REGIMES):  # one name that holds a comma ("10,000 rows") is one token, not two
            tokens = [args.regimes]
        tokens = [t for t in tokens if t]  # an empty token ("a;") would match every regime
        picked = {k: v for k, v in REGIMES.items() if not args.regimes or any(s in k for s in tokens)}
        seeds = max(args.clean_seeds, args.attack_seeds)
        # attacked seeds first, then clean seeds round-robin over regimes: a run stopped early still
        # has every attack cell and the same number of clean seeds in every regime
        tasks = [(name, cfg, args.first_seed + s, s < args.attack_seeds) for s in range(seeds) for name, cfg in picked.items()]
        # cheap regimes first within each group: on a loaded machine a stopped run still covers most regimes
        # (clean seeds stay round-robin: a stopped run has the same number of clean seeds in every regime)
        tasks.sort(key=lambda t: (not t[3], 0 if t[3] else t[2], t[1].get("rows", 1500) * (1 + t[1].get("classes", 2) / 10)))
        csv.unlink(missing_ok=True)
        if args.reuse:  # clean rows already measured at this code: copy them, run only the seeds they lack
            old = pd.concat([pd.read_csv(p) for p in args.reuse])
            old = old[(old.attack == "clean") & old.error.isna() & old.regime.isin(picked)].drop_duplicates(["regime", "seed"])
            old = old[(old.seed < args.first_seed + seeds) & (old.seed >= args.first_seed + args.attack_seeds)]  # attacked seeds rerun their clean run
            done = set(zip(old.regime, old.seed))
            tasks = [t for t in tasks if t[3] or (t[0], t[2]) not in done]
            old.reindex(columns=COLUMNS).to_csv(csv, index=False)
            print(f"reused {len(old)} clean rows from {', '.join(map(str, args.reuse))}; {len(tasks)} tasks to run", flush=True)
        from concurrent.futures import as_completed

        with ProcessPoolExecutor(args.jobs) as pool:
            for fut in as_completed([pool.submit(run_cell, t) for t in tasks]):
                pd.DataFrame(fut.result()).reindex(columns=COLUMNS).to_csv(csv, mode="a", header=not csv.exists(), index=False)
    df = pd.read_csv(csv)
    clean_seeds = int(df[df.attack == "clean"].groupby("regime").size().min())
    att = df[df.attack != "clean"]
    attack_seeds = int(att.groupby(["regime", "attack", "rate"]).seed.nunique().max()) if len(att) else 0  # from the rows: --summarize has no --attack-seeds
    write_result(summarize(df, clean_seeds, attack_seeds, time.perf_counter() - t0, int(df.seed.min())), args.out)


if __name__ == "__main__":
    main()
