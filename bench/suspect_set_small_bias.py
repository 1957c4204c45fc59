"""cleanlab's set's false-alarm rate on the trusted rows scored by the five fold models' mean (`rate_mean`) and by one
fold model each, averaged over the five (`rate_fold`), against the share of the candidate's clean rows under the
same thresholds (`cand_clean_thr`) and in its set (`cand_clean_in_set`), per attacked run (issue 9, fifteenth
session, dev seeds only).

    nice -n 10 .venv/bin/python bench/suspect_set_small_bias.py 9200,...,9209 "300 rows" /tmp/bias.csv
"""
import os, sys
for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(v, "1")
sys.path.insert(0, "bench")
import numpy as np, pandas as pd
from _common import run_seeds_to_csv
import regimes
from labelguard.tasks import posterior as P
from labelguard.tasks import detectors as D

def run_seed(args):
    seed, regime = args
    cand, hold, spec = regimes.make_regime(regimes.REGIMES[regime], seed)
    out = []
    for att, rate, res, truth in regimes.attacked_runs(cand, spec, seed):
        frame = res.frame
        memo = {}
        with D.detector_model(frame, spec, hold, memo):
            X, codes, classes = D._xy(frame, spec); Xr, cr, _ = D._xy(hold, spec); k = len(classes)
            oof, on_ref = D.cross_fit_proba(X, codes, k, Xr, seed=0, memo=memo)
            fits = D._fold_fits(X, codes, k, folds=5, seed=0, memo=memo)
            per = np.stack([D._predict(f, Xr, k) for _, f in fits])
        cl = P._cleanlab_set(codes, oof)
        if not cl.any():
            continue
        hit_mean = np.zeros(len(cr), bool); hit_fold = np.zeros(len(cr)); cand_hit = np.zeros(len(codes), bool)
        for c in np.unique(codes[cl]):
            thr = float(oof[cl & (codes == c), c].max())
            hit_mean |= (cr == c) & (on_ref[:, c] <= thr)
            hit_fold = np.maximum(hit_fold, ((cr == c)[None, :] & (per[:, :, c] <= thr)).mean(axis=0))
            cand_hit |= (codes == c) & (oof[:, c] <= thr)
        out.append(dict(seed=seed, attack=att, rate=rate, flips=int(truth.sum()), cl_n=int(cl.sum()),
                        rate_mean=hit_mean.mean(), rate_fold=hit_fold.mean(),
                        cand_clean_thr=cand_hit[~truth].mean(), cand_clean_in_set=cl[~truth].mean()))
    return out

if __name__ == "__main__":
    seeds = [int(s) for s in sys.argv[1].split(",")]
    df = run_seeds_to_csv(run_seed, [(s, sys.argv[2]) for s in seeds], sys.argv[3])
    print(df[["rate_mean", "rate_fold", "cand_clean_thr", "cand_clean_in_set"]].mean().round(4).to_string())
    print(df.groupby("attack")[["rate_mean", "rate_fold", "cand_clean_thr", "cand_clean_in_set"]].mean().round(4).to_string())
