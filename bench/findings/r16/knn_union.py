"""F5 diagnosis: knn_consistency's rate on the candidate vs on the reference alone, and vs the reference rows scored
inside candidate + reference (the same neighbourhood density as the candidate's rows). python knn_union.py STORE [REF]"""
import sys
import numpy as np, pandas as pd
from scipy.stats import norm
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler


def flags(X, y, k=10, eta=0.7):
    Z = StandardScaler().fit_transform(X)
    idx = NearestNeighbors(n_neighbors=k + 1).fit(Z).kneighbors(Z)[1][:, 1:]
    return (y[idx] != y[:, None]).mean(1) >= eta


def z(k, n, kr, nr):
    p, pr = k / n, kr / nr; pool = (k + kr) / (n + nr)
    return norm.sf((p - pr) / np.sqrt(pool * (1 - pool) * (1 / n + 1 / nr)))


cand = pd.read_parquet(sys.argv[1] + "/data.parquet"); ref = pd.read_parquet(sys.argv[2] + "/data.parquet")
f = [c for c in cand.columns if c.startswith("f")]
fc = flags(cand[f].to_numpy(), cand.label.to_numpy()); fr = flags(ref[f].to_numpy(), ref.label.to_numpy())
U = pd.concat([cand, ref]); fu = flags(U[f].to_numpy(), U.label.to_numpy())
fu_c, fu_r = fu[:len(cand)], fu[len(cand):]
print(f"{sys.argv[1]}: candidate {fc.mean():.3f}  reference alone {fr.mean():.3f} (p={z(fc.sum(), len(fc), fr.sum(), len(fr)):.2g})  "
      f"in the union: candidate {fu_c.mean():.3f} reference {fu_r.mean():.3f} (p={z(fu_c.sum(), len(fu_c), fu_r.sum(), len(fu_r)):.2g})")
