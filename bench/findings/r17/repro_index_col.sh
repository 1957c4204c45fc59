#!/bin/bash
# break-it r17 F2 (index column): CSVs written with pandas' default to_csv() (the row index as a first, unnamed column):
# 'Unnamed: 0' becomes a feature, and a clean batch fires class_conditional against the trusted holdout (exit 1).
# Control: the same rows written with index=False pass (exit 0).  Usage: repro_index_col.sh WORKDIR
set -u
R=$(cd "$(dirname "$0")" && pwd); LG=$R/../../../.venv/bin/labelguard; PY=$R/../../../.venv/bin/python
W=${1:?WORKDIR}; mkdir -p "$W" && cd "$W" || exit 9
$LG keygen --out keys >/dev/null
export LABELGUARD_SIGNING_KEY=$PWD/keys/signing.key LABELGUARD_VERIFY_KEY=$PWD/keys/verify.pub   # this subshell only
$LG sample --out base3000.csv --rows 3000 --seed 17001 >/dev/null
$PY - <<'PYEOF'
import pandas as pd
d = pd.read_csv("base3000.csv", dtype={"id": str})
d.iloc[:1500].to_csv("trusted_idx.csv")          # pandas' default: index 0..1499 written as an unnamed first column
d.iloc[1500:].to_csv("batch_idx.csv")            # the next 1,500 rows of the same frame: index 1500..2999
d.iloc[:1500].to_csv("trusted.csv", index=False)
d.iloc[1500:].to_csv("batch.csv", index=False)
PYEOF
for v in "" _idx; do
  $LG ingest --source trusted$v.csv --label-col sentiment --id-col id --dest store/trusted$v | head -1
  $LG ingest --source batch$v.csv --label-col sentiment --id-col id --dest store/batch$v --holdout-fraction 0 >/dev/null
  $LG verify store/batch$v --holdout store/trusted$v/holdout | tail -1; echo "verify store/batch$v: exit ${PIPESTATUS[0]}"
done
