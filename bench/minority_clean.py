"""Clean false alarms of the model gate's per-class recall rule (issue 9): the gate alone, on clean data, many seeds.

Run: .venv/bin/python bench/minority_clean.py [--regimes "99:1;95:5;90:9:1;grid:90:10"] [--seeds 8100-8149]
     [--out bench/results/minority_clean.jsonl]

Only the model gate changed (``tasks/guards.py``, :func:`class_recall_damage`), so only it runs here, as ``verify``
runs it (the guard on a candidate, a trusted reference and the same rows as holdout). Regimes: this issue's
(``bench/minority.py``'s data: 5,000 candidate rows, a 1,000-row trusted holdout from the same generator) and the
grid's (``grid:NAME``: ``bench/regimes.py``'s 80/20 split). Per run: the gate's verdict, the verdict it would
have had before the recall rule (from its own metrics: a significant accuracy drop or share gap beyond 2 points
fires, a 95 % bound on the accuracy drop under 2 points vouches), the classes whose recall fired or could not be
vouched for, and the smallest class's holdout rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import minority as M  # noqa: E402
import regimes as R  # noqa: E402
from labelguard.tasks import guards  # noqa: E402
from labelguard.tasks.manifest import ColumnSpec  # noqa: E402


def data(regime: str, seed: int):
    if regime.startswith("grid:"):
        cand, holdout, spec = R.make_regime(R.REGIMES[regime[5:]], seed)
        return cand, holdout, spec
    frame = M.make_data(M.REGIMES[regime], seed).rename(columns={"rid": "review_id"})
    feats = tuple(c for c in frame.columns if c.startswith("f"))
    spec = ColumnSpec(feature_cols=feats, timestamp_col=None, classes=tuple(sorted(frame["label"].unique().tolist())))
    return frame.iloc[1250:].reset_index(drop=True), frame.iloc[:1000].reset_index(drop=True), spec


def old_verdict(m: dict) -> str:
    """The gate's verdict before the per-class recall rule, from its metrics (no --share-gap)."""
    acc_bad = m["accuracy_p"] < guards.GATE_ALPHA and m["reference_accuracy"] - m["accuracy"] > 0.02
    share_bad = m["share_p"] < guards.GATE_ALPHA and m["share_gap"] > 0.02 and m["reference_skill_p"] < guards.GATE_ALPHA
    if acc_bad or share_bad:
        return "fired"
    return "pass" if m["accuracy_drop_upper"] < 0.02 else "inconclusive"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--regimes", default="99:1;95:5;90:9:1;grid:90:10")
    ap.add_argument("--seeds", default="8100-8149")
    ap.add_argument("--out", default="bench/results/minority_clean.jsonl")
    a = ap.parse_args()
    lo, hi = map(int, a.seeds.split("-"))
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as fh:
        for regime in a.regimes.split(";"):
            for seed in range(lo, hi + 1):
                t0 = time.perf_counter()
                cand, holdout, spec = data(regime, seed)
                g = guards.model_gate_guard(guards.GuardContext(frame=cand, spec=spec, reference=holdout, holdout=holdout))
                m = g.metrics
                row = {"regime": regime, "seed": seed, "verdict": g.verdict, "old_verdict": "skipped" if g.skipped else old_verdict(m)}
                if not g.skipped and "per_class_recall" in m:
                    pc = m["per_class_recall"]
                    row.update({"recall_fired": [c for c, v in pc.items() if v["p_value"] < guards.GATE_ALPHA / len(pc) and v["drop"] > m["recall_gap"]],
                                "recall_blind": [c for c, v in pc.items() if v["drop_upper"] >= m["recall_gap"]],
                                "recall_drop_upper": round(m["recall_drop_upper"], 4), "smallest_class_rows": min(v["rows"] for v in pc.values())})
                row["secs"] = round(time.perf_counter() - t0, 1)
                fh.write(json.dumps(row) + "\n")
                fh.flush()
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
