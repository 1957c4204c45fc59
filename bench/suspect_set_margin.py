"""Dev study of the eighth session: suspect-set choice rules replayed on the runs of bench/suspect_set_study.py (dev seeds only).

Run: .venv/bin/python bench/suspect_set_margin.py DEV.pkl [DEV.pkl ...] > bench/results/suspect_set_margin_dev.txt

Every rule chooses between the pooled posterior's expected-F1 set and cleanlab's own set from what
``flip_posterior`` computed in the run (no refit), so rules are compared on identical runs:

* ``margin 1`` (shipped before this session), ``margin 1.5/2/3``: :func:`choose_suspect_set` with
  that many standard errors; ``never``: the posterior's set always;
* ``count max/mean``: the expected flip count given to the choice is the larger / the mean of the
  posterior's count and an independent one — the reference model's confusion matrix on the trusted
  rows inverted against its predictions on the candidate (black-box shift estimation, Lipton et al.
  2018, ICML, applied per given label);
* ``count floor``: the posterior's count raised to the reference model's lower bound (its
  disagreements with the candidate's labels minus its error count on the trusted rows, + 1 SE);
* ``reference judge``: whichever set has the higher expected F1 under the reference-anchored flip
  posterior alone (a model no candidate label trained).

It also prints three diagnostics: each count estimate against the truth in the 10-class
``nearest`` cells (does any estimate see the flips?), and cleanlab's and the posterior's rate on
the candidate's clean rows against their trusted-row rates, in the runs where the old rule switched.
Refuses seeds outside 100-199.
"""
import pickle
import sys

import numpy as np
import pandas as pd

from labelguard.tasks.detectors import binned_flip_posterior
from labelguard.tasks.posterior import _cleanlab_set_false_positive_rate, _renorm, _smoothed_rate, choose_suspect_set


def _f1(found, truth):
    return float(2 * (found & truth).sum() / max(1, found.sum() + truth.sum()))


def confusion_inversion_count(r: dict) -> float:
    """Flipped rows by inverting the reference model's trusted-row confusion matrix against its predictions on the candidate."""
    k, codes, codes_r = r["k"], r["codes"], r["codes_r"]
    C = np.full((k, k), 0.5)  # C[y, pred] = P(pred | true y), smoothed
    np.add.at(C, (codes_r, r["ref_oof"].argmax(1)), 1)
    C /= C.sum(axis=1, keepdims=True)
    M = np.zeros((k, k))
    np.add.at(M, (codes, r["ref_view"].argmax(1)), 1)
    per_label = M.sum(axis=1)
    Q = (M / np.maximum(per_label[:, None], 1)) @ np.linalg.pinv(C)  # Q[i, j] ≈ P(true j | given i)
    return float(np.clip((per_label * (1 - np.clip(np.diag(Q), 0, 1))).sum(), 0, len(codes)))


def replay(r: dict) -> dict:
    codes, codes_r, truth = r["codes"], r["codes_r"], r["truth"]
    n, m = len(codes), len(codes_r)
    cl_fpr = _cleanlab_set_false_positive_rate(r["cleanlab"], codes, _renorm(r["oof_raw"]), _renorm(r["cand_on_ref"]), codes_r)
    cands = {"posterior": r["choose_args"][0]["posterior"], "cleanlab": (int(r["cleanlab"].sum()), *cl_fpr)}
    sets = {"posterior": r["own"], "cleanlab": r["cleanlab"]}
    f_post, f_inv = float(r["posterior"].sum()), confusion_inversion_count(r)
    e = _smoothed_rate(int((r["ref_oof"].argmax(1) != codes_r).sum()), m)
    floor = int((r["ref_view"].argmax(1) != codes).sum()) - n * (e + np.sqrt(e * (1 - e) / m))
    q = binned_flip_posterior(_renorm(r["ref_view"]), codes, r["k"])
    judge = {s: 2 * q[sets[s]].sum() / (sets[s].sum() + q.sum()) for s in sets}
    choice = {f"margin {g:g}": choose_suspect_set(cands, n, f_post, m, margin_se=g)[0] for g in (1, 1.5, 2, 3)}
    choice |= {"never": "posterior",
               "count max": choose_suspect_set(cands, n, max(f_post, f_inv), m, margin_se=1.0)[0],
               "count mean": choose_suspect_set(cands, n, (f_post + f_inv) / 2, m, margin_se=1.0)[0],
               "count floor": choose_suspect_set(cands, n, max(f_post, floor), m, margin_se=1.0)[0],
               "reference judge": max(judge, key=judge.get)}
    clean = ~truth
    out = dict(regime=r["regime"], seed=r["seed"], attack=r["attack"], rate=r["rate"], flips=int(truth.sum()), cleanlab=_f1(r["cleanlab"], truth),
               f_post=f_post, f_inv=f_inv, f_cleanlab=float(r["cleanlab"].sum()), f_judge=float(q.sum()),
               cl_rate_clean=float((r["cleanlab"] & clean).sum() / max(1, clean.sum())), cl_rate_trusted=cl_fpr[0],
               post_rate_clean=float((r["own"] & clean).sum() / max(1, clean.sum())), post_rate_trusted=cands["posterior"][1])
    for name, c in choice.items():
        out[name], out[name + " switched"] = _f1(sets[c], truth), c != "posterior"
    return out


def main():
    runs = [r for p in sys.argv[1:] for r in pickle.load(open(p, "rb"))]
    assert all(100 <= r["seed"] <= 199 for r in runs), "dev seeds only"
    df = pd.DataFrame([replay(r) for r in runs])
    rules = [c[: -len(" switched")] for c in df.columns if c.endswith(" switched")]
    cells = df.groupby(["regime", "attack", "rate"], sort=False).mean(numeric_only=True).reset_index()
    old = cells["margin 1"]
    print(f"{len(df)} dev runs, {len(cells)} cells (regime, attack, rate; mean over seeds)\n")
    print("| rule | mean F1 | cells > 0.01 below cleanlab | cells where margin 1 was at or above cleanlab and this rule is > 0.01 worse | runs switched |")
    print("|---|---:|---:|---:|---:|")
    for name in rules:
        worse = int(((old >= cells.cleanlab) & (cells[name] < old - 0.01)).sum())
        print(f"| {name} | {cells[name].mean():.4f} | {int((cells[name] < cells.cleanlab - 0.01).sum())} | {worse} | {int(df[name + ' switched'].sum())} |")
    print("\nFlip-count estimates in the 10-class cells of `nearest` (mean over seeds):\n")
    tc = df[(df.regime == "10 classes") & (df.attack == "nearest")].groupby("rate")[["flips", "f_post", "f_cleanlab", "f_inv", "f_judge"]].mean()
    print(tc.round(0).to_string())
    sw = df[df["margin 1 switched"]]
    print(f"\nRuns where margin 1 switched to cleanlab's set: {len(sw)}; mean F1 change of the switch "
          f"{(sw['margin 1'] - sw['never']).mean():+.4f}. Rates on the candidate's clean rows vs on trusted rows (mean by regime):\n")
    print(sw.groupby("regime")[["cl_rate_clean", "cl_rate_trusted", "post_rate_clean", "post_rate_trusted"]].mean().round(3).to_string())


if __name__ == "__main__":
    main()
