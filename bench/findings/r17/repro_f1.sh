#!/bin/bash
# break-it r17 F1: verify without trusted rows passes heavily flipped data (exit 0).
# Usage: repro_f1.sh WORKDIR   (needs this worktree's .venv; about 1-2 minutes, Prefect starts once for the ingest)
set -u
R=$(cd "$(dirname "$0")" && pwd); LG=$R/../../../.venv/bin/labelguard; PY=$R/../../../.venv/bin/python
W=${1:?WORKDIR}; mkdir -p "$W" && cd "$W" || exit 9
$LG keygen --out keys >/dev/null
export LABELGUARD_SIGNING_KEY=$PWD/keys/signing.key LABELGUARD_VERIFY_KEY=$PWD/keys/verify.pub   # this subshell only
$LG sample --out base3000.csv --rows 3000 --seed 17001 >/dev/null
# (a) a lake sealed in place: 3 hive partitions, 40 % of each part's positive rows relabelled negative
$PY "$R/gen_lake.py" base3000.csv lakes
rm -rf lk && mkdir lk && cp -r lakes/lake_ok lk/pois
$PY - <<'PYEOF'
import glob, numpy as np, pandas as pd
rng = np.random.default_rng(17031); n = tot = 0
for p in sorted(glob.glob("lk/pois/date=*/part-*.parquet")):
    d = pd.read_parquet(p); pos = np.flatnonzero((d.sentiment == 1).to_numpy()); tot += len(pos)
    pick = rng.choice(pos, size=int(len(pos) * 0.4), replace=False); d.loc[pick, "sentiment"] = 0; n += len(pick)
    d.to_parquet(p, index=False)
print(f"lake: {n} of {tot} positive rows relabelled negative ({n/1500:.1%} of 1500 rows)")
PYEOF
$LG seal lk/pois --id-col id --label-col sentiment
$LG verify lk/pois --json lk_pois.json | tail -2; echo "verify lk/pois: exit ${PIPESTATUS[0]} (expected 1 or 2; 0 = the finding)"
# (b) a dataset ingested with --holdout-fraction 0: 300 of 764 positive rows flipped (39 % of the class)
$PY "$R/gen.py" base3000.csv d tab
$PY "$R/gen_heavy.py" d/tab_b.csv 300 d/heavy300.csv
$LG ingest --source d/heavy300.csv --label-col sentiment --id-col id --dest store/heavy300 --holdout-fraction 0 | tail -2
$LG verify store/heavy300 --json heavy300.json | tail -2; echo "verify store/heavy300: exit ${PIPESTATUS[0]} (expected 1 or 2; 0 = the finding)"
$LG pipeline store/heavy300; echo "pipeline store/heavy300: exit $? (refused: no trusted holdout)"
