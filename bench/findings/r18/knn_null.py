"""F1's null, measured directly: knn_consistency's verdict on clean data with ties (zicounts, dups) and without.

    knn_null.py KIND SEED0 SEEDS

For each seed: the candidate (part b, all rows, as `verify B --reference A_base`) and the trusted rows (part a's
80 % baseline, as hunt.py) and, as `verify A`, part a's 80 % against its own 20 % holdout. The old verdict compares
the rule's rate on the candidate with the rate of the same rule run on the trusted rows alone (a smaller neighbour
pool); "new" scores each trusted row against the candidate's rows (plain search, ties by the search's order: the first
half of the fix only). Run on main's code (f2f9963) it gave zicounts old 15/60, new 3/60; dups old 9/60, new 0/60; after
92604c5 `knn_consistency` itself counts ties, so "old" here is no longer main's guard.
Prints the share of seeds on which each fires at the guard's alpha (1e-3).
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from gen import gen  # noqa: E402

from labelguard.tasks import sources  # noqa: E402
from labelguard.tasks.detectors import _xy, feature_scaler, knn_consistency, KNN_K, KNN_ETA  # noqa: E402
from labelguard.tasks.guards import ALPHA, _excess  # noqa: E402


def trusted_hits(cand, ref, spec):
    from sklearn.neighbors import NearestNeighbors

    X, c, _ = _xy(cand, spec)
    Xr, cr, _ = _xy(ref, spec)
    sc = feature_scaler().fit(X)
    idx = NearestNeighbors(n_neighbors=KNN_K).fit(sc.transform(X)).kneighbors(sc.transform(Xr))[1]
    return (c[idx] != cr[:, None]).mean(axis=1) >= KNN_ETA


def load(df, tmp):
    df.to_csv(tmp, index=False)
    return sources.load_source(str(tmp), id_col="review_id", label_col="label", timestamp_col=None,
                               text_cols=["text"] if "text" in df else None)


kind, s0, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tmp = Path(f"/tmp/knn_null_{kind}.csv")
fires = {"old A": 0, "new A": 0, "old B": 0, "new B": 0}
for seed in range(s0, s0 + n):
    fa, spec, _ = load(gen(kind, seed, "a", None), tmp)
    train, ho = sources.split_holdout(fa, spec, 0.2, seed)
    fb, _, _ = load(gen(kind, seed, "b", None), tmp)
    for tag, cand, ref in (("A", train, ho), ("B", fb, train)):
        found = knn_consistency(cand, spec).suspect
        old = knn_consistency(ref, spec).suspect
        new = trusted_hits(cand, ref, spec)
        po = _excess(int(found.sum()), len(found), int(old.sum()), len(old))
        pn = _excess(int(found.sum()), len(found), int(new.sum()), len(new))
        fires[f"old {tag}"] += po < ALPHA
        fires[f"new {tag}"] += pn < ALPHA
        print(f"{kind} {seed} {tag}: cand {found.mean():.3f}  ref alone {old.mean():.3f} (p={po:.2g})  ref vs cand {new.mean():.3f} (p={pn:.2g})", flush=True)
print(kind, {k: f"{v}/{n}" for k, v in fires.items()})
