"""Measured damage of every registered attack: holdout accuracy/F1 for three model families.

Run: .venv/bin/python bench/attack_damage.py [--seeds 3] [--out bench/results/attack_damage.md]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.model_selection import train_test_split

from _common import write_result
from labelguard.errors import BadInput
from labelguard.tasks import attacks, train
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.synthetic import FEATURES, make_reviews

RATES = (0.05, 0.10, 0.20, 0.40)
MODELS = ("logreg", "knn", "gboost")


def datasets(seed: int):
    data = make_reviews(5000, seed=seed)
    yield "synthetic (5,000 reviews, separation 5)", data.iloc[:4000], data.iloc[4000:], ColumnSpec(feature_cols=FEATURES)
    for name, loader in (("breast cancer (569 rows, 30 features)", load_breast_cancer), ("wine (178 rows, 13 features, 3 classes)", load_wine)):
        bunch = loader(as_frame=True)
        frame = bunch.frame.rename(columns={"target": "label"})
        frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
        frame.insert(0, "review_id", [f"row-{i:04d}" for i in range(len(frame))])
        feats = tuple(c for c in frame.columns if c not in ("review_id", "label"))
        tr, ho = train_test_split(frame, test_size=0.25, stratify=frame["label"], random_state=seed)
        classes = tuple(sorted(frame["label"].unique()))
        # the last class stays "positive", as when bench/RESULTS.md was measured (wine's three classes name none)
        yield name, tr, ho, ColumnSpec(feature_cols=feats, timestamp_col=None, classes=classes, positive_class=classes[-1])


def segment_where(train_frame: pd.DataFrame, spec: ColumnSpec, share: float = 0.03) -> str:
    """The default `subset` segment as an explicit predicate, so the holdout uses the same threshold."""
    col = spec.feature_cols[0]
    return f"`{col}` >= {float(np.quantile(train_frame[col], 1 - share))!r}"


def run(seeds: int) -> tuple[list[dict], list[dict]]:
    rows, segment_rows = [], []
    for seed in range(seeds):
        for dname, tr, ho, spec in datasets(seed):
            where = segment_where(tr, spec)
            seg = ho.eval(where).to_numpy()
            base = {m: train.train_model(tr, spec, model=m, seed=seed) for m in MODELS}
            for name in attacks.REGISTRY:
                for rate in RATES:
                    opts = {"where": where} if name == "subset" else {}
                    t0 = time.perf_counter()
                    try:
                        res = attacks.flip_labels(tr, spec, attack=name, rate=rate, seed=seed, **opts)
                    except BadInput as exc:
                        rows.append({"dataset": dname, "attack": name, "rate": rate, "seed": seed, "error": exc.problem})
                        continue
                    secs = time.perf_counter() - t0
                    row = {"dataset": dname, "attack": name, "rate": rate, "seed": seed, "flips": len(res.flipped), "attack_s": secs}
                    for m in MODELS:
                        fitted = train.train_model(res.frame, spec, model=m, seed=seed)
                        met = train.evaluate(fitted, ho, spec)
                        row[f"{m}_acc"], row[f"{m}_f1"] = met["accuracy"], met["f1"]
                        if m == "logreg":
                            row["pred_pos"], row["true_pos"] = met["predicted_positive_share"], met["true_positive_share"]
                        if name == "subset" and seg.any():
                            X = ho.loc[seg, list(spec.feature_cols)].to_numpy(dtype=float)
                            y = ho.loc[seg, spec.label_col].to_numpy()
                            Xb = ho[list(spec.feature_cols)].to_numpy(dtype=float)
                            segment_rows.append({
                                "dataset": dname, "rate": rate, "seed": seed, "model": m, "segment_rows": int(seg.sum()),
                                "segment_clean": float((base[m].predict(X) == y).mean()),
                                "segment_poisoned": float((fitted.predict(X) == y).mean()),
                                "overall_clean": float((base[m].predict(Xb) == ho[spec.label_col].to_numpy()).mean()),
                                "overall_poisoned": met["accuracy"],
                            })
                    rows.append(row)
    return rows, segment_rows


def to_markdown(rows: list[dict], segment_rows: list[dict], seeds: int, secs: float) -> str:
    df = pd.DataFrame(rows)
    out = [f"Seeds: {seeds} (mean shown). Wall time: {secs:.0f} s.", ""]
    for dname, part in df.groupby("dataset", sort=False):
        out += [f"### {dname}", "", "| attack | rate | flips | logreg acc | logreg F1 | knn acc | knn F1 | gboost acc | gboost F1 | predicted + (logreg) | true + |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        ok = part[part.get("error").isna()] if "error" in part else part
        for (attack, rate), g in ok.groupby(["attack", "rate"], sort=False):
            m = g.mean(numeric_only=True)
            out.append(
                f"| {attack} | {rate:.0%} | {m['flips']:.0f} | {m['logreg_acc']:.3f} | {m['logreg_f1']:.3f} | {m['knn_acc']:.3f} | {m['knn_f1']:.3f} | "
                f"{m['gboost_acc']:.3f} | {m['gboost_f1']:.3f} | {m['pred_pos']:.1%} | {m['true_pos']:.1%} |"
            )
        if "error" in part:
            for (attack, rate), g in part[part["error"].notna()].groupby(["attack", "rate"], sort=False):
                out.append(f"| {attack} | {rate:.0%} | — | refused: {g['error'].iloc[0]} | | | | | | | |")
        out.append("")
    if segment_rows:
        # Every rate above the segment's 3 % spends the whole segment: one row per dataset and model (10 % budget).
        seg = pd.DataFrame(segment_rows)
        seg = seg[seg["rate"] == 0.10].groupby(["dataset", "model"], sort=False).mean(numeric_only=True).reset_index()
        out += ["### `subset` at a 10 % budget (segment: top 3 % of the first feature, so the whole segment is flipped)", "",
                "| dataset | model | segment rows (holdout) | segment accuracy clean → poisoned | overall accuracy clean → poisoned |", "|---|---|---:|---|---|"]
        for r in seg.itertuples():
            out.append(f"| {r.dataset} | {r.model} | {r.segment_rows:.1f} | {r.segment_clean:.3f} → {r.segment_poisoned:.3f} | {r.overall_clean:.3f} → {r.overall_poisoned:.3f} |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("bench/results/attack_damage.md"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows, seg = run(args.seeds)
    md = to_markdown(rows, seg, args.seeds, time.perf_counter() - t0)
    write_result(md, args.out)


if __name__ == "__main__":
    main()
