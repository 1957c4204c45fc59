"""Is a 2-point move on a small holdout damage the attack caused, or noise the 2-point rule mislabels? (issue 9, 300 rows)

Run: .venv/bin/python bench/regimes_noise.py --seeds 9100-9139 [--regime "300 rows"] [--attacks greedy,random] [--rate 0.01]

The regime grid scores an attack's damage on the regime's holdout (75 rows for `300 rows`): one row is 1.3
points, so two rows moved make "material damage" by the 2-point rule. To see what that figure measures, each
seed draws a replica of the regime from the same generator (`make_classification`, the regime's settings) with
20,000 more rows: 375 rows split as the grid splits them (300 candidate, 75 holdout) and the rest a population
sample the models never see. Per seed and attack: the 2-point figure (`regimes._points`: accuracy or a class's
predicted share, clean model vs poisoned) on the 75-row holdout and on the 20,000 rows; the clean model's own
spread on the holdout (`regimes._clean_spread`: 95th percentile of the same figure over 20 bootstrap refits of the
clean rows); the paired 95 % bounds on the holdout's accuracy move (Tango, as the model gate's); and the model
gate's verdict on the poisoned candidate (the gate alone, as verify runs it with the holdout as reference).
No constant is fitted here; the seeds (9100+) were used by no earlier section.
"""

from __future__ import annotations

import argparse
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
from pathlib import Path

import numpy as np
import pandas as pd

from regimes import REGIMES, _clean_spread, _points, _scores
from labelguard.errors import BadInput
from labelguard.tasks import attacks, guards
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.power import paired_difference_bounds

POPULATION = 20_000


def replica(cfg: dict, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, ColumnSpec]:
    """Candidate, holdout (as `regimes.make_regime` splits them) and a population sample, from one draw of the regime's generator."""
    from sklearn.datasets import make_classification

    k, d, n = cfg["classes"], cfg["features"], int(cfg["rows"] * 1.25)
    informative = min(d, max(2, int(np.ceil(np.log2(k))) + 2))
    weights = None if cfg["balance"] is None else [cfg["balance"], 1 - cfg["balance"]]
    X, y = make_classification(n_samples=n + POPULATION, n_features=d, n_informative=informative, n_redundant=0, n_classes=k,
                               n_clusters_per_class=1, weights=weights, flip_y=0, class_sep=1.0, random_state=seed)
    feats = tuple(f"f{i}" for i in range(d))
    frame = pd.DataFrame(X, columns=feats)
    frame["label"] = y
    frame["review_id"] = np.arange(len(frame))
    spec = ColumnSpec(feature_cols=feats, timestamp_col=None, classes=tuple(range(k)))
    idx = np.random.default_rng(seed).permutation(len(frame))
    cut = int(round(0.8 * n))
    take = lambda i: frame.iloc[i].reset_index(drop=True)  # noqa: E731
    return take(idx[:cut]), take(idx[cut:n]), take(idx[n:]), spec


def one(cfg: dict, seed: int, attack: str, rate: float) -> dict | None:
    cand, hold, pop, spec = replica(cfg, seed)
    try:
        res = attacks.flip_labels(cand, spec, attack=attack, rate=rate, seed=seed)
    except BadInput:
        return None
    clean_h, clean_p = _scores(cand, hold, spec), _scores(cand, pop, spec)
    pois_h, pois_p = _scores(res.frame, hold, spec), _scores(res.frame, pop, spec)
    spread = _clean_spread(clean_h, cand, hold, spec, seed)
    # paired counts on the holdout: rows only the clean model gets right (x) and only the poisoned one (y)
    from labelguard.tasks.train import train_model

    Xh = hold[list(spec.feature_cols)].to_numpy(float)
    yh = hold[spec.label_col].to_numpy()
    right_c = train_model(cand, spec).predict(Xh) == yh
    right_p = train_model(res.frame, spec).predict(Xh) == yh
    x, y = int((right_c & ~right_p).sum()), int((right_p & ~right_c).sum())
    lo, hi = paired_difference_bounds(x, y, len(hold))
    ctx = guards.GuardContext(frame=res.frame, spec=spec, reference=hold, holdout=hold)
    gate = guards.run_guards(ctx, ["model_gate"])[0]
    return {"seed": seed, "attack": attack, "rate": rate, "flips": len(res.flipped_ids), "holdout_rows": len(hold),
            "holdout_points": _points(clean_h, pois_h), "population_points": _points(clean_p, pois_p),
            "holdout_acc_drop": clean_h["accuracy"] - pois_h["accuracy"], "population_acc_drop": clean_p["accuracy"] - pois_p["accuracy"],
            "clean_accuracy_population": clean_p["accuracy"], "noise95": spread["noise95"], "lost": x, "won": y,
            "drop_lower": lo, "drop_upper": hi, "gate": gate.verdict}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", default="9100-9139", help="A-B (inclusive) or a comma list")
    ap.add_argument("--regime", default="300 rows")
    ap.add_argument("--attacks", default="greedy,random")
    ap.add_argument("--rate", type=float, default=0.01)
    ap.add_argument("--out", type=Path, default=Path("bench/results/regimes_noise.csv"))
    args = ap.parse_args()
    a, _, b = args.seeds.partition("-")
    seeds = range(int(a), int(b) + 1) if b else [int(s) for s in args.seeds.split(",")]
    rows = [r for s in seeds for att in args.attacks.split(",") if (r := one(REGIMES[args.regime], s, att, args.rate)) is not None]
    df = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    for att, g in df.groupby("attack", sort=False):
        mat = g[g.holdout_points >= 0.02]
        print(f"{att} {args.rate:.0%} ({g.flips.median():.0f} flips), {len(g)} seeds: 2-point figure on the {g.holdout_rows.iloc[0]}-row holdout "
              f">= 2 points in {len(mat)} (median {g.holdout_points.median():.3f}); on {POPULATION:,} unseen rows: median "
              f"{g.population_points.median():.4f}, max {g.population_points.max():.4f}, >= 2 points in {(g.population_points >= 0.02).sum()}; "
              f"population accuracy drop median {g.population_acc_drop.median():+.4f}, max {g.population_acc_drop.max():+.4f}")
        if len(mat):
            print(f"  of the {len(mat)} holdout-material runs: population figure median {mat.population_points.median():.4f}, "
                  f">= 2 points in {(mat.population_points >= 0.02).sum()}; above the clean spread (noise95) on the holdout in "
                  f"{(mat.holdout_points > mat.noise95).sum()}; paired 95 % lower bound on the accuracy drop > 0 in {(mat.drop_lower > 0).sum()}; "
                  f"gate verdicts {mat.gate.value_counts().to_dict()}")
        print(f"  clean spread on the holdout (noise95): median {g.noise95.median():.3f}, range {g.noise95.min():.3f}-{g.noise95.max():.3f}")


if __name__ == "__main__":
    main()
