"""Suspect-set choice study: one flip posterior per run, its intermediates kept, so choice rules can be compared offline.

Run (dev):   nice -n 10 .venv/bin/python bench/suspect_set_study.py dev OUT.pkl "REGIME;REGIME;moons;circles;rare" 100,101,102
Run (fresh): nice -n 10 .venv/bin/python bench/suspect_set_study.py fresh OUT.pkl "base;90:10;mixed;10 classes;rare;wine;100 features" 3000,3001,3002

``dev`` asserts seeds 100-199; ``fresh`` asserts seeds 2000-2002 (judged the sixth session's rule) or
3000-3002 (judge the eighth session's). Every
registered attack at 1/5/10/20/40 % for a grid regime, make_moons (2,500 rows, noise 0.3) and
make_circles (2,500 rows, noise 0.15, factor 0.5), ``overlap`` / ``overlap 90:10`` / ``overlap 100 features``
(make_classification as the grid's base, 90:10 and 100-feature regimes but class_sep 0.45: the heavily
overlapping classes of the grid's hard seeds, on dev seeds) — none in the grid — and ``rare``: 4 classes, one of
them ~4 % of rows, 30 % of the rare class's candidate rows relabelled to the largest common class
(2,500 rows, one run per seed). Each run keeps what ``flip_posterior`` computed (views on the
candidate and on the trusted rows, the flip posterior of both, cleanlab's set, the posterior's own
set, the shipped choice) plus the reference_model guard's own set and the truth.
"""
import pickle
import sys
import time

sys.path.insert(0, "bench")
import numpy as np
import pandas as pd

import regimes as R
from labelguard.tasks import attacks, posterior as P
from labelguard.tasks.detectors import reference_anchored
from labelguard.tasks.manifest import ColumnSpec

cap: dict = {}
_cross, _binned, _choose, _cl = P.cross_fit_proba, P.binned_flip_posterior, P.choose_suspect_set, P._cleanlab_set


def _cross_spy(X, codes, k, X_new, **kw):
    out = _cross(X, codes, k, X_new, **kw)
    cap.setdefault("cross", []).append((codes, out[0], out[1]))
    return out


def _binned_spy(prior, codes, k, **kw):
    out = _binned(prior, codes, k, **kw)
    if kw.get("also") is not None and "posterior" not in cap:  # the pooled posterior is the first such call
        cap["prior"], cap["prior_ref"] = prior, kw["also"][0]
        cap["posterior"], cap["posterior_ref"] = out
    return out


def _choose_spy(candidates, rows, expected_flips, reference_rows, **kw):
    cap["choose_args"] = (candidates, rows, expected_flips, reference_rows)
    return _choose(candidates, rows, expected_flips, reference_rows, **kw)


def _cl_spy(codes, oof):
    out = _cl(codes, oof)
    cap["cleanlab"] = out
    return out


P.cross_fit_proba, P.binned_flip_posterior, P.choose_suspect_set, P._cleanlab_set = _cross_spy, _binned_spy, _choose_spy, _cl_spy


def _frame(X, y, seed):
    f = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    f["label"] = y
    f["review_id"] = np.arange(len(f))
    idx = np.random.default_rng(seed).permutation(len(f))
    cut = int(round(0.8 * len(f)))
    spec = ColumnSpec(feature_cols=tuple(f.columns[:-2]), timestamp_col=None, classes=tuple(sorted(np.unique(y).tolist())))
    return f.iloc[idx[:cut]].reset_index(drop=True), f.iloc[idx[cut:]].reset_index(drop=True), spec


def make(name, seed):
    from sklearn import datasets

    if name == "moons":
        return _frame(*datasets.make_moons(2500, noise=0.3, random_state=seed), seed)
    if name == "circles":
        return _frame(*datasets.make_circles(2500, noise=0.15, factor=0.5, random_state=seed), seed)
    if name == "rare":
        X, y = datasets.make_classification(2500, n_features=8, n_informative=4, n_redundant=0, n_classes=4, n_clusters_per_class=1,
                                            weights=[0.32, 0.32, 0.32, 0.04], flip_y=0, class_sep=1.5, random_state=seed)
        return _frame(X, y, seed)
    if name.startswith("overlap"):  # the grid's hard seeds (clean accuracy 0.87-0.88) from easier dev seeds: class_sep 0.45
        d, w = {"overlap": (10, None), "overlap 90:10": (10, [0.9, 0.1]), "overlap 100 features": (100, None)}[name]
        X, y = datasets.make_classification(2500, n_features=d, n_informative=3, n_redundant=0, n_classes=2, n_clusters_per_class=1,
                                            weights=w, flip_y=0, class_sep=0.45, random_state=seed)
        return _frame(X, y, seed)
    key = next(k for k in R.REGIMES if k.startswith(name))
    return R.make_regime(R.REGIMES[key], seed)


def rare_poison(cand, spec, seed):
    """30 % of the rarest class's rows relabelled to the most common class (chosen at random by the seed)."""
    y = cand[spec.label_col].to_numpy()
    counts = pd.Series(y).value_counts()
    rare, common = counts.idxmin(), counts.idxmax()
    rows = np.flatnonzero(y == rare)
    pick = np.random.default_rng(seed).choice(rows, size=int(round(0.3 * len(rows))), replace=False)
    out = cand.copy()
    out.loc[pick, spec.label_col] = common
    truth = np.zeros(len(cand), bool)
    truth[pick] = True
    return out, truth


def main():
    mode, out, names, seeds = sys.argv[1], sys.argv[2], sys.argv[3].split(";"), [int(s) for s in sys.argv[4].split(",")]
    # fresh seeds are each used for one judgement: 2000-2002 (seventh session), 3000-3002 (eighth)
    ok = (lambda s: 100 <= s <= 199) if mode == "dev" else (lambda s: 2000 <= s <= 2002 or 3000 <= s <= 3002)
    assert all(map(ok, seeds)), f"{mode} seeds only"
    runs = []
    for name in names:
        for seed in seeds:
            cand, hold, spec = make(name, seed)
            jobs = [("rare30", 0.3)] if name == "rare" else [(a, r) for a in attacks.REGISTRY for r in R.RATES]
            for a, rate in jobs:
                if a == "rare30":
                    frame, truth = rare_poison(cand, spec, seed)
                else:
                    try:
                        res = attacks.flip_labels(cand, spec, attack=a, rate=rate, seed=seed)
                    except Exception:
                        continue
                    frame = res.frame
                    truth = frame[spec.id_col].isin(res.flipped_ids).to_numpy()
                if not truth.any():
                    continue
                cap.clear()
                t = time.perf_counter()
                post = P.flip_posterior(frame, spec, hold)
                ref_set = reference_anchored(frame, spec, hold).suspect
                (codes, oof_raw, cand_on_ref), (codes_r, ref_oof, ref_view) = cap["cross"]
                runs.append(dict(regime=name, seed=seed, attack=a, rate=rate, truth=truth, codes=codes, codes_r=codes_r, k=len(spec.classes),
                                 oof_raw=oof_raw, cand_on_ref=cand_on_ref, ref_oof=ref_oof, ref_view=ref_view, prior=cap["prior"],
                                 prior_ref=cap["prior_ref"], posterior=cap["posterior"], posterior_ref=cap["posterior_ref"],
                                 own=P.expected_f1_set(cap["posterior"]), cleanlab=cap["cleanlab"], ref_set=ref_set,
                                 shipped=post.suspect, shipped_chosen=post.chosen, choose_args=cap["choose_args"], weights=post.weights,
                                 secs=time.perf_counter() - t))
                r = runs[-1]
                f1 = lambda s: 2 * (s & truth).sum() / max(1, s.sum() + truth.sum())
                print(name[:10], seed, a, rate, int(truth.sum()), post.chosen, f"own {f1(r['own']):.3f} cl {f1(r['cleanlab']):.3f} ref {f1(ref_set):.3f}", flush=True)
            with open(out, "wb") as fh:
                pickle.dump(runs, fh)


if __name__ == "__main__":
    main()
