#!/bin/bash
# F1 through drift: 7 daily partitions of `pocket` data (1,000 rows each, seeds 101-107); day 7 poisoned at the source
# with pocket_undo; `labelguard drift` after all. Run from a scratch folder with keys exported and a server.
set -u
H=$(cd "$(dirname "$0")" && pwd); R=$(cd "$H/../../.." && pwd)
LG="$R/.venv/bin/labelguard"; PY="$R/.venv/bin/python"
mkdir -p d out; rm -rf lake_pocket
for i in 1 2 3 4 5 6 7; do
  $PY $H/gen.py pocket $((100 + i)) d/day$i.csv 1000
  $PY - d/day$i.csv $((i * 100000)) <<'P'
import sys, pandas as pd
df = pd.read_csv(sys.argv[1]); df["review_id"] += int(sys.argv[2]); df.to_parquet(sys.argv[1].replace(".csv", ".parquet"), index=False)
P
  src=d/day$i.parquet
  if [ $i = 7 ]; then $PY $H/attack16.py pocket_undo d/day7.parquet d/day7_p.parquet out/day7.truth.json; src=d/day7_p.parquet; fi
  $LG ingest --source $src --label-col label --id-col review_id --dest lake_pocket --partition date=2026-03-0$i --positive-class 1 > out/day$i.ingest 2>&1 || { echo "day $i ingest failed"; tail -2 out/day$i.ingest; }
done
$LG drift lake_pocket --json out/drift_pocket.json > out/drift_pocket.out 2>&1; echo "drift exit $?"
tail -15 out/drift_pocket.out
