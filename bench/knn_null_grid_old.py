"""The same, with knn_consistency as it was before r18 F1 (plain search; the trusted rows' rate from the rule run on them alone)."""
import sys, json, time
import os; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np, regimes
from labelguard.tasks import detectors, guards
from labelguard.tasks.detectors import _xy, feature_scaler, other_neighbours, KNN_K, KNN_ETA
def old_mask(frame, spec):
    X, codes, _ = _xy(frame, spec); Z = feature_scaler().fit_transform(X)
    idx = other_neighbours(Z, min(KNN_K, len(Z) - 1), None)
    return (codes[idx] != codes[:, None]).mean(axis=1) >= KNN_ETA
for part in sys.argv[3].split(";"):
    name = next(n for n in regimes.REGIMES if part in n); fired = low = 0; n = 0
    for s in range(int(sys.argv[1]), int(sys.argv[2])):
        cand, hold, spec = regimes.make_regime(regimes.REGIMES[name], s)
        m, r = old_mask(cand, spec), old_mask(hold, spec)
        p = guards._excess(int(m.sum()), len(m), int(r.sum()), len(r)); n += 1
        fired += p < guards.ALPHA; low += p < 0.01
    print(json.dumps({"regime": name, "seeds": n, "fired": int(fired), "p_below_0.01": int(low)}), flush=True)
