"""Damage to a small class through the CLI (issue 9, "99:1 ... every guard passes"): poison -> ingest -> verify.

Run: .venv/bin/python bench/minority.py [--seeds 8000,8001] [--regimes "99:1;95:5;90:9:1"] [--work /tmp/minority_bench]
     [--out bench/results/minority.jsonl]

Per regime and seed: ``make_classification`` (6,250 rows, 10 features, 4 informative, ``class_sep=2``: a clean
logistic regression finds the small class; the first 1,250 are ingested as their own dataset with
``--holdout-fraction 0.8``, whose 1,000-row trusted holdout ``verify`` gets as ``--reference`` and ``--holdout``; the
other 5,000 are the source). The source is ingested clean (control) and poisoned at the source with ``labelguard poison`` (signed
honestly by ingest): ``targeted`` from the smallest class to the largest (rows drawn at random within the class),
flipping half (``targeted``) and 90 % (``targeted90``) of that class's rows. Every step
is the CLI (subprocesses); only the damage is measured in-process: a logistic regression (``labelguard``'s ``logreg``)
trained on the clean and on the poisoned source, scored on the 1,000 trusted rows, per-class recall and predicted
share, and the 2-point figure the grid uses (largest move of accuracy or of a class's predicted share). ``verify``\nruns twice per dataset: at the default ``--tolerate 0.2`` and at ``--tolerate 1`` (every flip rate may go unseen, so\nthe model gate, which judges the damage itself, is what stands between the data and a pass).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
LG = str(ROOT / ".venv" / "bin" / "labelguard")
TOLERATES = (0.2, 1.0)  # the default, and "any flip rate may go unseen": the model gate alone then judges the damage
REGIMES = {"99:1": [0.99, 0.01], "95:5": [0.95, 0.05], "90:9:1": [0.90, 0.09, 0.01]}


def make_data(weights: list[float], seed: int) -> pd.DataFrame:
    from sklearn.datasets import make_classification

    k = len(weights)
    X, y = make_classification(n_samples=6250, n_features=10, n_informative=4, n_redundant=0, n_classes=k, n_clusters_per_class=1,
                               weights=weights, flip_y=0, class_sep=2.0, random_state=seed)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["label"] = y
    frame.insert(0, "rid", np.arange(len(frame)))
    return frame


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([LG, *args], capture_output=True, text=True, env=env)


def recall_and_share(train: pd.DataFrame, test: pd.DataFrame) -> dict:
    from labelguard.tasks.manifest import ColumnSpec
    from labelguard.tasks.train import train_model

    feats = tuple(c for c in train.columns if c.startswith("f"))
    classes = tuple(sorted(test["label"].unique().tolist()))
    spec = ColumnSpec(id_col="rid", label_col="label", feature_cols=feats, timestamp_col=None, classes=classes)
    pred = train_model(train, spec).predict(test[list(feats)].to_numpy(float))
    y = test["label"].to_numpy()
    return {"accuracy": float((pred == y).mean()),
            "recall": {int(c): float((pred[y == c] == c).mean()) for c in classes},
            "share": {int(c): float((pred == c).mean()) for c in classes}}


def one(regime: str, seed: int, work: Path, env: dict) -> list[dict]:
    d = work / f"{regime.replace(':', '-')}_{seed}"
    d.mkdir(parents=True, exist_ok=True)
    frame = make_data(REGIMES[regime], seed)
    trusted_all, source = frame.iloc[:1250], frame.iloc[1250:]
    trusted_all.to_csv(d / "trusted.csv", index=False)
    source.to_csv(d / "source.csv", index=False)
    counts = source["label"].value_counts()
    small, big = int(counts.idxmin()), int(counts.idxmax())
    n_small = int(counts.min())
    common = ["--id-col", "rid", "--label-col", "label", "--timestamp-col", "none"]
    store = d / "store"
    # the trusted rows: the 1,000-row holdout ingest splits off 1,250 rows (--holdout takes a dataset's holdout)
    for name, src, fraction in (("trusted", "trusted.csv", "0.8"), ("clean", "source.csv", "0")):
        if not (store / name).exists():
            r = run(["ingest", "--source", str(d / src), "--dest", str(store / name), "--holdout-fraction", fraction, *common], env)
            assert r.returncode == 0, r.stderr
    trusted = pd.concat([pd.read_parquet(p) for p in sorted((store / "trusted" / "holdout").rglob("*.parquet"))])
    trusted = trusted_all[trusted_all["rid"].isin(trusted["rid"])]
    runs = [("clean", None, 0, d / "source.csv", store / "clean")]
    # targeted from the smallest class: the rows it flips are drawn at random within that class
    for attack, share in (("targeted", 0.5), ("targeted90", 0.9)):
        opts = ["--option", f"source={small}", "--option", f"target={big}"]
        rate = round(share * n_small) / len(source)
        out = d / f"{attack}.csv"
        r = None if out.exists() else run(["poison", str(d / "source.csv"), "--attack", "targeted", "--rate", f"{rate:.6f}", "--out", str(out), "--id-col", "rid",
                 "--label-col", "label", "--truth-out", str(d / f"{attack}_truth.json"), "--seed", str(seed), *opts], env)
        assert r is None or r.returncode == 0, (attack, r.stderr)
        dest = store / attack
        if not dest.exists():
            r = run(["ingest", "--source", str(out), "--dest", str(dest), "--holdout-fraction", "0", *common], env)
            assert r.returncode == 0, r.stderr
        flips = len(json.loads((d / f"{attack}_truth.json").read_text())["flipped"])
        runs.append((attack, rate, flips, out, dest))
    clean_fit = recall_and_share(source, trusted)
    rows = []
    for attack, rate, flips, csv, dest in runs:
        fit = recall_and_share(pd.read_csv(csv), trusted)
        dmg = max([abs(fit["accuracy"] - clean_fit["accuracy"])] + [abs(fit["share"][c] - clean_fit["share"][c]) for c in fit["share"]])
        for tolerate in TOLERATES:
            t0 = time.perf_counter()
            js = d / f"{attack}_verify_{tolerate}.json"
            js.unlink(missing_ok=True)
            r = run(["verify", str(dest), "--reference", str(store / "trusted" / "holdout"), "--holdout", str(store / "trusted" / "holdout"),
                     "--tolerate", str(tolerate), "--json", str(js), "--no-progress"], env)
            rep = json.loads(js.read_text()) if js.exists() else {}
            rows.append({
                "regime": regime, "seed": seed, "attack": attack, "flips": flips, "small_class": small, "tolerate": tolerate,
                "small_rows_source": n_small, "small_rows_trusted": int((trusted["label"] == small).sum()),
                "exit": r.returncode, "verdict": rep.get("verdict"), "verdict_detail": rep.get("verdict_detail"),
                "stderr_last": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "",
                "guards": {g["name"]: [g["verdict"], g["power"]] for g in rep.get("guards", [])},
                "class_power": rep.get("class_power"),
                "gate": next((g["detail"] for g in rep.get("guards", []) if g["name"] == "model_gate"), None),
                "recall_clean": clean_fit["recall"], "recall": fit["recall"], "accuracy_clean": clean_fit["accuracy"], "accuracy": fit["accuracy"],
                "damage_points": round(100 * dmg, 2), "secs": round(time.perf_counter() - t0, 1),
            })
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="8000,8001")
    ap.add_argument("--regimes", default=";".join(REGIMES))
    ap.add_argument("--work", default="/tmp/minority_bench")
    ap.add_argument("--out", default="bench/results/minority.jsonl")
    a = ap.parse_args()
    work = Path(a.work)
    keys = work / "keys"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    if not keys.exists():
        subprocess.run([LG, "keygen", "--out", str(keys)], check=True, capture_output=True)
    env.update(LABELGUARD_SIGNING_KEY=str(keys / "signing.key"), LABELGUARD_VERIFY_KEY=str(keys / "verify.pub"),
               LABELGUARD_LEDGER=str(work / "ledger.jsonl"))
    rows = []
    for regime in a.regimes.split(";"):
        for seed in map(int, a.seeds.split(",")):
            rows += one(regime, seed, work, env)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    sys.exit(main())
