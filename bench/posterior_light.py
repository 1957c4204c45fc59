"""Flip-posterior variants scored on the regime grid's runs without the guard suite: each variant's suspect set (F1,
size, chosen set) and noise rate, beside cleanlab's set (the confident_learning guard's), one CSV row per run.

The guards, the damage model and the verdict are what make ``bench/regimes.py`` (and ``posterior_both.py`` on top of
it) slow; a change that touches only the posterior is compared on the same runs in a fraction of the time.

Run (seventeenth session, issue 9):
    git show HEAD:tasks/posterior.py > /tmp/post_main.py     # and each variant as a copy with its change
    ATTACKS=clean,random,targeted,nearest,farthest nice -n 10 .venv/bin/python bench/posterior_light.py \\
        "10 classes;3 classes;wine;300 rows;base" 9500 OUT.csv main=/tmp/post_main.py v8=/tmp/post_v8.py

Arguments: regimes (``;``-separated substrings of ``regimes.REGIMES`` names), seeds (``,``-separated), the CSV (appended
to, one row per run as it finishes), then ``tag=path`` per variant. ``ATTACKS`` (env) keeps only the named attacks
(``clean`` is the unattacked run).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__))))
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import regimes  # noqa: E402
from _common import load_posterior  # noqa: E402

from labelguard.tasks.detectors import confident_learning  # noqa: E402


def main() -> None:
    names, seeds, out = sys.argv[1].split(";"), [int(s) for s in sys.argv[2].split(",")], sys.argv[3]
    variants = {tag: load_posterior(tag, path).flip_posterior for tag, path in (a.split("=", 1) for a in sys.argv[4:])}
    only = set(filter(None, os.environ.get("ATTACKS", "").split(",")))
    for name in (next(n for n in regimes.REGIMES if part in n) for part in names):
        for seed in seeds:
            cand, holdout, spec = regimes.make_regime(regimes.REGIMES[name], seed)
            runs = [("clean", 0.0, cand, np.zeros(len(cand), bool))]
            runs += [(a, r, res.frame, truth) for a, r, res, truth in regimes.attacked_runs(cand, spec, seed)]
            for attack, rate, frame, truth in runs:
                if only and attack not in only:
                    continue
                row = {"regime": name, "seed": seed, "attack": attack, "rate": rate, "flips": int(truth.sum()),
                       "cleanlab_f1": regimes._f1(confident_learning(frame, spec, memo={}).suspect, truth)}
                for tag, flip_posterior in variants.items():
                    post = flip_posterior(frame, spec, holdout)
                    row.update({f"f1_{tag}": regimes._f1(post.suspect, truth), f"named_{tag}": int(post.suspect.sum()),
                                f"noise_{tag}": post.noise_rate, f"set_{tag}": post.chosen})
                pd.DataFrame([row]).to_csv(out, mode="a", header=not os.path.exists(out), index=False)


if __name__ == "__main__":
    main()
