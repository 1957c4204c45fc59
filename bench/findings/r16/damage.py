"""Damage of a poisoned training batch, by my own scikit-learn run: python damage.py CLEAN.parquet POISONED.parquet HOLDOUT.parquet [truth.json v.json]

Trains logreg / gboost / knn on each training batch, scores on the trusted holdout: accuracy, each class's recall and
predicted share; with truth + verify JSON, the suspect list's precision / recall against the flipped ids.
"""
import json, sys
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_pipeline

MODELS = {"logreg": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
          "gboost": lambda: GradientBoostingClassifier(random_state=0),
          "knn": lambda: make_pipeline(StandardScaler(), KNeighborsClassifier(15))}


def fx(df):
    return df[[c for c in df.columns if c.startswith("f")]].to_numpy(float), df["label"].astype(str).to_numpy()


def main():
    c, p, h = (pd.read_parquet(a) for a in sys.argv[1:4])
    Xc, yc = fx(c.sort_values("review_id")); Xp, yp = fx(p.sort_values("review_id")); Xh, yh = fx(h)
    classes = sorted(set(yh))
    out = {}
    for name, mk in MODELS.items():
        r = {}
        for tag, X, y in (("clean", Xc, yc), ("poisoned", Xp, yp)):
            pred = mk().fit(X, y).predict(Xh)
            r[tag] = {"acc": float((pred == yh).mean()),
                      "recall": {k: float((pred[yh == k] == k).mean()) for k in classes},
                      "share": {k: float((pred == k).mean()) for k in classes}}
        dacc = 100 * (r["clean"]["acc"] - r["poisoned"]["acc"])
        drec = {k: 100 * (r["clean"]["recall"][k] - r["poisoned"]["recall"][k]) for k in classes}
        dsh = {k: 100 * (r["poisoned"]["share"][k] - r["clean"]["share"][k]) for k in classes}
        wk = max(drec, key=drec.get); ws = max(dsh, key=lambda k: abs(dsh[k]))
        print(f"{name:7s} acc {r['clean']['acc']:.3f} -> {r['poisoned']['acc']:.3f} (drop {dacc:+.1f} pts); "
              f"worst recall drop class {wk} {drec[wk]:+.1f} pts; largest share move class {ws} {dsh[ws]:+.1f} pts")
        out[name] = {"acc_drop": dacc, "recall_drop": drec, "share_move": dsh, **r}
    if len(sys.argv) > 5:
        truth = {str(r["id"]) for r in json.load(open(sys.argv[4]))["flipped"]}
        v = json.load(open(sys.argv[5]))
        sus = {str(i) for i in v.get("suspect_ids", [])}
        tp = len(truth & sus)
        print(f"suspects: {len(sus)} named, {tp} of {len(truth)} flipped "
              f"(precision {tp / len(sus) if sus else float('nan'):.2f}, recall {tp / len(truth) if truth else float('nan'):.2f}); "
              f"verdict {v.get('verdict')} ok={v.get('ok')}; fired: {[g['name'] for g in v['guards'] if g['verdict'] == 'fired']}; "
              f"inconclusive: {[g['name'] for g in v['guards'] if g['verdict'] == 'inconclusive']}")
        out["suspects"] = {"named": len(sus), "tp": tp, "flipped": len(truth)}
    json.dump(out, open(sys.argv[2] + ".damage.json", "w"), indent=1)


main()
