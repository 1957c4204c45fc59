"""Summary of a bench/posterior_both.py CSV: per regime, the old and new posterior's suspect-set F1, clean rows named, runs changed."""
import sys
import pandas as pd
df = pd.read_csv(sys.argv[1])
if "error" in df:
    print("errors", df["error"].notna().sum()); df = df[df["error"].isna()]
att = df[df.attack != "clean"]; clean = df[df.attack == "clean"]
print("runs attacked", len(att), "clean", len(clean))
for reg, g in df.groupby("regime", sort=False):
    c = g[g.attack == "clean"]; a = g[g.attack != "clean"]
    print(f"{reg}: clean named old {c.named_old.tolist()} new {c.named_new.tolist()} noise old {c.noise_old.round(3).tolist()} new {c.noise_new.round(3).tolist()} verdicts {c.verdict.tolist()}")
    print(f"   attacked F1 old {a.f1_old.mean():.3f} new {a.f1_new.mean():.3f} cleanlab {a.cleanlab_f1.mean():.3f}; runs >0.01 below cleanlab old {(a.f1_old < a.cleanlab_f1 - 0.01).sum()} new {(a.f1_new < a.cleanlab_f1 - 0.01).sum()}; runs new worse than old by >0.01: {(a.f1_new < a.f1_old - 0.01).sum()}, better: {(a.f1_new > a.f1_old + 0.01).sum()}; sets new {a.set_new.value_counts().to_dict()}")
    best = a[[c for c in a.columns if c.startswith("f1_") and c not in ("f1_old", "f1_new")]].max(axis=1)
    print(f"   best single detector mean {best.mean():.3f}; runs > 0.1 below the best single: old {(a.f1_old < best - 0.1).sum()} new {(a.f1_new < best - 0.1).sum()}")
a = att
print(f"ALL attacked: F1 old {a.f1_old.mean():.3f} new {a.f1_new.mean():.3f} cleanlab {a.cleanlab_f1.mean():.3f}; below cleanlab old {(a.f1_old < a.cleanlab_f1 - 0.01).sum()} new {(a.f1_new < a.cleanlab_f1 - 0.01).sum()}")
mat = a[a.damage >= 0.02]
print(f"material damage {len(mat)}: fired {(mat.verdict=='fired').sum()} inconclusive {(mat.verdict=='inconclusive').sum()} silent pass {(mat.verdict=='pass').sum()}; clean runs fired {(clean.verdict=='fired').sum()} of {len(clean)}")
ch = a[(a.f1_new - a.f1_old).abs() > 0.01]
print(ch[["regime","attack","rate","flips","f1_old","f1_new","cleanlab_f1","named_old","tp_old","named_new","tp_new","set_old","set_new"]].round(3).to_string())
