"""Round-16 adaptive attacks at the source: python attack16.py NAME IN.parquet OUT.parquet TRUTH.json [k=v ...]

IN is a signed dataset's data.parquet (the training rows ingest wrote); OUT is the poisoned batch to ingest.
"""
import json, sys
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_pipeline


def feats(df):
    return [c for c in df.columns if c.startswith("f")]


def pocket_undo(df, thr="1.645", col="f5"):
    """Relabel the rows of the axis-aligned exception to what a linear model fitted outside it says."""
    thr = float(thr)
    X = df[feats(df)].to_numpy(); y = df["label"].to_numpy()
    inside = df[col].to_numpy() > thr
    m = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X[~inside], y[~inside])
    new = m.predict(X)
    flip = inside & (new != y)
    return flip, np.where(flip, new, y)


def onesided_nearest(df, rate="0.03", source="1"):
    """Flip the `source`-class rows closest to a linear boundary (only that class): moves the boundary, and the
    predicted share, with little accuracy lost."""
    rate = float(rate)
    y = df["label"].to_numpy()
    src = type(y[0])(source) if not isinstance(y[0], str) else source
    X = df[feats(df)].to_numpy()
    m = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y)
    classes = list(m.classes_)
    p = m.predict_proba(X)[:, classes.index(src)]
    k = int(round(rate * len(y)))
    cand = np.where(y == src)[0]
    cand = cand[np.argsort(p[cand])][:k]
    flip = np.zeros(len(y), bool); flip[cand] = True
    other = [c for c in classes if c != src]
    # to the runner-up class
    P = m.predict_proba(X)
    new = y.copy()
    for i in cand:
        order = [classes[j] for j in np.argsort(-P[i]) if classes[j] != src]
        new[i] = order[0]
    return flip, new


def swap_segment(df, col="f2", q="0.93"):
    """Invert the label of every row in a slab col > quantile q, balanced both ways (prior kept)."""
    v = df[col].to_numpy(); y = df["label"].to_numpy()
    inside = v > np.quantile(v, float(q))
    cls = np.unique(y)
    assert len(cls) == 2
    new = np.where(inside, np.where(y == cls[0], cls[1], cls[0]), y)
    return inside, new


ATT = {k: v for k, v in globals().items() if callable(v) and k not in ("feats",) and not k[0].isupper()}

if __name__ == "__main__":
    name, src, out, truth = sys.argv[1:5]
    kw = dict(a.split("=", 1) for a in sys.argv[5:])
    df = pd.read_parquet(src)
    flip, new = ATT[name](df, **kw)
    old = df["label"].to_numpy()
    df["label"] = new
    df.to_parquet(out, index=False)
    rows = [{"id": int(i) if isinstance(i, (int, np.integer)) else i, "old": (o.item() if hasattr(o, "item") else o),
             "new": (n_.item() if hasattr(n_, "item") else n_)}
            for i, o, n_ in zip(df["review_id"].to_numpy()[flip], old[flip], new[flip])]
    json.dump({"attack": name, "options": kw, "flipped": rows}, open(truth, "w"))
    print(f"{name}: {len(rows)} of {len(df)} rows flipped")
