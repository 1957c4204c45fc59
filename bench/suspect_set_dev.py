"""Dev-seed study: suspect-set size rules (cleanlab's confident-joint count, its set size, union) against the shipped choice.

Run: .venv/bin/python bench/suspect_set_dev.py OUT.csv "REGIME;REGIME;moons" 100,101,102 random,nearest,cluster,subset 0.01,0.05,0.1,0.2

Dev seeds only (< 1000, asserted): a rule is looked for here and judged on the grid's seeds. ``moons``
is scikit-learn's make_moons (2,500 rows, noise 0.3), a dataset not in the grid.
"""
import sys, time, json
sys.path.insert(0, "bench")
import numpy as np, pandas as pd
import regimes as R
from labelguard.tasks import attacks, posterior as P
from labelguard.tasks.manifest import ColumnSpec

stash = {}
_orig = P._cleanlab_set
def _spy(codes, oof):
    stash["codes"], stash["oof"] = codes, oof
    return _orig(codes, oof)
P._cleanlab_set = _spy

def moons(seed):
    from sklearn.datasets import make_moons
    X, y = make_moons(2500, noise=0.3, random_state=seed)
    f = pd.DataFrame(X, columns=["f0", "f1"]); f["label"] = y; f["review_id"] = np.arange(len(f))
    rng = np.random.default_rng(seed); idx = rng.permutation(len(f)); cut = 2000
    spec = ColumnSpec(feature_cols=("f0", "f1"), timestamp_col=None, classes=(0, 1))
    return f.iloc[idx[:cut]].reset_index(drop=True), f.iloc[idx[cut:]].reset_index(drop=True), spec

def f1(found, truth):
    return float(2 * (found & truth).sum() / max(1, found.sum() + truth.sum()))

def topk(score, k):
    m = np.zeros(len(score), bool)
    if k > 0:
        m[np.argsort(-score, kind="stable")[:k]] = True
    return m

out = sys.argv[1]
regs = sys.argv[2].split(";")
seeds = [int(s) for s in sys.argv[3].split(",")]
atts = sys.argv[4].split(",")
rates = [float(r) for r in sys.argv[5].split(",")]
from cleanlab.count import num_label_issues
rows = []
for reg in regs:
    for seed in seeds:
        assert seed < 1000
        cand, hold, spec = moons(seed) if reg == "moons" else R.make_regime(R.REGIMES[reg], seed)
        for a in atts:
            for rate in rates:
                try:
                    res = attacks.flip_labels(cand, spec, attack=a, rate=rate, seed=seed)
                except Exception:
                    continue
                truth = res.frame[spec.id_col].isin(res.flipped_ids).to_numpy()
                if not truth.any():
                    continue
                t = time.perf_counter()
                post = P.flip_posterior(res.frame, spec, hold)
                codes, oof = stash["codes"], stash["oof"]
                cl = P._cleanlab_set.__wrapped__(codes, oof) if hasattr(P._cleanlab_set, "__wrapped__") else _orig(codes, oof)
                own = P.expected_f1_set(post.posterior)
                n_cj = int(num_label_issues(labels=codes, pred_probs=oof))
                r = {"regime": reg, "seed": seed, "attack": a, "rate": rate, "flips": int(truth.sum()),
                     "chosen": post.chosen, "suite": f1(post.suspect, truth), "cleanlab": f1(cl, truth), "own": f1(own, truth),
                     "topk_cj": f1(topk(post.posterior, n_cj), truth), "topk_cl": f1(topk(post.posterior, int(cl.sum())), truth),
                     "n_own": int(own.sum()), "n_cl": int(cl.sum()), "n_cj": n_cj, "post_sum": float(post.posterior.sum()),
                     "w": json.dumps({k: round(v, 2) for k, v in post.weights.items()}), "secs": time.perf_counter() - t}
                # size from the mean of the posterior's and cleanlab's estimates
                r["topk_avg"] = f1(topk(post.posterior, int(round((post.posterior.sum() + n_cj) / 2))), truth)
                # union / intersection
                r["inter"] = f1(own & cl, truth); r["union"] = f1(own | cl, truth)
                rows.append(r)
                print(reg[:12], seed, a, rate, {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k not in ("regime", "seed", "attack", "rate", "w")}, flush=True)
                pd.DataFrame(rows).to_csv(out, index=False)
