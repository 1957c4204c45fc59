import numpy as np, sys
from sklearn.linear_model import LogisticRegression
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_pipeline
from sklearn.kernel_approximation import Nystroem
from sklearn.model_selection import cross_val_predict
from sklearn.metrics import log_loss
thr = float(sys.argv[1]) if len(sys.argv) > 1 else 1.645
for seed in range(3):
    rng = np.random.default_rng(seed)
    n = 5000
    X = rng.normal(size=(n, 10))
    lin = (X[:, 0] + X[:, 1] + rng.normal(scale=0.3, size=n) > 0).astype(int)
    pocket = X[:, 5] > thr
    y = np.where(pocket, 1 - lin, lin)
    tr, ho = np.arange(4000), np.arange(4000, 5000)
    yp = y.copy(); yp[tr[pocket[tr]]] = lin[tr[pocket[tr]]]
    for name, mk in [("logreg", lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))),
                     ("gboost", lambda: GradientBoostingClassifier(random_state=0)),
                     ("knn", lambda: make_pipeline(StandardScaler(), KNeighborsClassifier(15)))]:
        a = mk().fit(X[tr], y[tr]).score(X[ho], y[ho]); b = mk().fit(X[tr], yp[tr]).score(X[ho], y[ho])
        print(seed, name, "clean %.3f poisoned %.3f drop %.1f" % (a, b, 100 * (a - b)), "flips", pocket[tr].sum())
    Xh, yh = X[ho], y[ho]
    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    ke = make_pipeline(StandardScaler(), Nystroem(n_components=100, random_state=0), LogisticRegression(max_iter=1000))
    for nm, m in [("lin", lr), ("ker", ke)]:
        p = cross_val_predict(m, Xh, yh, cv=5, method="predict_proba")
        print("  trusted oof", nm, "logloss %.3f acc %.3f" % (log_loss(yh, p), (p.argmax(1) == yh).mean()))
