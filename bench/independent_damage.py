"""One attacked run of `bench/independent.py`, re-measured: each guard's verdict and detail, the suite's suspect set, and the
damage to models that fit the data (linear and Nystroem-kernel logistic regression, gradient boosting, random forest, 15-NN:
holdout accuracy and per-class recall, trained on the clean and on the attacked candidate).

Why: independent.py's damage yardstick is a linear model, at chance on circles and two modes per class; a silent pass there
needs a model that fits before it reads as damage (eighteenth session).

Run: .venv/bin/python bench/independent_damage.py "two modes per class" 6100 targeted 0.05
"""
import sys, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np, pandas as pd
import regimes as R, independent as I
from labelguard.tasks import guards
from labelguard.tasks.posterior import flip_posterior
name, seed, attack, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
cand, hold, spec = I.make_independent(name, seed)
run = next((a, r, res, t) for a, r, res, t in R.attacked_runs(cand, spec, seed) if a == attack and abs(r - rate) < 1e-9)
_, _, res, truth = run
frame = res.frame
ctx = guards.GuardContext(frame=frame, spec=spec, reference=hold, holdout=hold)
results = guards.apply_tolerance(guards.run_guards(ctx, R.STAT), R.TOLERATE)
for g in results:
    print(f"{g.name:22s} {g.verdict:12s} p={getattr(g,'p_value',None)} power={getattr(g,'power',None)} | {g.detail[:260]}")
post = flip_posterior(frame, spec, hold)
print('flips', truth.sum(), 'named', post.suspect.sum(), 'tp', (post.suspect & truth).sum(), 'chosen', post.chosen, 'noise', round(post.noise_rate, 4))
from sklearn.linear_model import LogisticRegression
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.kernel_approximation import Nystroem
feats = list(spec.feature_cols)
models = {'linear': lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
          'kernel': lambda: make_pipeline(StandardScaler(), Nystroem(n_components=100, random_state=0), LogisticRegression(max_iter=1000)),
          'gbm': lambda: HistGradientBoostingClassifier(random_state=0), 'rf': lambda: RandomForestClassifier(200, random_state=0, n_jobs=1),
          'knn': lambda: make_pipeline(StandardScaler(), KNeighborsClassifier(15))}
for m, mk in models.items():
    a0 = mk().fit(cand[feats], cand['label']); a1 = mk().fit(frame[feats], frame['label'])
    p0, p1 = a0.predict(hold[feats]), a1.predict(hold[feats])
    acc0, acc1 = (p0 == hold['label']).mean(), (p1 == hold['label']).mean()
    rec = {c: ((p0[hold['label'] == c] == c).mean(), (p1[hold['label'] == c] == c).mean()) for c in spec.classes}
    print(f"{m:7s} acc {acc0:.3f} -> {acc1:.3f}  recall " + ', '.join(f"{c}: {a:.3f}->{b:.3f}" for c, (a, b) in rec.items()))
