"""Cells of the regime grid averaged over attack seeds: is a cell below cleanlab on one seed below it on average?

Run: .venv/bin/python bench/regimes_seedmean.py CSV [CSV ...] [--out bench/results/regimes_seedmean.md]

A CSV written by `bench/posterior_light.py` is named as ``CSV=COLUMN``: its ``COLUMN`` (a variant's ``f1_TAG``) is read as the
suite's F1 (the light harness scores the posterior's set and cleanlab's on the grid's runs, without the guards).

Reads the attacked rows of one or more `bench/regimes.py` CSVs (seeds >= 1000 only; a (regime, seed,
attack, rate) measured twice keeps its last row) and reports, per cell, the suite's and cleanlab's
suspect-set F1 on each seed and their means, and counts the cells whose mean is more than 0.01 below.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from _common import write_result


def seed_means(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (regime, attack, rate): seeds, per-seed gains and the means of suite and cleanlab F1."""
    att = df[(df.attack != "clean") & df.error.isna() & (df.seed >= 1000)].drop_duplicates(["regime", "seed", "attack", "rate"], keep="last")
    att = att.assign(gain=att.suite_f1 - att.cleanlab_f1).sort_values("seed", kind="stable")
    cells = att.groupby(["regime", "attack", "rate"], sort=False).agg(
        seeds=("seed", "nunique"), suite=("suite_f1", "mean"), cleanlab=("cleanlab_f1", "mean"), flips=("flips", "mean"),
        worst_seed_gain=("gain", "min"), seeds_below=("gain", lambda g: int((g < -0.01).sum())),
        per_seed=("gain", lambda g: " ".join(f"{v:+.3f}" for v in g)),
    ).reset_index()
    return cells.assign(gain=cells.suite - cells.cleanlab)


def _read(arg: str) -> pd.DataFrame:
    """A grid CSV, or ``LIGHT_CSV=COLUMN``: a light-harness CSV with ``COLUMN`` as the suite's F1."""
    if "=" not in arg:
        return pd.read_csv(arg)
    path, column = arg.rsplit("=", 1)
    d = pd.read_csv(path)
    return d.assign(suite_f1=d[column], error=float("nan"))[["regime", "seed", "attack", "rate", "flips", "suite_f1", "cleanlab_f1", "error"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("csv", nargs="+", type=Path, help="grid CSVs, or LIGHT_CSV=COLUMN")
    ap.add_argument("--out", type=Path, default=Path("bench/results/regimes_seedmean.md"))
    args = ap.parse_args()
    cells = seed_means(pd.concat([_read(str(p)) for p in args.csv]))
    several = cells.groupby("regime").seeds.transform("max") > 1
    cells = cells[several]  # regimes measured on one seed only have nothing to average
    lines = [f"Sources: {', '.join(map(str, args.csv))}.", "", "| regime | attack cells | seeds per cell | suite F1 (mean) | cleanlab F1 (mean) | gain | "
             "cells > 0.01 below on the lowest seed | on any seed | by the seed mean |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for regime, c in cells.groupby("regime", sort=False):
        first = c.per_seed.str.split().str[0].astype(float)
        lines.append(f"| {regime} | {len(c)} | {c.seeds.min()}-{c.seeds.max()} | {c.suite.mean():.3f} | {c.cleanlab.mean():.3f} | {c.gain.mean():+.3f} | "
                     f"{int((first < -0.01).sum())} | {int((c.seeds_below > 0).sum())} | **{int((c.gain < -0.01).sum())}** |")
    lines += ["", "Worst cells by the seed mean:", "", "| regime | attack | rate | flips | suite F1 | cleanlab F1 | gain (mean) | gain per seed |",
              "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in cells.nsmallest(15, "gain").itertuples():
        lines.append(f"| {r.regime} | {r.attack} | {r.rate:.0%} | {r.flips:.0f} | {r.suite:.3f} | {r.cleanlab:.3f} | {r.gain:+.3f} | {r.per_seed} |")
    lines += ["", "Worst cells on a single seed:", "", "| regime | attack | rate | worst seed's gain | gain (mean) | gain per seed |", "|---|---|---:|---:|---:|---|"]
    for r in cells.nsmallest(10, "worst_seed_gain").itertuples():
        lines.append(f"| {r.regime} | {r.attack} | {r.rate:.0%} | {r.worst_seed_gain:+.3f} | {r.gain:+.3f} | {r.per_seed} |")
    write_result("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
