"""Ablations of the flip posterior's pooling weights on one regime's attacked runs (issue 9, fifteenth session, dev
seeds only): `base` (the fitted weights), `equal` (1/3 each), `noknn` (the neighbourhood view's weight 0, the other two
fitted), `sum1` (the fitted weights scaled to sum to 1). Prints mean cell F1, cells and runs more than 0.01 below
cleanlab, runs worse / better than `base`.

    nice -n 10 .venv/bin/python bench/suspect_set_small_ablate.py 9200,...,9209 "300 rows" base,equal,noknn,sum1 /tmp/abl.csv
"""
import os, sys
for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(v, "1")
sys.path.insert(0, "bench")
import numpy as np, pandas as pd
from _common import run_seeds_to_csv
import regimes
from labelguard.tasks import posterior as P

ORIG_FIT = P._fit_weights
def variant(name):
    if name == "base":
        P._fit_weights = ORIG_FIT
    elif name == "equal":
        P._fit_weights = lambda v, c: np.full(len(v), 1.0 / len(v))
    elif name == "noknn":
        def f(v, c):
            w = ORIG_FIT(v[:2], c); return np.array([w[0], w[1], 0.0])
        P._fit_weights = f
    elif name == "sum1":  # weights constrained to a convex combination (no sharpening)
        def f(v, c):
            w = ORIG_FIT(v, c); s = w.sum(); return w / s if s > 0 else np.full(len(v), 1 / len(v))
        P._fit_weights = f

def run_seed(args):
    seed, regime, names = args
    cand, hold, spec = regimes.make_regime(regimes.REGIMES[regime], seed)
    out = []
    for att, rate, res, truth in regimes.attacked_runs(cand, spec, seed):
        r = dict(seed=seed, attack=att, rate=rate, flips=int(truth.sum()))
        memo = {}
        for n in names:
            variant(n)
            fp = P.flip_posterior(res.frame, spec, hold, memo=memo)
            r[n] = regimes._f1(fp.suspect, truth); r[n + "_n"] = int(fp.suspect.sum())
            if n == names[0]:
                cl = P._cleanlab_set  # cleanlab's set via the guard's same folds
                from labelguard.tasks.detectors import confident_learning, detector_model
                with detector_model(res.frame, spec, hold, memo):
                    c = confident_learning(res.frame, spec, memo=memo).suspect
                r["cl"] = regimes._f1(c, truth)
        variant("base")
        out.append(r)
    return out

if __name__ == "__main__":
    seeds = [int(s) for s in sys.argv[1].split(",")]
    regime = sys.argv[2]; names = sys.argv[3].split(","); outp = sys.argv[4]
    df = run_seeds_to_csv(run_seed, [(s, regime, names) for s in seeds], outp)
    c = df.groupby(["attack", "rate"]).mean(numeric_only=True)
    for n in names:
        print(n, "mean F1 %.4f" % c[n].mean(), "cells below cl", int((c[n] - c.cl < -0.01).sum()), "runs below", int((df[n] - df.cl < -0.01).sum()),
              "runs worse than base by >0.01", int((df[n] - df["base"] < -0.01).sum()), "better", int((df[n] - df["base"] > 0.01).sum()))
    print("cl mean %.4f" % c.cl.mean())
