"""Content guards on a large dataset vs. cleanlab's find_label_issues, side by side: time and F1.

Run: .venv/bin/python bench/perf_content.py [--rows 1000000]

Data: overlapping synthetic reviews (separation 2.8), poisoned at the source. Ours: the
reference-anchored detector (`reference_model` guard) with a 1,000-row trusted reference.
cleanlab: find_label_issues on 5-fold out-of-fold logistic-regression probabilities of the same
data (the probabilities' cost is counted: cleanlab needs them).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import write_result
from labelguard.tasks.attacks import flip_labels
from labelguard.tasks.detectors import confident_learning, reference_anchored
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.synthetic import make_reviews


def f1(mask, truth) -> float:
    return 2 * (mask & truth).sum() / max(1, mask.sum() + truth.sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=Path("bench/results/perf_content.md"))
    args = ap.parse_args()
    spec = ColumnSpec()
    clean = make_reviews(args.rows, separation=2.8, seed=0)
    reference = make_reviews(1000, separation=2.8, seed=1)
    lines = [f"{args.rows:,} rows, separation 2.8, 2 cores; one run each.", "",
             "| poisoning | ours: seconds | ours: F1 | cleanlab: seconds | cleanlab: F1 |", "|---|---:|---:|---:|---:|"]
    for attack, rate in (("random", 0.10), ("targeted", 0.20), ("greedy", 0.10)):
        res = flip_labels(clean, spec, attack=attack, rate=rate, seed=0)
        truth = res.frame["review_id"].isin(res.flipped_ids).to_numpy()
        t = time.perf_counter()
        ours = reference_anchored(res.frame, spec, reference)
        t_ours = time.perf_counter() - t
        t = time.perf_counter()
        cl = confident_learning(res.frame, spec)
        t_cl = time.perf_counter() - t
        lines.append(f"| {attack} {rate:.0%} | {t_ours:.1f} | {f1(ours.suspect, truth):.3f} | {t_cl:.1f} | {f1(cl.suspect, truth):.3f} |")
        print(lines[-1], flush=True)
    md = "\n".join(lines) + "\n"
    write_result(md, args.out)


if __name__ == "__main__":
    main()
