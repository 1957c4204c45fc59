"""Break-it r17 F1: the batch of gen.py's 'tab' variant (tab-separated) with K of its positive rows relabelled negative.
Usage: python gen_heavy.py d/tab_b.csv K OUT.csv   (seed 17030)"""
import sys
import numpy as np
import pandas as pd
b = pd.read_csv(sys.argv[1], sep="\t", dtype={"id": str})
k = int(sys.argv[2])
rng = np.random.default_rng(17030)
pick = rng.choice(np.flatnonzero((b.sentiment == 1).to_numpy()), size=k, replace=False)
b.loc[pick, "sentiment"] = 0
b.to_csv(sys.argv[3], sep="\t", index=False)
print(f"{k} of {int((pd.read_csv(sys.argv[1], sep=chr(9)).sentiment == 1).sum())} positive rows flipped ({k/len(b):.1%} of {len(b)})")
