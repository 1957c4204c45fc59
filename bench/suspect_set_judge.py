"""Judge a suspect-set rule on the runs of bench/suspect_set_study.py: the shipped (new) choice vs the old rule vs cleanlab, per cell.

Run: .venv/bin/python bench/suspect_set_judge.py STUDY.pkl [STUDY.pkl ...] --out bench/results/suspect_set_fresh.md

The new rule is what ``flip_posterior`` chose in the run (``shipped``). The old rule is the one
shipped since the fifth session (the sixth's and the eighth's candidates were not kept), recomputed from the same run: the posterior's expected-F1 set
unless cleanlab's set is expected to be better by more than one standard error (``margin_se=1``),
with cleanlab's false-positive rate approximated by per-label self-confidence thresholds on the
trusted rows (``_cleanlab_set_false_positive_rate`` in ``tasks/posterior.py``, which still ships it).
A cell is a (regime, attack, rate); its F1 is the mean over the study's seeds.
"""
import argparse
import pickle
import sys
from pathlib import Path

sys.path.insert(0, "bench")
import numpy as np
import pandas as pd

from _common import write_result
from labelguard.tasks.posterior import _cleanlab_set_false_positive_rate, _renorm, choose_suspect_set


def _f1(found, truth):
    return float(2 * (found & truth).sum() / max(1, found.sum() + truth.sum()))


def score(runs: list[dict]) -> pd.DataFrame:
    rows = []
    for r in runs:
        t, codes, cands = r["truth"], r["codes"], r["choose_args"][0]
        old_fpr = _cleanlab_set_false_positive_rate(r["cleanlab"], codes, _renorm(r["oof_raw"]), _renorm(r["cand_on_ref"]), r["codes_r"])
        old, _ = choose_suspect_set({"posterior": cands["posterior"], "cleanlab": (int(r["cleanlab"].sum()), *old_fpr)},
                                    len(codes), float(r["posterior"].sum()), len(r["codes_r"]), margin_se=1.0)
        rows.append(dict(regime=r["regime"], seed=r["seed"], attack=r["attack"], rate=r["rate"], flips=int(t.sum()),
                         new=_f1(r["shipped"], t), old=_f1(r["own"] if old == "posterior" else r["cleanlab"], t), cleanlab=_f1(r["cleanlab"], t),
                         posterior=_f1(r["own"], t), reference_model=_f1(r["ref_set"], t), new_set=r["shipped_chosen"], old_set=old))
    return pd.DataFrame(rows)


def report(df: pd.DataFrame, sources: list[Path]) -> str:
    cells = df.groupby(["regime", "attack", "rate"], sort=False).agg(
        seeds=("seed", "nunique"), flips=("flips", "mean"), old=("old", "mean"), new=("new", "mean"), cleanlab=("cleanlab", "mean"),
        posterior=("posterior", "mean"), new_sets=("new_set", lambda s: " ".join(sorted(set(s))))).reset_index()
    below = lambda col, c=cells: int((c[col] < c.cleanlab - 0.01).sum())
    lines = [f"Sources: {', '.join(map(str, sources))}; {len(df)} runs, {len(cells)} cells (mean over seeds {sorted(df.seed.unique().tolist())}).", "",
             "| regime | cells | old rule F1 | new rule F1 | cleanlab F1 | old: cells > 0.01 below cleanlab | new: cells below | new minus old (mean) | runs where the choice differs |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for regime, c in cells.groupby("regime", sort=False):
        d = df[df.regime == regime]
        lines.append(f"| {regime} | {len(c)} | {c.old.mean():.3f} | {c.new.mean():.3f} | {c.cleanlab.mean():.3f} | {below('old', c)} | {below('new', c)} | "
                     f"{(c.new - c.old).mean():+.3f} | {int((d.new_set != d.old_set).sum())} of {len(d)} |")
    lines.append(f"| **all** | {len(cells)} | **{cells.old.mean():.3f}** | **{cells.new.mean():.3f}** | {cells.cleanlab.mean():.3f} | **{below('old')}** | "
                 f"**{below('new')}** | {(cells.new - cells.old).mean():+.3f} | {int((df.new_set != df.old_set).sum())} of {len(df)} |")
    lines += ["", f"Mean gain over cleanlab: old rule {(cells.old - cells.cleanlab).mean():+.3f}, new rule {(cells.new - cells.cleanlab).mean():+.3f}.", "",
              "Every cell:", "", "| regime | attack | rate | flips | old rule | new rule | cleanlab | posterior's own set | new rule's sets |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in cells.itertuples():
        lines.append(f"| {r.regime} | {r.attack} | {r.rate:.0%} | {r.flips:.0f} | {r.old:.3f} | {r.new:.3f} | {r.cleanlab:.3f} | {r.posterior:.3f} | {r.new_sets} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("pkl", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path("bench/results/suspect_set_fresh.md"))
    args = ap.parse_args()
    runs = [r for p in args.pkl for r in pickle.loads(p.read_bytes())]
    df = score(runs)
    df.to_csv(args.out.with_suffix(".csv"), index=False)
    write_result(report(df, args.pkl), args.out)


if __name__ == "__main__":
    main()
