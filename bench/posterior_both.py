"""Score two flip posteriors, an older one and the checked-out one, on the same guard runs of a bench script (clean runs too).

Run (tenth session, issue 9):
    git show c227342:tasks/posterior.py > /tmp/posterior_old.py
    OLD_POSTERIOR=/tmp/posterior_old.py nice -n 10 .venv/bin/python bench/posterior_both.py bench/independent.py \
        --seeds 1 --first-seed 7001 --jobs 1 --only "checkerboard,moons,500 rows,5 classes skewed" --out OUT.md

The bench's rows gain, for each posterior (``old``, ``new``): ``f1_``, ``named_`` (rows in the suspect set), ``tp_``
(flipped rows in it), ``noise_`` (its noise rate) and ``set_`` (which candidate set it chose). The guards run once,
so the two are compared on identical data at the cost of one more posterior per run. ``EXTRA_POSTERIORS="tag=path;..."``
scores more variants the same way (columns ``f1_tag`` ...; sixteenth session).
"""

import importlib.util
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__))))
from _common import load_posterior  # noqa: E402

old = load_posterior("old", os.environ.get("OLD_POSTERIOR", "/tmp/posterior_old.py"))

import regimes  # noqa: E402

from labelguard.tasks.posterior import flip_posterior as new_flip_posterior  # noqa: E402

# more posteriors to score on the same runs: EXTRA_POSTERIORS="tag=path;tag2=path2" (each a tasks/posterior.py variant)
EXTRA = []
for item in filter(None, os.environ.get("EXTRA_POSTERIORS", "").split(";")):
    tag, path = item.split("=", 1)
    EXTRA.append((tag, load_posterior(tag, path).flip_posterior))

_evaluate = regimes._evaluate


def _both(*args):
    # regimes._evaluate(regime, seed, attack, rate, frame, truth, ..., holdout, spec): the middle arguments changed
    # with the bench (the clean model's scores, its spread); frame, truth, holdout and spec keep their places
    row = _evaluate(*args)
    frame, truth, holdout, spec = args[4], args[5], args[-2], args[-1]
    for tag, fp in (("old", old.flip_posterior), ("new", new_flip_posterior), *EXTRA):
        post = fp(frame, spec, holdout)
        row[f"f1_{tag}"] = regimes._f1(post.suspect, truth)
        row[f"named_{tag}"] = int(post.suspect.sum())
        row[f"tp_{tag}"] = int((post.suspect & truth).sum())
        row[f"noise_{tag}"] = post.noise_rate
        row[f"set_{tag}"] = post.chosen
    return row


regimes._evaluate = _both
regimes.COLUMNS = list(regimes.COLUMNS) + [f"{a}_{t}" for t in ("old", "new", *(t for t, _ in EXTRA)) for a in ("f1", "named", "tp", "noise", "set")]
script = sys.argv[1]
sys.argv = sys.argv[1:]
# the script's module as imported (regimes is the patched one itself; run as __main__ it would be a fresh, unpatched copy)
importlib.import_module(os.path.splitext(os.path.basename(script))[0]).main()
