"""Held-out distributions: the regime grid's measurement on data nobody developed or tuned on.

Run: .venv/bin/python bench/independent.py [--seeds 1] [--first-seed 5000] [--jobs 1] [--out bench/results/independent.md]

Why: the grid (`bench/regimes.py`) varies one factor around `make_classification`, and every rule of
the suspect set and the guards was developed on its dev seeds or on the reviews, breast cancer, wine,
iris and moons (and, for the suspect-set rule only, attacked runs of make_circles at seeds 100-129,
sixth session: their clean runs were never looked at). These eight generators were written for this
file after those rules were fixed (ninth session) and are run on seeds 5000+ that no study used, to
see whether the suite's lead over cleanlab, its clean passes and its "never a silent pass" hold where
the data look different:

- circles: two concentric rings (scikit-learn's make_circles, noise 0.1, factor 0.5), 2 features:
  no linear model separates them;
- heavy tails: 8 features of Student's t with 3 degrees of freedom, class means 1.0 apart on 3 of them;
- natural noise: the grid's base with 5 % of labels already wrong in the clean data and the trusted
  holdout (make_classification's flip_y 0.05), as real labels are;
- unscaled: the base with features in units of 1e-3 to 1e5 and offsets (money, counts, ratios);
- 5 classes skewed: shares 50/20/15/10/5 %, 6 features;
- redundant: 12 features, 3 informative, 6 linear combinations of them, 3 noise;
- two modes per class: 4 features, 2 clusters per class (make_classification n_clusters_per_class=2);
- 500 rows: the base at 625 rows (500 candidate, 125 holdout);
- checkerboard: a 3x3 board of two classes on 500 uniform rows (400 candidate, 100 holdout): with 100 trusted
  rows no model the detectors choose may have skill (added in the tenth session, after a new user's report);
- moons: scikit-learn's make_moons, noise 0.2, 1,000 rows (tenth session, likewise).

Everything else is the grid's: 80/20 split, every registered attack at 1/5/10/20/40 %, the guards and
the flip posterior exactly as `verify` runs them, cleanlab on the same rows, damage as the largest
move of holdout accuracy or a class's predicted share. Nothing here was used to choose any threshold.
"""

from __future__ import annotations

import argparse
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

import regimes as R
from _common import write_result


def _circles(seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_circles

    return make_circles(n_samples=2500, noise=0.1, factor=0.5, random_state=seed)


def _heavy_tails(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 2500)
    X = rng.standard_t(3, size=(2500, 8))
    X[:, :3] += np.where(y[:, None] == 1, 0.5, -0.5)
    return X, y


def _classification(seed: int, **kw) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification

    args = dict(n_samples=2500, n_features=10, n_informative=4, n_redundant=0, n_classes=2, n_clusters_per_class=1,
                flip_y=0, class_sep=1.0, random_state=seed)
    return make_classification(**{**args, **kw})


def _natural_noise(seed: int):
    return _classification(seed, flip_y=0.05)


def _unscaled(seed: int):
    X, y = _classification(seed)
    scale = 10.0 ** np.array([-3, -1, 0, 1, 2, 3, 4, 5, 0, 2])
    offset = np.array([0, 5, 0, 100, 0, 1e3, 0, 5e5, 1, 0])
    return X * scale + offset, y


def _skewed_5(seed: int):
    return _classification(seed, n_features=6, n_classes=5, weights=[0.5, 0.2, 0.15, 0.1, 0.05])


def _redundant(seed: int):
    return _classification(seed, n_features=12, n_informative=3, n_redundant=6)


def _two_modes(seed: int):
    return _classification(seed, n_features=4, n_informative=4, n_clusters_per_class=2)


def _500_rows(seed: int):
    return _classification(seed, n_samples=625)


def _checkerboard(seed: int):
    X = np.random.default_rng(seed).uniform(0, 3, size=(500, 2))
    return X, (np.floor(X[:, 0]) + np.floor(X[:, 1])).astype(int) % 2


def _moons(seed: int):
    from sklearn.datasets import make_moons

    return make_moons(n_samples=1000, noise=0.2, random_state=seed)


MAKERS = {
    "circles": _circles, "heavy tails": _heavy_tails, "natural noise 5 %": _natural_noise, "unscaled": _unscaled,
    "5 classes skewed": _skewed_5, "redundant": _redundant, "two modes per class": _two_modes, "500 rows": _500_rows,
    "checkerboard": _checkerboard, "moons": _moons,
}


def make_independent(name: str, seed: int):
    """Candidate (80 %) and trusted holdout (20 %), split as `regimes.make_regime` splits."""
    from labelguard.tasks.manifest import ColumnSpec

    X, y = MAKERS[name](seed)
    feats = tuple(f"f{i}" for i in range(X.shape[1]))
    frame = pd.DataFrame(X, columns=feats)
    frame["label"] = y
    frame["review_id"] = np.arange(len(frame))
    spec = ColumnSpec(feature_cols=feats, timestamp_col=None, classes=tuple(sorted(np.unique(y).tolist())))
    idx = np.random.default_rng(seed).permutation(len(frame))
    cut = int(round(0.8 * len(frame)))
    return frame.iloc[idx[:cut]].reset_index(drop=True), frame.iloc[idx[cut:]].reset_index(drop=True), spec


def run_cell(task: tuple) -> list[dict]:
    name, seed, linear_only = task
    if linear_only:  # the detectors as they were before the model-family choice: every fit linear
        from labelguard.tasks import detectors

        detectors.choose_model_family = lambda *a, **k: detectors.ModelChoice("linear", 0.0, 0)
    R.make_regime = lambda cfg, s: make_independent(cfg["independent"], s)  # the grid's run_cell, on this file's data
    return R.run_cell((name, {"independent": name}, seed, True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--first-seed", type=int, default=5000)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--only", default="", help="comma-separated names of MAKERS (default: all)")
    ap.add_argument("--out", type=Path, default=Path("bench/results/independent.md"))
    ap.add_argument("--summarize", action="store_true", help="only summarize the rows already in OUT.csv")
    ap.add_argument("--linear-only", action="store_true", help="never choose the kernel family (the code before it existed), for a before/after")
    args = ap.parse_args()
    csv = args.out.with_suffix(".csv")
    names = [n for n in MAKERS if not args.only or n in args.only.split(",")]
    t0 = time.perf_counter()
    if not args.summarize:
        tasks = [(n, args.first_seed + s, args.linear_only) for s in range(args.seeds) for n in names]
        rows: list[dict] = []
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            for out in pool.map(run_cell, tasks):
                rows.extend(out)
                pd.DataFrame(rows).reindex(columns=R.COLUMNS).to_csv(csv, index=False)  # kept as it goes: a stopped run still counts
                print(f"{out[0]['regime']} seed {out[0]['seed']}: {len(out)} runs, {time.perf_counter() - t0:.0f} s", flush=True)
    df = pd.read_csv(csv)
    text = R.summarize(df, 1, args.seeds, time.perf_counter() - t0, first_seed=args.first_seed)
    write_result("# Held-out distributions (bench/independent.py)\n\n" + text, args.out)


if __name__ == "__main__":
    main()
