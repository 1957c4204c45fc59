"""Where a large `verify` spends its time: per guard (and the flip posterior) wall and CPU seconds, and the work
counted in a load-independent unit: logistic-regression fits (and the rows they were fitted on) and kNN searches.

Usage: ``python bench/perf_verify_guards.py STORE_URI [--reference URI]`` with LABELGUARD_VERIFY_KEY set, on a
dataset written by ``labelguard ingest``. Each step is timed by wrapping the registered guard functions and
verify's posterior step in this process only, so the same script measures older code (run it with another
checkout's interpreter) as well as this one. Commands and results: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections import Counter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("uri")
    parser.add_argument("--reference", default=None)
    args = parser.parse_args()
    from dataclasses import replace

    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import NearestNeighbors

    from labelguard.tasks import guards
    from labelguard.tasks import verify as verify_lib
    from labelguard.tasks.manifest import load_verify_key

    work = Counter()
    fit, kneighbors = LogisticRegression.fit, NearestNeighbors.kneighbors

    def counted_fit(self, X, y, *a, **kw):
        work["fits"] += 1
        work["fit_rows"] += len(X)
        return fit(self, X, y, *a, **kw)

    def counted_kneighbors(self, X=None, *a, **kw):
        work["knn_searches"] += 1
        work["knn_pairs_m"] += (self.n_samples_fit_ if X is None else len(X)) * self.n_samples_fit_ / 1e6
        return kneighbors(self, X, *a, **kw)

    LogisticRegression.fit, NearestNeighbors.kneighbors = counted_fit, counted_kneighbors
    rows = []

    def timed(name, fn):
        def run(*a, **kw):
            before, wall, cpu = Counter(work), time.perf_counter(), time.process_time()
            out = fn(*a, **kw)
            done = {k: work[k] - before[k] for k in ("fits", "fit_rows", "knn_searches", "knn_pairs_m")}
            rows.append((name, time.perf_counter() - wall, time.process_time() - cpu, done))
            print(f"{name:<20} wall {rows[-1][1]:7.1f} s  cpu {rows[-1][2]:7.1f} s  fits {done['fits']:3d} "
                  f"({done['fit_rows'] / 1e3:8.1f} k rows)  kNN {done['knn_searches']} ({done['knn_pairs_m']:8.0f} M pairs)", flush=True)
            return out
        return run

    for name, spec in list(guards.REGISTRY.items()):
        guards.REGISTRY[name] = replace(spec, fn=timed(name, spec.fn))
    verify_lib._posterior = timed("flip_posterior", verify_lib._posterior)
    wall, cpu0 = time.perf_counter(), time.process_time()
    rep = verify_lib.verify_dataset(args.uri, load_verify_key(os.environ["LABELGUARD_VERIFY_KEY"]), reference_uri=args.reference)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"verdict {rep.verdict}; suspects {len(rep.suspect_ids)} from {rep.suspects_from}; total wall {time.perf_counter() - wall:.1f} s, "
          f"cpu {time.process_time() - cpu0:.1f} s, fits {work['fits']} ({work['fit_rows'] / 1e6:.2f} M rows), "
          f"kNN {work['knn_searches']} ({work['knn_pairs_m']:.0f} M pairs), peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
