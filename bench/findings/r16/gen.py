"""Round-16 data generators (break-it): python gen.py KIND SEED OUT.csv [N]

Every KIND writes `review_id,f0..fk,label`. Nothing here is tuned on labelguard's benches.
"""
import sys
import numpy as np
import pandas as pd


def xor_irrelevant(rng, n):
    # label = sign(x0*x1) > 0 ; 30 irrelevant Gaussian features; z = f2 is a 'segment' feature
    X = rng.normal(size=(n, 32))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    return X, y


def heavy(rng, n):
    # heavy tailed (Student t df=1.5) features, linear-ish label with 5% natural noise
    X = rng.standard_t(1.5, size=(n, 6))
    s = np.tanh(X[:, 0]) + 0.8 * np.tanh(X[:, 1]) - 0.5 * np.tanh(X[:, 2])
    y = (s + rng.normal(scale=0.5, size=n) > 0).astype(int)
    return X, y


def lognorm(rng, n):
    # strongly skewed positive features (lognormal sigma 1.5), class-dependent location
    y = (rng.random(n) < 0.35).astype(int)
    X = np.exp(rng.normal(loc=y[:, None] * 0.8, scale=1.5, size=(n, 5)))
    return X, y


def counts(rng, n):
    # integer count features (Poisson / negative binomial), many duplicate feature rows
    y = (rng.random(n) < 0.4).astype(int)
    lam = np.where(y[:, None] == 1, [3, 1, 2, 0.5], [1, 2, 2, 1.5])
    X = rng.poisson(lam).astype(float)
    return X, y


def rare(rng, n):
    # rare class 3 %, correlated features
    y = (rng.random(n) < 0.03).astype(int)
    cov = np.full((6, 6), 0.6) + 0.4 * np.eye(6)
    X = rng.multivariate_normal(np.zeros(6), cov, size=n) + y[:, None] * np.array([2.0, 1.5, 0, 0, 1.0, 0])
    return X, y


def multi7(rng, n):
    # 7 classes with unequal sizes, 8 features, 20 irrelevant
    p = np.array([0.35, 0.2, 0.15, 0.12, 0.08, 0.06, 0.04])
    y = rng.choice(7, size=n, p=p)
    centers = rng.normal(scale=2.2, size=(7, 8))
    X = centers[y] + rng.normal(size=(n, 8))
    X = np.hstack([X, rng.normal(size=(n, 20))])
    return X, y


def dups(rng, n):
    # linear data where each distinct row appears 1-4 times (duplicated rows)
    m = n  # enough distinct rows; the repeats are cut at n
    Xb = rng.normal(size=(m, 4))
    yb = (Xb[:, 0] + 0.5 * Xb[:, 1] + rng.normal(scale=0.7, size=m) > 0).astype(int)
    reps = rng.integers(1, 4, size=m)
    idx = np.repeat(np.arange(m), reps)[:n]
    return Xb[idx].round(3), yb[idx]


def moons(rng, n):
    from sklearn.datasets import make_moons
    X, y = make_moons(n_samples=n, noise=0.25, random_state=int(rng.integers(1 << 30)))
    return X, y


def mc(rng, n):
    from sklearn.datasets import make_classification
    X, y = make_classification(n_samples=n, n_features=40, n_informative=5, n_redundant=5, n_classes=5,
                               weights=[0.4, 0.25, 0.2, 0.1, 0.05], class_sep=1.2, flip_y=0.01,
                               random_state=int(rng.integers(1 << 30)))
    return X, y


KINDS = {k: v for k, v in globals().items() if callable(v) and k not in ("main",) and not k[0].isupper()}


def make(kind, seed, n):
    rng = np.random.default_rng(seed)
    X, y = KINDS[kind](rng, n)
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    df.insert(0, "review_id", np.arange(n))
    df["label"] = y
    if kind in ("multi7", "mc"):
        df["label"] = ["c%d" % v for v in y]
    return df




def pocket(rng, n):
    # a linear rule on f0+f1 with an axis-aligned exception: where f5 > 1.645 (5 %) the label is inverted.
    # A tree model learns the exception, a linear model cannot.
    X = rng.normal(size=(n, 10))
    lin = (X[:, 0] + X[:, 1] + rng.normal(scale=0.3, size=n) > 0).astype(int)
    y = np.where(X[:, 5] > 1.645, 1 - lin, lin)
    return X, y


KINDS["pocket"] = pocket


def pocket10(rng, n):
    # the same with a 10 % exception (f5 > 1.2816)
    X = rng.normal(size=(n, 10))
    lin = (X[:, 0] + X[:, 1] + rng.normal(scale=0.3, size=n) > 0).astype(int)
    y = np.where(X[:, 5] > 1.2816, 1 - lin, lin)
    return X, y


KINDS["pocket10"] = pocket10


def lin10(rng, n):
    # the pocket data without its exception: a plain linear rule, 10 features
    X = rng.normal(size=(n, 10))
    y = (X[:, 0] + X[:, 1] + rng.normal(scale=0.3, size=n) > 0).astype(int)
    return X, y


KINDS["lin10"] = lin10


def pocket18(rng, n):
    # the same with an 18 % exception (f5 > 0.9154)
    X = rng.normal(size=(n, 10))
    lin = (X[:, 0] + X[:, 1] + rng.normal(scale=0.3, size=n) > 0).astype(int)
    y = np.where(X[:, 5] > 0.9154, 1 - lin, lin)
    return X, y


KINDS["pocket18"] = pocket18


def cauchy(rng, n):
    # Cauchy (t, df 1) features: no mean, no variance; label from a bounded score with noise
    X = rng.standard_cauchy(size=(n, 5))
    y = (np.tanh(X[:, 0]) - np.tanh(X[:, 1]) + rng.normal(scale=0.6, size=n) > 0).astype(int)
    return X, y


def binary(rng, n):
    # 7 Bernoulli features (128 cells): every feature row repeats, natural label noise within cells
    X = (rng.random((n, 7)) < [0.5, 0.3, 0.6, 0.2, 0.5, 0.4, 0.7]).astype(float)
    s = X @ np.array([1.5, -1.0, 0.8, 1.2, -0.6, 0.3, 0.0]) - 0.9
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * s))).astype(int)
    return X, y


KINDS["cauchy"] = cauchy
KINDS["binary"] = binary


if __name__ == "__main__":
    kind, seed, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 4000
    make(kind, seed, n).to_csv(out, index=False)
