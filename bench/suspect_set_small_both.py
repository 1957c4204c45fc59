"""Two flip posteriors (OLD_POSTERIOR, e.g. main's `git show main:tasks/posterior.py > /tmp/posterior_old.py`, and the
checked-out one) on the same attacked runs of one regime, with cleanlab's set on the same folds: mean cell F1 of each,
cells and runs more than 0.01 below cleanlab, switches away from the posterior's own set, runs changed. No guards run
(use bench/posterior_both.py for the grid's verdicts). Dev seeds only (issue 9, fifteenth session).

    OLD_POSTERIOR=/tmp/posterior_old.py nice -n 10 .venv/bin/python bench/suspect_set_small_both.py 9200,...,9209 "300 rows" /tmp/both.csv
"""
import importlib.util, os, sys
for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(v, "1")
sys.path.insert(0, "bench")
_spec = importlib.util.spec_from_file_location("labelguard.tasks.posterior_old", os.environ.get("OLD_POSTERIOR", "/tmp/posterior_old.py"))
old = importlib.util.module_from_spec(_spec); sys.modules[_spec.name] = old; _spec.loader.exec_module(old)
import numpy as np, pandas as pd
from _common import run_seeds_to_csv
import regimes
from labelguard.tasks import posterior as new
from labelguard.tasks.detectors import confident_learning, detector_model

def run_seed(args):
    seed, regime = args
    cand, hold, spec = regimes.make_regime(regimes.REGIMES[regime], seed)
    out = []
    for att, rate, res, truth in regimes.attacked_runs(cand, spec, seed):
        memo = {}
        r = dict(seed=seed, attack=att, rate=rate, flips=int(truth.sum()))
        for tag, mod in (("old", old), ("new", new)):
            fp = mod.flip_posterior(res.frame, spec, hold, memo=memo)
            r[tag] = regimes._f1(fp.suspect, truth); r[tag + "_set"] = fp.chosen
        with detector_model(res.frame, spec, hold, memo):
            r["cl"] = regimes._f1(confident_learning(res.frame, spec, memo=memo).suspect, truth)
        out.append(r)
    return out

if __name__ == "__main__":
    seeds = [int(s) for s in sys.argv[1].split(",")]
    df = run_seeds_to_csv(run_seed, [(s, sys.argv[2]) for s in seeds], sys.argv[3])
    c = df.groupby(["attack", "rate"]).mean(numeric_only=True)
    for n in ("old", "new"):
        print(n, "mean F1 %.4f" % c[n].mean(), "cells below cl", int((c[n] - c.cl < -0.01).sum()), "runs below", int((df[n] - df.cl < -0.01).sum()), "switches", int((df[n + "_set"] != "posterior").sum()))
    print("cl %.4f" % c.cl.mean(), "runs new worse than old by >0.01:", int((df.new - df.old < -0.01).sum()), "better:", int((df.new - df.old > 0.01).sum()))
    print("cells new worse than old by >0.01:", int((c.new - c.old < -0.01).sum()), "better:", int((c.new - c.old > 0.01).sum()))
