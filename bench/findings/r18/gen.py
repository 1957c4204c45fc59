"""Clean data of kinds the benchmarks never covered (break-it r18).

    gen.py KIND SEED OUT.csv [--part a|b] [--rows N]

Every kind draws features, then labels from a fixed rule (the rule never depends on the seed; the seed only draws a
new sample). ``--part b`` is a second clean batch of the same population (for ``trend``: a later period, features
drifted, labels by the same rule; for ``digits``/``iris``: the other half of the shuffled rows).
Columns: ``review_id``, ``label``, then the features (``text`` for the text kind). No timestamp column.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

ROWS = {"ordinal": 3000, "tree": 3000, "dups": 3000, "trend": 3000, "scales": 3000, "zicounts": 3000, "text": 2000,
        "trend2": 3000, "imb3": 4000, "imb5": 5000, "wide53": 3000, "smallbig": 500, "digits": 0, "iris": 0}


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def gen(kind: str, seed: int, part: str, rows: int | None) -> pd.DataFrame:
    off = 0 if part == "a" else 1
    rng = np.random.default_rng([seed, off])  # part b is an independent sample of the same population
    n = rows or ROWS[kind]
    if kind == "smallbig" and part == "b":
        n = rows or 20000
    feats: dict[str, np.ndarray] = {}
    if kind == "ordinal":  # ratings 1-5 from a latent score with logistic noise, fixed cut points
        X = rng.normal(size=(n, 4))
        z = X @ np.array([1.2, -0.8, 0.5, 0.0]) + rng.logistic(size=n) * 0.6
        y = 1 + np.searchsorted(np.array([-1.6, -0.5, 0.5, 1.6]), z)
        feats = {f"x{i}": X[:, i] for i in range(4)}
    elif kind == "tree":  # a tree-like rule with interactions, 5 % of rows labelled by a coin (irreducible noise)
        X = rng.uniform(-1, 1, size=(n, 5))
        y = np.where(X[:, 0] > 0.2, (X[:, 1] > -0.3).astype(int), np.where(X[:, 2] > 0.4, 1, (X[:, 3] * X[:, 4] > 0.1).astype(int)))
        coin = rng.random(n) < 0.05
        y = np.where(coin, rng.integers(0, 2, n), y)
        feats = {f"x{i}": X[:, i] for i in range(5)}
    elif kind == "dups":  # 4 categorical features coded 0..k-1, 3*2*4*2 = 48 distinct rows, P(y|row) fixed
        levels = [3, 2, 4, 2]
        C = np.column_stack([rng.integers(0, k, n) for k in levels])
        cell = ((C[:, 0] * 2 + C[:, 1]) * 4 + C[:, 2]) * 2 + C[:, 3]
        p = np.random.default_rng(18999).uniform(0.05, 0.95, 48)  # the population's rule: fixed, not the seed's
        y = (rng.random(n) < p[cell]).astype(int)
        feats = {f"c{i}": C[:, i] for i in range(4)}
    elif kind == "trend":  # features drift with time (t is a column); the label rule, fixed, also moves the prior with t
        t = rng.uniform(0, 1, n) + off  # part b: the next period
        X = rng.normal(size=(n, 3))
        X[:, 0] += 1.5 * t  # strong upward trend of x0 (and x1 scaled) over time
        X[:, 1] *= 1 + 0.5 * t
        y = (rng.random(n) < _sigmoid(2.0 * (X[:, 0] - 1.5 * t) + 1.5 * X[:, 2] + 0.5 * t)).astype(int)
        feats = {"x0": X[:, 0], "x1": X[:, 1], "x2": X[:, 2], "t": t}
    elif kind == "trend2":  # x0 drifts upward with time (not a column); labels by one fixed rule of the features
        t = rng.uniform(0, 1, n) + off
        X = rng.normal(size=(n, 3))
        X[:, 0] += 1.5 * t
        y = (rng.random(n) < _sigmoid(2.0 * X[:, 0] + 1.5 * X[:, 2] - 1.5)).astype(int)
        feats = {f"x{i}": X[:, i] for i in range(3)}
    elif kind == "scales":  # money with zeros, ages, tiny ratios, huge counts
        amount = np.where(rng.random(n) < 0.4, 0.0, np.round(rng.lognormal(6, 2, n), 2))
        age = rng.integers(18, 90, n).astype(float)
        ratio = rng.normal(0, 1e-5, n)
        visits = rng.lognormal(12, 1, n).round()
        z = 0.8 * (np.log1p(amount) - 4) / 3 + 0.8 * (age - 50) / 20 + 0.7 * ratio / 1e-5
        y = (rng.random(n) < _sigmoid(2 * z)).astype(int)
        feats = {"amount": amount, "age": age, "ratio": ratio, "visits": visits}
    elif kind == "zicounts":  # zero-inflated overdispersed counts (negative binomial with 60 % structural zeros)
        lam = rng.gamma(2, 1.5, size=(n, 4))
        Xc = rng.poisson(lam) * (rng.random((n, 4)) > 0.6)
        z = 0.5 * Xc[:, 0] - 0.4 * Xc[:, 1] + 0.2 * Xc[:, 2] - 0.3
        y = (rng.random(n) < _sigmoid(z)).astype(int)
        feats = {f"n{i}": Xc[:, i] for i in range(4)}
    elif kind == "text":  # a free-text column plus two numbers
        good = np.array("great love perfect works fast happy recommend solid".split())
        bad = np.array("broken slow refund awful never poor waste late".split())
        neutral = np.array("the it was and item order box delivery product".split())
        y = (rng.random(n) < 0.55).astype(int)
        texts = []
        for yi in y:
            k = rng.integers(4, 14)
            pool = np.concatenate([neutral, good if yi else bad, bad if yi else good])
            w = np.concatenate([np.full(len(neutral), 1.0), np.full(8, 0.5), np.full(8, 0.12)])
            texts.append(" ".join(rng.choice(pool, size=k, p=w / w.sum())))
        feats = {"text": np.array(texts), "stars_shown": rng.normal(y * 0.8, 1.0, n), "length": rng.poisson(50, n).astype(float)}
    elif kind in ("imb3", "imb5"):  # 80:15:5 (imb5: 80:10:5:3:2), Gaussian classes that overlap
        shares = [0.80, 0.15, 0.05] if kind == "imb3" else [0.80, 0.10, 0.05, 0.03, 0.02]
        k = len(shares)
        y = rng.choice(k, size=n, p=shares)
        means = np.random.default_rng(18998).normal(0, 1.6, size=(k, 4))
        X = means[y] + rng.normal(size=(n, 4))
        feats = {f"x{i}": X[:, i] for i in range(4)}
    elif kind == "wide53":  # 3 useful features, 50 pure noise
        X = rng.normal(size=(n, 53))
        y = (rng.random(n) < _sigmoid(1.5 * X[:, 0] - 1.2 * X[:, 1] + 0.8 * X[:, 2])).astype(int)
        feats = {f"f{i:02d}": X[:, i] for i in range(53)}
    elif kind == "smallbig":  # 500 trusted rows (100 holdout); part b: a 20,000-row batch
        X = rng.normal(size=(n, 4))
        y = (rng.random(n) < _sigmoid(2 * X[:, 0] + X[:, 1] - X[:, 2])).astype(int)
        feats = {f"x{i}": X[:, i] for i in range(4)}
    elif kind in ("digits", "iris"):
        from sklearn.datasets import load_digits, load_iris

        d = load_digits() if kind == "digits" else load_iris()
        order = np.random.default_rng(seed).permutation(len(d.target))
        half = len(order) // 2
        idx = order[:half] if part == "a" else order[half:]
        if kind == "iris":  # 150 rows are too few to halve: part a is all of it, part b resampled with small jitter
            idx = order if part == "a" else rng.choice(order, size=len(order), replace=True)
        X, y = d.data[idx], d.target[idx]
        if kind == "iris" and part == "b":
            X = X + rng.normal(0, 0.05, X.shape)
        names = d.feature_names if kind == "iris" else [f"px{i:02d}" for i in range(64)]
        feats = {str(nm).replace(" ", "_").replace("(", "").replace(")", ""): X[:, i] for i, nm in enumerate(names)}
        n = len(y)
    else:
        raise SystemExit(f"unknown kind {kind}")
    frame = pd.DataFrame({"review_id": [f"{part}{seed}-{i:06d}" for i in range(n)], "label": y, **feats})
    return frame


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind")
    ap.add_argument("seed", type=int)
    ap.add_argument("out")
    ap.add_argument("--part", default="a", choices=["a", "b"])
    ap.add_argument("--rows", type=int)
    ap.add_argument("--flip", type=float, default=0.0, help="relabel this share of rows to another class, uniformly")
    a = ap.parse_args()
    df = gen(a.kind, a.seed, a.part, a.rows)
    if a.flip:
        rng = np.random.default_rng([a.seed, 7])
        classes = np.unique(df["label"])
        pick = rng.choice(len(df), size=int(round(a.flip * len(df))), replace=False)
        for i in pick:
            others = classes[classes != df.at[i, "label"]]
            df.at[i, "label"] = rng.choice(others)
    df.to_csv(a.out, index=False)


if __name__ == "__main__":
    main()
