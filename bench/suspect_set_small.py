"""Where the suite's suspect set and cleanlab's part on a small regime (issue 9, fifteenth session): per attacked run,
the set `flip_posterior` names and which candidate set it chose, cleanlab's set on the same folds, the rows only one of
them names and how many are flips, the posterior's sum against the true flip count, its top rows cut at the true count,
the pooling weights and each candidate set's figures. Dev seeds only.

Run from the repository root (about 2.5 min for ten seeds of `300 rows` at load 7-9):
    nice -n 10 .venv/bin/python bench/suspect_set_small.py 9200,9201,9202,9203,9204,9205,9206,9207,9208,9209 "300 rows" /tmp/dev.csv
Writes the CSV and, beside it, a pickle with each run's per-row posterior, truth, cleanlab membership and self-confidence.
"""
import os, sys, json
for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(v, "1")
sys.path.insert(0, "bench")
import numpy as np, pandas as pd
from concurrent.futures import ProcessPoolExecutor
import regimes
from labelguard.tasks import posterior as P

def run_seed(seed, regime="300 rows"):
    cfg = regimes.REGIMES[regime]
    cand, hold, spec = regimes.make_regime(cfg, seed)
    out = []
    for name, rate, res, truth in regimes.attacked_runs(cand, spec, seed):
        frame = res.frame
        cap = {"ef1": []}
        o_choose, o_cl, o_ef1 = P.choose_suspect_set, P._cleanlab_set, P.expected_f1_set
        def choose(c, rows, ef, rr, **kw):
            cap["choose_in"] = (c, rows, ef, rr); return o_choose(c, rows, ef, rr, **kw)
        def cl(codes, oof):
            m = o_cl(codes, oof); cap["cl"] = m; cap["oof"] = oof; return m
        def ef1(p):
            m = o_ef1(p); cap["ef1"].append((p.copy(), m)); return m
        P.choose_suspect_set, P._cleanlab_set, P.expected_f1_set = choose, cl, ef1
        try:
            fp = P.flip_posterior(frame, spec, hold)
        finally:
            P.choose_suspect_set, P._cleanlab_set, P.expected_f1_set = o_choose, o_cl, o_ef1
        f1 = regimes._f1
        post = fp.posterior
        own_p, own = cap["ef1"][0]
        ref_alone = cap["ef1"][1] if len(cap["ef1"]) > 1 else None
        cl_set = cap["cl"]
        T = int(truth.sum())
        order = np.argsort(-post, kind="stable")
        topT = np.zeros(len(post), bool); topT[order[:T]] = True
        r = dict(seed=seed, attack=name, rate=rate, flips=T, chosen=fp.chosen, suite_f1=f1(fp.suspect, truth),
                 suite_n=int(fp.suspect.sum()), suite_tp=int((fp.suspect & truth).sum()),
                 cl_f1=f1(cl_set, truth), cl_n=int(cl_set.sum()), cl_tp=int((cl_set & truth).sum()),
                 own_f1=f1(own, truth), own_n=int(own.sum()), own_tp=int((own & truth).sum()),
                 post_sum=float(post.sum()), noise_rate=fp.noise_rate, topT_f1=f1(topT, truth),
                 suite_only=int((fp.suspect & ~cl_set).sum()), suite_only_tp=int((fp.suspect & ~cl_set & truth).sum()),
                 cl_only=int((cl_set & ~fp.suspect).sum()), cl_only_tp=int((cl_set & ~fp.suspect & truth).sum()),
                 weights=json.dumps({k: round(v, 3) for k, v in fp.weights.items()}),
                 cands=json.dumps({m: {k: round(v, 4) for k, v in d.items()} for m, d in fp.candidates.items()}),
                 ref_rows=len(hold), cand_rows=len(frame))
        # posterior rank-cut at cleanlab's size
        topc = np.zeros(len(post), bool); topc[order[:max(1, int(cl_set.sum()))]] = True
        r["top_cl_n_f1"] = f1(topc, truth)
        # flipped rows' posterior vs clean
        r["post_flip_mean"] = float(post[truth].mean()); r["post_clean_mean"] = float(post[~truth].mean())
        # cleanlab's own ranking: self-confidence order cut at T
        oof = cap["oof"]; codes = np.searchsorted(spec.classes, frame[spec.label_col].to_numpy()) if hasattr(spec, "label_col") else None
        if ref_alone is not None:
            r["ref_f1"] = f1(ref_alone[1], truth); r["ref_n"] = int(ref_alone[1].sum())
        r["_post"] = post.tolist(); r["_truth"] = truth.astype(int).tolist(); r["_cl"] = cl_set.astype(int).tolist()
        oofr = cap["oof"]; codes_ = frame[spec.label_col].map({c: i for i, c in enumerate(spec.classes)}).to_numpy()
        r["_sc"] = oofr[np.arange(len(codes_)), codes_].tolist()
        out.append(r)
    return out

if __name__ == "__main__":
    seeds = [int(s) for s in sys.argv[1].split(",")]
    regime = sys.argv[2] if len(sys.argv) > 2 else "300 rows"
    outp = sys.argv[3] if len(sys.argv) > 3 else "/tmp/small9/diag.csv"
    with ProcessPoolExecutor(2) as pool:
        rows = [r for rs in pool.map(run_seed, seeds, [regime] * len(seeds)) for r in rs]
    import pickle
    pickle.dump(rows, open(outp.replace(".csv", ".pkl"), "wb"))
    pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]).to_csv(outp, index=False)
    print(len(rows))
